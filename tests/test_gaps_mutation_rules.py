"""Rules run by the engine on .sql files, edge by edge (tests that kill mutants benchmarks/mutation.py found)."""

from __future__ import annotations

from pathlib import Path

from orchestrator.check import CheckOptions
from orchestrator.checks import engine
from orchestrator.config import DelegateConfig


def rule_hits(tmp_path: Path, rule: str, sql: str) -> list[tuple[int | None, str]]:
    """(line, message) of every `rule` finding on one migration file, lock_timeout set first (one rule at a time)."""
    return [(line, message) for _, line, message in files_hits(tmp_path, rule, {"migration.sql": sql})]


def files_hits(tmp_path: Path, rule: str, files: dict[str, str]) -> list[tuple[str, int | None, str]]:
    """(file, line, message) of every `rule` finding on several migration files under api/sql/, checked together."""
    paths = []
    for name, sql in files.items():
        path = tmp_path / "api" / "sql" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("SET lock_timeout = '5s';\n" + sql, encoding="utf-8")
        paths.append(path)
    found = engine.run_static(tmp_path, DelegateConfig(), CheckOptions(repo=tmp_path, static_only=True, paths=paths))
    return [(Path(f.file or "").name, f.line, f.message) for f in found if f.rule == rule]


def test_require_concurrent_index_looks_past_a_concurrent_index(tmp_path: Path) -> None:
    sql = "CREATE INDEX CONCURRENTLY ix_a ON public.lessons (a);\nCREATE INDEX ix_b ON public.lessons (b);\n"
    assert rule_hits(tmp_path, "require-concurrent-index", sql) == [
        (3, 'index "ix_b" on existing table public.lessons is built without CONCURRENTLY')
    ]


def test_require_concurrent_index_names_an_unnamed_index(tmp_path: Path) -> None:
    assert rule_hits(tmp_path, "require-concurrent-index", "CREATE INDEX ON public.lessons (b);\n") == [
        (2, 'index "(unnamed)" on existing table public.lessons is built without CONCURRENTLY')
    ]


def test_drop_table_looks_past_other_drops_and_tables_created_here(tmp_path: Path) -> None:
    sql = (
        "DROP VIEW public.report;\n"
        "DROP INDEX public.ix_lessons_a;\n"
        "DROP SEQUENCE public.lessons_seq;\n"
        "CREATE TABLE public.tmp (id int);\n"
        "DROP TABLE public.tmp, public.lessons;\n"
        "DROP TABLE IF EXISTS public.old;\n"
    )
    assert rule_hits(tmp_path, "drop-table", sql) == [
        (6, "existing table public.lessons is dropped in an upgrade"),
        (7, "existing table public.old is dropped in an upgrade"),
    ]


def test_unbounded_dml_update_and_delete_on_existing_tables_only(tmp_path: Path) -> None:
    sql = (
        "UPDATE public.lessons SET status = 'draft' WHERE status IS NULL;\n"
        "CREATE TABLE public.tmp (id int);\n"
        "DELETE FROM public.tmp;\n"
        "UPDATE public.lessons SET status = 'draft';\n"
        "DELETE FROM public.archive;\n"
    )
    assert rule_hits(tmp_path, "unbounded-dml", sql) == [
        (5, "UPDATE of every row of public.lessons (no WHERE)"),
        (6, "DELETE of every row of public.archive (no WHERE)"),
    ]


def test_set_not_null_leans_on_a_validated_check_of_that_column_only(tmp_path: Path) -> None:
    sql = (
        "ALTER TABLE public.lessons ADD CONSTRAINT a_nn CHECK (a IS NOT NULL) NOT VALID;\n"
        "ALTER TABLE public.lessons VALIDATE CONSTRAINT a_nn;\n"
        "ALTER TABLE public.lessons ALTER COLUMN a SET NOT NULL;\n"
        "ALTER TABLE public.lessons ADD CONSTRAINT b_nn CHECK (b IS NOT NULL);\n"
        "ALTER TABLE public.lessons ALTER COLUMN b SET NOT NULL;\n"
        "ALTER TABLE public.lessons ADD CONSTRAINT c_nn CHECK (c IS NOT NULL) NOT VALID;\n"
        "ALTER TABLE public.lessons ALTER COLUMN c SET NOT NULL;\n"
        "ALTER TABLE public.lessons ADD CONSTRAINT d_null CHECK (d IS NULL);\n"
        "ALTER TABLE public.lessons ALTER COLUMN d SET NOT NULL;\n"
        "ALTER TABLE public.lessons ADD CONSTRAINT e_pos CHECK (e > 0);\n"
        "ALTER TABLE public.lessons ALTER COLUMN e SET NOT NULL;\n"
        "ALTER TABLE public.other ADD CONSTRAINT f_nn CHECK (f IS NOT NULL);\n"
        "ALTER TABLE public.lessons ALTER COLUMN f SET NOT NULL;\n"
        "ALTER TABLE public.lessons ALTER COLUMN g SET NOT NULL;\n"
        "ALTER TABLE public.lessons ADD CONSTRAINT g_nn CHECK (g IS NOT NULL);\n"
        "CREATE TABLE public.tmp (h int);\n"
        "ALTER TABLE public.tmp ALTER COLUMN h SET NOT NULL;\n"
    )
    lines = [line for line, _ in rule_hits(tmp_path, "set-not-null", sql)]
    assert lines == [8, 10, 12, 14, 15]


