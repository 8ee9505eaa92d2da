"""initial schema: students, instructors, aircraft, lessons, with row level security

Revision ID: 3f9c2a7d1b84
Revises:
Create Date: 2024-09-12 14:03:27.418391+00:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "3f9c2a7d1b84"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LESSON_STATUS = postgresql.ENUM(
    "scheduled", "completed", "cancelled", "no_show", name="lesson_status", create_type=False
)

# The same statements as api/sql/policies/001_initial_policies.sql (kept identical; a test compares them),
# run as one op.execute so that static checks read them from this file.
POLICIES_SQL = """
CREATE FUNCTION public.current_student_id() RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = ''
    AS $$ SELECT s.id FROM public.students AS s WHERE s.user_id = auth.uid() $$;

CREATE FUNCTION public.current_instructor_id() RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = ''
    AS $$ SELECT i.id FROM public.instructors AS i WHERE i.user_id = auth.uid() $$;

ALTER TABLE public.instructors ENABLE ROW LEVEL SECURITY;

CREATE POLICY instructors_select_own ON public.instructors
    FOR SELECT TO authenticated USING (user_id = (SELECT auth.uid()));

CREATE POLICY instructors_select_teaching ON public.instructors
    FOR SELECT TO authenticated
    USING (id IN (SELECT s.primary_instructor_id FROM public.students AS s WHERE s.user_id = (SELECT auth.uid()))
           OR id IN (SELECT l.instructor_id FROM public.lessons AS l
                     WHERE l.student_id = (SELECT public.current_student_id())));

CREATE POLICY instructors_update_own ON public.instructors
    FOR UPDATE TO authenticated
    USING (user_id = (SELECT auth.uid()))
    WITH CHECK (user_id = (SELECT auth.uid()));

CREATE POLICY instructors_all_service_role ON public.instructors
    FOR ALL TO service_role USING (true) WITH CHECK (true);

CREATE POLICY instructors_deny_anon ON public.instructors
    AS RESTRICTIVE FOR ALL TO anon USING (false) WITH CHECK (false);

ALTER TABLE public.students ENABLE ROW LEVEL SECURITY;

CREATE POLICY students_select_own ON public.students
    FOR SELECT TO authenticated USING (user_id = (SELECT auth.uid()));

CREATE POLICY students_select_mentored ON public.students
    FOR SELECT TO authenticated USING (primary_instructor_id = (SELECT public.current_instructor_id()));

CREATE POLICY students_insert_own ON public.students
    FOR INSERT TO authenticated WITH CHECK (user_id = (SELECT auth.uid()));

CREATE POLICY students_update_own ON public.students
    FOR UPDATE TO authenticated
    USING (user_id = (SELECT auth.uid()))
    WITH CHECK (user_id = (SELECT auth.uid()));

CREATE POLICY students_all_service_role ON public.students
    FOR ALL TO service_role USING (true) WITH CHECK (true);

CREATE POLICY students_deny_anon ON public.students
    AS RESTRICTIVE FOR ALL TO anon USING (false) WITH CHECK (false);

ALTER TABLE public.aircraft ENABLE ROW LEVEL SECURITY;

CREATE POLICY aircraft_select_everyone ON public.aircraft
    FOR SELECT TO anon, authenticated USING (true);

CREATE POLICY aircraft_all_service_role ON public.aircraft
    FOR ALL TO service_role USING (true) WITH CHECK (true);

ALTER TABLE public.lessons ENABLE ROW LEVEL SECURITY;

CREATE POLICY lessons_select_participant ON public.lessons
    FOR SELECT TO authenticated
    USING (student_id = (SELECT public.current_student_id())
           OR instructor_id = (SELECT public.current_instructor_id()));

CREATE POLICY lessons_insert_instructor ON public.lessons
    FOR INSERT TO authenticated WITH CHECK (instructor_id = (SELECT public.current_instructor_id()));

CREATE POLICY lessons_update_instructor ON public.lessons
    FOR UPDATE TO authenticated
    USING (instructor_id = (SELECT public.current_instructor_id()))
    WITH CHECK (instructor_id = (SELECT public.current_instructor_id()));

CREATE POLICY lessons_all_service_role ON public.lessons
    FOR ALL TO service_role USING (true) WITH CHECK (true);

