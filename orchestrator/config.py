"""The target repo's configuration: `[tool.delegate]` in pyproject.toml, or delegate.toml; every key has a default."""

from __future__ import annotations

import configparser
import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from orchestrator.errors import InputError
from orchestrator.report import Severity

RuleSetting = Literal["error", "warning", "info", "off"]
TargetSetting = Literal["supabase", "postgres"]


@dataclass
class DelegateConfig:
    """Paths are relative to the repo root. Defaults fit the layout of examples/cfi-app.

    A plain dataclass (pydantic validates it only when a file sets keys): `delegate check` on a repo without a
    config then starts without importing pydantic, which costs more than checking a feature's SQL.
    """

    __pydantic_config__ = {"extra": "forbid"}

    alembic_ini: str = "api/alembic.ini"
    versions_dir: str = "api/alembic/versions"
    policies_dir: str = "api/sql/policies"
    seeds_dirs: list[str] = field(default_factory=lambda: ["seeds"])
    tests_dir: str = "api/tests/migrations"
    specs_dir: str = "specs"
    # SQLAlchemy metadata of the app, as module:attribute, imported with the alembic folder's parent on sys.path.
    models: str | None = "app.models:Base"
    # The Python that runs the repo's Alembic and tests (default: the tool's own interpreter).
    python: str | None = None
    default_branch: str | None = None  # default: main, else master, else origin/HEAD
    # What the app runs on: "supabase" (roles, auth.*, the emulation and the Supabase-only RLS rules) or "postgres"
    # (plain PostgreSQL: none of them). Unset: detected from the revisions and policies (orchestrator/target.py).
    target: TargetSetting | None = None
    exposed_schemas: list[str] = field(default_factory=lambda: ["public"])
    # Roles that must reach every new exposed table (rls-role-coverage), beyond what the plan implies (anon on
    # public-read tables, authenticated on owner-scoped ones); deny-by-default needs no policy, service_role none.
    expected_roles: list[str] = field(default_factory=list)
    # Columns that make a table owner-scoped, beside any column referencing auth.users(id).
    owner_columns: list[str] = field(default_factory=list)
    public_read_tables: list[str] = field(default_factory=list)
    irreversible_revisions: list[str] = field(default_factory=list)
    # Where a feature's runbook may live; {spec} is the feature folder, {slug}/{number}/{name} parts of its name.
    runbook_paths: list[str] = field(default_factory=lambda: ["{spec}/runbook.md", "docs/runbooks/{slug}.md"])
    timeout_seconds: float = 300.0
    # The address-space limit of every command of the repo's code (RLIMIT_AS, where the platform has it); 0: none.
    memory_limit_mb: int = 4096
    rules: dict[str, RuleSetting] = field(default_factory=dict)
    # `delegate migrations`: dollars per million tokens by model id (or family: sonnet, opus, haiku), over the
    # shipped table (orchestrator/agent/prices.toml); keys input, output, cache_write, cache_read.
    prices: dict[str, dict[str, float]] = field(default_factory=dict)

    source: str | None = None  # the file the config came from, for messages (never read from a file)
    detected: list[str] = field(default_factory=list)  # what detect_layout() chose (never read from a file)

    def detection_notes(self) -> list[str]:
        """What detect_layout() chose, as the live report's notes say it."""
        return [f"found {what} (set it in [tool.delegate] to choose)" for what in self.detected]

    def rule_severity(self, rule: str, severity: Severity) -> Severity | None:
        """The severity a finding of `rule` ends up with under [tool.delegate.rules]; None when the rule is off."""
        setting = self.rules.get(rule)
        if setting == "off":
            return None
        return Severity(setting) if setting is not None else severity

    def path(self, repo: Path, key: str) -> Path:
        value = getattr(self, key)
        return (repo / value).resolve()


