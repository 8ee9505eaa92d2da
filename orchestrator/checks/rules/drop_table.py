"""drop-table: DROP TABLE of an existing table in an upgrade."""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import ObjectType

from orchestrator.checks.model import CheckContext, Rule, Violation
from orchestrator.checks.rules._examples import revision, revision_path
from orchestrator.checks.rules._sql import is_existing, upgrade_migrations
from orchestrator.report import Severity
from orchestrator.sql.tree import dotted_name


class DropTable(Rule):
    id = "drop-table"
    severity = Severity.ERROR
    family = "sql"
    summary = "`DROP TABLE` of an existing table in an upgrade"
    why = (
        "Dropping a table destroys its rows for good (the downgrade recreates an empty table), and the release "
        "still running during the deploy fails on every query that names it. Tables created earlier in the same "
        "revision are not reported, and neither are downgrades."
    )
    fix = (
        "Stop using the table in code first, keep it (or rename it to an archive name) for a release, and drop it "
        "in a later, separately reviewed revision; export the data if it may ever be needed. If it is disposable, "
        "say so with `-- delegate: ignore drop-table <reason>`."
    )
    example_path = revision_path("drop_legacy_attendance")
    bad = revision(
        'op.drop_table("legacy_attendance")',
        """
        op.create_table(
            "legacy_attendance",
            sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
            sa.Column("lesson_id", sa.BigInteger(), nullable=False),
        )
        """,
        message="drop legacy_attendance",
    )
    good = revision(
        """
        op.create_table(
            "lesson_attendance",
            sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
            sa.Column("lesson_id", sa.BigInteger(), nullable=False),
        )
        """,
        'op.drop_table("lesson_attendance")',
        message="lesson_attendance",
    )

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        for stmt in upgrade_migrations(ctx, ast.DropStmt):
            node: ast.DropStmt = stmt.node
            if node.removeType != ObjectType.OBJECT_TABLE:
                continue
            for obj in node.objects or ():
                table = dotted_name(obj)
                if table and is_existing(ctx, stmt, table):
                    yield Violation(stmt.file, stmt.line, f"existing table {table} is dropped in an upgrade")
