"""SQL parsing: the fast tree build equals pglast's validated one; lines, syntax errors and bodies."""

from __future__ import annotations

from typing import Any

from pglast import ast

from orchestrator.checks.sqltext import (
    LineIndex,
    blank_psql_meta,
    parse_raw,
    parse_sql,
    psql_meta_commands,
    skip_trivia,
)

# A varied corpus: every family of statement the rules look at, and the odd corners of the grammar.
CORPUS = """
CREATE TABLE public.lessons (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  student_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
  title varchar(200) COLLATE "C" DEFAULT 'x' CHECK (length(title) > 0),
  score numeric(5, 2),
  tags text[] DEFAULT '{}',
  meta jsonb DEFAULT '{}'::jsonb,
  at timestamptz DEFAULT now(),
  total int GENERATED ALWAYS AS (score * 2) STORED,
  UNIQUE NULLS NOT DISTINCT (student_id, title)
) PARTITION BY RANGE (at);
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS ix ON lessons USING gin (meta jsonb_path_ops) WHERE score > 1;
ALTER TABLE lessons ADD COLUMN c int NOT NULL DEFAULT 0, ALTER COLUMN title TYPE text USING title::text,
  ADD CONSTRAINT fk FOREIGN KEY (c) REFERENCES x (id) NOT VALID, ALTER COLUMN c SET NOT NULL,
  DROP COLUMN IF EXISTS old CASCADE, VALIDATE CONSTRAINT fk;
ALTER TABLE lessons RENAME COLUMN a TO b;
ALTER TABLE lessons RENAME TO courses;
ALTER TABLE lessons ENABLE ROW LEVEL SECURITY;
ALTER TABLE lessons FORCE ROW LEVEL SECURITY;
CREATE POLICY own ON lessons AS PERMISSIVE FOR UPDATE TO authenticated
  USING ((select auth.uid()) = student_id) WITH CHECK (true);
GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO PUBLIC, anon;
REVOKE ALL ON lessons FROM anon;
CREATE TYPE mood AS ENUM ('a', 'b');
ALTER TYPE mood ADD VALUE IF NOT EXISTS 'c' AFTER 'b';
CREATE OR REPLACE FUNCTION f(a int, OUT b int) RETURNS SETOF record LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = '' AS $$ BEGIN RETURN QUERY SELECT 1; END $$;
CREATE TRIGGER t BEFORE UPDATE ON lessons FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION f();
WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5)
  UPDATE lessons l SET score = r.n FROM r WHERE l.id = r.n RETURNING l.*;
DELETE FROM lessons WHERE id = ANY(ARRAY[1, 2]) AND meta ->> 'k' IS NOT NULL;
INSERT INTO lessons (id, title) VALUES (1, E'it\\'s'), (2, $q$a;b$q$)
  ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title WHERE lessons.title <> EXCLUDED.title;
SELECT count(*) FILTER (WHERE x) OVER (PARTITION BY y ORDER BY z ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
  FROM t TABLESAMPLE SYSTEM (10) LIMIT 5 OFFSET 2 FOR UPDATE SKIP LOCKED;
SET lock_timeout = '5s';
SET LOCAL statement_timeout TO 1000;
DO $$ BEGIN PERFORM 1; END $$;
CREATE SEQUENCE s START 10 INCREMENT BY 2 OWNED BY lessons.id;
CREATE MATERIALIZED VIEW mv AS SELECT * FROM lessons WITH NO DATA;
REFRESH MATERIALIZED VIEW CONCURRENTLY mv;
COMMENT ON COLUMN lessons.title IS 'the title';
DROP TABLE IF EXISTS a, b CASCADE;
DROP INDEX CONCURRENTLY IF EXISTS ix;
CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA extensions;
BEGIN ISOLATION LEVEL SERIALIZABLE;
COMMIT AND CHAIN;
VACUUM (ANALYZE, VERBOSE) lessons;
LOCK TABLE lessons IN ACCESS EXCLUSIVE MODE NOWAIT;
"""


