"""set-not-null: ALTER COLUMN ... SET NOT NULL on an existing table, with no validated CHECK to lean on."""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import AlterTableType, ConstrType, NullTestType

from orchestrator.checks.model import CheckContext, Rule, SqlStatement, Violation
from orchestrator.checks.rules._examples import about, bare, revision, revision_path
from orchestrator.checks.rules._sql import is_existing, upgrade_alter_cmds
from orchestrator.report import Severity


def _not_null_check_column(c: ast.Constraint) -> str | None:
    """The column of a `CHECK (col IS NOT NULL)` constraint."""
    expr = c.raw_expr
    if c.contype != ConstrType.CONSTR_CHECK or not isinstance(expr, ast.NullTest):
        return None
    if expr.nulltesttype != NullTestType.IS_NOT_NULL or not isinstance(expr.arg, ast.ColumnRef):
        return None
    fields = [f.sval for f in expr.arg.fields or () if isinstance(f, ast.String)]
    return fields[-1] if fields else None


def proven_not_null(ctx: CheckContext) -> dict[tuple[str, str], list[SqlStatement]]:
    """(table, column) -> statements that validated a CHECK (col IS NOT NULL) on it (PostgreSQL 12+ reuses it)."""
    pending: dict[tuple[str, str], tuple[str, str]] = {}  # (table, constraint name) -> (table, column)
    out: dict[tuple[str, str], list[SqlStatement]] = {}
    subtypes = (AlterTableType.AT_AddConstraint, AlterTableType.AT_ValidateConstraint)
    for stmt, table, cmd in upgrade_alter_cmds(ctx, *subtypes):
        if cmd.subtype == AlterTableType.AT_AddConstraint and isinstance(cmd.def_, ast.Constraint):
            column = _not_null_check_column(cmd.def_)
            if column is None:
                continue
            if cmd.def_.skip_validation:
                pending[(table, cmd.def_.conname or "")] = (table, column)
            else:
                out.setdefault((table, column), []).append(stmt)
        elif cmd.subtype == AlterTableType.AT_ValidateConstraint and (table, cmd.name) in pending:
            out.setdefault(pending[(table, cmd.name or "")], []).append(stmt)
    return out


class SetNotNull(Rule):
    id = "set-not-null"
    severity = Severity.ERROR
    family = "sql"
    summary = "`ALTER COLUMN ... SET NOT NULL` on an existing table"
    why = (
        "SET NOT NULL scans the whole table to prove there is no NULL, holding an ACCESS EXCLUSIVE lock the whole "
        "time: reads and writes stop. From PostgreSQL 12 the scan is skipped when a validated "
        "CHECK (col IS NOT NULL) already proves it, and that CHECK can be validated under a weak lock. A SET NOT "
        "NULL preceded by such a validated CHECK (in the same unit, or elsewhere in the feature) is not reported."
    )
    fix = (
        "Prove it first with a constraint that does not block:\n"
        "    ALTER TABLE lessons ADD CONSTRAINT lessons_student_id_not_null CHECK (student_id IS NOT NULL) NOT VALID;\n"
        "    ALTER TABLE lessons VALIDATE CONSTRAINT lessons_student_id_not_null;\n"
        "    ALTER TABLE lessons ALTER COLUMN student_id SET NOT NULL;  -- PostgreSQL 12+: no scan\n"
        "    ALTER TABLE lessons DROP CONSTRAINT lessons_student_id_not_null;"
    )
    example_path = revision_path("lessons_student_required")
    bad = revision(
        'op.alter_column("lessons", "student_id", existing_type=sa.Uuid(), nullable=False)',
        'op.alter_column("lessons", "student_id", existing_type=sa.Uuid(), nullable=True)',
        message="lessons.student_id required",
    )
    good = revision(
        """
        op.execute(
            "ALTER TABLE lessons ADD CONSTRAINT lessons_student_id_not_null "
            "CHECK (student_id IS NOT NULL) NOT VALID"
        )
        op.execute("ALTER TABLE lessons VALIDATE CONSTRAINT lessons_student_id_not_null")
        op.alter_column("lessons", "student_id", existing_type=sa.Uuid(), nullable=False)
        op.drop_constraint("lessons_student_id_not_null", "lessons", type_="check")
        """,
        'op.alter_column("lessons", "student_id", existing_type=sa.Uuid(), nullable=True)',
        message="lessons.student_id required",
    )

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        proven: dict[tuple[str, str], list[SqlStatement]] | None = None
        for stmt, table, cmd in upgrade_alter_cmds(ctx, AlterTableType.AT_SetNotNull):
            if not is_existing(ctx, stmt, table):
                continue
            if proven is None:
                proven = proven_not_null(ctx)
            if any(_before(p, stmt) for p in proven.get((table, cmd.name or ""), ())):
                continue
            yield Violation(
                stmt.file,
                stmt.line,
                f'SET NOT NULL on column "{cmd.name}" of existing table {table} scans it under ACCESS EXCLUSIVE',
                about(
                    self.fix,
                    {
                        "lessons_student_id_not_null": f"{table.rpartition('.')[2]}_{cmd.name}_not_null",
                        "lessons": bare(table),
                        "student_id": cmd.name or "<column>",
                    },
                ),
            )


def _before(proof: SqlStatement, stmt: SqlStatement) -> bool:
    """A proof counts if it ran earlier in the same unit, or anywhere else in the feature (another revision)."""
    return proof.unit != stmt.unit or proof.index < stmt.index
