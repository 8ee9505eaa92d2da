"""unique-constraint-existing-table: ADD UNIQUE / PRIMARY KEY on an existing table not USING INDEX."""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import ConstrType

from orchestrator.checks.model import CheckContext, Rule, Violation
from orchestrator.checks.rules._examples import about, bare, revision, revision_path
from orchestrator.checks.rules._sql import constraints_added_to_existing
from orchestrator.report import Severity


class UniqueConstraintExistingTable(Rule):
    id = "unique-constraint-existing-table"
    severity = Severity.ERROR
    family = "sql"
    summary = "`ADD CONSTRAINT ... UNIQUE` / `ADD PRIMARY KEY` on an existing table not `USING INDEX`"
    why = (
        "ADD UNIQUE and ADD PRIMARY KEY build their index while holding ACCESS EXCLUSIVE on the table: nothing "
        "can read or write it until the build ends. Building the unique index CONCURRENTLY first and attaching "
        "it with USING INDEX takes the heavy lock only for a catalog update."
    )
    fix = (
        "Build the index concurrently, then attach it:\n"
        "    CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS lessons_slug_key ON lessons (slug);  -- autocommit\n"
        "    ALTER TABLE lessons ADD CONSTRAINT lessons_slug_key UNIQUE USING INDEX lessons_slug_key;"
    )
    example_path = revision_path("lessons_slug_unique")
    bad = revision(
        'op.create_unique_constraint("lessons_slug_key", "lessons", ["slug"])',
        'op.drop_constraint("lessons_slug_key", "lessons", type_="unique")',
        message="lessons.slug unique",
    )
    good = revision(
        """
        with op.get_context().autocommit_block():
            op.execute("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS lessons_slug_key ON lessons (slug)")
        op.execute("ALTER TABLE lessons ADD CONSTRAINT lessons_slug_key UNIQUE USING INDEX lessons_slug_key")
        """,
        'op.drop_constraint("lessons_slug_key", "lessons", type_="unique")',
        message="lessons.slug unique",
    )

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        for stmt, table, c, name in constraints_added_to_existing(
            ctx, ConstrType.CONSTR_UNIQUE, ConstrType.CONSTR_PRIMARY
        ):
            if not c.indexname:
                kind = "PRIMARY KEY" if c.contype == ConstrType.CONSTR_PRIMARY else "UNIQUE"
                yield Violation(
                    stmt.file,
                    stmt.line,
                    f"{kind} constraint {name} on existing table {table} builds its index under ACCESS "
                    "EXCLUSIVE (not USING INDEX)",
                    self._fix(table, c, kind),
                )

    def _fix(self, table: str, c: ast.Constraint, kind: str) -> str:
        cols = [k.sval or "" for k in c.keys or () if isinstance(k, ast.String)]
        short = table.rpartition(".")[2]
        index = c.conname or (f"{short}_pkey" if kind == "PRIMARY KEY" else f"{short}_{'_'.join(cols)}_key")
        text = about(self.fix, {"lessons_slug_key": index, "lessons": bare(table), "slug": ", ".join(cols) or "..."})
        return text.replace(" UNIQUE USING INDEX", f" {kind} USING INDEX")
