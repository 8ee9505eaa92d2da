"""Live checks (a real PostgreSQL): their ids as one enum that verify/ reports with, and their catalogue entries."""

from __future__ import annotations

from enum import StrEnum

from orchestrator.checks.model import Rule
from orchestrator.report import Severity


class LiveRule(StrEnum):
    """Every id a live finding can carry; verify/ names rules only through this enum."""

    UPGRADE_FAILED = "upgrade-failed"
    DOWNGRADE_FAILED = "downgrade-failed"
    DOWNGRADE_LEAVES_TRACE = "downgrade-leaves-trace"
    REUPGRADE_FAILED = "reupgrade-failed"
    SEED_FAILED = "seed-failed"
    SEED_NOT_IDEMPOTENT_LIVE = "seed-not-idempotent-live"
    RLS_LEAK = "rls-leak"
    RLS_OVERBLOCK = "rls-overblock"
    MODELS_DRIFT = "models-drift"
    DELIVERED_TESTS_FAILED = "delivered-tests-failed"
    LOCK_ON_EXISTING_TABLE = "lock-on-existing-table"
    SEQ_SCAN_ON_TARGET_QUERY = "seq-scan-on-target-query"

    @property
    def severity(self) -> Severity:
        """The catalogue's severity of this rule (its class below): the one place it is written."""
        return _LIVE_RULES[self].severity


_REV = "api/alembic/versions/e6a1c0f4b2d9_001_lesson_notes.py"


class _Live(Rule):
    family = "live"
    live = True
    example_path = _REV


class UpgradeFailed(_Live):
    id = LiveRule.UPGRADE_FAILED.value
    severity = Severity.ERROR
    summary = "`upgrade` to head raises"
    why = "If the upgrade fails on a real PostgreSQL it fails in production; the error and the revision are reported."
    fix = "Read the PostgreSQL error in the message, fix the statement, and run `delegate check` again."
    bad = 'op.execute("ALTER TABLE lessons ADD COLUMN notes text REFERENCES nowhere (id)")  # no such table'
    good = 'op.add_column("lessons", sa.Column("notes", sa.Text(), nullable=True))'


class DowngradeFailed(_Live):
    id = LiveRule.DOWNGRADE_FAILED.value
    severity = Severity.ERROR
    summary = "`downgrade` back to the base of the feature raises"
    why = "A rollback that fails during an incident leaves the database between two versions, with no way back."
    fix = "Make downgrade() undo upgrade() in reverse order (drop dependants first: policies, indexes, then tables)."
    bad = 'op.drop_table("students")  # lessons still references it'
    good = 'op.drop_table("lesson_notes")\nop.drop_table("students")'


class DowngradeLeavesTrace(_Live):
    id = LiveRule.DOWNGRADE_LEAVES_TRACE.value
    severity = Severity.ERROR
    summary = "the schema after upgrade+downgrade differs from before"
    why = (
        "Tables, columns, types, enums, indexes, constraints, functions, triggers, policies, RLS flags and grants "
        "are compared before the upgrade and after the downgrade; leftovers make the next upgrade fail."
    )
    fix = "Drop in downgrade() everything upgrade() creates (enum types and functions are the usual leftovers)."
    bad = 'op.drop_table("student_progress")  # the proficiency_level enum stays behind'
    good = 'op.drop_table("student_progress")\nop.execute("DROP TYPE proficiency_level")'


class ReupgradeFailed(_Live):
    id = LiveRule.REUPGRADE_FAILED.value
    severity = Severity.ERROR
    summary = "upgrading again after the downgrade raises or gives a different schema"
    why = "A revision that cannot be re-applied after a rollback blocks the fixed release from deploying."
    fix = "Make upgrade() and downgrade() exact inverses (IF NOT EXISTS hides leftovers instead of removing them)."
    bad = "op.execute(\"CREATE TYPE proficiency_level AS ENUM ('introduced')\")  # never dropped"
    good = 'op.execute("DROP TYPE IF EXISTS proficiency_level")  # in downgrade()'


class SeedFailed(_Live):
    id = LiveRule.SEED_FAILED.value
    severity = Severity.ERROR
    summary = "a seed script raises"
    why = "A broken seed leaves every new dev and CI database half-filled."
    fix = "Fix the seed against the migrated schema (column names, NOT NULL columns, foreign keys)."
    example_path = "seeds/dev/lessons.sql"
    bad = "INSERT INTO public.lessons (id, titel) VALUES (1, 'Pre-flight') ON CONFLICT DO NOTHING;\n"
    good = "INSERT INTO public.lessons (id, title) VALUES (1, 'Pre-flight') ON CONFLICT DO NOTHING;\n"


