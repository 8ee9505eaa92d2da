"""Run seed files twice and compare row counts: a second run that adds rows is a seed that is not idempotent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from pydantic import BaseModel, Field

from orchestrator.checks.sqltext import without_psql_meta
from orchestrator.config import DelegateConfig
from orchestrator.verify.version_tables import is_version_table


class SeedFailure(BaseModel):
    file: str
    line: int | None
    message: str


class CountChange(BaseModel):
    """A table whose row count a file's second run changed."""

    file: str
    table: str
    before: int
    after: int


class SeedOutcome(BaseModel):
    files: list[str] = Field(default_factory=list)  # the feature's seed files, in the order run
    context: list[str] = Field(default_factory=list)  # earlier seed files run once first (they hold parent rows)
    failures: list[SeedFailure] = Field(default_factory=list)
    changed: list[CountChange] = Field(default_factory=list)


def seed_files(repo: Path, cfg: DelegateConfig) -> list[Path]:
    """Every .sql file under the seeds folders, in path order (the order a person's `psql -f` loop would use)."""
    found: list[Path] = []
    for folder in cfg.seeds_dirs:
        root = (repo / folder).resolve()
        if root.is_dir():
            found += sorted(root.rglob("*.sql"))
    return found


def row_counts(conn: psycopg.Connection[Any], schemas: list[str]) -> dict[str, int]:
    tables = conn.execute(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind IN ('r', 'p') AND (n.nspname = ANY(%s) OR (n.nspname = 'auth' AND c.relname = 'users'))"
        f" AND NOT {is_version_table('c')}",
        (schemas,),
    ).fetchall()
    if not tables:
        return {}
    query = sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT {}, count(*) FROM {}").format(sql.Literal(f"{s}.{t}"), sql.Identifier(s, t)) for s, t in tables
    )
    return {name: count for name, count in conn.execute(query).fetchall()}


def _line_of(text: str, position: int | None) -> int | None:
    if not position:
        return None
    return text.count("\n", 0, max(position - 1, 0)) + 1


def run_seed(conn: psycopg.Connection[Any], path: Path, rel: str) -> SeedFailure | None:
    """Run one file as one implicit transaction (a simple query with many statements), as psql -1 would."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if not text.strip():
        return None
    text = without_psql_meta(
        text
    )  # a seed written for psql (`\\set ON_ERROR_STOP on` first), as the static half reads it
    try:
        conn.execute(text.encode())  # bytes: no placeholder parsing, so a literal '%' in a seed stays as written
    except psycopg.OperationalError:
        raise
    except psycopg.Error as exc:
        position = exc.diag.statement_position
        line = _line_of(text, int(position)) if position else None
        message = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return SeedFailure(file=rel, line=line, message=message)
    return None


def run_seeds_twice(
    conn: psycopg.Connection[Any], feature: list[tuple[Path, str]], context: list[tuple[Path, str]], schemas: list[str]
) -> SeedOutcome:
    """`conn` must be in autocommit mode. Context files run once, the feature's files twice; counts after each pass."""
    outcome = SeedOutcome(files=[rel for _, rel in feature], context=[rel for _, rel in context])
    for path, rel in context:
        failure = run_seed(conn, path, rel)
        if failure:
            outcome.failures.append(failure)
    for path, rel in feature:
        failure = run_seed(conn, path, rel)
        if failure:
            outcome.failures.append(failure)
    if outcome.failures:
        return outcome
    before = row_counts(conn, schemas)
    for path, rel in feature:
        failure = run_seed(conn, path, rel)
        if failure:
            outcome.failures.append(failure)
            continue
        after = row_counts(conn, schemas)
        outcome.changed += [
            CountChange(file=rel, table=table, before=before.get(table, 0), after=count)
            for table, count in sorted(after.items())
            if before.get(table, 0) != count
        ]
        before = after
    return outcome