def load_config(repo: Path) -> DelegateConfig:
    """Read the config of the repo at `repo`; a malformed file is an InputError naming the file and key."""
    candidates: list[tuple[Path, list[str]]] = [
        (repo / "delegate.toml", []),
        (repo / "pyproject.toml", ["tool", "delegate"]),
    ]
    for path, keys in candidates:
        if not path.is_file():
            continue
        try:
            data: Any = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: not valid TOML ({exc})", "fix the file's syntax") from None
        for key in keys:
            data = data.get(key) if isinstance(data, dict) else None
        if data is None:
            continue
        if not isinstance(data, dict):
            raise InputError(f"{path}: [{'.'.join(keys)}] must be a table")
        where = f"[{'.'.join(keys)}]" if keys else "delegate.toml"
        try:
            cfg = config_from({k.replace("-", "_"): v for k, v in data.items()})
        except ValueError as exc:
            raise InputError(
                f"{path}: {where} is invalid: {exc}",
                "see the README's configuration table for the keys and their types",
            ) from None
        cfg.source = str(path)
        return detect_layout(repo, cfg, explicit=set(data))
    return detect_layout(repo, DelegateConfig(), explicit=set())


# Folders never searched for an alembic.ini: virtualenvs, dependencies, caches, build output.
_SKIP_DIRS = frozenset({"node_modules", "venv", "env", "site-packages", "__pycache__", "build", "dist"})
_SEARCH_DEPTH = 3


def detect_layout(repo: Path, cfg: DelegateConfig, explicit: set[str]) -> DelegateConfig:
    """Where the config leaves alembic_ini or versions_dir at a default that does not exist in this repo, find
    them: the one alembic.ini nearest the root, and the versions folder its script_location (or
    version_locations) names; and where `models` is not set, the metadata env.py gives Alembic. Each choice is
    recorded in cfg.detected; an ambiguous search changes nothing."""
    explicit = {k.replace("-", "_") for k in explicit}
    if "alembic_ini" not in explicit and not (repo / cfg.alembic_ini).is_file():
        candidates = find_alembic_ini(repo)
        if len(candidates) == 1:
            cfg.alembic_ini = candidates[0].relative_to(repo).as_posix()
            cfg.detected.append(f"alembic_ini = {cfg.alembic_ini!r}")
    ini = repo / cfg.alembic_ini
    options = _ini_options(ini) if ini.is_file() else {}
    if "versions_dir" not in explicit and not (repo / cfg.versions_dir).is_dir():
        versions = versions_dir_of(ini, repo, options) if options else None
        if versions is not None and versions.is_dir():
            try:
                cfg.versions_dir = versions.resolve().relative_to(repo.resolve()).as_posix()
            except ValueError:
                cfg.versions_dir = str(versions)
            cfg.detected.append(f"versions_dir = {cfg.versions_dir!r}")
    if "models" not in explicit and options:
        raw = options.get("script_location")
        env_py = script_location(ini, raw, repo) / "env.py" if raw else None
        models = models_of_env_py(env_py) if env_py is not None and env_py.is_file() else None
        if models is not None and models != (cfg.models or ""):
            cfg.models = models or None
            cfg.detected.append(f"models = {cfg.models!r} (env.py's target_metadata)")
    return cfg


def models_of_env_py(env_py: Path) -> str | None:
    """`module:attribute` of the metadata env.py hands Alembic (`target_metadata = Base.metadata` with
    `from app.models import Base`), "" when it hands none (`target_metadata = None`), None when the file does
    not say it plainly (a list, a function call, a name it does not import)."""
    import ast

    try:
        tree = ast.parse(env_py.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None
    imported: dict[str, str] = {}  # local name -> "module:Name" (from-import) or "package.module" (import)
    value: ast.expr | None = None
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                imported[alias.asname or alias.name] = f"{node.module}:{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                imported[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "target_metadata" for t in node.targets
        ):
            value = node.value
    if value is None:
        return None
    if isinstance(value, ast.Constant) and value.value is None:
        return ""
    if isinstance(value, ast.Attribute) and value.attr == "metadata":
        value = value.value  # Base.metadata -> Base (the models step takes .metadata itself)
    parts: list[str] = []
    while isinstance(value, ast.Attribute):
        parts.insert(0, value.attr)
        value = value.value
    if not isinstance(value, ast.Name) or value.id not in imported:
        return None
    origin = imported[value.id]
    if ":" in origin:
        module, name = origin.split(":", 1)
        if not parts:
            return f"{module}:{name}"  # from app.models import Base; Base.metadata
        path = [module, name, *parts[:-1]]  # from app import models; models.Base.metadata
    elif parts:
        path = [origin, *parts[:-1]]  # import app.models as m; m.Base.metadata (or app.models.Base.metadata)
    else:
        return None
    return f"{'.'.join(path)}:{parts[-1]}"


