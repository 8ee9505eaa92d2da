"""constraint-missing-not-valid: ADD CONSTRAINT FOREIGN KEY / CHECK on an existing table without NOT VALID."""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import ConstrType
from pglast.stream import RawStream

from orchestrator.checks.model import CheckContext, Rule, Violation
from orchestrator.checks.rules._examples import about, bare, revision, revision_path
from orchestrator.checks.rules._sql import constraints_added_to_existing
from orchestrator.report import Severity
from orchestrator.sql.tree import table_of


class ConstraintMissingNotValid(Rule):
    id = "constraint-missing-not-valid"
    severity = Severity.ERROR
    family = "sql"
    summary = "`ADD CONSTRAINT` FOREIGN KEY or CHECK on an existing table without `NOT VALID`"
    why = (
        "Adding a FOREIGN KEY or CHECK validates every existing row while holding a lock that blocks writes "
        "(SHARE ROW EXCLUSIVE on both tables for a foreign key, ACCESS EXCLUSIVE for a CHECK). Added NOT VALID, "
        "the constraint applies to new rows at once and the old rows are checked later by VALIDATE CONSTRAINT, "
        "which only takes SHARE UPDATE EXCLUSIVE and lets reads and writes continue."
    )
    fix = (
        "Add it NOT VALID, then validate it in a separate step (ideally a separate transaction):\n"
        "    ALTER TABLE lessons ADD CONSTRAINT lessons_course_id_fkey FOREIGN KEY (course_id)\n"
        "        REFERENCES courses (id) NOT VALID;\n"
        "    ALTER TABLE lessons VALIDATE CONSTRAINT lessons_course_id_fkey;\n"
        "With Alembic: op.create_foreign_key(..., postgresql_not_valid=True) then "
        'op.execute("ALTER TABLE lessons VALIDATE CONSTRAINT lessons_course_id_fkey").'
    )
    example_path = revision_path("lessons_course_fk")
    bad = revision(
        'op.create_foreign_key("lessons_course_id_fkey", "lessons", "courses", ["course_id"], ["id"])',
        'op.drop_constraint("lessons_course_id_fkey", "lessons", type_="foreignkey")',
        message="lessons.course_id references courses",
    )
    good = revision(
        """
        op.execute(
            "ALTER TABLE lessons ADD CONSTRAINT lessons_course_id_fkey "
            "FOREIGN KEY (course_id) REFERENCES courses (id) NOT VALID"
        )
        op.execute("ALTER TABLE lessons VALIDATE CONSTRAINT lessons_course_id_fkey")
        """,
        'op.drop_constraint("lessons_course_id_fkey", "lessons", type_="foreignkey")',
        message="lessons.course_id references courses",
    )

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        for stmt, table, c, name in constraints_added_to_existing(
            ctx, ConstrType.CONSTR_FOREIGN, ConstrType.CONSTR_CHECK
        ):
            if not c.skip_validation:
                kind = "FOREIGN KEY" if c.contype == ConstrType.CONSTR_FOREIGN else "CHECK"
                yield Violation(
                    stmt.file,
                    stmt.line,
                    f"{kind} constraint {name} on existing table {table} is added without NOT VALID",
                    _fix(table, c),
                )


def _fix(table: str, c: ast.Constraint) -> str:
    t, name = bare(table), c.conname or "<its name>"
    if c.contype == ConstrType.CONSTR_FOREIGN and c.pktable is not None:
        cols = ", ".join(a.sval or "" for a in c.fk_attrs or () if isinstance(a, ast.String)) or "<columns>"
        refs = ", ".join(a.sval or "" for a in c.pk_attrs or () if isinstance(a, ast.String)) or "id"
        return about(
            ConstraintMissingNotValid.fix,
            {
                "lessons_course_id_fkey": name,
                "lessons": t,
                "course_id": cols,
                "courses": bare(table_of(c.pktable)),
                "id": refs,
            },
        )
    check = RawStream()(c.raw_expr) if c.raw_expr is not None else "..."
    return (
        "Add it NOT VALID, then validate it in a separate step (ideally a separate transaction):\n"
        f"    ALTER TABLE {t} ADD CONSTRAINT {name} CHECK ({check}) NOT VALID;\n"
        f"    ALTER TABLE {t} VALIDATE CONSTRAINT {name};"
    )
