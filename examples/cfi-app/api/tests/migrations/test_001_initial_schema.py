"""Revision 3f9c2a7d1b84 (initial schema): constraints hold, and row level security gives each role what it should."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from conftest import ActAs, School, denied, visible_ids

# --- constraints -------------------------------------------------------------------------------------------


def test_tail_number_is_unique(conn: psycopg.Connection[Any], school: School) -> None:
    tail = conn.execute("SELECT tail_number FROM public.aircraft WHERE id = %s", (school.aircraft,)).fetchone()
    assert tail is not None
    with pytest.raises(psycopg.errors.UniqueViolation), conn.transaction():
        conn.execute("INSERT INTO public.aircraft (tail_number, make, model) VALUES (%s, 'Piper', 'J-3')", (tail[0],))


def test_lesson_needs_an_existing_student(conn: psycopg.Connection[Any], school: School) -> None:
    with pytest.raises(psycopg.errors.ForeignKeyViolation), conn.transaction():
        conn.execute(
            "INSERT INTO public.lessons (student_id, instructor_id, scheduled_at, duration_minutes)"
            " VALUES (gen_random_uuid(), %s, now(), 60)",
            (school.instructor,),
        )


def test_student_needs_an_auth_user(conn: psycopg.Connection[Any]) -> None:
    with pytest.raises(psycopg.errors.ForeignKeyViolation), conn.transaction():
        conn.execute(
            "INSERT INTO public.students (user_id, full_name, email)"
            " VALUES (gen_random_uuid(), 'Nobody', 'n@test.invalid')"
        )


def test_required_columns_are_not_null(conn: psycopg.Connection[Any], school: School) -> None:
    with pytest.raises(psycopg.errors.NotNullViolation), conn.transaction():
        conn.execute("INSERT INTO public.aircraft (tail_number, make, model) VALUES ('NNULL1', 'Cessna', NULL)")
    with pytest.raises(psycopg.errors.NotNullViolation), conn.transaction():
        conn.execute(
            "INSERT INTO public.lessons (student_id, instructor_id, scheduled_at, duration_minutes)"
            " VALUES (%s, %s, NULL, 60)",
            (school.student, school.instructor),
        )


def test_lesson_status_only_takes_known_values(conn: psycopg.Connection[Any], school: School) -> None:
    labels = conn.execute("SELECT unnest(enum_range(NULL::public.lesson_status))::text").fetchall()
    assert [row[0] for row in labels] == ["scheduled", "completed", "cancelled", "no_show"]
    with pytest.raises(psycopg.errors.InvalidTextRepresentation), conn.transaction():
        conn.execute("UPDATE public.lessons SET status = 'postponed' WHERE id = %s", (school.lessons["student"],))


def test_an_instructor_teaches_one_lesson_at_a_time(conn: psycopg.Connection[Any], school: School) -> None:
    with pytest.raises(psycopg.errors.UniqueViolation), conn.transaction():
        conn.execute(
            "INSERT INTO public.lessons (student_id, instructor_id, scheduled_at, duration_minutes)"
            " VALUES (%s, %s, '2031-05-04 15:00+00', 60)",
            (school.other_student, school.instructor),
        )


def test_check_constraints(conn: psycopg.Connection[Any], school: School) -> None:
    with pytest.raises(psycopg.errors.CheckViolation), conn.transaction():
        conn.execute("UPDATE public.aircraft SET hobbs_hours = -1 WHERE id = %s", (school.aircraft,))
    with pytest.raises(psycopg.errors.CheckViolation), conn.transaction():
        conn.execute("UPDATE public.students SET certificate_goal = 'astronaut' WHERE id = %s", (school.student,))


# --- row level security ------------------------------------------------------------------------------------


def test_rls_is_enabled_on_every_table(conn: psycopg.Connection[Any]) -> None:
    rows = conn.execute(
        "SELECT relname, relrowsecurity FROM pg_class WHERE relnamespace = 'public'::regnamespace"
        " AND relname IN ('students', 'instructors', 'aircraft', 'lessons')"
    ).fetchall()
    assert dict(rows) == {"students": True, "instructors": True, "aircraft": True, "lessons": True}


def test_student_sees_own_row_and_lessons_only(conn: psycopg.Connection[Any], act_as: ActAs, school: School) -> None:
    act_as("authenticated", school.student_user)
    assert visible_ids(conn, "students") == {school.student}
    assert visible_ids(conn, "lessons") == {school.lessons["student"]}


def test_instructor_sees_lessons_taught_and_students_mentored(
    conn: psycopg.Connection[Any], act_as: ActAs, school: School
) -> None:
    act_as("authenticated", school.instructor_user)
    assert visible_ids(conn, "lessons") == {school.lessons["student"]}
    assert visible_ids(conn, "students") == {school.student}


def test_student_cannot_touch_someone_elses_row(conn: psycopg.Connection[Any], act_as: ActAs, school: School) -> None:
    act_as("authenticated", school.student_user)
    assert denied(conn, "UPDATE public.students SET full_name = 'hijacked' WHERE id = %s", (school.other_student,))
    assert not denied(conn, "UPDATE public.students SET phone = '+1-555-0199' WHERE id = %s", (school.student,))


def test_student_cannot_schedule_lessons(conn: psycopg.Connection[Any], act_as: ActAs, school: School) -> None:
    act_as("authenticated", school.student_user)
    assert denied(
        conn,
        "INSERT INTO public.lessons (student_id, instructor_id, scheduled_at, duration_minutes)"
        " VALUES (%s, %s, '2031-06-01 10:00+00', 60)",
        (school.student, school.instructor),
    )


def test_instructor_schedules_only_own_lessons(conn: psycopg.Connection[Any], act_as: ActAs, school: School) -> None:
    act_as("authenticated", school.instructor_user)
    insert = (
        "INSERT INTO public.lessons (student_id, instructor_id, scheduled_at, duration_minutes)"
        " VALUES (%s, %s, '2031-06-01 10:00+00', 60)"
    )
    assert not denied(conn, insert, (school.student, school.instructor))
    assert denied(conn, insert, (school.student, school.other_instructor))


def test_without_claims_authenticated_sees_nothing(
    conn: psycopg.Connection[Any], act_as: ActAs, school: School
) -> None:
    act_as("authenticated")
    assert visible_ids(conn, "students") == set()
    assert visible_ids(conn, "lessons") == set()


def test_anon_reads_the_fleet_only(conn: psycopg.Connection[Any], act_as: ActAs, school: School) -> None:
    act_as("anon")
    assert school.aircraft in visible_ids(conn, "aircraft")
    assert visible_ids(conn, "students") == set()
    assert visible_ids(conn, "instructors") == set()
    assert visible_ids(conn, "lessons") == set()


def test_anon_cannot_write(conn: psycopg.Connection[Any], act_as: ActAs, school: School) -> None:
    act_as("anon")
    assert denied(conn, "INSERT INTO public.aircraft (tail_number, make, model) VALUES ('NANON1', 'Cessna', '150')")
    assert denied(conn, "UPDATE public.aircraft SET is_airworthy = false WHERE id = %s", (school.aircraft,))
    assert denied(conn, "DELETE FROM public.lessons WHERE id = %s", (school.lessons["student"],))


def test_service_role_sees_and_writes_everything(conn: psycopg.Connection[Any], act_as: ActAs, school: School) -> None:
    act_as("service_role")
    assert {school.student, school.other_student} <= visible_ids(conn, "students")
    assert set(school.lessons.values()) <= visible_ids(conn, "lessons")
    assert not denied(
        conn, "UPDATE public.aircraft SET hobbs_hours = hobbs_hours + 1.2 WHERE id = %s", (school.aircraft,)
    )


def test_student_sees_own_instructors_only(conn: psycopg.Connection[Any], act_as: ActAs, school: School) -> None:
    act_as("authenticated", school.student_user)
    assert visible_ids(conn, "instructors") == {school.instructor}
    act_as("authenticated", school.instructor_user)
    assert visible_ids(conn, "instructors") == {school.instructor}


def test_sign_up_creates_only_your_own_student_row(conn: psycopg.Connection[Any], act_as: ActAs) -> None:
    newcomer = conn.execute(
        "INSERT INTO auth.users (id, email) VALUES (gen_random_uuid(), 'new@test.invalid') RETURNING id"
    ).fetchone()
    stranger = conn.execute(
        "INSERT INTO auth.users (id, email) VALUES (gen_random_uuid(), 'other@test.invalid') RETURNING id"
    ).fetchone()
    assert newcomer is not None and stranger is not None
    act_as("authenticated", newcomer[0])
    insert = "INSERT INTO public.students (user_id, full_name, email) VALUES (%s, 'New Student', 'new@test.invalid')"
    assert denied(conn, insert, (stranger[0],))
    assert not denied(conn, insert, (newcomer[0],))
    # Becoming an instructor is the school's decision, not a sign-up option.
    assert denied(
        conn,
        "INSERT INTO public.instructors (user_id, full_name, email, cfi_certificate_number)"
        " VALUES (%s, 'Self Made', 'new@test.invalid', 'SELF1')",
        (newcomer[0],),
    )
