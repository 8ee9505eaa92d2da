"""The seeds step: which files, run how, a failure where (tests that kill mutants benchmarks/mutation.py found)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from orchestrator.config import DelegateConfig
from orchestrator.pg import ScratchDatabase
from orchestrator.verify.seeds import _line_of, row_counts, run_seed, run_seeds_twice, seed_files


def test_seed_files_are_every_sql_file_of_every_seeds_folder_in_path_order(tmp_path: Path) -> None:
    for rel in ("seeds/b.sql", "seeds/a/z.sql", "seeds/notes.txt", "more/c.sql", "other/d.sql"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("")
    cfg = DelegateConfig(seeds_dirs=["seeds", "more", "missing"])
    assert [p.relative_to(tmp_path).as_posix() for p in seed_files(tmp_path, cfg)] == [
        "seeds/a/z.sql",
        "seeds/b.sql",
        "more/c.sql",
    ]


def test_line_of_a_position() -> None:
    text = "SELECT 1;\nSELECT 2;\nSELEC 3;\n"
    assert _line_of(text, None) is None and _line_of(text, 0) is None
    assert _line_of(text, 1) == 1 and _line_of(text, 10) == 1 and _line_of(text, 11) == 2
    assert _line_of(text, text.index("SELEC 3") + 1) == 3
    assert _line_of("\n\nSELEC 3;", 3) == 3 and _line_of("\nX", 1) == 1


def write(tmp_path: Path, name: str, text: str) -> tuple[Path, str]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path, f"seeds/{name}"


TAGS = "CREATE TABLE public.tags (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text UNIQUE);"


@pytest.mark.postgres
@pytest.mark.usefixtures("no_scratch_left")
def test_a_failing_seed_is_named_with_its_line_and_stops_before_the_second_pass(
    tmp_path: Path, scratch_db: ScratchDatabase
) -> None:
    good = write(tmp_path, "010_good.sql", "INSERT INTO public.tags (name) VALUES ('x') ON CONFLICT DO NOTHING;\n")
    bad = write(tmp_path, "020_bad.sql", "\n\nINSERT INTO public.tags (nam) VALUES ('y');\n")
    with psycopg.connect(scratch_db.url, autocommit=True) as conn:
        conn.execute(TAGS)
        outcome = run_seeds_twice(conn, [good, bad], [], ["public"])
        assert row_counts(conn, ["public"])["public.tags"] == 1
    assert [(f.file, f.line) for f in outcome.failures] == [("seeds/020_bad.sql", 3)]
    assert 'column "nam"' in outcome.failures[0].message
    assert outcome.files == ["seeds/010_good.sql", "seeds/020_bad.sql"] and outcome.changed == []


@pytest.mark.postgres
@pytest.mark.usefixtures("no_scratch_left")
def test_a_context_file_runs_once_and_its_failure_is_reported(tmp_path: Path, scratch_db: ScratchDatabase) -> None:
    parent = write(tmp_path, "001_parent.sql", "INSERT INTO public.tags (name) VALUES ('parent');\n")
    broken = write(tmp_path, "002_broken.sql", "INSERT INTO nowhere VALUES (1);\n")
    feature = write(tmp_path, "010_f.sql", "INSERT INTO public.tags (name) VALUES ('f') ON CONFLICT DO NOTHING;\n")
    with psycopg.connect(scratch_db.url, autocommit=True) as conn:
        conn.execute(TAGS)
        outcome = run_seeds_twice(conn, [feature], [parent], ["public"])
        assert outcome.failures == [] and outcome.changed == []
        assert outcome.context == ["seeds/001_parent.sql"]
        assert row_counts(conn, ["public"])["public.tags"] == 2  # the context file ran once (no ON CONFLICT)
        failed = run_seeds_twice(conn, [feature], [broken], ["public"])
    assert [(f.file, f.line) for f in failed.failures] == [("seeds/002_broken.sql", 1)]


@pytest.mark.postgres
@pytest.mark.usefixtures("no_scratch_left")
def test_a_seed_that_fails_only_the_second_time_is_reported_and_the_next_file_still_runs(
    tmp_path: Path, scratch_db: ScratchDatabase
) -> None:
    once = write(tmp_path, "010_once.sql", "INSERT INTO public.tags (name) VALUES ('unique');\n")
    more = write(tmp_path, "020_more.sql", "INSERT INTO public.tags (name) SELECT 'n' || count(*) FROM public.tags;\n")
    with psycopg.connect(scratch_db.url, autocommit=True) as conn:
        conn.execute(TAGS)
        outcome = run_seeds_twice(conn, [once, more], [], ["public"])
    assert [(f.file, f.line) for f in outcome.failures] == [("seeds/010_once.sql", None)]
    assert "duplicate key" in outcome.failures[0].message
    assert [(c.file, c.table, c.before, c.after) for c in outcome.changed] == [
        ("seeds/020_more.sql", "public.tags", 2, 3)
    ]


@pytest.mark.postgres
@pytest.mark.usefixtures("no_scratch_left")
def test_run_seed_reads_psql_scripts_empty_files_and_percent_signs(tmp_path: Path, scratch_db: ScratchDatabase) -> None:
    empty = write(tmp_path, "000_empty.sql", "  \n")
    psql = write(
        tmp_path,
        "010_psql.sql",
        "\\set ON_ERROR_STOP on\nINSERT INTO public.tags (name) VALUES ('100%') ON CONFLICT DO NOTHING;\n",
    )
    with psycopg.connect(scratch_db.url, autocommit=True) as conn:
        conn.execute(TAGS)
        assert run_seed(conn, *empty) is None
        assert run_seed(conn, *psql) is None
        assert conn.execute("SELECT name FROM public.tags").fetchall() == [("100%",)]
        assert row_counts(conn, []) == {"auth.users": 0}
        assert row_counts(conn, ["nothing_here"]) == {"auth.users": 0}
        counts = row_counts(conn, ["public"])
    assert counts == {"auth.users": 0, "public.tags": 1}


@pytest.mark.postgres
@pytest.mark.usefixtures("no_scratch_left")
def test_counts_that_fall_or_tables_that_appear_on_the_second_run_are_changes(
    tmp_path: Path, scratch_db: ScratchDatabase
) -> None:
    parent = write(tmp_path, "001_parent.sql", "INSERT INTO public.tags (name) VALUES ('parent');\n")
    many = write(
        tmp_path,
        "005_many.sql",
        "INSERT INTO public.tags (name) SELECT 'n' || g FROM generate_series(1, 300) g ON CONFLICT DO NOTHING;\n",
    )
    falls = write(
        tmp_path,
        "010_falls.sql",
        "DELETE FROM public.tags WHERE name = 'parent' AND EXISTS (SELECT FROM public.tags WHERE name = 'seeded');\n"
        "INSERT INTO public.tags (name) VALUES ('seeded') ON CONFLICT DO NOTHING;\n",
    )
    appears = write(
        tmp_path,
        "020_appears.sql",
        "DO $$ BEGIN IF to_regclass('public.first_done') IS NOT NULL THEN\n"
        "  CREATE TABLE public.second_run AS SELECT 1 AS id; CREATE TABLE public.second_empty (id int);\n"
        "END IF; END $$;\n"
        "CREATE TABLE IF NOT EXISTS public.first_done (id int);\n",
    )
    with psycopg.connect(scratch_db.url, autocommit=True) as conn:
        conn.execute(TAGS)
        outcome = run_seeds_twice(conn, [many, falls, appears], [parent], ["public"])
    assert outcome.failures == []
    assert [(c.file, c.table, c.before, c.after) for c in outcome.changed] == [
        ("seeds/010_falls.sql", "public.tags", 302, 301),
        ("seeds/020_appears.sql", "public.second_run", 0, 1),
    ]


@pytest.mark.postgres
@pytest.mark.usefixtures("no_scratch_left")
def test_a_seed_that_ends_the_connection_is_not_a_seed_failure(tmp_path: Path, scratch_db: ScratchDatabase) -> None:
    rude = write(tmp_path, "010_rude.sql", "SELECT pg_terminate_backend(pg_backend_pid());\n")
    with psycopg.connect(scratch_db.url, autocommit=True) as conn, pytest.raises(psycopg.OperationalError):
        run_seed(conn, *rude)