def test_set_not_null_names_the_column_and_table(tmp_path: Path) -> None:
    assert rule_hits(tmp_path, "set-not-null", "ALTER TABLE public.lessons ALTER COLUMN a SET NOT NULL;\n") == [
        (2, 'SET NOT NULL on column "a" of existing table public.lessons scans it under ACCESS EXCLUSIVE')
    ]


def test_set_not_null_accepts_a_qualified_column_in_the_check(tmp_path: Path) -> None:
    sql = (
        "ALTER TABLE public.lessons ADD CONSTRAINT a_nn CHECK (lessons.a IS NOT NULL);\n"
        "ALTER TABLE public.lessons ALTER COLUMN a SET NOT NULL;\n"
    )
    assert rule_hits(tmp_path, "set-not-null", sql) == []


def test_set_not_null_validated_under_another_name_does_not_count(tmp_path: Path) -> None:
    sql = (
        "ALTER TABLE public.lessons ADD CONSTRAINT a_nn CHECK (a IS NOT NULL) NOT VALID;\n"
        "ALTER TABLE public.lessons VALIDATE CONSTRAINT other;\n"
        "ALTER TABLE public.lessons ALTER COLUMN a SET NOT NULL;\n"
    )
    assert [line for line, _ in rule_hits(tmp_path, "set-not-null", sql)] == [4]


def test_drop_column_needs_an_earlier_copy_of_that_column(tmp_path: Path) -> None:
    sql = (
        "UPDATE public.lessons SET b2 = b WHERE b2 IS NULL;\n"
        "ALTER TABLE public.lessons DROP COLUMN b;\n"
        "ALTER TABLE public.lessons DROP COLUMN c;\n"
        "UPDATE public.lessons SET d2 = d WHERE d2 IS NULL;\n"
        "CREATE TABLE public.tmp (e int);\n"
        "ALTER TABLE public.tmp DROP COLUMN e;\n"
    )
    assert rule_hits(tmp_path, "drop-column", sql) == [
        (4, 'column "c" of existing table public.lessons is dropped with no earlier backfill or copy of its data')
    ]


def test_set_not_null_looks_past_checks_that_prove_nothing(tmp_path: Path) -> None:
    sql = (
        "ALTER TABLE public.lessons ADD CONSTRAINT e_pos CHECK (e > 0);\n"
        "ALTER TABLE public.lessons ADD CONSTRAINT a_nn CHECK (a IS NOT NULL);\n"
        "ALTER TABLE public.lessons ALTER COLUMN a SET NOT NULL;\n"
    )
    assert rule_hits(tmp_path, "set-not-null", sql) == []


def test_set_not_null_with_its_check_added_in_the_same_statement_still_scans(tmp_path: Path) -> None:
    sql = "ALTER TABLE public.lessons ADD CONSTRAINT a_nn CHECK (a IS NOT NULL), ALTER COLUMN a SET NOT NULL;\n"
    assert [line for line, _ in rule_hits(tmp_path, "set-not-null", sql)] == [2]


def test_set_not_null_leans_on_a_proof_in_another_file_whichever_sorts_first(tmp_path: Path) -> None:
    files = {
        "a_first.sql": "ALTER TABLE public.lessons ADD CONSTRAINT x_nn CHECK (x IS NOT NULL);\n",
        "m_middle.sql": (
            "ALTER TABLE public.lessons ALTER COLUMN x SET NOT NULL;\n"
            "ALTER TABLE public.lessons ALTER COLUMN y SET NOT NULL;\n"
            "ALTER TABLE public.lessons ALTER COLUMN w SET NOT NULL;\n"
        ),
        # Later in its file than the SET NOT NULL is in its own: only the file, not the position, makes it count.
        "z_last.sql": "SELECT 1;\nSELECT 2;\nSELECT 3;\nALTER TABLE public.lessons ADD CONSTRAINT y_nn CHECK (y IS NOT NULL);\n",
    }
    assert [(file, line) for file, line, _ in files_hits(tmp_path, "set-not-null", files)] == [("m_middle.sql", 4)]


