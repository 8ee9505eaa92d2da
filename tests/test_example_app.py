"""The example target repo and the reference solution of feature 042 work as shipped, on a real PostgreSQL.

Upgrade, downgrade and upgrade again leave the same schema; seeds are idempotent; the models match the
migrated schema; the repo's own migration tests pass. Also checks the invariants the other tests rely on
(the policy SQL files equal what the revisions execute, the helper's git layout).
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pglast
import psycopg
import pytest

from orchestrator.pg import ScratchDatabase
from orchestrator.revisions import read_revision_file
from orchestrator.runner.env import clean_env
from orchestrator.spec import load_feature
from tests.support.example_repo import (
    BASE_BRANCH,
    BASE_REVISION,
    EXAMPLE_APP,
    FEATURE_BRANCH,
    SOLUTION_042,
    SOLUTION_REVISION,
    make_example_repo,
)

# Catalog facts that a round trip must restore (alembic_version is Alembic's own bookkeeping).
SCHEMA_QUERY = """
SELECT 'relation', c.relname || ':' || c.relkind::text || ':rls=' || c.relrowsecurity::text
  FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relname NOT LIKE 'alembic_version%'
UNION ALL SELECT 'column', table_name || '.' || column_name || ':' || data_type || ':' || is_nullable
  || ':' || coalesce(column_default, '')
  FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> 'alembic_version'
UNION ALL SELECT 'enum', t.typname || ':' || e.enumlabel
  FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid WHERE t.typnamespace = 'public'::regnamespace
UNION ALL SELECT 'function', p.oid::regprocedure::text || ':' || p.prosecdef::text
  FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
UNION ALL SELECT 'policy', tablename || '.' || policyname || ':' || cmd || ':' || array_to_string(roles, ',')
  FROM pg_policies WHERE schemaname = 'public'
UNION ALL SELECT 'index', indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename <> 'alembic_version'
UNION ALL SELECT 'constraint', conrelid::regclass::text || ':' || conname || ':' || pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND conrelid <> 0
  AND conrelid::regclass::text <> 'alembic_version'
UNION ALL SELECT 'grant', table_name || ':' || grantee || ':' || privilege_type
  FROM information_schema.role_table_grants WHERE table_schema = 'public' AND table_name <> 'alembic_version'
