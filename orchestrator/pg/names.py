"""Who owns a database on a shared server: the names of scratch and template databases (prefix, host, pid, random),
dropping one, and sweeping what dead runs of this host left behind. Below server.py and scratch.py, importing neither."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import socket
import time

import psycopg
from psycopg import sql

from orchestrator.runner.process import pid_alive

SCRATCH_PREFIX = "delegate_scratch"
TEMPLATE_PREFIX = "delegate_tpl"
_MAX_PREFIX = 30  # 63-byte identifiers leave room for _host_pid_random after this


def host_tag() -> str:
    """Six hex characters naming this machine, so a sweep never drops a database of a live run elsewhere."""
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]


def owned_name(prefix: str) -> str:
    """A unique database name that says who owns it: prefix, host, pid, random."""
    if len(prefix) > _MAX_PREFIX or not re.fullmatch(r"[a-z_][a-z0-9_]*", prefix):
        raise ValueError(f"database name prefix {prefix!r}: use at most {_MAX_PREFIX} of a-z, 0-9 and _")
    return f"{prefix}_{host_tag()}_{os.getpid()}_{secrets.token_hex(4)}"


def _owner_pattern(prefix: str) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(prefix)}_([0-9a-f]{{6}})_(\d+)_[0-9a-f]{{8}}$")


def owned_by_host(conn: psycopg.Connection, prefix: str) -> list[tuple[str, int]]:
    """(name, owner pid) of every database named `prefix` by a process of this host."""
    pattern = _owner_pattern(prefix)
    like = prefix.replace("_", r"\_") + r"\_%"
    owned: list[tuple[str, int]] = []
    for (name,) in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (like,)):
        match = pattern.match(name)
        if match is not None and match.group(1) == host_tag():
            owned.append((name, int(match.group(2))))
    return owned


def drop_database_on(conn: psycopg.Connection, name: str, version_num: int) -> None:
    """DROP DATABASE … WITH (FORCE) on PostgreSQL 13+, else end the backends and retry the plain drop."""
    row = conn.execute("SELECT datistemplate FROM pg_database WHERE datname = %s", (name,)).fetchone()
    if row is None:
        return
    ident = sql.Identifier(name)
    if row[0]:
        # A template database cannot be dropped until it is an ordinary one again.
        conn.execute(sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE false").format(ident))
    if version_num >= 130000:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
        return
    for attempt in range(20):
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        try:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(ident))
            return
        except psycopg.errors.ObjectInUse:
            if attempt == 19:
                raise
            time.sleep(0.05)


def sweep_stale_on(conn: psycopg.Connection, version_num: int, prefix: str) -> list[str]:
    """Drop databases named `prefix` by a process of this host that is gone; returns the names dropped."""
    dropped: list[str] = []
    for name, pid in owned_by_host(conn, prefix):
        if pid == os.getpid() or pid_alive(pid):
            continue
        with contextlib.suppress(psycopg.Error):
            drop_database_on(conn, name, version_num)
            dropped.append(name)
    return dropped
