"""lesson progress: objective catalogue, student progress, lesson debrief notes, recent-lessons index

Revision ID: b7e41d09c5a2
Revises: 3f9c2a7d1b84
Create Date: 2024-10-16 09:41:12.530218+00:00

Zero-downtime notes (lessons is large and written all day):
- lock_timeout bounds every lock wait, so a busy `lessons` makes the migration fail fast instead of
  queueing every request behind it; just run it again.
- debrief_notes is nullable with no default: adding it only touches the catalog.
- the index is built CONCURRENTLY, which cannot run inside a transaction: it sits in an autocommit block.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "b7e41d09c5a2"
down_revision: str | Sequence[str] | None = "3f9c2a7d1b84"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROFICIENCY_LEVEL = postgresql.ENUM(
    "introduced", "practiced", "proficient", "checkride_ready", name="proficiency_level", create_type=False
)

# The same statements as api/sql/policies/002_lesson_progress.sql (kept identical; a test compares them),
# run as one op.execute so that static checks read them from this file.
POLICIES_SQL = """
CREATE FUNCTION public.coaches_student(target_student uuid) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = ''
    AS $$
    SELECT EXISTS (
        SELECT 1
        FROM public.instructors AS i
        WHERE i.user_id = auth.uid()
          AND (
            EXISTS (SELECT 1 FROM public.students AS s
                    WHERE s.id = target_student AND s.primary_instructor_id = i.id)
            OR EXISTS (SELECT 1 FROM public.lessons AS l
                       WHERE l.student_id = target_student AND l.instructor_id = i.id)
          )
    )
    $$;

ALTER TABLE public.lesson_objectives ENABLE ROW LEVEL SECURITY;

CREATE POLICY lesson_objectives_select_everyone ON public.lesson_objectives
    FOR SELECT TO anon, authenticated USING (true);

CREATE POLICY lesson_objectives_all_service_role ON public.lesson_objectives
    FOR ALL TO service_role USING (true) WITH CHECK (true);

ALTER TABLE public.student_progress ENABLE ROW LEVEL SECURITY;

CREATE POLICY student_progress_select_own ON public.student_progress
    FOR SELECT TO authenticated USING (student_id = (SELECT public.current_student_id()));

CREATE POLICY student_progress_select_coach ON public.student_progress
    FOR SELECT TO authenticated USING (public.coaches_student(student_id));

CREATE POLICY student_progress_insert_coach ON public.student_progress
    FOR INSERT TO authenticated
    WITH CHECK (public.coaches_student(student_id) AND evaluated_by = (SELECT public.current_instructor_id()));

CREATE POLICY student_progress_update_coach ON public.student_progress
    FOR UPDATE TO authenticated
    USING (public.coaches_student(student_id))
    WITH CHECK (public.coaches_student(student_id) AND evaluated_by = (SELECT public.current_instructor_id()));

CREATE POLICY student_progress_all_service_role ON public.student_progress
    FOR ALL TO service_role USING (true) WITH CHECK (true);

CREATE POLICY student_progress_deny_anon ON public.student_progress
    AS RESTRICTIVE FOR ALL TO anon USING (false) WITH CHECK (false);

GRANT SELECT ON public.lesson_objectives TO anon, authenticated;

GRANT SELECT, INSERT, UPDATE ON public.student_progress TO authenticated;

GRANT ALL ON public.lesson_objectives, public.student_progress TO service_role;
"""


def upgrade() -> None:
    op.execute("SET lock_timeout = '5s'")

    # Plain SQL rather than ENUM.create(bind) so that `alembic upgrade --sql` (offline) renders it too.
    op.execute(
        "CREATE TYPE public.proficiency_level AS ENUM ('introduced', 'practiced', 'proficient', 'checkride_ready')"
    )

    op.create_table(
        "lesson_objectives",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("area_of_operation", sa.Text(), nullable=False),
        sa.Column("certificate", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            "certificate IN ('private', 'instrument', 'commercial', 'cfi')",
            name="ck_lesson_objectives_certificate_known",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_lesson_objectives"),
        sa.UniqueConstraint("code", name="uq_lesson_objectives_code"),
    )

    op.create_table(
        "student_progress",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("student_id", sa.Uuid(), nullable=False),
        sa.Column("objective_id", sa.BigInteger(), nullable=False),
        sa.Column("proficiency", PROFICIENCY_LEVEL, server_default="introduced", nullable=False),
        sa.Column("last_evaluated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("evaluated_by", sa.Uuid(), nullable=True),
        sa.Column("instructor_notes", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["student_id"], ["students.id"], name="fk_student_progress_student_id_students", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["objective_id"],
            ["lesson_objectives.id"],
            name="fk_student_progress_objective_id_lesson_objectives",
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["evaluated_by"],
            ["instructors.id"],
            name="fk_student_progress_evaluated_by_instructors",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_student_progress"),
        sa.UniqueConstraint("student_id", "objective_id", name="uq_student_progress_student_id_objective_id"),
    )
    op.create_index("ix_student_progress_objective_id", "student_progress", ["objective_id"])
    op.create_index("ix_student_progress_evaluated_by", "student_progress", ["evaluated_by"])

    # Existing table: nullable, no default, so PostgreSQL only updates the catalog (no rewrite, brief lock).
    op.add_column("lessons", sa.Column("debrief_notes", sa.Text(), nullable=True))

    op.execute(POLICIES_SQL)

    # Existing table: CONCURRENTLY keeps lessons writable while the index builds; it must run outside a
    # transaction, so the autocommit block commits everything above first.
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_lessons_student_id_scheduled_at",
            "lessons",
            ["student_id", sa.text("scheduled_at DESC")],
            postgresql_concurrently=True,
        )


def downgrade() -> None:
    op.execute("SET lock_timeout = '5s'")
    with op.get_context().autocommit_block():
        op.drop_index("ix_lessons_student_id_scheduled_at", table_name="lessons", postgresql_concurrently=True)
    op.drop_column("lessons", "debrief_notes")
    # Dropping the tables drops their policies, grants and indexes; the function and the enum go by hand.
    op.drop_table("student_progress")
    op.drop_table("lesson_objectives")
    op.execute("DROP FUNCTION public.coaches_student(uuid)")
    op.execute("DROP TYPE public.proficiency_level")
