"""Fixtures for the migration tests: a connection to DATABASE_URL (already migrated) whose work is always rolled back.

RLS is only enforced for roles that are neither the table owner nor a superuser, so a test switches to a
Supabase role with `SET LOCAL ROLE` inside the test's transaction and sets the JWT claims that `auth.uid()`
reads with `set_config(..., true)` (transaction-local). Nothing a test does survives it.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from psycopg import sql


def _database_url() -> str | None:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return None
    # Alembic's env.py accepts SQLAlchemy URLs; psycopg wants the libpq form.
    for prefix in ("postgresql+psycopg://", "postgresql+psycopg2://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


@pytest.fixture(scope="session")
def database_url() -> str:
    url = _database_url()
    if url is None:
        pytest.skip("DATABASE_URL is not set: point it at a database migrated to head (alembic upgrade head)")
    return url


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    """One transaction per test, rolled back at the end whatever happened."""
    with psycopg.connect(database_url, autocommit=False) as connection:
        try:
            yield connection
        finally:
            connection.rollback()


ActAs = Callable[..., None]


@pytest.fixture
def act_as(conn: psycopg.Connection[Any]) -> ActAs:
    """act_as("authenticated", user_id) / act_as("anon") / act_as("service_role") / act_as(None) for the owner."""

    def switch(role: str | None, user_id: uuid.UUID | None = None) -> None:
        if role is None:
            conn.execute("RESET ROLE")
            conn.execute("SELECT set_config('request.jwt.claims', '', true)")
            return
        claims: dict[str, str] = {"role": role}
        if user_id is not None:
            claims["sub"] = str(user_id)
        conn.execute("SELECT set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))

    return switch


def denied(conn: psycopg.Connection[Any], statement: str, params: tuple[Any, ...] = ()) -> bool:
    """True when a write is refused: no privilege, an RLS WITH CHECK failure, or (UPDATE/DELETE) zero rows reached.

    It runs in a savepoint, so a refused statement does not abort the test's transaction.
    """
    try:
        with conn.transaction():
            cur = conn.execute(statement, params)  # type: ignore[arg-type]
            # RLS hides rows from UPDATE/DELETE silently: "success" on zero rows is a denial too.
            return cur.rowcount == 0
    except psycopg.errors.InsufficientPrivilege:
        return True


def visible_ids(conn: psycopg.Connection[Any], table: str) -> set[Any]:
    """The ids of `table` the current role can see; none when it may not read the table at all."""
    try:
        with conn.transaction():
            rows = conn.execute(sql.SQL("SELECT id FROM public.{}").format(sql.Identifier(table)))
            return {row[0] for row in rows.fetchall()}
    except psycopg.errors.InsufficientPrivilege:
        return set()


@dataclass
class School:
    """A small school created inside the test's transaction: ids of everything, by who owns it."""

    student_user: uuid.UUID
    other_student_user: uuid.UUID
    instructor_user: uuid.UUID
    other_instructor_user: uuid.UUID
    student: uuid.UUID
    other_student: uuid.UUID
    instructor: uuid.UUID
    other_instructor: uuid.UUID
    aircraft: int
    lessons: dict[str, int] = field(default_factory=dict)  # "student", "other_student" -> lesson id


def _auth_user(conn: psycopg.Connection[Any], label: str) -> uuid.UUID:
    user_id = uuid.uuid4()
    conn.execute(
        "INSERT INTO auth.users (id, email) VALUES (%s, %s)", (user_id, f"{label}-{user_id.hex[:8]}@test.invalid")
    )
    return user_id


@pytest.fixture
def school(conn: psycopg.Connection[Any]) -> School:
    """Two instructors, two students (one each), an aircraft and one lesson per student, made as the owner."""
    instructor_user, other_instructor_user = _auth_user(conn, "cfi"), _auth_user(conn, "cfi")
    student_user, other_student_user = _auth_user(conn, "student"), _auth_user(conn, "student")

    def instructor(user_id: uuid.UUID, number: str) -> uuid.UUID:
        row = conn.execute(
            "INSERT INTO public.instructors (user_id, full_name, email, cfi_certificate_number)"
            " VALUES (%s, 'Test Instructor', 'cfi@test.invalid', %s) RETURNING id",
            (user_id, number),
        ).fetchone()
        assert row is not None
        return row[0]

    def student(user_id: uuid.UUID, instructor_id: uuid.UUID) -> uuid.UUID:
        row = conn.execute(
            "INSERT INTO public.students (user_id, full_name, email, primary_instructor_id)"
            " VALUES (%s, 'Test Student', 'student@test.invalid', %s) RETURNING id",
            (user_id, instructor_id),
        ).fetchone()
        assert row is not None
        return row[0]

    suffix = uuid.uuid4().hex[:6]
    instructor_id = instructor(instructor_user, f"T{suffix}A")
    other_instructor_id = instructor(other_instructor_user, f"T{suffix}B")
    student_id = student(student_user, instructor_id)
    other_student_id = student(other_student_user, other_instructor_id)
    aircraft = conn.execute(
        "INSERT INTO public.aircraft (tail_number, make, model) VALUES (%s, 'Cessna', '152') RETURNING id",
        (f"NT{suffix}",),
    ).fetchone()
    assert aircraft is not None

    result = School(
        student_user=student_user,
        other_student_user=other_student_user,
        instructor_user=instructor_user,
        other_instructor_user=other_instructor_user,
        student=student_id,
        other_student=other_student_id,
        instructor=instructor_id,
        other_instructor=other_instructor_id,
        aircraft=aircraft[0],
    )
    for key, (who, teacher) in {
        "student": (student_id, instructor_id),
        "other_student": (other_student_id, other_instructor_id),
    }.items():
        row = conn.execute(
            "INSERT INTO public.lessons (student_id, instructor_id, aircraft_id, scheduled_at, duration_minutes)"
            " VALUES (%s, %s, %s, '2031-05-04 15:00+00', 90) RETURNING id",
            (who, teacher, aircraft[0]),
        ).fetchone()
        assert row is not None
        result.lessons[key] = row[0]
    return result
