"""Rules the engine reports itself while reading inputs; these classes carry their documentation and examples."""

from __future__ import annotations

from orchestrator.checks.model import Rule
from orchestrator.checks.rules._examples import revision, revision_path
from orchestrator.report import Severity


class SqlSyntaxError(Rule):
    id = "sql-syntax-error"
    severity = Severity.ERROR
    family = "content"
    summary = "SQL that PostgreSQL's parser rejects (with the file and line), instead of a crash"
    why = (
        "SQL is parsed with libpg_query, PostgreSQL's own parser, so what it rejects the server rejects too: the "
        "migration would fail at deploy. Reporting it with its line (and checking the rest) beats a stack trace. "
        "SQL in a branch that only runs on another database (`if op.get_bind().dialect.name == 'mysql':`, "
        "`isinstance(bind.dialect, SQLiteDialect)`) is not PostgreSQL's and is not parsed."
    )
    fix = "Fix the SQL at the reported line; `psql -f FILE` on a scratch database shows the same error."
    example_path = "api/sql/policies/lesson_notes.sql"
    bad = "ALTER TABLE public.lesson_notes ENABLE ROW LEVEL SECURITY;\nCREATE POLICY lesson_notes_select ON public.lesson_notes FOR SELECT TO authenticated USING (auth.uid() = student_id;\n"
    good = "ALTER TABLE public.lesson_notes ENABLE ROW LEVEL SECURITY;\nCREATE POLICY lesson_notes_select ON public.lesson_notes FOR SELECT TO authenticated USING (auth.uid() = student_id);\n"
    # Reported by the engine while parsing; check() is not called.


class SuppressionWithoutReason(Rule):
    id = "suppression-without-reason"
    severity = Severity.WARNING
    family = "content"
    summary = "a `delegate: ignore` comment that gives no reason"
    why = (
        "A suppression silences a rule on one statement forever. Without a reason, the next reviewer cannot tell "
        "a judged exception (the table has ten rows) from a way to make the check pass. The suppression still "
        "applies; only the missing reason is reported."
    )
    fix = "Say why after the rule ids: `-- delegate: ignore drop-table -- the table was never used in production`."
    example_path = "api/sql/lesson_cleanup.sql"
    bad = "-- delegate: ignore drop-table\nDROP TABLE public.legacy_attendance;\n"
    good = "-- delegate: ignore drop-table -- created by 9b1e04c2d7a3 and never written to\nDROP TABLE public.legacy_attendance;\n"


class SuppressionUnknownRule(Rule):
    id = "suppression-unknown-rule"
    severity = Severity.WARNING
    family = "content"
    summary = "a `delegate: ignore` comment that names no known rule"
    why = (
        "A misspelt rule id suppresses nothing: the finding it was meant for still fires, or, worse, the comment "
        "looks like a reviewed exception while the rule it names does not exist. `delegate rules` lists the ids."
    )
    fix = "Use an id that `delegate rules` lists: `-- delegate: ignore drop-table -- the reason`."
    example_path = "api/sql/lesson_cleanup.sql"
    bad = "-- delegate: ignore drop-tables -- created by 9b1e04c2d7a3 and never written to\nSELECT 1;\n"
    good = "-- delegate: ignore drop-table -- created by 9b1e04c2d7a3 and never written to\nSELECT 1;\n"


class UnanalysableSql(Rule):
    id = "unanalysable-sql"
    severity = Severity.INFO
    family = "content"
    summary = "SQL that cannot be checked statically: an f-string or a variable given to op.execute, or a failed offline rendering"
    why = (
        "The checks read the SQL that a revision will run. An f-string, a concatenation or a variable is only "
        "known at run time, and an op.* call whose offline rendering fails gives no SQL at all, so those "
        "statements escape every static rule (the live verification still runs them)."
    )
    fix = (
        "Pass op.execute() a constant string (or sa.text() / textwrap.dedent() of one); build dynamic SQL inside "
        "a DO block, or review it by hand."
    )
    example_path = revision_path("lessons_grants")
    bad = revision(
        """
        for role in ("authenticated", "service_role"):
            op.execute(f"GRANT SELECT ON public.lessons TO {role}")
        """,
        'op.execute("REVOKE SELECT ON public.lessons FROM authenticated, service_role")',
    )
    good = revision(
        'op.execute("GRANT SELECT ON public.lessons TO authenticated, service_role")',
        'op.execute("REVOKE SELECT ON public.lessons FROM authenticated, service_role")',
    )
