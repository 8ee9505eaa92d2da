"""unbounded-dml: UPDATE or DELETE without WHERE in a migration."""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast

from orchestrator.checks.model import CheckContext, Rule, Violation
from orchestrator.checks.rules._examples import about, bare, revision, revision_path
from orchestrator.checks.rules._sql import is_existing, upgrade_migrations
from orchestrator.report import Severity
from orchestrator.sql.tree import table_of


class UnboundedDml(Rule):
    id = "unbounded-dml"
    severity = Severity.ERROR
    family = "sql"
    summary = "`UPDATE`/`DELETE` without `WHERE` in a migration"
    why = (
        "An UPDATE or DELETE with no WHERE touches every row of the table in one transaction: it locks every row "
        "against concurrent writers until the migration commits, bloats the table and the WAL, and a DELETE "
        "without WHERE silently empties production data. Tables the same revision created are not reported."
    )
    fix = (
        "Say which rows: `UPDATE lessons SET status = 'draft' WHERE status IS NULL` (it also makes the statement "
        "safe to re-run), and for big tables backfill in batches (WHERE id BETWEEN :lo AND :hi) outside the "
        "schema migration."
    )
    example_path = revision_path("backfill_lesson_status")
    bad = revision(
        "op.execute(\"UPDATE lessons SET status = 'draft'\")",
        "pass",
        message="backfill lessons.status",
    )
    good = revision(
        "op.execute(\"UPDATE lessons SET status = 'draft' WHERE status IS NULL\")",
        "pass",
        message="backfill lessons.status",
    )

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        for stmt in upgrade_migrations(ctx, ast.UpdateStmt, ast.DeleteStmt):
            node = stmt.node
            if node.whereClause is not None or node.relation is None:
                continue
            table = table_of(node.relation)
            if is_existing(ctx, stmt, table):
                verb = "UPDATE" if isinstance(node, ast.UpdateStmt) else "DELETE"
                which = f"`UPDATE {bare(table)} SET ... WHERE <the rows to change>`"
                if verb == "DELETE":
                    which = f"`DELETE FROM {bare(table)} WHERE <the rows to remove>`"
                yield Violation(
                    stmt.file,
                    stmt.line,
                    f"{verb} of every row of {table} (no WHERE)",
                    about(self.fix, {"`UPDATE lessons SET status = 'draft' WHERE status IS NULL`": which}),
                )
