"""`delegate check` on bad database input: exit 2 naming the cause and the fix, no traceback, nothing left behind."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from psycopg import sql

from orchestrator.pg import PostgresServer
from tests.support.example_repo import make_example_repo

pytestmark = pytest.mark.postgres


def delegate(repo: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "check", "--repo", str(repo), *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )


def databases_of(server: PostgresServer, role: str) -> list[str]:
    """The databases `role` owns (not every scratch database on the server: other runs may share it)."""
    with server.admin_connection() as conn:
        rows = conn.execute(
            "SELECT d.datname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba WHERE r.rolname = %s", (role,)
        ).fetchall()
    return sorted(r[0] for r in rows)


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_example_repo(tmp_path_factory.mktemp("bad-db"), with_solution=False)


def test_unreachable_url(example: Path) -> None:
    done = delegate(example, "--database-url", "postgresql://postgres@127.0.0.1:1/postgres")
    assert done.returncode == 2, done.stderr
    assert "cannot connect to PostgreSQL at postgresql://postgres@127.0.0.1:1/postgres" in done.stderr
    assert "fix:" in done.stderr and "Traceback" not in done.stderr


def test_role_that_cannot_create_databases(example: Path, pg_server: PostgresServer) -> None:
    role = f"delegate_cli_nocreatedb_{os.getpid()}"
    password = secrets.token_hex(8)
    with pg_server.admin_connection() as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN NOCREATEDB PASSWORD {}").format(sql.Identifier(role), sql.Literal(password))
        )
    try:
        address = pg_server.address.model_copy(update={"user": role, "password": None})
        url = address.url().replace(f"{role}@", f"{role}:{password}@")
        done = delegate(example, "--database-url", url)
        assert done.returncode == 2, done.stderr
        assert role in done.stderr and "CREATEDB" in done.stderr
        assert password not in done.stderr + done.stdout
        assert "Traceback" not in done.stderr
        assert databases_of(pg_server, role) == []
    finally:
        with pg_server.admin_connection() as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def test_no_url_and_no_binaries(example: Path) -> None:
    done = delegate(example, env={"DELEGATE_PG_BINDIR": "/nonexistent", "DELEGATE_PG_NO_WHEEL": "1"})
    assert done.returncode == 2, done.stderr
    assert "apt-get install postgresql" in done.stderr and "--database-url" in done.stderr
    assert "Traceback" not in done.stderr
