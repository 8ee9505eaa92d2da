"""Cached templates are bounded: the least recently used beyond the limit are dropped, the one in use is kept."""

from __future__ import annotations

import os
import secrets
import time

import pytest

from orchestrator.pg import PostgresServer, drop_templates, ensure_template
from orchestrator.pg.scratch import KEEP_ENV

pytestmark = pytest.mark.postgres


def templates(server: PostgresServer, prefix: str) -> set[str]:
    with server.admin_connection() as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (prefix + "%",)).fetchall()
    return {r[0] for r in rows}


def test_least_recently_used_templates_are_evicted(pg_server: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = f"delegate_evict_{os.getpid()}_{secrets.token_hex(3)}"  # unique per run on a shared server
    monkeypatch.setenv(KEEP_ENV, "2")
    try:
        first = ensure_template(pg_server, "first", lambda url: None, prefix=prefix)
        time.sleep(1.1)  # the last-use mark has a resolution of one second
        second = ensure_template(pg_server, "second", lambda url: None, prefix=prefix)
        time.sleep(1.1)
        assert ensure_template(pg_server, "first", lambda url: None, prefix=prefix) == first  # used again: newest
        time.sleep(1.1)
        third = ensure_template(pg_server, "third", lambda url: None, prefix=prefix)
        assert templates(pg_server, prefix) == {first, third}  # "second" was the least recently used
        assert second not in templates(pg_server, prefix)
    finally:
        drop_templates(pg_server, prefix)
    assert templates(pg_server, prefix) == set()
