"""drop-column: DROP COLUMN in an upgrade with no earlier backfill or copy of its data in the feature."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from pglast import ast
from pglast.enums import AlterTableType

from orchestrator.checks.model import CheckContext, Rule, SqlStatement, Violation
from orchestrator.checks.rules._examples import about, bare, revision, revision_path
from orchestrator.checks.rules._sql import facts, is_existing, upgrade_alter_cmds
from orchestrator.report import Severity
from orchestrator.sql.tree import column_refs, relations


@dataclass
class Copy:
    """A statement that reads columns of some tables into somewhere else (a backfill or a copy)."""

    stmt: SqlStatement
    tables: set[str]
    columns: set[str]


def copies(ctx: CheckContext) -> list[Copy]:
    out: list[Copy] = []
    for stmt in facts(ctx).feature:
        node = stmt.node
        if isinstance(node, ast.UpdateStmt):
            out.append(Copy(stmt, relations(node), column_refs(node.targetList)))
        elif isinstance(node, ast.InsertStmt) and isinstance(node.selectStmt, ast.SelectStmt):
            if node.selectStmt.fromClause:
                out.append(Copy(stmt, relations(node.selectStmt), column_refs(node.selectStmt.targetList)))
        elif isinstance(node, ast.CreateTableAsStmt) and isinstance(node.query, ast.SelectStmt):
            out.append(Copy(stmt, relations(node.query), column_refs(node.query.targetList)))
    return out


class DropColumn(Rule):
    id = "drop-column"
    severity = Severity.ERROR
    family = "sql"
    summary = "`DROP COLUMN` in an upgrade with no earlier backfill/copy of its data in the feature"
    why = (
        "Dropping a column destroys its data: a downgrade can add the column back but not what was in it, and "
        "the previous release, still running during the deploy, fails on every query that names it. A drop "
        "that follows a copy of the column's data (an UPDATE ... SET x = <the column> or an INSERT ... SELECT / "
        "CREATE TABLE AS that reads it) earlier in the feature is a finished migration and is not reported; "
        "neither is a downgrade dropping what its upgrade added."
    )
    fix = (
        "Copy the data first and drop later: backfill the replacement column (UPDATE lessons SET "
        "duration_minutes = minutes WHERE duration_minutes IS NULL), ship the code that stops using the old "
        "column, then drop it in a later revision. If the data is truly disposable, say so with "
        "`-- delegate: ignore drop-column <reason>`."
    )
    example_path = revision_path("drop_lessons_minutes")
    bad = revision(
        'op.drop_column("lessons", "minutes")',
        'op.add_column("lessons", sa.Column("minutes", sa.Integer(), nullable=True))',
        message="drop lessons.minutes",
    )
    good = revision(
        """
        op.add_column("lessons", sa.Column("duration_minutes", sa.Integer(), nullable=True))
        op.execute("UPDATE lessons SET duration_minutes = minutes WHERE duration_minutes IS NULL")
        op.drop_column("lessons", "minutes")
        """,
        """
        op.add_column("lessons", sa.Column("minutes", sa.Integer(), nullable=True))
        op.execute("UPDATE lessons SET minutes = duration_minutes WHERE minutes IS NULL")
        op.drop_column("lessons", "duration_minutes")
        """,
        message="lessons.minutes -> duration_minutes",
    )

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        index: dict[tuple[str, str], list[SqlStatement]] | None = None
        for stmt, table, cmd in upgrade_alter_cmds(ctx, AlterTableType.AT_DropColumn):
            if not is_existing(ctx, stmt, table):
                continue
            if index is None:
                index = copies_by_column(ctx)
            column = cmd.name or ""
            if any(c.unit != stmt.unit or c.index < stmt.index for c in index.get((table, column), ())):
                continue
            yield Violation(
                stmt.file,
                stmt.line,
                f'column "{column}" of existing table {table} is dropped with no earlier backfill or copy of its data',
                about(self.fix, {"lessons": bare(table), "minutes": column, "duration_minutes": "<replacement>"}),
            )


def copies_by_column(ctx: CheckContext) -> dict[tuple[str, str], list[SqlStatement]]:
    """(table, column) -> the statements that copy that column's data somewhere."""
    out: dict[tuple[str, str], list[SqlStatement]] = {}
    for c in copies(ctx):
        for table in c.tables:
            for column in c.columns:
                out.setdefault((table, column), []).append(c.stmt)
    return out
