"""Suppression comments in SQL and Python: on the line, on the statement, or on the line above it."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.check import CheckOptions
from orchestrator.checks import engine
from orchestrator.checks.model import CheckContext, Rule, Violation
from orchestrator.checks.suppress import find_suppressions
from orchestrator.config import DelegateConfig
from orchestrator.report import Severity


class TableRule(Rule):
    """Fires on every CREATE TABLE, at the statement's first line."""

    id = "test-table"
    severity = Severity.ERROR
    family = "sql"
    summary = why = fix = "test"
    bad = good = ""

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        for s in ctx.statements:
            if type(s.node).__name__ == "CreateStmt":
                yield Violation(s.file, s.line, f"table {s.node.relation.relname}")


class OtherRule(Rule):
    """Never fires: a known id for suppressions that must not silence test-table."""

    id = "other-rule"
    severity = Severity.ERROR
    family = "sql"
    summary = why = fix = "test"
    bad = good = ""


@pytest.fixture(autouse=True)
def stub_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "load_rules", lambda: [TableRule(), OtherRule()])


def run(tmp_path: Path, rel: str, text: str) -> list[tuple[str, int | None, str]]:
    path = tmp_path / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    found = engine.run_static(tmp_path, DelegateConfig(), CheckOptions(repo=tmp_path, paths=[path]))
    return [(f.rule, f.line, f.message) for f in found]


def test_parse_rules_and_reason() -> None:
    text = "x -- delegate: ignore a-b, c -- small table\ny # delegate: ignore d\n"
    got = [(s.line, sorted(s.rules), s.reason) for s in find_suppressions("f.sql", text)]
    assert got == [(1, ["a-b", "c"], "small table"), (2, ["d"], None)]


def test_sql_suppression_on_the_line_above_and_inside_the_statement(tmp_path: Path) -> None:
    found = run(
        tmp_path,
        "migration.sql",
        """
        -- delegate: ignore test-table -- lookup table, 12 rows
        CREATE TABLE a (id int);
        CREATE TABLE b (
          id int  -- delegate: ignore test-table -- created empty by design
        );
        CREATE TABLE c (id int);
        -- delegate: ignore other-rule -- only silences other-rule
        CREATE TABLE d (id int);
        """,
    )
    assert [(rule, line) for rule, line, _ in found] == [("test-table", 6), ("test-table", 8)]


def test_a_misspelt_rule_id_suppresses_nothing_and_says_so(tmp_path: Path) -> None:
    found = run(tmp_path, "migration.sql", "CREATE TABLE a (id int); -- delegate: ignore test-tabel -- lookup table\n")
    assert sorted((rule, line) for rule, line, _ in found) == [("suppression-unknown-rule", 1), ("test-table", 1)]
    assert any("did you mean test-table?" in message for _, _, message in found)


def test_suppression_without_reason_warns_and_still_suppresses(tmp_path: Path) -> None:
    found = run(tmp_path, "migration.sql", "CREATE TABLE a (id int); -- delegate: ignore test-table\n")
    assert [(rule, line) for rule, line, _ in found] == [("suppression-without-reason", 1)]


def test_python_suppression_on_an_op_execute_call(tmp_path: Path) -> None:
    found = run(
        tmp_path,
        "api/alembic/versions/aa11_x.py",
        '''
        from alembic import op

        revision = "aa11"
        down_revision = None


        def upgrade():
            # delegate: ignore test-table -- staging table, dropped next release
            op.execute(
                """
                CREATE TABLE a (id int);
                """
            )
            op.execute("CREATE TABLE b (id int)")  # delegate: ignore test-table -- same
            op.execute("CREATE TABLE c (id int)")
        ''',
    )
    assert [(rule, line) for rule, line, _ in found] == [("test-table", 15)]
