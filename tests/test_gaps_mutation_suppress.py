"""Which lines a suppression comment silences, unit by unit (tests that kill mutants benchmarks/mutation.py found)."""

from __future__ import annotations

from orchestrator.checks.model import FileKind, Origin, SqlStatement
from orchestrator.checks.suppress import Suppression, SuppressionIndex, find_suppressions

# -- which lines a comment silences ----------------------------------------------------------------------


def statement(file: str, first: int, last: int) -> tuple[SqlStatement, int, int]:
    stmt = SqlStatement(
        sql="SELECT 1", node=None, file=file, line=first, kind=FileKind.SQL, origin=Origin.SQL_FILE, unit=file, index=0
    )
    return stmt, first, last


def index_of(files: dict[str, str]) -> SuppressionIndex:
    return SuppressionIndex(s for rel, text in files.items() for s in find_suppressions(rel, text))


def test_suppression_alone_on_its_line_silences_it_and_the_next_line_only() -> None:
    index = index_of({"m.sql": "SELECT 1;\n-- delegate: ignore r-a -- why\nSELECT 2;\nSELECT 3;\n"})
    assert [line for line in range(1, 6) if index.silences("r-a", "m.sql", line)] == [2, 3]
    assert not index.silences("r-b", "m.sql", 3)
    assert not index.silences("r-a", "other.sql", 3)


def test_suppression_after_code_silences_its_own_line_only() -> None:
    index = index_of({"m.sql": "SELECT 1; -- delegate: ignore r-a -- why\nSELECT 2;\n"})
    assert [line for line in range(1, 4) if index.silences("r-a", "m.sql", line)] == [1]


def test_a_suppression_built_without_standalone_speaks_about_the_next_line() -> None:
    index = SuppressionIndex([Suppression("m.sql", 4, frozenset({"r-a"}), None)])
    assert index.silences("r-a", "m.sql", 5)


def test_silences_without_a_file_or_line_is_false() -> None:
    index = index_of({"m.sql": "-- delegate: ignore r-a -- why\nSELECT 1;\n"})
    assert not index.silences("r-a", None, None)
    assert not index.silences("r-a", None, 1)
    assert not index.silences("r-a", "m.sql", None)


def test_attach_fills_the_statement_and_its_whole_span_but_not_the_line_after() -> None:
    text = "CREATE TABLE a (\n  id int\n); -- delegate: ignore r-a -- why\nSELECT 2;\nSELECT 3;\n"
    index = index_of({"m.sql": text})
    a, after = statement("m.sql", 1, 3), statement("m.sql", 4, 4)
    index.attach([a, after])
    assert a[0].suppressed == frozenset({"r-a"})
    assert after[0].suppressed == frozenset()
    assert [line for line in range(1, 6) if index.silences("r-a", "m.sql", line)] == [1, 2, 3]


def test_attach_keeps_what_the_statement_already_had() -> None:
    index = index_of({"m.sql": "SELECT 1; -- delegate: ignore r-a -- why\n"})
    stmt = statement("m.sql", 1, 1)
    stmt[0].suppressed = frozenset({"r-b"})
    index.attach([stmt])
    assert stmt[0].suppressed == frozenset({"r-a", "r-b"})


def test_a_comment_on_the_next_statement_does_not_reach_back() -> None:
    index = index_of({"m.sql": "SELECT 1;\nSELECT 2; -- delegate: ignore r-a -- why\n"})
    first, second = statement("m.sql", 1, 1), statement("m.sql", 2, 2)
    index.attach([first, second])
    assert (first[0].suppressed, second[0].suppressed) == (frozenset(), frozenset({"r-a"}))


def test_attach_goes_on_after_a_file_without_comments() -> None:
    index = index_of({"b.sql": "SELECT 1; -- delegate: ignore r-a -- why\n"})
    quiet, loud = statement("a.sql", 1, 1), statement("b.sql", 1, 1)
    index.attach([quiet, loud])
    assert loud[0].suppressed == frozenset({"r-a"})


def test_a_comment_on_the_first_line_silences_the_statement_down_to_its_last_line() -> None:
    index = index_of({"m.sql": "CREATE TABLE a ( -- delegate: ignore r-a -- why\n  id int\n);\nSELECT 2;\n"})
    index.attach([statement("m.sql", 1, 3), statement("m.sql", 4, 4)])
    assert [line for line in range(1, 6) if index.silences("r-a", "m.sql", line)] == [1, 2, 3]
