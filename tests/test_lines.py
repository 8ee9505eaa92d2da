"""LineIndex gives the line that counting newlines gives, for every offset of any text."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from orchestrator.lines import LineIndex


@given(st.text(alphabet="ab\n\r;", max_size=200), st.data())
def test_line_index_matches_counting_newlines(text: str, data: st.DataObject) -> None:
    index = LineIndex(text)
    for offset in data.draw(st.lists(st.integers(min_value=-3, max_value=len(text) + 3), max_size=20)):
        assert index.line(offset) == text.count("\n", 0, max(offset, 0)) + 1


def test_a_secret_deep_in_a_large_file_is_found_on_its_line() -> None:
    from pathlib import Path

    from orchestrator.check import CheckOptions, run_check

    statements = [f"SELECT {i};" for i in range(3000)]
    statements[2500] = "CREATE ROLE r LOGIN PASSWORD 'Tr0ub4dor&3-reporting';"
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.sql"
        path.write_text("\n".join(statements) + "\n", encoding="utf-8")
        report = run_check(CheckOptions(repo=Path(tmp), paths=[path], static_only=True))
    [finding] = [f for f in report.findings if f.rule == "secret-in-migration"]
    assert finding.line == 2501
