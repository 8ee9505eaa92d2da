"""The target repo's configuration: `[tool.delegate]` in pyproject.toml, or delegate.toml; every key has a default."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from orchestrator.errors import InputError

RuleSetting = Literal["error", "warning", "info", "off"]


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
    exposed_schemas: list[str] = field(default_factory=lambda: ["public"])
    expected_roles: list[str] = field(default_factory=lambda: ["anon", "authenticated", "service_role"])
    # Columns that make a table owner-scoped, beside any column referencing auth.users(id).
    owner_columns: list[str] = field(default_factory=list)
    public_read_tables: list[str] = field(default_factory=list)
    irreversible_revisions: list[str] = field(default_factory=list)
    # Where a feature's runbook may live; {spec} is the feature folder, {slug}/{number}/{name} parts of its name.
    runbook_paths: list[str] = field(default_factory=lambda: ["{spec}/runbook.md", "docs/runbooks/{slug}.md"])
    timeout_seconds: float = 300.0
    rules: dict[str, RuleSetting] = field(default_factory=dict)

    source: str | None = None  # the file the config came from, for messages (never read from a file)

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
        return cfg
    return DelegateConfig()


KEYS = tuple(f.name for f in fields(DelegateConfig) if f.name != "source")


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
