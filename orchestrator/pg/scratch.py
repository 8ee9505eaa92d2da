"""Scratch databases (cloned, used, always dropped), cached template databases, and sweeping leftovers of dead runs."""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import re
import threading
import time
from collections.abc import Callable
from types import TracebackType

import psycopg
from psycopg import sql

from orchestrator.pg.names import (
    _MAX_PREFIX,
    SCRATCH_PREFIX,
    TEMPLATE_PREFIX,
    drop_database_on,
    owned_by_host,
    owned_name,
    sweep_stale_on,
)
from orchestrator.pg.server import PostgresServer, install_signal_cleanup
from orchestrator.pg.supabase import SUPABASE_EMULATION_VERSION, apply_supabase_emulation

_TEMPLATE_MARK = "delegate template complete"
# Templates kept per prefix on a server; the least recently used beyond this are dropped (they rebuild on demand).
KEEP_ENV = "DELEGATE_TEMPLATE_KEEP"
DEFAULT_KEEP = 12


def owned_databases(server: PostgresServer, pid: int | None = None, prefix: str = SCRATCH_PREFIX) -> list[str]:
    """The scratch databases that process `pid` (default: this one) of this host has on the server now."""
    wanted = os.getpid() if pid is None else pid
    with server.admin_connection() as conn:
        return sorted(name for name, owner in owned_by_host(conn, prefix) if owner == wanted)


def sweep_stale(server: PostgresServer, prefix: str = SCRATCH_PREFIX) -> list[str]:
    """Drop databases named `prefix` by a process of this host that is gone; returns the names dropped."""
    with server.admin_connection() as conn:
        return sweep_stale_on(conn, server.version_num, prefix)


# Scratch databases still alive in this process, dropped at exit if a `with` block never got to do it.
_LIVE_SCRATCH: dict[str, PostgresServer] = {}
_LIVE_LOCK = threading.Lock()


class ScratchDatabase:
    """A database cloned from `template` (or template1) for one use, dropped on exit, also on failure and Ctrl-C."""

    def __init__(self, server: PostgresServer, template: str | None = None, prefix: str = SCRATCH_PREFIX) -> None:
        self.server = server
        self.template = template
        self.name = owned_name(prefix)

    @property
    def url(self) -> str:
        return self.server.url_for(self.name)

    @property
    def sqlalchemy_url(self) -> str:
        return self.server.sqlalchemy_url_for(self.name)

    def __enter__(self) -> ScratchDatabase:
        install_signal_cleanup()
        with _LIVE_LOCK:
            _LIVE_SCRATCH[self.name] = self.server
        try:
            self.server.create_database(self.name, template=self.template)
        except BaseException:
            with contextlib.suppress(Exception):  # keep the error that stopped the clone
                self.drop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None:
            self.drop()
            return
        # The error that ended the block matters more than a failed drop (a sweep removes the leftover later).
        with contextlib.suppress(Exception):
            self.drop()

    def drop(self) -> None:
        """Drop the database (ending its connections); safe to call twice."""
        with _LIVE_LOCK:
            registered = _LIVE_SCRATCH.pop(self.name, None) is not None
        if registered:
            self.server.drop_database(self.name)

    def __repr__(self) -> str:
        return f"ScratchDatabase({self.name!r} on {self.server.description})"


def _rename_when_idle(conn: psycopg.Connection, old: str, new: str) -> None:
    """Rename a database, first ending sessions a build left open (they would block the rename)."""
    statement = sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(old), sql.Identifier(new))
    for attempt in range(50):
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (old,),
        )
        try:
            conn.execute(statement)
            return
        except psycopg.errors.ObjectInUse:
            if attempt == 49:
                raise
            time.sleep(0.02)


def drop_live_scratch() -> None:
    """Drop every scratch database this process still holds (called at exit; a dead server is ignored)."""
    with _LIVE_LOCK:
        items = list(_LIVE_SCRATCH.items())
        _LIVE_SCRATCH.clear()
    for name, server in items:
        with contextlib.suppress(Exception):
            server.drop_database(name)


def template_name(key: str, prefix: str = TEMPLATE_PREFIX, supabase: bool = True) -> str:
    """The template database for `key`: prefix + a short hash of the key and the Supabase emulation version
    (or "none": a plain PostgreSQL template)."""
    emulation = SUPABASE_EMULATION_VERSION if supabase else "none"
    digest = hashlib.sha256(f"{key}\0supabase-emulation={emulation}".encode()).hexdigest()[:16]
    return f"{prefix}_{digest}"


def drop_templates(server: PostgresServer, prefix: str = TEMPLATE_PREFIX) -> list[str]:
    """Drop every cached template named `prefix`_<hash> on `server` (they are rebuilt on demand); returns the names."""
    pattern = re.compile(rf"^{re.escape(prefix)}_[0-9a-f]{{16}}$")
    like = prefix.replace("_", r"\_") + r"\_%"
    with server.admin_connection() as conn:
        names = [row[0] for row in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (like,))]
        dropped = [name for name in names if pattern.match(name)]
        for name in dropped:
            drop_database_on(conn, name, server.version_num)
    return dropped


def _lock_id(name: str) -> int:
    # pg_advisory_lock takes a signed 64-bit key.
    return int.from_bytes(hashlib.sha256(f"delegate:{name}".encode()).digest()[:8], "big", signed=True)