def same_tree(a: Any, b: Any, path: str = "") -> None:
    assert type(a) is type(b), f"{path}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, ast.Node):
        for attr in getattr(type(a), "__slots__", ()):
            same_tree(getattr(a, attr, None), getattr(b, attr, None), f"{path}.{attr}")
    elif isinstance(a, tuple):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same_tree(x, y, f"{path}[{i}]")
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def test_fast_parse_builds_the_same_trees_as_pglast() -> None:
    fast = parse_raw(CORPUS, fast=True)
    slow = parse_raw(CORPUS, fast=False)
    assert len(fast) == len(slow) > 30
    same_tree(fast, slow)
    # pglast's validation is back in force afterwards
    node = ast.IndexStmt()
    try:
        node.concurrent = "not a bool"  # type: ignore[assignment]
    except ValueError:
        pass
    else:
        raise AssertionError("Node.__setattr__ was not restored")


def test_statement_offsets_and_lines_with_multibyte_text() -> None:
    text = "-- ünïcödé 日本\n/* ✓ */\n\n   SELECT 'é';  -- trailing\nSELECT 2;"
    parsed, errors = parse_sql(text)
    assert errors == []
    lines = LineIndex(text)
    assert [(p.sql, lines.line(p.offset)) for p in parsed] == [("SELECT 'é'", 4), ("SELECT 2", 5)]


def test_skip_trivia_nested_comments() -> None:
    text = "  /* a /* b */ c */ -- d\n  SELECT"
    assert text[skip_trivia(text, 0) :] == "SELECT"


def test_syntax_error_offsets_point_at_the_bad_token() -> None:
    text = "SELECT 1;\n-- ééé\nSELECT frm x y;\nSELECT 3;"
    parsed, errors = parse_sql(text)
    assert [p.sql for p in parsed] == ["SELECT 1", "SELECT 3"]
    assert len(errors) == 1
    assert LineIndex(text).line(errors[0].offset) == 3
    assert text[errors[0].offset] == "y"


def test_fast_parse_equals_pglast_on_every_sql_example_of_the_project() -> None:
    from pathlib import Path

    from orchestrator.checks.docs import catalogue

    texts = [p.read_text(encoding="utf-8") for p in (Path(__file__).parent.parent / "examples").rglob("*.sql")]
    for rule in catalogue():
        for example in (rule.bad, rule.good):
            files = {rule.example_path: example} if isinstance(example, str) else example
            texts.extend(text for path, text in files.items() if path.endswith(".sql"))
    checked = 0
    for text in texts:
        try:
            slow = parse_raw(text, fast=False)
        except Exception:  # noqa: BLE001 - examples of sql-syntax-error are meant not to parse
            continue
        same_tree(parse_raw(text, fast=True), slow)
        checked += 1
    assert checked > 20


def test_validation_is_restored_after_a_fast_parse() -> None:
    parse_raw("SELECT true, 1;", fast=True)
    for node, attr in ((ast.IndexStmt(), "concurrent"), (ast.Boolean(), "boolval")):
        try:
            setattr(node, attr, "not a bool")
        except ValueError:
            continue
        raise AssertionError(f"{type(node).__name__}.__setattr__ was not restored")


PSQL_SCRIPT = (
    "\\set ON_ERROR_STOP on\n"
    "  \\echo seeding plans\n"
    "INSERT INTO plans (id) VALUES (1) ON CONFLICT (id) DO NOTHING;\n"
    "\\ir more.sql\n"
    "SELECT 2;\n"
)


def test_psql_meta_commands_are_left_out_and_lines_kept() -> None:
    statements, errors = parse_sql(PSQL_SCRIPT)
    assert errors == []
    index = LineIndex(PSQL_SCRIPT)
    assert [(s.sql.split()[0], index.line(s.offset)) for s in statements] == [("INSERT", 3), ("SELECT", 5)]
    assert [(m.line, m.command) for m in psql_meta_commands(PSQL_SCRIPT)] == [
        (1, "set ON_ERROR_STOP on"),
        (2, "echo seeding plans"),
        (4, "ir more.sql"),
    ]


def test_a_real_syntax_error_beside_meta_commands_is_still_reported_at_its_line() -> None:
    text = "\\set x 1\nSELEC 1;\nSELECT 2;\n"
    statements, errors = parse_sql(text)
    assert [s.sql for s in statements] == ["SELECT 2"]
    assert [LineIndex(text).line(e.offset) for e in errors] == [2]


def test_a_backslash_line_inside_sql_that_parses_is_left_alone() -> None:
    text = "INSERT INTO notes (body) VALUES ('first line\n\\not a meta-command');\n"
    (statement,), errors = parse_sql(text)
    assert errors == [] and "\\not a meta-command" in statement.sql
    assert blank_psql_meta(text) is not None  # it would match: only a failed parse tries the blanked text
