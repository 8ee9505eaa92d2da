"""SECURITY.md point 3: a `delegate check` interrupted by SIGINT or SIGTERM in the middle of its live verification
exits with its documented code, leaves no scratch database of its run on the server, and leaves the named
database's tables and rows as they were."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from orchestrator.pg import PostgresServer
from orchestrator.pg.names import SCRATCH_PREFIX, host_tag
from tests.support.example_repo import make_example_repo

ROOT = Path(__file__).resolve().parents[2]
WAIT_FOR_SCRATCH = 25.0  # seconds: give up (and fail) if the run never gets to a scratch database

pytestmark = pytest.mark.postgres


@pytest.fixture()
def named_db(pg_server: PostgresServer) -> Iterator[str]:
    """A database with a table and rows, standing for the developer's own; dropped after the test."""
    name = f"delegate_user_{secrets.token_hex(4)}"
    with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    with psycopg.connect(pg_server.url_for(name), autocommit=True) as conn:
        conn.execute("CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL)")
        conn.execute("INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, 50) g")
    try:
        yield name
    finally:
        with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def snapshot(server: PostgresServer, name: str) -> tuple[list[tuple[str, str]], list[tuple[int, str]]]:
    """The named database's user tables and the rows of its one table."""
    with psycopg.connect(server.url_for(name)) as conn:
        tables = conn.execute(
            "SELECT schemaname, tablename FROM pg_tables"
            " WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2"
        ).fetchall()
        rows = conn.execute("SELECT id, name FROM customers ORDER BY id").fetchall()
    return [(str(s), str(t)) for s, t in tables], [(int(i), str(n)) for i, n in rows]


def scratch_of(server: PostgresServer, pid: int) -> list[str]:
    """The databases process `pid` of this host named on the server (scratch databases, template builds)."""
    marker = f"\\_{host_tag()}\\_{pid}\\_%"
    with psycopg.connect(server.admin_url, autocommit=True) as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (f"delegate%{marker}",))
        return sorted(str(r[0]) for r in rows)


def start_check(repo: Path, url: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "orchestrator.cli", "check", "--repo", str(repo), "--database-url", url],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_a_check_interrupted_mid_verification_cleans_up(
    tmp_path: Path, pg_server: PostgresServer, named_db: str, sig: signal.Signals, code: int
) -> None:
    repo = make_example_repo(tmp_path, with_solution=True)
    before = snapshot(pg_server, named_db)
    process = start_check(repo, pg_server.url_for(named_db))
    try:
        deadline = time.monotonic() + WAIT_FOR_SCRATCH
        seen: list[str] = []
        while process.poll() is None and time.monotonic() < deadline:
            seen = [n for n in scratch_of(pg_server, process.pid) if n.startswith(SCRATCH_PREFIX)]
            if seen:
                break
            time.sleep(0.02)
        assert seen, "the run never had a scratch database on the server (finished or too slow)"
        process.send_signal(sig)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == code, err.decode(errors="replace")
    assert b"Traceback" not in err
    assert scratch_of(pg_server, process.pid) == []
    assert snapshot(pg_server, named_db) == before
