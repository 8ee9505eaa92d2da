"""prefer-jsonb, prefer-timestamptz, prefer-identity: column types with a better replacement."""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import AlterTableType

from orchestrator.checks.model import CheckContext, Rule, SqlStatement, Violation
from orchestrator.checks.rules._examples import revision, revision_path
from orchestrator.checks.rules._sql import statement_alter_cmds, upgrade_migrations
from orchestrator.report import Severity
from orchestrator.sql.tree import TypeRef, column_defs, type_ref


def typed_columns(ctx: CheckContext) -> list[tuple[SqlStatement, str, str, TypeRef]]:
    """(statement, table, column, type) for every column an upgrade creates, adds or retypes (computed once)."""
    return ctx.memo("typed_columns", lambda: list(_typed_columns(ctx)))


def _typed_columns(ctx: CheckContext) -> Iterator[tuple[SqlStatement, str, str, TypeRef]]:
    for stmt in upgrade_migrations(ctx, ast.CreateStmt, ast.AlterTableStmt):
        for table, col, _ in column_defs(stmt.node):
            tref = type_ref(col.typeName)
            if tref is not None:
                yield stmt, table, col.colname or "", tref
        for table, cmd in statement_alter_cmds(stmt):
            if cmd.subtype == AlterTableType.AT_AlterColumnType and isinstance(cmd.def_, ast.ColumnDef):
                tref = type_ref(cmd.def_.typeName)
                if tref is not None:
                    yield stmt, table, cmd.name or "", tref


class PreferJsonb(Rule):
    id = "prefer-jsonb"
    severity = Severity.WARNING
    family = "sql"
    summary = "a `json` column"
    why = (
        "json stores the text as given and reparses it on every access; it has no equality operator (so no "
        "DISTINCT, GROUP BY or UNIQUE), and no GIN index support. jsonb is parsed once, indexable, and what "
        "Supabase's client filters expect."
    )
    fix = 'Use jsonb: sa.Column("settings", postgresql.JSONB(), ...) or `settings jsonb`.'
    example_path = revision_path("lesson_settings")
    bad = revision(
        """
        op.create_table(
            "lesson_settings",
            sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
            sa.Column("settings", sa.JSON(), nullable=False),
        )
        """,
        'op.drop_table("lesson_settings")',
        message="lesson_settings",
    )
    good = revision(
        """
        op.create_table(
            "lesson_settings",
            sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
            sa.Column("settings", postgresql.JSONB(), nullable=False),
        )
        """,
        'op.drop_table("lesson_settings")',
        message="lesson_settings",
        imports="import sqlalchemy as sa\nfrom alembic import op\nfrom sqlalchemy.dialects import postgresql",
    )

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        for stmt, table, column, tref in typed_columns(ctx):
            if tref.name == "json":
                yield Violation(stmt.file, stmt.line, f"column {table}.{column} is json; use jsonb")


class PreferTimestamptz(Rule):
    id = "prefer-timestamptz"
    severity = Severity.WARNING
    family = "sql"
    summary = "a `timestamp without time zone` column"
    why = (
        "timestamp without time zone drops the offset: the same instant written by servers or clients in "
        "different zones reads back as different times, and daylight-saving changes create duplicates and gaps. "
        "timestamptz stores an absolute instant (UTC) and converts on output; it costs the same 8 bytes."
    )
    fix = "Use timestamptz: sa.DateTime(timezone=True), or `recorded_at timestamptz`."
    example_path = revision_path("lesson_events")
    bad = revision(
        """
        op.create_table(
            "lesson_events",
            sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
            sa.Column("recorded_at", sa.DateTime(), nullable=False),
        )
        """,
        'op.drop_table("lesson_events")',
        message="lesson_events",
    )
    good = revision(
        """
        op.create_table(
            "lesson_events",
            sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
            sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        )
        """,
        'op.drop_table("lesson_events")',
        message="lesson_events",
    )

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        for stmt, table, column, tref in typed_columns(ctx):
            if tref.name == "timestamp":
                yield Violation(
                    stmt.file, stmt.line, f"column {table}.{column} is timestamp without time zone; use timestamptz"
                )


_SERIALS = {"serial": "integer", "serial4": "integer", "bigserial": "bigint", "serial8": "bigint"}
_SERIALS |= {"smallserial": "smallint", "serial2": "smallint"}


class PreferIdentity(Rule):
    id = "prefer-identity"
    severity = Severity.INFO
    family = "sql"
    summary = "`serial`/`bigserial` instead of identity"
    why = (
        "serial is a shorthand that creates a separately owned sequence: grants on the table do not cover it "
        "(inserts fail for roles without USAGE on the sequence, a classic Supabase surprise), copying the "
        "table's structure shares the sequence, and anyone can write explicit ids that later collide. Identity "
        "columns (SQL standard, PostgreSQL 10+) tie the sequence to the column."
    )
    fix = (
        "Use an identity column: `id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY`, or in SQLAlchemy "
        'sa.Column("id", sa.BigInteger(), sa.Identity(always=True), primary_key=True).'
    )
    example_path = "api/sql/lesson_notes.sql"
    bad = "CREATE TABLE public.lesson_notes (\n    id bigserial PRIMARY KEY,\n    body text NOT NULL\n);\n"
    good = (
        "CREATE TABLE public.lesson_notes (\n    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n"
        "    body text NOT NULL\n);\n"
    )

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        for stmt, table, column, tref in typed_columns(ctx):
            if tref.name in _SERIALS:
                yield Violation(
                    stmt.file,
                    stmt.line,
                    f"column {table}.{column} is {tref.name}; use {_SERIALS[tref.name]} GENERATED ALWAYS AS IDENTITY",
                )