def test_set_not_null_and_drop_column_look_past_a_table_created_here(tmp_path: Path) -> None:
    sql = (
        "CREATE TABLE public.tmp (h int, k int);\n"
        "ALTER TABLE public.tmp ALTER COLUMN h SET NOT NULL;\n"
        "ALTER TABLE public.tmp DROP COLUMN k;\n"
        "ALTER TABLE public.lessons ALTER COLUMN a SET NOT NULL;\n"
        "ALTER TABLE public.lessons DROP COLUMN b;\n"
    )
    assert [line for line, _ in rule_hits(tmp_path, "set-not-null", sql)] == [5]
    assert [line for line, _ in rule_hits(tmp_path, "drop-column", sql)] == [6]


def test_drop_column_leans_on_a_copy_in_another_file_whichever_sorts_first(tmp_path: Path) -> None:
    files = {
        "a_first.sql": "UPDATE public.lessons SET x2 = x WHERE x2 IS NULL;\n",
        "m_middle.sql": (
            "ALTER TABLE public.lessons DROP COLUMN x;\n"
            "ALTER TABLE public.lessons DROP COLUMN y;\n"
            "ALTER TABLE public.lessons DROP COLUMN w;\n"
        ),
        "z_last.sql": "SELECT 1;\nSELECT 2;\nSELECT 3;\nUPDATE public.lessons SET y2 = y WHERE y2 IS NULL;\n",
    }
    assert [(file, line) for file, line, _ in files_hits(tmp_path, "drop-column", files)] == [("m_middle.sql", 4)]


def test_concurrent_index_in_transaction_names_each_statement_and_where(tmp_path: Path) -> None:
    sql = (
        "CREATE INDEX CONCURRENTLY ix_free ON public.lessons (a);\n"
        "BEGIN;\n"
        "CREATE INDEX ix_plain ON public.lessons (b);\n"
        "DROP TABLE public.old;\n"
        "CREATE INDEX CONCURRENTLY ON public.lessons (c);\n"
        "DROP INDEX CONCURRENTLY public.ix_x, public.ix_y;\n"
        "DROP INDEX public.ix_z;\n"
        "COMMIT;\n"
        "DO $$ BEGIN CREATE INDEX CONCURRENTLY ix_do ON public.lessons (d); END $$;\n"
    )
    assert rule_hits(tmp_path, "concurrent-index-in-transaction", sql) == [
        (6, 'CREATE INDEX CONCURRENTLY "(unnamed)" on public.lessons runs inside a transaction block and will fail'),
        (7, "DROP INDEX CONCURRENTLY public.ix_x, public.ix_y runs inside a transaction block and will fail"),
        (10, 'CREATE INDEX CONCURRENTLY "ix_do" on public.lessons runs inside a DO block and will fail'),
    ]


def test_unique_constraint_existing_table_names_the_kind_and_looks_past_using_index(tmp_path: Path) -> None:
    sql = (
        "ALTER TABLE public.lessons ADD CONSTRAINT a_key UNIQUE USING INDEX a_key;\n"
        "ALTER TABLE public.lessons ADD CONSTRAINT b_key UNIQUE (b);\n"
        "ALTER TABLE public.courses ADD CONSTRAINT courses_pkey PRIMARY KEY (id);\n"
    )
    assert [m.split(" on ")[0] for _, m in rule_hits(tmp_path, "unique-constraint-existing-table", sql)] == [
        'UNIQUE constraint "b_key"',
        'PRIMARY KEY constraint "courses_pkey"',
    ]


def test_constraint_missing_not_valid_names_the_kind_and_looks_past_not_valid(tmp_path: Path) -> None:
    sql = (
        "ALTER TABLE public.lessons ADD CONSTRAINT a_fk FOREIGN KEY (a) REFERENCES public.a (id) NOT VALID;\n"
        "ALTER TABLE public.lessons ADD CONSTRAINT b_fk FOREIGN KEY (b) REFERENCES public.b (id);\n"
        "ALTER TABLE public.lessons ADD CONSTRAINT c_pos CHECK (c > 0);\n"
    )
    assert [m.split(" on ")[0] for _, m in rule_hits(tmp_path, "constraint-missing-not-valid", sql)] == [
        'FOREIGN KEY constraint "b_fk"',
        'CHECK constraint "c_pos"',
    ]
