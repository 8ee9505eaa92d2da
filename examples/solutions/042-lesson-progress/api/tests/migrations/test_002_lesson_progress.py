"""Revision b7e41d09c5a2 (lesson progress): constraints hold, and RLS gives each role what the spec says."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest
from conftest import ActAs, School, denied, visible_ids


@pytest.fixture
def objective(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute(
        "INSERT INTO public.lesson_objectives (code, title, area_of_operation, certificate)"
        " VALUES (%s, 'Steep Turns', 'Performance Maneuvers', 'private') RETURNING id",
        (f"T.{uuid.uuid4().hex[:8]}",),
    ).fetchone()
    assert row is not None
    return row[0]


def add_progress(conn: psycopg.Connection[Any], student: uuid.UUID, objective: int, by: uuid.UUID | None) -> int:
    row = conn.execute(
        "INSERT INTO public.student_progress (student_id, objective_id, proficiency, evaluated_by)"
        " VALUES (%s, %s, 'practiced', %s) RETURNING id",
        (student, objective, by),
    ).fetchone()
    assert row is not None
    return row[0]


# --- schema and constraints ----------------------------------------------------------------------------------


def test_lessons_gains_nullable_debrief_notes(conn: psycopg.Connection[Any], school: School) -> None:
    row = conn.execute(
        "SELECT is_nullable, column_default FROM information_schema.columns"
        " WHERE table_schema = 'public' AND table_name = 'lessons' AND column_name = 'debrief_notes'"
    ).fetchone()
    assert row == ("YES", None)
    notes = conn.execute("SELECT debrief_notes FROM public.lessons WHERE id = %s", (school.lessons["student"],))
    assert notes.fetchone() == (None,)


def test_recent_lessons_index_is_valid(conn: psycopg.Connection[Any]) -> None:
    row = conn.execute(
        "SELECT i.indisvalid, pg_get_indexdef(i.indexrelid) FROM pg_index AS i"
        " JOIN pg_class AS c ON c.oid = i.indexrelid WHERE c.relname = 'ix_lessons_student_id_scheduled_at'"
    ).fetchone()
    assert row is not None, "index ix_lessons_student_id_scheduled_at is missing"
    assert row[0] is True, "the concurrent build left an INVALID index"
    assert "(student_id, scheduled_at DESC)" in row[1]


def test_objective_code_is_unique(conn: psycopg.Connection[Any], objective: int) -> None:
    code = conn.execute("SELECT code FROM public.lesson_objectives WHERE id = %s", (objective,)).fetchone()
    assert code is not None
    with pytest.raises(psycopg.errors.UniqueViolation), conn.transaction():
        conn.execute(
            "INSERT INTO public.lesson_objectives (code, title, area_of_operation, certificate)"
            " VALUES (%s, 'Again', 'Again', 'private')",
            (code[0],),
        )


def test_objective_certificate_is_checked(conn: psycopg.Connection[Any]) -> None:
    with pytest.raises(psycopg.errors.CheckViolation), conn.transaction():
        conn.execute(
            "INSERT INTO public.lesson_objectives (code, title, area_of_operation, certificate)"
            " VALUES ('T.CHECK', 'Loops', 'Aerobatics', 'astronaut')"
        )


def test_one_progress_record_per_student_and_objective(
    conn: psycopg.Connection[Any], school: School, objective: int
) -> None:
    add_progress(conn, school.student, objective, school.instructor)
    with pytest.raises(psycopg.errors.UniqueViolation), conn.transaction():
        add_progress(conn, school.student, objective, school.instructor)


def test_progress_needs_existing_student_and_objective(
    conn: psycopg.Connection[Any], school: School, objective: int
) -> None:
    with pytest.raises(psycopg.errors.ForeignKeyViolation), conn.transaction():
        add_progress(conn, uuid.uuid4(), objective, None)
    with pytest.raises(psycopg.errors.ForeignKeyViolation), conn.transaction():
        add_progress(conn, school.student, -1, None)


def test_proficiency_levels(conn: psycopg.Connection[Any], school: School, objective: int) -> None:
    labels = conn.execute("SELECT unnest(enum_range(NULL::public.proficiency_level))::text").fetchall()
    assert [row[0] for row in labels] == ["introduced", "practiced", "proficient", "checkride_ready"]
    progress = add_progress(conn, school.student, objective, None)
    with pytest.raises(psycopg.errors.InvalidTextRepresentation), conn.transaction():
        conn.execute("UPDATE public.student_progress SET proficiency = 'expert' WHERE id = %s", (progress,))


def test_objective_with_progress_cannot_be_deleted(
    conn: psycopg.Connection[Any], school: School, objective: int
) -> None:
    add_progress(conn, school.student, objective, None)
    with pytest.raises(psycopg.errors.ForeignKeyViolation), conn.transaction():
        conn.execute("DELETE FROM public.lesson_objectives WHERE id = %s", (objective,))


def test_leaving_student_takes_progress_and_leaving_instructor_is_cleared(
    conn: psycopg.Connection[Any], school: School, objective: int
) -> None:
    progress = add_progress(conn, school.other_student, objective, school.instructor)
    conn.execute(
        "UPDATE public.students SET primary_instructor_id = NULL WHERE primary_instructor_id = %s", (school.instructor,)
    )
    conn.execute("DELETE FROM public.lessons WHERE instructor_id = %s", (school.instructor,))
    conn.execute("DELETE FROM public.instructors WHERE id = %s", (school.instructor,))
    evaluator = conn.execute("SELECT evaluated_by FROM public.student_progress WHERE id = %s", (progress,))
    assert evaluator.fetchone() == (None,)
    conn.execute("DELETE FROM public.students WHERE id = %s", (school.other_student,))
    left = conn.execute("SELECT count(*) FROM public.student_progress WHERE id = %s", (progress,)).fetchone()
    assert left == (0,)


# --- row level security ------------------------------------------------------------------------------------


def test_rls_is_enabled_on_new_tables(conn: psycopg.Connection[Any]) -> None:
    rows = conn.execute(
        "SELECT relname, relrowsecurity FROM pg_class WHERE relnamespace = 'public'::regnamespace"
        " AND relname IN ('lesson_objectives', 'student_progress')"
    ).fetchall()
    assert dict(rows) == {"lesson_objectives": True, "student_progress": True}


def test_anon_reads_catalogue_but_no_progress(
    conn: psycopg.Connection[Any], act_as: ActAs, school: School, objective: int
) -> None:
    add_progress(conn, school.student, objective, school.instructor)
    act_as("anon")
    assert objective in visible_ids(conn, "lesson_objectives")
    assert visible_ids(conn, "student_progress") == set()
    assert denied(
        conn,
        "INSERT INTO public.lesson_objectives (code, title, area_of_operation, certificate)"
        " VALUES ('T.ANON', 'x', 'x', 'private')",
    )
    assert denied(conn, "UPDATE public.lesson_objectives SET title = 'defaced' WHERE id = %s", (objective,))


def test_student_reads_only_own_progress_and_cannot_write_it(
    conn: psycopg.Connection[Any], act_as: ActAs, school: School, objective: int
) -> None:
    mine = add_progress(conn, school.student, objective, school.instructor)
    add_progress(conn, school.other_student, objective, school.other_instructor)
    act_as("authenticated", school.student_user)
    assert visible_ids(conn, "student_progress") == {mine}
    assert objective in visible_ids(conn, "lesson_objectives")
    assert denied(conn, "UPDATE public.student_progress SET proficiency = 'checkride_ready' WHERE id = %s", (mine,))
    assert denied(conn, "DELETE FROM public.student_progress WHERE id = %s", (mine,))
    assert denied(conn, "UPDATE public.lesson_objectives SET title = 'easy' WHERE id = %s", (objective,))


def test_instructor_records_progress_only_for_own_students(
    conn: psycopg.Connection[Any], act_as: ActAs, school: School, objective: int
) -> None:
    act_as("authenticated", school.instructor_user)
    insert = (
        "INSERT INTO public.student_progress (student_id, objective_id, proficiency, evaluated_by)"
        " VALUES (%s, %s, 'practiced', %s)"
    )
    assert not denied(conn, insert, (school.student, objective, school.instructor))
    assert denied(conn, insert, (school.other_student, objective, school.instructor))
    # Signing a record as another instructor is refused too.
    act_as("authenticated", school.other_instructor_user)
    assert denied(conn, insert, (school.other_student, objective, school.instructor))


def test_instructor_updates_progress_and_debrief_of_own_students(
    conn: psycopg.Connection[Any], act_as: ActAs, school: School, objective: int
) -> None:
    mine = add_progress(conn, school.student, objective, school.instructor)
    theirs = add_progress(conn, school.other_student, objective, school.other_instructor)
    act_as("authenticated", school.instructor_user)
    assert visible_ids(conn, "student_progress") == {mine}
    assert not denied(conn, "UPDATE public.student_progress SET proficiency = 'proficient' WHERE id = %s", (mine,))
    assert denied(conn, "UPDATE public.student_progress SET proficiency = 'proficient' WHERE id = %s", (theirs,))
    debrief = "UPDATE public.lessons SET debrief_notes = 'Good crosswind work.' WHERE id = %s"
    assert not denied(conn, debrief, (school.lessons["student"],))
    assert denied(conn, debrief, (school.lessons["other_student"],))


def test_service_role_sees_and_writes_everything(
    conn: psycopg.Connection[Any], act_as: ActAs, school: School, objective: int
) -> None:
    records = {
        add_progress(conn, school.student, objective, school.instructor),
        add_progress(conn, school.other_student, objective, school.other_instructor),
    }
    act_as("service_role")
    assert records <= visible_ids(conn, "student_progress")
    assert not denied(conn, "UPDATE public.lesson_objectives SET description = 'ACS 6B' WHERE id = %s", (objective,))
