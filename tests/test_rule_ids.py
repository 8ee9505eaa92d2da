"""One rule truth: every id a finding can carry is in the catalogue, and verify/ names live rules only by the enum.

(The rules' own bad and good examples are checked for known ids in test_rules_examples.py, which runs them.)"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

from orchestrator.check import CheckOptions, run_check
from orchestrator.checks.engine import known_rule_ids, load_rules
from orchestrator.checks.rules.live import LiveRule
from orchestrator.pg import PostgresServer
from orchestrator.report import Finding

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_APP = ROOT / "examples" / "cfi-app"
SOLUTION = ROOT / "examples" / "solutions" / "042-lesson-progress"
FIXTURE_SPECS = sorted(p for p in (ROOT / "tests" / "fixtures" / "specs").iterdir() if (p / "data-model.md").is_file())
KNOWN = known_rule_ids(load_rules())


def unknown(findings: list[Finding]) -> list[str]:
    return sorted({f.rule for f in findings} - KNOWN)


def example_copy(tmp_path: Path, solved: bool) -> Path:
    repo = tmp_path / "cfi-app"
    shutil.copytree(EXAMPLE_APP, repo, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    if solved:
        shutil.copytree(SOLUTION, repo, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return repo


def test_the_live_enum_is_the_catalogue_of_live_rules() -> None:
    assert {r.value for r in LiveRule} == {r.id for r in load_rules() if r.live}
    for rule in LiveRule:
        assert rule.severity is next(r.severity for r in load_rules() if r.id == rule.value)


def test_verify_names_no_rule_id_as_a_string_literal() -> None:
    """A typo in a live rule id cannot ship: verify/ reports through LiveRule, whose values are the catalogue's."""
    literals = []
    for path in sorted((ROOT / "orchestrator" / "verify").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in KNOWN:
                literals.append(f"{path.name}:{node.lineno} {node.value!r}")
    assert not literals, literals


@pytest.mark.parametrize("solved", [False, True], ids=["example", "example+042"])
@pytest.mark.parametrize("spec", [None, *FIXTURE_SPECS], ids=lambda p: p.name if p else "no-spec")
def test_static_findings_on_the_example_carry_known_ids(tmp_path: Path, solved: bool, spec: Path | None) -> None:
    repo = example_copy(tmp_path, solved)
    if spec is not None:
        shutil.copytree(spec, repo / "specs" / spec.name)
    options = CheckOptions(repo=repo, static_only=True, spec=Path("specs") / spec.name if spec else None)
    found = run_check(options).findings
    assert not unknown(found), found


@pytest.mark.postgres
def test_live_findings_on_a_broken_example_carry_known_ids(tmp_path: Path, pg_server: PostgresServer) -> None:
    """The solved example with a downgrade that forgets its table and a seed that fails: live findings fire."""
    repo = example_copy(tmp_path, solved=True)
    revision = repo / "api" / "alembic" / "versions" / "002_lesson_progress.py"
    text = revision.read_text(encoding="utf-8")
    assert 'op.drop_table("lesson_objectives")' in text
    revision.write_text(text.replace('op.drop_table("lesson_objectives")', "pass"), encoding="utf-8")
    report = run_check(CheckOptions(repo=repo, database_url=pg_server.admin_url))
    rules = {f.rule for f in report.findings}
    assert LiveRule.DOWNGRADE_LEAVES_TRACE in rules, report.findings
    assert not unknown(report.findings), report.findings
