"""Replay the feature's offline upgrade SQL statement by statement on a clone of the base and record the locks taken.

As the `eugene` tool does: one connection, inside the migration's own transaction, and after each statement a
look at pg_locks for our backend; a lock on a relation that existed before the migration is what blocks users.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pglast
import psycopg
from pydantic import BaseModel, Field

from orchestrator.verification import LockObservation
from orchestrator.verify.version_tables import is_version_table

_RUNNING = re.compile(r"^-- Running upgrade (?P<src>.*?) -> (?P<dst>\S+)", re.MULTILINE)
_CONCURRENTLY = re.compile(r"\bCONCURRENTLY\b", re.IGNORECASE)
BLOCKING_MODES = {"AccessExclusiveLock": "ACCESS EXCLUSIVE", "ShareLock": "SHARE"}
# Plain reads take these on every table they touch; recording them would bury the locks that matter.
_READ_MODES = {"AccessShareLock", "RowShareLock"}


def mode_words(mode: str) -> str:
    """AccessExclusiveLock -> ACCESS EXCLUSIVE, as people write lock modes."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", mode.removesuffix("Lock")).upper()


class RenderedStatement(BaseModel):
    revision: str | None
    sql: str


class LockTrace(BaseModel):
    locks: list[LockObservation] = Field(default_factory=list)
    revision_ms: dict[str, float] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)
    failed: str | None = None  # the statement that failed and why, when the replay stopped early


def split_offline_sql(text: str) -> list[RenderedStatement]:
    """Alembic's --sql output as statements, each tagged with the revision whose "-- Running upgrade" precedes it."""
    marks = list(_RUNNING.finditer(text))
    chunks: list[tuple[str | None, str]] = []
    start, revision = 0, None
    for mark in marks:
        chunks.append((revision, text[start : mark.start()]))
        start, revision = mark.end(), mark["dst"]
    chunks.append((revision, text[start:]))
    statements: list[RenderedStatement] = []
    for rev, chunk in chunks:
        if not chunk.strip():
            continue
        parts: list[str]
        try:
            parts = list(pglast.split(chunk, with_parser=False))
        except Exception:  # the scanner rejects only badly broken text; keep the chunk whole so it fails visibly
            parts = [chunk]
        statements += [RenderedStatement(revision=rev, sql=p.strip()) for p in parts if _has_code(p)]
    return statements


def _has_code(statement: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in statement.splitlines())


def _first_word(statement: str) -> str:
    code = "\n".join(line for line in statement.splitlines() if not line.strip().startswith("--"))
    return (code.split() or [""])[0].upper()


def _existing_tables(conn: psycopg.Connection[Any]) -> dict[int, str]:
    rows = conn.execute(
        "SELECT c.oid, n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"
        f" AND NOT {is_version_table('c')}"
    ).fetchall()
    return {int(oid): name for oid, name in rows}


def trace_locks(conn: psycopg.Connection[Any], statements: list[RenderedStatement]) -> LockTrace:
    """`conn` in autocommit mode; transactions are the script's own BEGIN/COMMIT, so locks show as they are held."""
    trace = LockTrace()
    existing = _existing_tables(conn)
    in_transaction = False
    held: set[tuple[int, str]] = set()
    for statement in statements:
        word = _first_word(statement.sql)
        if word in ("BEGIN", "START"):
            conn.execute("BEGIN")
            in_transaction, held = True, set()
            continue
        if word in ("COMMIT", "END"):
            if in_transaction:
                conn.execute("COMMIT")
            in_transaction = False
            continue
        if _CONCURRENTLY.search(statement.sql) and in_transaction:
            conn.execute("COMMIT")
            in_transaction = False
            trace.notes.append(
                f"ran outside a transaction (CONCURRENTLY), its locks could not be sampled: {_short(statement.sql)}"
            )
            reopen = True
        else:
            reopen = False
        started = time.perf_counter()
        try:
            conn.execute(statement.sql.encode())
        except psycopg.OperationalError:
            raise
        except psycopg.Error as exc:
            if in_transaction:
                conn.execute("ROLLBACK")
            trace.failed = f"{_short(statement.sql)}: {(str(exc).strip().splitlines() or [''])[0]}"
            return trace
        seconds = time.perf_counter() - started
        if statement.revision:
            trace.revision_ms[statement.revision] = trace.revision_ms.get(statement.revision, 0.0) + seconds * 1000
        if in_transaction:
            for oid, mode in conn.execute(
                "SELECT relation::int, mode FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'relation'"
                " AND granted"
            ).fetchall():
                if oid in existing and mode not in _READ_MODES and (oid, mode) not in held:
                    held.add((oid, mode))
                    trace.locks.append(
                        LockObservation(
                            revision=statement.revision,
                            statement=_short(statement.sql, 200),
                            relation=existing[oid],
                            mode=mode_words(mode),
                            seconds=round(seconds, 4),
                        )
                    )
        if reopen:
            conn.execute("BEGIN")
            in_transaction, held = True, set()
    if in_transaction:
        conn.execute("COMMIT")
    return trace


def _short(statement: str, width: int = 120) -> str:
    flat = " ".join(statement.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
