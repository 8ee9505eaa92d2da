"""Alembic's version table, whatever env.py calls it.

`context.configure(version_table="...", version_table_schema="...")` renames and moves it; projects that keep
several Alembic environments in one database always do. Alembic creates it as a table whose only column is
`version_num`, so that shape is what identifies it: the live checks leave it out of fingerprints, lock traces,
row counts and the models comparison, and read the stamped revisions from it.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql


def is_version_table(rel: str = "c") -> str:
    """A SQL condition: the pg_class row `rel` is a version table (false when `rel` is NULL, as in an outer join)."""
    return (
        "coalesce((SELECT array_agg(va.attname::text ORDER BY va.attnum) FROM pg_attribute va"
        f" WHERE va.attrelid = {rel}.oid AND va.attnum > 0 AND NOT va.attisdropped) = ARRAY['version_num'], false)"
    )


def version_tables(conn: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    """(schema, table) of every version table in the database."""
    rows = conn.execute(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
        f" AND {is_version_table('c')} ORDER BY 1, 2"
    ).fetchall()
    return [(str(schema), str(table)) for schema, table in rows]


def stamped_revisions(url: str) -> list[str]:
    """The revisions the version table(s) hold, sorted; none when there is no version table yet."""
    with psycopg.connect(url, autocommit=True) as conn:
        stamped: set[str] = set()
        for schema, table in version_tables(conn):
            query = sql.SQL("SELECT version_num FROM {}").format(sql.Identifier(schema, table))
            stamped.update(str(row[0]) for row in conn.execute(query))
        return sorted(stamped)