"""

COUNT_TABLES = ("auth.users", "public.instructors", "public.students", "public.aircraft", "public.lessons")
SOLUTION_TABLES = ("public.lesson_objectives", "public.student_progress")


def schema_of(url: str) -> set[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        return {(kind, text) for kind, text in conn.execute(SCHEMA_QUERY).fetchall()}


def alembic(repo: Path, url: str, *args: str) -> str:
    """Run the repo's Alembic in a subprocess, as delegate does: its env.py reads DATABASE_URL."""
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(repo / "api" / "alembic.ini"), *args],
        cwd=repo / "api",
        env=clean_env({"DATABASE_URL": url}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"alembic {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def run_seeds(repo: Path, url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for seed in sorted((repo / "seeds").rglob("*.sql")):
            conn.execute(seed.read_text(encoding="utf-8").encode())  # several statements, no parameters


def row_counts(url: str, tables: tuple[str, ...]) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        counts: dict[str, int] = {}
        for table in tables:
            row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608 - fixed names
            assert row is not None
            counts[table] = row[0]
        return counts


def run_repo_tests(repo: Path, url: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "api/tests/migrations"],
        cwd=repo,
        env=clean_env({"DATABASE_URL": url}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"the example's migration tests failed:\n{result.stdout[-4000:]}\n{result.stderr}"
    return result.stdout


def load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"revision_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def normalised(statement: str) -> str:
    return re.sub(r"\s+", " ", statement).strip().rstrip(";")


# --- without a database ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("revision_file", "policy_file"),
    [
        (
            EXAMPLE_APP / "api/alembic/versions/001_initial_schema.py",
            EXAMPLE_APP / "api/sql/policies/001_initial_policies.sql",
        ),
        (
            SOLUTION_042 / "api/alembic/versions/002_lesson_progress.py",
            SOLUTION_042 / "api/sql/policies/002_lesson_progress.sql",
        ),
    ],
    ids=["001", "002"],
)
def test_policy_sql_file_equals_what_the_revision_executes(revision_file: Path, policy_file: Path) -> None:
    executed = [normalised(s) for s in pglast.split(load_module(revision_file).POLICIES_SQL)]
    assert len(executed) > 10
    written = [normalised(s) for s in pglast.split(policy_file.read_text(encoding="utf-8"))]
    assert executed == written


def test_revision_chain() -> None:
    base = read_revision_file(EXAMPLE_APP / "api/alembic/versions/001_initial_schema.py")
    solution = read_revision_file(SOLUTION_042 / "api/alembic/versions/002_lesson_progress.py")
    assert (base.revision, base.down_revisions) == (BASE_REVISION, ())
    assert (solution.revision, solution.down_revisions) == (SOLUTION_REVISION, (BASE_REVISION,))
    assert base.upgrade is not None and base.downgrade is not None
    assert solution.upgrade is not None and solution.downgrade is not None


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()


def test_make_example_repo_layout(tmp_path: Path) -> None:
    base = make_example_repo(tmp_path / "a", with_solution=False)
    assert git(base, "branch", "--show-current") == BASE_BRANCH
    assert git(base, "status", "--porcelain") == ""
    assert not (base / "api/alembic/versions/002_lesson_progress.py").exists()
    assert not list(base.rglob("__pycache__"))

    solved = make_example_repo(tmp_path / "b", with_solution=True)
    assert git(solved, "branch", "--show-current") == FEATURE_BRANCH
    assert git(solved, "status", "--porcelain") == ""
    changed = set(git(solved, "diff", "--name-only", f"{BASE_BRANCH}...{FEATURE_BRANCH}").splitlines())
    assert {
        "api/alembic/versions/002_lesson_progress.py",
        "api/sql/policies/002_lesson_progress.sql",
        "seeds/dev/002_lesson_objectives.sql",
        "api/tests/migrations/test_002_lesson_progress.py",
        "specs/042-lesson-progress/runbook.md",
        "api/app/models/progress.py",
    } <= changed


def test_offline_sql_renders_every_revision(tmp_path: Path) -> None:
    repo = make_example_repo(tmp_path, with_solution=True)
    sql = alembic(repo, "postgresql://nobody@127.0.0.1:1/offline", "upgrade", "head", "--sql")
    for expected in (
        "CREATE TYPE public.lesson_status",
        "CREATE POLICY lessons_deny_anon",
        "CREATE TABLE student_progress",
    ):
        assert expected in sql
    assert re.search(r"CREATE INDEX CONCURRENTLY ix_lessons_student_id_scheduled_at", sql)


# --- on PostgreSQL -----------------------------------------------------------------------------------------


def round_trip(repo: Path, db: ScratchDatabase, base: str) -> set[tuple[str, str]]:
    """Upgrade to head, downgrade to `base`, compare, upgrade again; return the schema at head."""
    before = schema_of(db.url)
    alembic(repo, db.url, "upgrade", head := "head")
    at_head = schema_of(db.url)
    assert at_head != before
    alembic(repo, db.url, "downgrade", base)
    after = schema_of(db.url)
    assert after == before, f"downgrade left a trace: added {sorted(after - before)}, lost {sorted(before - after)}"
    alembic(repo, db.url, "upgrade", head)
    assert schema_of(db.url) == at_head
    return at_head


def seeds_are_idempotent(repo: Path, db: ScratchDatabase, tables: tuple[str, ...]) -> dict[str, int]:
    run_seeds(repo, db.url)
    first = row_counts(db.url, tables)
    assert all(first.values()), f"a seed left a table empty: {first}"
    run_seeds(repo, db.url)
    assert row_counts(db.url, tables) == first
    return first


@pytest.mark.postgres
def test_example_app_migrates_seeds_and_passes_its_tests(tmp_path: Path, scratch_db: ScratchDatabase) -> None:
    repo = make_example_repo(tmp_path, with_solution=False)
    schema = round_trip(repo, scratch_db, "base")
    assert ("relation", "lessons:r:rls=true") in schema
    assert "No new upgrade operations detected" in alembic(repo, scratch_db.url, "check")
    counts = seeds_are_idempotent(repo, scratch_db, COUNT_TABLES)
    assert counts["public.lessons"] == 7
    output = run_repo_tests(repo, scratch_db.url)
    assert re.search(r"\b19 passed\b", output) and "skipped" not in output, output


def assert_index_serves_recent_lessons(repo: Path, url: str) -> None:
    """The plan's first query pattern can use the feature's index (seq scans off: a few seed rows only)."""
    query = load_feature(repo / "specs" / "042-lesson-progress").query_patterns[0].sql
    with psycopg.connect(url) as conn:
        conn.execute("SET enable_seqscan = off")
        plan: Any = conn.execute(f"EXPLAIN (FORMAT JSON) {query}").fetchone()
    assert plan is not None and "ix_lessons_student_id_scheduled_at" in str(plan[0]), plan


# Every catalog fact that mentions one of these belongs to feature 042.
FEATURE_042_OBJECTS = re.compile(
    r"lesson_objectives|student_progress|proficiency_level|coaches_student|debrief_notes|ix_lessons_student_id_scheduled_at"
)


@pytest.mark.postgres
def test_solution_042_migrates_seeds_and_passes_its_tests(tmp_path: Path, scratch_db: ScratchDatabase) -> None:
    repo = make_example_repo(tmp_path, with_solution=True)
    # The whole history in one run (001's transaction is committed by 002's autocommit block midway).
    alembic(repo, scratch_db.url, "upgrade", "head")
    at_head = schema_of(scratch_db.url)
    assert ("relation", "student_progress:r:rls=true") in at_head
    assert any(kind == "index" and "scheduled_at DESC" in text for kind, text in at_head)
    # Down to the feature's base: exactly the feature's objects go, everything of 001 stays as it was.
    alembic(repo, scratch_db.url, "downgrade", BASE_REVISION)
    at_base = schema_of(scratch_db.url)
    expected = {fact for fact in at_head if not FEATURE_042_OBJECTS.search(fact[1])}
    assert at_base == expected, f"added {sorted(at_base - expected)}, lost {sorted(expected - at_base)}"
    alembic(repo, scratch_db.url, "upgrade", "head")
    assert schema_of(scratch_db.url) == at_head
    assert "No new upgrade operations detected" in alembic(repo, scratch_db.url, "check")
    counts = seeds_are_idempotent(repo, scratch_db, COUNT_TABLES + SOLUTION_TABLES)
    assert counts["public.student_progress"] == 4
    assert_index_serves_recent_lessons(repo, scratch_db.url)
    output = run_repo_tests(repo, scratch_db.url)
    assert re.search(r"\b34 passed\b", output) and "skipped" not in output, output
