"""Which files a static check reads: the repo's configured layout, or the paths given on the command line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from orchestrator.checks.model import FileKind
from orchestrator.config import DelegateConfig
from orchestrator.errors import InputError


@dataclass
class CheckInputs:
    """The files of one run, each under the path a finding will name (relative to the repo when inside it)."""

    sql_files: dict[str, FileKind] = field(default_factory=dict)  # rel -> kind
    revision_files: dict[str, Path] = field(default_factory=dict)  # rel -> absolute path
    sql_paths: dict[str, Path] = field(default_factory=dict)  # rel -> absolute path


def relative_name(path: Path, repo: Path) -> str:
    """`path` relative to the repo root when inside it, else as an absolute POSIX path."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(repo).as_posix()
    except ValueError:
        return resolved.as_posix()


def sql_kind(rel: str, cfg: DelegateConfig) -> FileKind:
    """A .sql file's role from where it sits: a seeds folder, the policies folder (or any sql/policies/)."""
    parts = PurePosixPath(rel).parts[:-1]
    for seeds in cfg.seeds_dirs:
        if _under(rel, seeds):
            return FileKind.SEED
    if "seeds" in parts:
        return FileKind.SEED
    if _under(rel, cfg.policies_dir) or any(parts[i : i + 2] == ("sql", "policies") for i in range(len(parts))):
        return FileKind.POLICY
    return FileKind.SQL


def _under(rel: str, folder: str) -> bool:
    folder = PurePosixPath(folder).as_posix().strip("/")
    return bool(folder) and folder != "." and (rel == folder or rel.startswith(folder + "/"))


def _is_revision_source(path: Path) -> bool:
    """In a scanned folder, a .py file is a revision when it assigns `revision` (env.py and helpers do not)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return "revision" in text and ("down_revision" in text or "def upgrade" in text)


def _python_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if p.name != "__init__.py" and "__pycache__" not in p.parts)


def collect_inputs(repo: Path, cfg: DelegateConfig, paths: list[Path]) -> CheckInputs:
    """Every file to check: the configured layout when `paths` is empty, else exactly the given files/folders."""
    found = CheckInputs()

    def add_sql(path: Path) -> None:
        rel = relative_name(path, repo)
        found.sql_files[rel] = sql_kind(rel, cfg)
        found.sql_paths[rel] = path.resolve()

    def add_revision(path: Path) -> None:
        found.revision_files[relative_name(path, repo)] = path.resolve()

    if not paths:
        versions = repo / cfg.versions_dir
        if versions.is_dir():
            for p in _python_files(versions):
                add_revision(p)
            for p in sorted(versions.rglob("*.sql")):
                add_sql(p)
        folders = [repo / cfg.policies_dir, *(repo / s for s in cfg.seeds_dirs)]
        for folder in folders:
            if folder.is_dir():
                for p in sorted(folder.rglob("*.sql")):
                    add_sql(p)
        if not found.sql_files and not found.revision_files:
            # A CI gate that checks nothing must not pass silently (a repo laid out differently, a typo in --repo).
            raise InputError(
                f"{repo}: no revision files in {cfg.versions_dir}, no .sql files in {cfg.policies_dir} or "
                f"{', '.join(cfg.seeds_dirs)}",
                "set versions_dir, policies_dir and seeds_dirs in [tool.delegate], or pass the files to check",
            )
        return found

    for given in paths:
        path = given if given.is_absolute() else (Path.cwd() / given)
        if not path.exists() and not given.is_absolute() and (repo / given).exists():
            path = repo / given
        if not path.exists():
            raise InputError(
                f"{given}: no such file or folder", "pass .sql files, Alembic revision .py files, or folders"
            )
        if path.is_dir():
            before = len(found.sql_files) + len(found.revision_files)
            for p in sorted(path.rglob("*.sql")):
                add_sql(p)
            for p in _python_files(path):
                if _is_revision_source(p):
                    add_revision(p)
            if len(found.sql_files) + len(found.revision_files) == before:
                raise InputError(
                    f"{given}: no .sql files or Alembic revision files in this folder",
                    "pass the folder that holds the migrations (e.g. api/alembic/versions)",
                )
        elif path.suffix == ".sql":
            add_sql(path)
        elif path.suffix == ".py":
            add_revision(path)
        else:
            raise InputError(
                f"{given}: not a .sql or .py file", "pass .sql files, Alembic revision .py files, or folders of them"
            )
    return found
