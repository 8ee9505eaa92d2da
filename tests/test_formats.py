"""Report formats (json contract, SARIF 2.1.0 against its schema, GitHub annotations, text) and CLI exit codes."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from orchestrator.checks import engine
from orchestrator.checks.model import CheckContext, Rule, Violation
from orchestrator.cli import main
from orchestrator.report import CheckReport, Finding, Severity
from orchestrator.report_formats import emit, to_github, to_sarif
from orchestrator.verification import StepStatus, Verification, VerificationStep

SCHEMA = Path(__file__).parent / "fixtures" / "sarif" / "sarif-schema-2.1.0.json"


class IndexRule(Rule):
    id = "test-plain-index"
    severity = Severity.ERROR
    family = "sql"
    summary = "`CREATE INDEX` without CONCURRENTLY"
    why = "It blocks writes."
    fix = "Use CREATE INDEX CONCURRENTLY."
    bad = "CREATE INDEX ix ON t (a);"
    good = "CREATE INDEX CONCURRENTLY ix ON t (a);"

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        for s in ctx.statements:
            if type(s.node).__name__ == "IndexStmt" and not s.node.concurrent:
                yield Violation(s.file, s.line, f"plain index {s.node.idxname}")


class JsonRule(IndexRule):
    id = "test-json"
    severity = Severity.WARNING
    family = "sql"
    summary = "a json column"

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        for s in ctx.statements:
            if "json" in s.sql and "jsonb" not in s.sql:
                yield Violation(s.file, s.line, "json, not jsonb", fix="Use jsonb.")


@pytest.fixture(autouse=True)
def stub_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "load_rules", lambda: [IndexRule(), JsonRule()])


def sample_report() -> CheckReport:
    return CheckReport(
        findings=[
            Finding(
                rule="test-plain-index", severity=Severity.ERROR, file="db/a b.sql", line=3, message="m: 1, 2", fix="f"
            ),
            Finding(rule="test-json", severity=Severity.WARNING, file="db/x.sql", line=None, message="100%\nsure"),
            Finding(rule="upgrade-failed", severity=Severity.ERROR, message="no file"),
        ]
    )


def test_json_is_the_v1_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sql = tmp_path / "m.sql"
    sql.write_text("SELECT 1;\nCREATE INDEX ix ON t (a);\nCREATE TABLE j (d json);\n", encoding="utf-8")
    code = main(["check", "--static-only", "--repo", str(tmp_path), str(sql), "--format", "json"])
    assert code == 1
    data = json.loads(capsys.readouterr().out)
    assert list(data) == ["version", "findings", "verification", "summary"]
    assert data["version"] == 1 and data["verification"] is None
    assert data["summary"] == {"errors": 1, "warnings": 1, "infos": 0}
    assert data["findings"] == [
        {
            "rule": "test-plain-index",
            "severity": "error",
            "file": "m.sql",
            "line": 2,
            "message": "plain index ix",
            "fix": "Use CREATE INDEX CONCURRENTLY.",
        },
        {
            "rule": "test-json",
            "severity": "warning",
            "file": "m.sql",
            "line": 3,
            "message": "json, not jsonb",
            "fix": "Use jsonb.",
        },
    ]


def test_sarif_validates_against_the_official_schema(tmp_path: Path) -> None:
    sarif = to_sarif(sample_report(), repo=tmp_path)
    jsonschema.validate(sarif, json.loads(SCHEMA.read_text(encoding="utf-8")))
    run = sarif["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert rules["test-plain-index"]["defaultConfiguration"]["level"] == "error"
    assert rules["test-plain-index"]["fullDescription"]["text"] == "It blocks writes."
    assert rules["test-json"]["defaultConfiguration"]["level"] == "warning"
    first = run["results"][0]
    assert first["ruleId"] == "test-plain-index" and first["level"] == "error"
    assert run["tool"]["driver"]["rules"][first["ruleIndex"]]["id"] == "test-plain-index"
    location = first["locations"][0]["physicalLocation"]
    assert location == {
        "artifactLocation": {"uri": "db/a%20b.sql", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 3},
    }
    assert "region" not in run["results"][1]["locations"][0]["physicalLocation"]
    assert "locations" not in run["results"][2]


def test_github_annotations_are_escaped() -> None:
    lines = list(to_github(sample_report()))
    assert lines[0] == "::error file=db/a b.sql,line=3,title=test-plain-index::m: 1, 2%0AFix: f"
    assert lines[1] == "::warning file=db/x.sql,title=test-json::100%25%0Asure"
    assert lines[2] == "::error title=upgrade-failed::no file"
    assert lines[-1] == "delegate: 2 errors, 1 warnings, 0 infos"


def test_text_groups_by_file_with_fixes_and_summary() -> None:
    out = io.StringIO()
    emit(sample_report(), "text", out=out)
    text = out.getvalue()
    assert text.index("db/a b.sql") < text.index("test-plain-index") < text.index("db/x.sql")
    assert "fix: f" in text
    assert "2 errors, 1 warnings, 0 infos" in text


def test_text_renders_the_verification_when_present() -> None:
    report = sample_report()
    report.verification = Verification(steps=[VerificationStep(name="upgrade", status=StepStatus.PASSED)])
    out = io.StringIO()
    emit(report, "text", out=out)  # must not fail, whether or not verify/render.py has landed
    assert "2 errors" in out.getvalue()


def test_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clean = tmp_path / "clean.sql"
    clean.write_text("CREATE INDEX CONCURRENTLY ix ON t (a);\n", encoding="utf-8")
    warn = tmp_path / "warn.sql"
    warn.write_text("CREATE TABLE j (d json);\n", encoding="utf-8")
    bad = tmp_path / "bad.sql"
    bad.write_text("CREATE INDEX ix ON t (a);\n", encoding="utf-8")
    args = ["check", "--static-only", "--repo", str(tmp_path), "--format", "json"]
    assert main([*args, str(clean)]) == 0
    assert main([*args, str(warn)]) == 0  # warnings do not block
    assert main([*args, str(bad)]) == 1
    assert main([*args, str(tmp_path / "missing.sql")]) == 2
    assert "missing.sql" in capsys.readouterr().err


def test_rules_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules"]) == 0
    listing = capsys.readouterr().out
    assert "test-plain-index" in listing and "test-json" in listing
    assert main(["rules", "test-plain-index"]) == 0
    page = capsys.readouterr().out
    assert "# test-plain-index" in page and "CREATE INDEX CONCURRENTLY ix" in page
    assert main(["rules", "test-plain-indx"]) == 2
    assert "test-plain-index" in capsys.readouterr().err  # the close match is suggested