def _is_complete(conn: psycopg.Connection, name: str) -> bool | None:
    """True: a finished template; False: a database of that name that is not one; None: no such database."""
    row = conn.execute(
        "SELECT datistemplate, shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (name,)
    ).fetchone()
    if row is None:
        return None
    return bool(row[0]) and (row[1] or "").split(";")[0] == f"{_TEMPLATE_MARK}: {name}"


def _mark(name: str) -> str:
    """The comment of a finished template: what it is, and when it was last used (for eviction)."""
    return f"{_TEMPLATE_MARK}: {name}; used {time.time():.0f}"


def _last_used(comment: str | None) -> float:
    match = re.search(r"; used (\d+)$", comment or "")
    return float(match.group(1)) if match else 0.0  # an older mark without a time is the first to go


def _touch(conn: psycopg.Connection, name: str) -> None:
    with contextlib.suppress(psycopg.Error):  # a template owned by another role is still usable, just not marked
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(name), sql.Literal(_mark(name))))


def evict_templates(server: PostgresServer, prefix: str = TEMPLATE_PREFIX, keep: int | None = None) -> list[str]:
    """Drop the least recently used finished templates of `prefix` beyond `keep` (default DELEGATE_TEMPLATE_KEEP,
    else 12): a long-lived CI server would otherwise gain one template per base it ever saw."""
    if keep is None:
        keep = int(os.environ.get(KEEP_ENV, "") or DEFAULT_KEEP)
    pattern = re.compile(rf"^{re.escape(prefix)}_[0-9a-f]{{16}}$")
    like = prefix.replace("_", r"\_") + r"\_%"
    dropped: list[str] = []
    with server.admin_connection() as conn:
        rows = conn.execute(
            "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database"
            " WHERE datname LIKE %s AND datistemplate",
            (like,),
        ).fetchall()
        finished = sorted(((_last_used(comment), name) for name, comment in rows if pattern.match(name)), reverse=True)
        for _, name in finished[max(keep, 1) :]:
            lock = _lock_id(name)
            if not conn.execute("SELECT pg_try_advisory_lock(%s)", (lock,)).fetchone()[0]:  # type: ignore[index]
                continue  # another run is (re)building it right now
            try:
                with contextlib.suppress(psycopg.Error):  # e.g. being cloned this very moment: next time
                    drop_database_on(conn, name, server.version_num)
                    dropped.append(name)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (lock,))
    return dropped


def ensure_template(
    server: PostgresServer,
    key: str,
    build: Callable[[str], None],
    prefix: str = TEMPLATE_PREFIX,
    supabase: bool = True,
) -> str:
    """The name of a finished template database for `key` on `server`, building it once (the Supabase emulation
    unless `supabase` is False, then build(url)).

    Cached across runs on the same server; concurrent runs serialize on an advisory lock, and a failed build
    leaves nothing behind. No connection stays open to the template, since cloning needs none.
    """
    name = template_name(key, prefix, supabase)
    install_signal_cleanup()
    with server.admin_connection() as shared:
        if _is_complete(shared, name):
            _touch(shared, name)
            return name
    # The build holds the lock for as long as it runs: on a connection of its own, not the shared one.
    with server.new_admin_connection() as conn:
        lock = _lock_id(name)
        conn.execute("SELECT pg_advisory_lock(%s)", (lock,))
        try:
            state = _is_complete(conn, name)
            if state:
                return name  # another run finished it while we waited
            if state is False:
                drop_database_on(conn, name, server.version_num)  # an unfinished leftover of ours
            _build_template(server, conn, name, build, prefix, supabase)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (lock,))
    evict_templates(server, prefix)
    return name


def private_template(server: PostgresServer, build: Callable[[str], None], supabase: bool = True) -> ScratchDatabase:
    """A base template for one run alone (`--no-template-cache`): built as a cached one is (emulation unless
    `supabase` is False, then build(url)), but under a scratch name of this process, so nothing stays: the caller
    drops it, and else the exit and signal cleanup or a later sweep does, as for any scratch database."""
    db = ScratchDatabase(server, template="template0").__enter__()
    try:
        if supabase:
            apply_supabase_emulation(db.url)
        build(db.url)
        with server.admin_connection() as conn:  # cloning needs no session on it: end any the build left open
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (db.name,),
            )
    except BaseException:
        with contextlib.suppress(Exception):  # keep the error that stopped the build
            db.drop()
        raise
    return db


def _build_template(
    server: PostgresServer,
    conn: psycopg.Connection,
    name: str,
    build: Callable[[str], None],
    prefix: str,
    supabase: bool = True,
) -> None:
    # Built under a temporary name and renamed at the end, so the final name only ever holds a finished template.
    building = owned_name(f"{prefix}_build"[:_MAX_PREFIX])
    with _LIVE_LOCK:
        _LIVE_SCRATCH[building] = server
    try:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(building)))
        url = server.url_for(building)
        if supabase:
            apply_supabase_emulation(url)
        build(url)
        ident = sql.Identifier(building)
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(ident, sql.Literal(_mark(name))))
        conn.execute(sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE true").format(ident))
        _rename_when_idle(conn, building, name)
    except BaseException:
        with contextlib.suppress(Exception):
            drop_database_on(conn, building, server.version_num)
        raise
    finally:
        with _LIVE_LOCK:
            _LIVE_SCRATCH.pop(building, None)


atexit.register(drop_live_scratch)
