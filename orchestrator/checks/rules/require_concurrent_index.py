"""require-concurrent-index: CREATE INDEX on an existing table without CONCURRENTLY."""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast

from orchestrator.checks.model import CheckContext, Rule, Violation
from orchestrator.checks.rules._examples import about, bare, revision, revision_path
from orchestrator.checks.rules._sql import is_existing, upgrade_migrations
from orchestrator.report import Severity
from orchestrator.sql.tree import table_of


class RequireConcurrentIndex(Rule):
    id = "require-concurrent-index"
    severity = Severity.ERROR
    family = "sql"
    summary = "`CREATE INDEX` on an existing table without `CONCURRENTLY`"
    why = (
        "A plain CREATE INDEX holds a SHARE lock on the table for the whole build: every INSERT, UPDATE and "
        "DELETE waits until the index is finished, which on a large table means minutes of failed writes. "
        "CREATE INDEX CONCURRENTLY builds the index while writes continue. A table created earlier in the same "
        "revision (or .sql file) is empty, so indexing it plainly is fine."
    )
    fix = (
        "Build it concurrently, outside the migration's transaction:\n"
        "    with op.get_context().autocommit_block():\n"
        '        op.create_index("ix_lessons_student", "lessons", ["student_id"],\n'
        "                        postgresql_concurrently=True, if_not_exists=True)\n"
        "In SQL: CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_lessons_student ON public.lessons (student_id);"
    )
    example_path = revision_path("index_lessons_student")
    bad = revision(
        'op.create_index("ix_lessons_student", "lessons", ["student_id"])',
        'op.drop_index("ix_lessons_student", table_name="lessons")',
        message="index lessons by student",
    )
    good = revision(
        """
        with op.get_context().autocommit_block():
            op.create_index(
                "ix_lessons_student", "lessons", ["student_id"], postgresql_concurrently=True, if_not_exists=True
            )
        """,
        """
        with op.get_context().autocommit_block():
            op.drop_index("ix_lessons_student", table_name="lessons", postgresql_concurrently=True, if_exists=True)
        """,
        message="index lessons by student",
    )

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        for stmt in upgrade_migrations(ctx, ast.IndexStmt):
            node: ast.IndexStmt = stmt.node
            if node.concurrent or node.relation is None:
                continue
            table = table_of(node.relation)
            if is_existing(ctx, stmt, table):
                name = node.idxname or "(unnamed)"
                cols = [p.name for p in node.indexParams or () if isinstance(p, ast.IndexElem) and p.name]
                yield Violation(
                    stmt.file,
                    stmt.line,
                    f'index "{name}" on existing table {table} is built without CONCURRENTLY',
                    about(
                        self.fix,
                        {
                            "ix_lessons_student": node.idxname or f"ix_{table.rpartition('.')[2]}_{'_'.join(cols)}",
                            "public.lessons": table,
                            "lessons": bare(table),
                            '["student_id"]': repr(cols).replace("'", '"') if cols else '["..."]',
                            "student_id": ", ".join(cols) or "...",
                        },
                    ),
                )
