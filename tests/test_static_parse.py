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
from tests.support.sql_corpus import CORPUS


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
