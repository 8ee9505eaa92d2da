"""What a failed Alembic run tells the user: the exception, not the library frames above it."""

from __future__ import annotations

from orchestrator.verify.alembic_env import _exception_of

TRACEBACK = """\
Traceback (most recent call last):
  File "/venv/site-packages/sqlalchemy/engine/default.py", line 1192, in do_execute
    cursor.execute(statement, parameters)
    ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/venv/site-packages/psycopg/cursor.py", line 117, in execute
    raise ex.with_traceback(None)
sqlalchemy.exc.InternalError: (psycopg.errors.ActiveSqlTransaction) DROP INDEX CONCURRENTLY cannot run inside a transaction block
[SQL: DROP INDEX CONCURRENTLY ix_lessons_student]
"""


def test_the_exception_and_its_sql_are_kept_and_the_frames_dropped() -> None:
    kept = _exception_of(TRACEBACK.splitlines())
    assert kept[0].startswith("sqlalchemy.exc.InternalError: (psycopg.errors.ActiveSqlTransaction)")
    assert kept[-1] == "[SQL: DROP INDEX CONCURRENTLY ix_lessons_student]"
    assert not any("site-packages" in line or "^^^" in line for line in kept)


def test_output_without_a_traceback_is_left_to_the_caller() -> None:
    assert _exception_of(["FAILED: Multiple head revisions are present"]) == []
