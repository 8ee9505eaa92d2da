"""concurrent-index-in-transaction: CREATE/DROP INDEX CONCURRENTLY inside a transaction block (.sql files)."""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import ObjectType

from orchestrator.checks.model import CheckContext, FileKind, Origin, Rule, Violation
from orchestrator.checks.rules._sql import statements_of
from orchestrator.report import Severity
from orchestrator.sql.tree import dotted_name, table_of


class ConcurrentIndexInTransaction(Rule):
    id = "concurrent-index-in-transaction"
    severity = Severity.ERROR
    family = "sql"
    summary = "`CREATE/DROP INDEX CONCURRENTLY` inside a transaction block"
    why = (
        "PostgreSQL refuses CONCURRENTLY inside a transaction block (`ERROR: CREATE INDEX CONCURRENTLY cannot run "
        "inside a transaction block`), so the migration fails at deploy time. A .sql file run with BEGIN/COMMIT "
        "around it, or by a runner that wraps each file in a transaction, hits this. Alembic revisions are judged "
        "by concurrently-outside-autocommit instead, so one fact is reported once."
    )
    fix = (
        "Run the statement outside any transaction: move it after COMMIT (or out of BEGIN ... COMMIT), or into a "
        "file the runner executes in autocommit mode. Keep IF NOT EXISTS / IF EXISTS so a retry after a failed "
        "build is safe (and drop an INVALID index left behind before retrying)."
    )
    example_path = "api/sql/indexes/lessons_student.sql"
    bad = (
        "BEGIN;\nCREATE INDEX CONCURRENTLY IF NOT EXISTS ix_lessons_student ON public.lessons (student_id);\nCOMMIT;\n"
    )
    good = "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_lessons_student ON public.lessons (student_id);\n"

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        for stmt in statements_of(ctx, ast.IndexStmt, ast.DropStmt):
            # A DO block always runs as one statement inside a transaction, whatever surrounds it; revisions'
            # own op.* calls are judged by concurrently-outside-autocommit.
            in_do = stmt.origin is Origin.DO_BODY
            if not in_do and (stmt.kind is FileKind.REVISION or not stmt.in_transaction):
                continue
            node = stmt.node
            if isinstance(node, ast.IndexStmt) and node.concurrent:
                what = f'CREATE INDEX CONCURRENTLY "{node.idxname or "(unnamed)"}" on {table_of(node.relation)}'
            elif isinstance(node, ast.DropStmt) and node.concurrent and node.removeType == ObjectType.OBJECT_INDEX:
                what = f"DROP INDEX CONCURRENTLY {', '.join(dotted_name(o) for o in node.objects or ())}"
            else:
                continue
            where = "inside a DO block" if in_do else "inside a transaction block"
            yield Violation(stmt.file, stmt.line, f"{what} runs {where} and will fail")
