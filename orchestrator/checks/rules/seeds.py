"""Seed rules: seeds must be safe to run twice and must not change the schema or people's edits."""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import BoolExprType, OnConflictAction, SubLinkType

from orchestrator.checks.model import CheckContext, FileKind, Origin, Rule, SqlStatement, Violation
from orchestrator.checks.rules._sql import statements_of
from orchestrator.report import Severity
from orchestrator.sql.tree import is_temp, table_of, walk

SEED_PATH = "seeds/dev/lessons.sql"


def seed_statements(ctx: CheckContext, *types: type) -> Iterator[SqlStatement]:
    for stmt in statements_of(ctx, *types):
        if stmt.kind is FileKind.SEED:
            yield stmt


def _guarded_by_not_exists(insert: ast.InsertStmt) -> bool:
    """INSERT ... SELECT ... WHERE NOT EXISTS (...): the row is only added when it is missing."""
    select = insert.selectStmt
    if not isinstance(select, ast.SelectStmt) or select.whereClause is None:
        return False
    for n in walk(select.whereClause):
        if (
            isinstance(n, ast.BoolExpr)
            and n.boolop == BoolExprType.NOT_EXPR
            and any(isinstance(a, ast.SubLink) and a.subLinkType == SubLinkType.EXISTS_SUBLINK for a in n.args or ())
        ):
            return True
    return False


class SeedNotIdempotent(Rule):
    id = "seed-not-idempotent"
    severity = Severity.ERROR
    family = "seeds"
    summary = "`INSERT` without `ON CONFLICT DO NOTHING`, unless the same file first deletes the rows it inserts"
    why = (
        "Seeds run again and again: on every fresh dev database, after a reset, in CI, and by the verification "
        "that runs them twice. An INSERT with no conflict handling either fails with a duplicate key the second "
        "time or silently doubles the data. A file that deletes (or truncates) the same table before inserting, "
        "or an INSERT ... SELECT ... WHERE NOT EXISTS, is idempotent and not reported. Inserts inside DO blocks "
        "are not judged: their IF NOT EXISTS guards are PL/pgSQL, outside the statement."
    )
    fix = (
        "Add a conflict target and do nothing on conflict, with stable keys:\n"
        "    INSERT INTO public.lessons (id, title) VALUES (1, 'Pre-flight checks')\n"
        "    ON CONFLICT (id) DO NOTHING;"
    )
    example_path = SEED_PATH
    bad = (
        "INSERT INTO public.lessons (id, title, duration_minutes) VALUES\n"
        "    (1, 'Pre-flight checks', 45),\n"
        "    (2, 'Crosswind landings', 60);\n"
    )
    good = (
        "INSERT INTO public.lessons (id, title, duration_minutes) VALUES\n"
        "    (1, 'Pre-flight checks', 45),\n"
        "    (2, 'Crosswind landings', 60)\n"
        "ON CONFLICT (id) DO NOTHING;\n\n"
        "DELETE FROM public.lesson_tags WHERE lesson_id IN (1, 2);\n"
        "INSERT INTO public.lesson_tags (lesson_id, tag) VALUES (1, 'ground'), (2, 'flight');\n\n"
        "INSERT INTO public.instructors (email, name)\n"
        "SELECT 'cfi@example.com', 'Dana Reyes'\n"
        "WHERE NOT EXISTS (SELECT 1 FROM public.instructors WHERE email = 'cfi@example.com');\n"
    )

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        cleared: dict[str, set[str]] = {}  # file -> tables deleted or truncated so far
        for stmt in seed_statements(ctx, ast.InsertStmt, ast.DeleteStmt, ast.TruncateStmt):
            node = stmt.node
            seen = cleared.setdefault(stmt.file, set())
            if isinstance(node, ast.DeleteStmt) and node.relation is not None:
                seen.add(table_of(node.relation))
                continue
            if isinstance(node, ast.TruncateStmt):
                seen.update(table_of(r) for r in node.relations or ())
                continue
            if stmt.origin in (Origin.DO_BODY, Origin.FUNCTION_BODY) or node.onConflictClause is not None:
                continue
            table = table_of(node.relation)
            if table in seen or _guarded_by_not_exists(node):
                continue
            yield Violation(
                stmt.file,
                stmt.line,
                f"INSERT into {table} has no ON CONFLICT DO NOTHING: a second run fails or duplicates",
                _on_conflict_fix(node, table),
            )


