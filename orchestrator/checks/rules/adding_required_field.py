"""adding-required-field: ADD COLUMN ... NOT NULL with no default, on an existing table."""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import ConstrType

from orchestrator.checks.model import CheckContext, Rule, Violation
from orchestrator.checks.rules._examples import about, bare, revision, revision_path
from orchestrator.checks.rules._sql import is_existing, upgrade_added_columns
from orchestrator.report import Severity
from orchestrator.sql.tree import const_value


def has_default(col: ast.ColumnDef) -> bool:
    """A DEFAULT other than NULL, or a value PostgreSQL fills in itself (identity, generated)."""
    if (col.identity or "\x00") != "\x00" or (col.generated or "\x00") != "\x00":  # '\x00' means none
        return True
    for c in col.constraints or ():
        if c.contype in (ConstrType.CONSTR_IDENTITY, ConstrType.CONSTR_GENERATED):
            return True
        if c.contype == ConstrType.CONSTR_DEFAULT and const_value(c.raw_expr) is not None:
            return True
    return col.raw_default is not None


def is_required(col: ast.ColumnDef) -> bool:
    """NOT NULL, or PRIMARY KEY (which implies it)."""
    if col.is_not_null:
        return True
    return any(c.contype in (ConstrType.CONSTR_NOTNULL, ConstrType.CONSTR_PRIMARY) for c in col.constraints or ())


class AddingRequiredField(Rule):
    id = "adding-required-field"
    severity = Severity.ERROR
    family = "sql"
    summary = "`ADD COLUMN ... NOT NULL` with no default, on an existing table"
    why = (
        "Existing rows have no value for the new column, so PostgreSQL rejects the statement as soon as the table "
        "holds one row (`column ... contains null values`): the migration passes on an empty dev database and "
        "fails in production. Identity and stored generated columns are not reported here: PostgreSQL fills them "
        "(they rewrite the table instead, which volatile-default reports)."
    )
    fix = (
        "Give it a constant default (PostgreSQL 11+ adds it without a rewrite):\n"
        '    op.add_column("lessons", sa.Column("duration_minutes", sa.Integer(), nullable=False, '
        'server_default="0"))\n'
        "or add it nullable, backfill in batches, then add a NOT VALID CHECK (col IS NOT NULL), VALIDATE it and "
        "SET NOT NULL."
    )
    example_path = revision_path("lessons_duration")
    bad = revision(
        'op.add_column("lessons", sa.Column("duration_minutes", sa.Integer(), nullable=False))',
        'op.drop_column("lessons", "duration_minutes")',
        message="lessons.duration_minutes",
    )
    good = revision(
        """
        op.add_column(
            "lessons", sa.Column("duration_minutes", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
        """,
        'op.drop_column("lessons", "duration_minutes")',
        message="lessons.duration_minutes",
    )

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        for stmt, table, col in upgrade_added_columns(ctx):
            if is_required(col) and not has_default(col) and is_existing(ctx, stmt, table):
                yield Violation(
                    stmt.file,
                    stmt.line,
                    f'column "{col.colname}" is added NOT NULL with no default to existing table {table}',
                    about(self.fix, {"lessons": bare(table), "duration_minutes": col.colname or "<column>"}),
                )
