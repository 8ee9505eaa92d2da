"""rename-column and rename-table: renaming what running code still uses."""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import ObjectType

from orchestrator.checks.model import CheckContext, Rule, SqlStatement, Violation
from orchestrator.checks.rules._examples import revision, revision_path
from orchestrator.checks.rules._sql import is_existing, upgrade_migrations
from orchestrator.report import Severity
from orchestrator.sql.tree import table_of


def _renames(ctx: CheckContext, kind: ObjectType) -> Iterator[tuple[SqlStatement, ast.RenameStmt, str]]:
    for stmt in upgrade_migrations(ctx, ast.RenameStmt):
        node: ast.RenameStmt = stmt.node
        if node.renameType != kind or node.relation is None:
            continue
        if kind == ObjectType.OBJECT_COLUMN and node.relationType not in (
            ObjectType.OBJECT_TABLE,
            ObjectType.OBJECT_FOREIGN_TABLE,
        ):
            continue
        table = table_of(node.relation)
        if is_existing(ctx, stmt, table):
            yield stmt, node, table


class RenameColumn(Rule):
    id = "rename-column"
    severity = Severity.ERROR
    family = "sql"
    summary = "`RENAME COLUMN` on an existing table (breaks running code)"
    why = (
        "During a deploy the old application version keeps running against the migrated database. The moment "
        "the column is renamed, every query of the old version that names it fails (`column ... does not "
        "exist`), until the new version is fully rolled out; a rollback of the app breaks it again."
    )
    fix = (
        "Expand/contract: add the new column, write both (or a trigger), backfill, switch reads to the new "
        "column, and drop the old one in a later release. A view with the old name can bridge readers meanwhile."
    )
    example_path = revision_path("lessons_rename_minutes")
    bad = revision(
        'op.alter_column("lessons", "minutes", new_column_name="duration_minutes")',
        'op.alter_column("lessons", "duration_minutes", new_column_name="minutes")',
        message="rename lessons.minutes",
    )
    good = revision(
        """
        op.add_column("lessons", sa.Column("duration_minutes", sa.Integer(), nullable=True))
        op.execute("UPDATE lessons SET duration_minutes = minutes WHERE duration_minutes IS NULL")
        """,
        'op.drop_column("lessons", "duration_minutes")',
        message="lessons.duration_minutes beside minutes",
    )

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        for stmt, node, table in _renames(ctx, ObjectType.OBJECT_COLUMN):
            yield Violation(
                stmt.file,
                stmt.line,
                f'column "{node.subname}" of existing table {table} is renamed to "{node.newname}"',
            )


class RenameTable(Rule):
    id = "rename-table"
    severity = Severity.ERROR
    family = "sql"
    summary = "`RENAME TO` on an existing table"
    why = (
        "Code that is still running (the previous release, workers, reports, Supabase clients) names the table; "
        "after the rename every one of those queries fails until everything is redeployed, and foreign "
        "dashboards or policies that quote the name by text break silently."
    )
    fix = (
        "Create the new table (or rename and leave an updatable view with the old name: "
        "CREATE VIEW old_name AS SELECT * FROM new_name), move readers and writers over, and drop the old name "
        "in a later release."
    )
    example_path = revision_path("rename_lessons")
    bad = revision(
        'op.rename_table("lessons", "lesson_sessions")',
        'op.rename_table("lesson_sessions", "lessons")',
        message="rename lessons",
    )
    good = revision(
        """
        op.create_table(
            "lesson_sessions",
            sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
            sa.Column("title", sa.Text(), nullable=False),
        )
        op.rename_table("lesson_sessions", "lesson_session")
        """,
        'op.drop_table("lesson_session")',
        message="lesson sessions",
    )

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        for stmt, node, table in _renames(ctx, ObjectType.OBJECT_TABLE):
            yield Violation(
                stmt.file,
                stmt.line,
                f'existing table {table} is renamed to "{node.newname}"',
            )