class SeedOverwrites(Rule):
    id = "seed-overwrites"
    severity = Severity.WARNING
    family = "seeds"
    summary = "`ON CONFLICT DO UPDATE` in a seed (overwrites data edited by people)"
    why = (
        "A seed that upserts resets every seeded row to the seed's values each time it runs, silently undoing "
        "what people changed by hand on a shared dev or staging database (a renamed course, a corrected price)."
    )
    fix = "Use ON CONFLICT (...) DO NOTHING; change reference data that must change with a migration instead."
    example_path = SEED_PATH
    bad = (
        "INSERT INTO public.lessons (id, title) VALUES (1, 'Pre-flight checks')\n"
        "ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title;\n"
    )
    good = "INSERT INTO public.lessons (id, title) VALUES (1, 'Pre-flight checks')\nON CONFLICT (id) DO NOTHING;\n"

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        for stmt in seed_statements(ctx, ast.InsertStmt):
            clause = stmt.node.onConflictClause
            if clause is not None and clause.action == OnConflictAction.ONCONFLICT_UPDATE:
                yield Violation(
                    stmt.file,
                    stmt.line,
                    f"INSERT into {table_of(stmt.node.relation)} overwrites existing rows (ON CONFLICT DO UPDATE)",
                )


_DDL: dict[type, str] = {
    ast.CreateStmt: "CREATE TABLE",
    ast.CreateTableAsStmt: "CREATE TABLE AS",
    ast.AlterTableStmt: "ALTER TABLE",
    ast.DropStmt: "DROP",
    ast.IndexStmt: "CREATE INDEX",
    ast.RenameStmt: "RENAME",
    ast.CreateFunctionStmt: "CREATE FUNCTION",
    ast.AlterFunctionStmt: "ALTER FUNCTION",
    ast.CreatePolicyStmt: "CREATE POLICY",
    ast.AlterPolicyStmt: "ALTER POLICY",
    ast.CreateTrigStmt: "CREATE TRIGGER",
    ast.CreateEnumStmt: "CREATE TYPE",
    ast.AlterEnumStmt: "ALTER TYPE",
    ast.CompositeTypeStmt: "CREATE TYPE",
    ast.CreateDomainStmt: "CREATE DOMAIN",
    ast.CreateSchemaStmt: "CREATE SCHEMA",
    ast.CreateSeqStmt: "CREATE SEQUENCE",
    ast.AlterSeqStmt: "ALTER SEQUENCE",
    ast.ViewStmt: "CREATE VIEW",
    ast.CreateExtensionStmt: "CREATE EXTENSION",
    ast.RuleStmt: "CREATE RULE",
}


class SeedHasDdl(Rule):
    id = "seed-has-ddl"
    severity = Severity.ERROR
    family = "seeds"
    summary = "DDL in a seed file"
    why = (
        "Seeds run after the migrations on some databases and never on others (production). Schema created by a "
        "seed is invisible to Alembic: it is not in the revision history, not undone by downgrade, and missing "
        "wherever the seed does not run. Temporary tables for staging seed data are fine."
    )
    fix = "Move the CREATE/ALTER/DROP into an Alembic revision (or the policy SQL); keep seeds to INSERTs."
    example_path = SEED_PATH
    bad = (
        "ALTER TABLE public.lessons ADD COLUMN IF NOT EXISTS demo boolean NOT NULL DEFAULT false;\n"
        "INSERT INTO public.lessons (id, title, demo) VALUES (1, 'Pre-flight checks', true)\n"
        "ON CONFLICT (id) DO NOTHING;\n"
    )
    good = (
        "CREATE TEMP TABLE seed_lessons (id bigint, title text);\n"
        "INSERT INTO seed_lessons VALUES (1, 'Pre-flight checks'), (2, 'Crosswind landings');\n"
        "INSERT INTO public.lessons (id, title) SELECT id, title FROM seed_lessons\n"
        "ON CONFLICT (id) DO NOTHING;\n"
    )

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        for stmt in seed_statements(ctx, *_DDL):
            node = stmt.node
            if isinstance(node, ast.CreateStmt) and is_temp(node.relation):
                continue
            if isinstance(node, ast.DropStmt) and _drops_temp_only(ctx, stmt):
                continue
            yield Violation(stmt.file, stmt.line, f"{_DDL[type(node)]} in a seed file changes the schema")


def _on_conflict_fix(node: ast.InsertStmt, table: str) -> str:
    cols = [t.name for t in node.cols or () if isinstance(t, ast.ResTarget) and t.name]
    listed = f" ({', '.join(cols)})" if cols else ""
    return (
        "Add a conflict target and do nothing on conflict, with stable keys:\n"
        f"    INSERT INTO {table}{listed} VALUES (...)\n"
        f"    ON CONFLICT ({cols[0] if cols else '<its key>'}) DO NOTHING;"
    )


def _drops_temp_only(ctx: CheckContext, stmt: SqlStatement) -> bool:
    """DROP TABLE of a temporary table the same seed created (cleanup of staging data)."""
    temps = {
        table_of(s.node.relation)
        for s in ctx.unit_statements(stmt.unit)
        if isinstance(s.node, ast.CreateStmt) and is_temp(s.node.relation)
    }
    names = {".".join(n.sval or "" for n in obj if isinstance(n, ast.String)) for obj in stmt.node.objects or ()}
    return bool(names) and all(f"public.{n}" in temps or n in temps for n in names)
