"""The report as the agent reads it: deterministic, blocking first, nothing that differs between runs or machines."""

from __future__ import annotations

import random

import pytest

from orchestrator.repair import MAX_BLOCKING, findings_for_agent, repair_message, scrub
from orchestrator.report import CheckReport, Finding, Severity


def _report(n_errors: int = 2, n_warnings: int = 1) -> CheckReport:
    findings = [
        Finding(
            rule="downgrade-missing", severity=Severity.ERROR, file=f"v/{i:04}.py", line=i, message=f"e{i}", fix="f"
        )
        for i in range(n_errors)
    ] + [
        Finding(rule="lock", severity=Severity.WARNING, file="v/w.py", line=i, message=f"w{i}")
        for i in range(n_warnings)
    ]
    return CheckReport(findings=findings)


def test_the_same_findings_in_any_order_give_the_same_text() -> None:
    report = _report(5, 3)
    text = findings_for_agent(report)
    shuffled = list(report.findings)
    random.Random(7).shuffle(shuffled)
    assert findings_for_agent(CheckReport(findings=shuffled)) == text


def test_long_reports_are_cut_with_a_count() -> None:
    text = findings_for_agent(_report(MAX_BLOCKING + 5, 0))
    assert f"{MAX_BLOCKING}. [downgrade-missing]" in text
    assert f"{MAX_BLOCKING + 1}. " not in text
    assert "… and 5 more blocking findings" in text


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("took 1.25 s", "took <time>"),
        ("holds SHARE on t (45 ms here, with 1000 rows)", "holds SHARE on t"),
        ("server 127.0.0.1:5432 refused", "server <server> refused"),
        ("on localhost port 55432", "on <server> port <port>"),
        ("postgresql://postgres@127.0.0.1:5432/db failed", "<url> failed"),
        ("at 2026-12-01T23:01:25.123Z", "at <time>"),
        ("database delegate_s_box1_31337_deadbeef", "database <scratch database>"),
        ("in /tmp/pytest-1/wt/api/x.py", "in <path>"),
        ("pid 4242 died", "pid <id> died"),
        ("a / b and c/d stay", "a / b and c/d stay"),
        ("select 1;", "select 1;"),
    ],
)
def test_scrub_leaves_out_what_differs_between_runs(text: str, scrubbed: str) -> None:
    assert scrub(text) == scrubbed


def test_scrub_makes_paths_under_the_root_relative() -> None:
    assert scrub("/w/tree/api/x.py:3: bad; see /w/tree", root="/w/tree") == "api/x.py:3: bad; see ."


def test_repair_message_names_the_round_and_what_to_do() -> None:
    first = repair_message(_report(), 1, 3)
    assert first.startswith("Round 1 of 3: after your submit, delegate ran every check itself")
    assert "2 blocking findings remain" in first
    assert findings_for_agent(_report()) in first
    assert "2 more rounds after this one." in first
    last = repair_message(_report(1), 3, 3)
    assert "1 blocking finding remains" in last
    assert "This is the last round" in last
    assert repair_message(_report(), 2, 3) == repair_message(_report(), 2, 3)
    with pytest.raises(ValueError):
        repair_message(_report(), 4, 3)


def test_findings_on_files_the_agent_cannot_write_say_so() -> None:
    report = CheckReport(
        findings=[
            Finding(rule="models-drift", severity=Severity.ERROR, file="api/app/models/__init__.py", message="m"),
            Finding(rule="downgrade-missing", severity=Severity.ERROR, file="api/alembic/versions/2.py", message="d"),
            Finding(rule="deliverable-missing", severity=Severity.ERROR, message="no seed"),
        ]
    )
    text = findings_for_agent(report, writable=["api/alembic/versions", "seeds"])
    assert text.count("note: that file is outside the folders you may write") == 1
    lines = text.splitlines()
    drift = next(n for n, line in enumerate(lines) if "[models-drift]" in line)
    assert lines[drift + 1].startswith("   note: that file is outside")
    assert "note:" not in findings_for_agent(report)