def find_alembic_ini(repo: Path) -> list[Path]:
    """The alembic.ini files nearest the repo root (all of those at the shallowest depth, up to 3 folders down)."""
    level = [repo]
    for _depth in range(_SEARCH_DEPTH + 1):
        found = sorted(folder / "alembic.ini" for folder in level if (folder / "alembic.ini").is_file())
        if found:
            return found
        below: list[Path] = []
        for folder in level:
            try:
                below += [
                    child
                    for child in folder.iterdir()
                    if child.is_dir() and not child.name.startswith(".") and child.name not in _SKIP_DIRS
                ]
            except OSError:
                continue
        level = sorted(below)
    return []


def read_ini(ini: Path) -> configparser.RawConfigParser:
    """An alembic.ini as Alembic reads it (no interpolation, keys as written); raises configparser.Error."""
    parser = configparser.RawConfigParser()
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep keys as written
    parser.read(ini, encoding="utf-8")
    return parser


def _ini_options(ini: Path) -> dict[str, str]:
    """The [alembic] options of an ini file; none when it cannot be read (detection then changes nothing)."""
    try:
        parser = read_ini(ini)
    except (configparser.Error, UnicodeDecodeError):
        return {}
    return dict(parser.items("alembic")) if parser.has_section("alembic") else {}


def script_location(ini: Path, raw: str, repo: Path) -> Path:
    """The folder that an alembic.ini's script_location names: a path (absolute, with %(here)s, or relative to
    where alembic runs: the ini's folder, else the repo root, whichever holds it) or a `package:folder` resource,
    looked up beside the ini, in the repo and in src/."""
    raw = raw.strip().replace("%(here)s", str(ini.parent))
    resource = re.fullmatch(r"([A-Za-z_][\w.]*):([^:]+)", raw)
    if resource is not None and not Path(raw).exists():
        package, folder = resource.groups()
        for root in (ini.parent, repo, repo / "src"):
            candidate = root.joinpath(*package.split("."), folder)
            if candidate.is_dir():
                return candidate.resolve()
    path = Path(raw)
    if path.is_absolute():
        return path.resolve()
    beside = (ini.parent / path).resolve()
    if not beside.is_dir() and (repo / path).is_dir():
        return (repo / path).resolve()
    return beside


def versions_dir_of(ini: Path, repo: Path, options: dict[str, str]) -> Path | None:
    """The revision folder of an alembic.ini (its [alembic] `options`): the first of its version_locations, else
    script_location/versions."""
    locations = options.get("version_locations", "").strip()
    if locations:
        separator = options.get("version_path_separator", "").strip()
        separators = {"os": os.pathsep, "colon": ":", "semicolon": ";", "space": " ", "newline": "\n"}
        parts = locations.split(separators[separator]) if separator in separators else re.split(r"[\s,]+", locations)
        first = next((p for p in (part.strip() for part in parts) if p), None)
        if first is not None:
            return script_location(ini, first, repo)
    raw = options.get("script_location")
    return script_location(ini, raw, repo) / "versions" if raw else None


KEYS = tuple(f.name for f in fields(DelegateConfig) if f.name not in ("source", "detected"))


def config_from(data: dict[str, Any]) -> DelegateConfig:
    """A DelegateConfig from the keys of a config table; ValueError names each bad key and what is wrong."""
    unknown = [k for k in data if k not in KEYS]
    if unknown:
        import difflib

        problems = []
        for key in unknown:
            close = difflib.get_close_matches(key, KEYS, n=1)
            problems.append(f"{key}: unknown key" + (f" (did you mean {close[0]}?)" if close else ""))
        raise ValueError("; ".join(problems))
    from pydantic import TypeAdapter, ValidationError

    try:
        return TypeAdapter(DelegateConfig).validate_python(data)
    except ValidationError as exc:
        raise ValueError(
            "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        ) from None
