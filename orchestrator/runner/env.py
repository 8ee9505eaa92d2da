"""The environment that code from a target repo (its env.py, revisions, tests) runs with: none of our secrets,
the repo importable, and every database setting naming the scratch database."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

# Names that hold credentials of the tool's own environment (ANTHROPIC_API_KEY, GITHUB_TOKEN, AWS_SECRET_ACCESS_KEY,
# AWS_ACCESS_KEY_ID, PGPASSWORD, ...); a target repo's code never sees them.
_SECRET_NAME = re.compile(
    r"(API_?KEY|(^|_)KEYS?(_|$)|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE_KEY|AUTH|SESSION|COOKIE)",
    re.IGNORECASE,
)
_ALWAYS_DROP = {"DATABASE_URL", "PGPASSWORD", "PGPASSFILE", "PGSERVICEFILE", "ANTHROPIC_BASE_URL"}

# Arms verify/_scratch_guard.py (its ENV_NAME: it runs in the target's interpreter and cannot import this module;
# tests/test_runner.py holds the two equal) against any database but the scratch one.
SCRATCH_DATABASE_ENV = "DELEGATE_SCRATCH_DATABASE"


def clean_env(extra: dict[str, str] | None = None, base: dict[str, str] | None = None) -> dict[str, str]:
    """A copy of `base` (default os.environ) without secrets or database settings, plus `extra`."""
    source = dict(os.environ if base is None else base)
    env = {k: v for k, v in source.items() if k not in _ALWAYS_DROP and not _SECRET_NAME.search(k)}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra or {})
    return env


def repo_env(
    python_path: Sequence[Path], libpq_url: str | None = None, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """What a command of the target repo runs with: clean_env(), its folders on PYTHONPATH, and (with a URL) the
    scratch database in every variable an app config reads (scratch_env)."""
    paths: list[str] = []
    for folder in python_path:
        if str(folder) not in paths:
            paths.append(str(folder))
    values = {"PYTHONPATH": ":".join(paths)}
    if libpq_url is not None:
        values.update(scratch_env(libpq_url))
    values.update(extra or {})
    return clean_env(values)


def sqlalchemy_form(libpq_url: str) -> str:
    """postgresql://… -> postgresql+psycopg://… (what SQLAlchemy needs to pick psycopg 3), by the harness's parser."""
    from orchestrator.pg.address import ServerAddress

    return ServerAddress.parse(libpq_url).url(scheme="postgresql+psycopg")


def scratch_env(libpq_url: str) -> dict[str, str]:
    """The variables an env.py (or a delivered test) may build its database URL from, every one naming the
    scratch database: DATABASE_URL, libpq's PG*, and the POSTGRES_* / DB_* / SQLALCHEMY_DATABASE_URI settings
    that app configs read. DELEGATE_SCRATCH_DATABASE arms _scratch_guard.py against any other database."""
    from orchestrator.pg.address import ServerAddress

    address = ServerAddress.parse(libpq_url)
    host, port, user = address.host or "", str(address.port or 5432), address.user or ""
    password = address.password.get_secret_value() if address.password is not None else ""
    db = address.dbname
    sqlalchemy_url = sqlalchemy_form(libpq_url)
    values = {
        "DATABASE_URL": libpq_url,
        SCRATCH_DATABASE_ENV: db,
        "SQLALCHEMY_DATABASE_URI": sqlalchemy_url,
        "SQLALCHEMY_DATABASE_URL": sqlalchemy_url,
    }
    for prefix, database in (("PG", "PGDATABASE"), ("POSTGRES_", "POSTGRES_DB"), ("DB_", "DB_NAME")):
        values.update({f"{prefix}HOST": host, f"{prefix}PORT": port, f"{prefix}USER": user, database: db})
        values[f"{prefix}PASSWORD"] = password
    values["POSTGRES_SERVER"] = host
    return {name: value for name, value in values.items() if value}