class SeedNotIdempotentLive(_Live):
    id = LiveRule.SEED_NOT_IDEMPOTENT_LIVE.value
    severity = Severity.ERROR
    summary = "running the seeds a second time changes any row count"
    why = "The seeds run twice on the scratch database; any table whose row count changes is reported."
    fix = "Use ON CONFLICT (natural key) DO NOTHING, with a unique constraint on the natural key."
    example_path = "seeds/dev/lessons.sql"
    bad = "INSERT INTO public.lesson_tags (lesson_id, tag) VALUES (1, 'ground') ON CONFLICT DO NOTHING;  -- no unique key\n"
    good = "INSERT INTO public.lesson_tags (lesson_id, tag) VALUES (1, 'ground') ON CONFLICT (lesson_id, tag) DO NOTHING;\n"


class RlsLeak(_Live):
    id = LiveRule.RLS_LEAK.value
    severity = Severity.ERROR
    summary = "a role reads or writes a row that its policies should hide"
    why = (
        "The RLS matrix runs as anon, two authenticated users and service_role: owner isolation, anon read-only "
        "(public tables) and service_role full access. A role that reaches another user's row is a data leak."
    )
    fix = "Scope the policy to the owner: USING ((select auth.uid()) = student_id)."
    example_path = "api/sql/policies/lesson_notes.sql"
    bad = "CREATE POLICY notes_read ON public.lesson_notes FOR SELECT TO authenticated USING (true);\n"
    good = "CREATE POLICY notes_read ON public.lesson_notes FOR SELECT TO authenticated USING ((select auth.uid()) = student_id);\n"


class RlsOverblock(_Live):
    id = LiveRule.RLS_OVERBLOCK.value
    severity = Severity.WARNING
    summary = "a role that should reach its own rows cannot"
    why = "A policy that blocks the owner makes the feature unusable; tests run as a superuser never notice."
    fix = "Check the ownership expression and that the role has a SELECT policy and the table grants."
    example_path = "api/sql/policies/lesson_notes.sql"
    bad = "CREATE POLICY notes_read ON public.lesson_notes FOR SELECT TO authenticated USING (auth.uid() = id::text::uuid);\n"
    good = "CREATE POLICY notes_read ON public.lesson_notes FOR SELECT TO authenticated USING ((select auth.uid()) = student_id);\n"


class ModelsDrift(_Live):
    id = LiveRule.MODELS_DRIFT.value
    severity = Severity.ERROR
    summary = "the app's SQLAlchemy models and the migrated schema differ"
    why = "Models that disagree with the schema fail at run time (a missing column) or make autogenerate undo the migration."
    fix = "Update the models (or the migration) so that `alembic check` reports no difference."
    bad = 'op.add_column("lessons", sa.Column("notes", sa.Text()))  # the Lesson model has no notes'
    good = 'op.add_column("lessons", sa.Column("notes", sa.Text()))  # and Lesson.notes = mapped_column(Text)'


class DeliveredTestsFailed(_Live):
    id = LiveRule.DELIVERED_TESTS_FAILED.value
    severity = Severity.ERROR
    summary = "the test suite that the feature delivers fails against the migrated database"
    why = "The feature's own tests (constraints and RLS) are run against the migrated scratch database."
    fix = "Fix the migration or the test, whichever is wrong; the failing test's output is in the message."
    example_path = "api/tests/migrations/test_001_lesson_notes.py"
    bad = "def test_notes_are_private(db):\n    assert db.as_user('b').count('lesson_notes') == 1\n"
    good = "def test_notes_are_private(db):\n    assert db.as_user('b').count('lesson_notes') == 0\n"


class LockOnExistingTable(_Live):
    id = LiveRule.LOCK_ON_EXISTING_TABLE.value
    severity = Severity.WARNING
    summary = (
        "a statement held ACCESS EXCLUSIVE (or SHARE) on an existing table; reported with the lock mode and how long"
    )
    why = "Locks are observed per statement during the live upgrade; a strong lock on a table in use stalls the app."
    fix = "Use the non-blocking form (CONCURRENTLY, NOT VALID + VALIDATE) and set lock_timeout."
    bad = 'op.create_index("ix_lessons_student", "lessons", ["student_id"])'
    good = (
        "with op.get_context().autocommit_block():\n"
        '    op.create_index("ix_lessons_student", "lessons", ["student_id"], postgresql_concurrently=True)'
    )


class SeqScanOnTargetQuery(_Live):
    id = LiveRule.SEQ_SCAN_ON_TARGET_QUERY.value
    severity = Severity.WARNING
    summary = "a query pattern named in the plan runs as a sequential scan on the feature's tables after seeding"
    why = (
        "The plan's query patterns are EXPLAINed after seeding, with enable_seqscan off: a sequential scan that "
        "remains is a missing index. So is an index walked end to end only to filter every row (how the planner "
        "keeps an ORDER BY ... LIMIT when no index serves the WHERE): it reads the whole table too."
    )
    fix = "Add the index the query needs (built CONCURRENTLY on an existing table)."
    bad = "-- plan: SELECT * FROM lesson_notes WHERE student_id = $1  (no index on student_id)"
    good = "CREATE INDEX ix_lesson_notes_student ON public.lesson_notes (student_id);"


_LIVE_RULES: dict[str, type[_Live]] = {cls.id: cls for cls in _Live.__subclasses__()}