CREATE POLICY lessons_deny_anon ON public.lessons
    AS RESTRICTIVE FOR ALL TO anon USING (false) WITH CHECK (false);

GRANT SELECT ON public.aircraft TO anon;

GRANT SELECT ON public.instructors, public.students, public.aircraft, public.lessons TO authenticated;

GRANT UPDATE (full_name, phone) ON public.instructors TO authenticated;

GRANT INSERT (user_id, full_name, email, phone, certificate_goal) ON public.students TO authenticated;

GRANT UPDATE (full_name, phone, certificate_goal) ON public.students TO authenticated;

GRANT INSERT, UPDATE ON public.lessons TO authenticated;

GRANT ALL ON public.instructors, public.students, public.aircraft, public.lessons TO service_role;
"""


def upgrade() -> None:
    # Plain SQL rather than ENUM.create(bind) so that `alembic upgrade --sql` (offline) renders it too.
    op.execute("CREATE TYPE public.lesson_status AS ENUM ('scheduled', 'completed', 'cancelled', 'no_show')")

    op.create_table(
        "instructors",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("full_name", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("cfi_certificate_number", sa.Text(), nullable=False),
        sa.Column("certificate_expires_on", sa.Date(), nullable=True),
        sa.Column("is_cfii", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["auth.users.id"], name="fk_instructors_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_instructors"),
        sa.UniqueConstraint("user_id", name="uq_instructors_user_id"),
        sa.UniqueConstraint("cfi_certificate_number", name="uq_instructors_cfi_certificate_number"),
    )

    op.create_table(
        "students",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("full_name", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("certificate_goal", sa.Text(), server_default="private", nullable=False),
        sa.Column("primary_instructor_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            "certificate_goal IN ('private', 'instrument', 'commercial', 'cfi')",
            name="ck_students_certificate_goal_known",
        ),
        sa.ForeignKeyConstraint(["user_id"], ["auth.users.id"], name="fk_students_user_id_users", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["primary_instructor_id"],
            ["instructors.id"],
            name="fk_students_primary_instructor_id_instructors",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_students"),
        sa.UniqueConstraint("user_id", name="uq_students_user_id"),
    )
    op.create_index("ix_students_primary_instructor_id", "students", ["primary_instructor_id"])

    op.create_table(
        "aircraft",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("tail_number", sa.Text(), nullable=False),
        sa.Column("make", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("hobbs_hours", sa.Numeric(8, 1), server_default="0", nullable=False),
        sa.Column("is_airworthy", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("hobbs_hours >= 0", name="ck_aircraft_hobbs_hours_not_negative"),
        sa.PrimaryKeyConstraint("id", name="pk_aircraft"),
        sa.UniqueConstraint("tail_number", name="uq_aircraft_tail_number"),
    )

    op.create_table(
        "lessons",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("student_id", sa.Uuid(), nullable=False),
        sa.Column("instructor_id", sa.Uuid(), nullable=False),
        sa.Column("aircraft_id", sa.BigInteger(), nullable=True),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("status", LESSON_STATUS, server_default="scheduled", nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("duration_minutes > 0", name="ck_lessons_duration_positive"),
        sa.ForeignKeyConstraint(
            ["student_id"], ["students.id"], name="fk_lessons_student_id_students", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["instructor_id"], ["instructors.id"], name="fk_lessons_instructor_id_instructors", ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["aircraft_id"], ["aircraft.id"], name="fk_lessons_aircraft_id_aircraft", ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_lessons"),
        sa.UniqueConstraint("instructor_id", "scheduled_at", name="uq_lessons_instructor_id_scheduled_at"),
    )
    op.create_index("ix_lessons_aircraft_id", "lessons", ["aircraft_id"])

    op.execute(POLICIES_SQL)


def downgrade() -> None:
    # Dropping a table drops its policies, grants and indexes with it; the functions and the enum go by hand.
    # This policy reads students and lessons, so it must go before they can.
    op.execute("DROP POLICY instructors_select_teaching ON public.instructors")
    op.drop_table("lessons")
    op.drop_table("aircraft")
    op.drop_table("students")
    op.drop_table("instructors")
    op.execute("DROP FUNCTION public.current_student_id()")
    op.execute("DROP FUNCTION public.current_instructor_id()")
    op.execute("DROP TYPE public.lesson_status")
