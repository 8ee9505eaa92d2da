"""Every rule's own examples: its `bad` example must fire it and its `good` example must not."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.check import CheckOptions
from orchestrator.checks.engine import load_rules, run_static
from orchestrator.checks.model import Rule
from orchestrator.config import load_config
from orchestrator.report import Finding

SPEC = Path("specs/001-example")
STATIC_RULES = [r for r in load_rules() if not r.live]


def write_example(root: Path, rule: Rule, example: str | dict[str, str]) -> None:
    files = {rule.example_path: example} if isinstance(example, str) else example
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")


def findings_for(root: Path, rule: Rule, example: str | dict[str, str]) -> list[Finding]:
    write_example(root, rule, example)
    options = CheckOptions(repo=root, static_only=True, spec=SPEC if rule.needs_spec else None)
    return run_static(root, load_config(root), options)


def describe(findings: list[Finding]) -> str:
    return "\n".join(f"  {f.rule} {f.file}:{f.line} {f.message}" for f in findings) or "  (no findings)"


@pytest.mark.skipif(not STATIC_RULES, reason="orchestrator.checks.rules is not there yet")
@pytest.mark.parametrize("rule", STATIC_RULES, ids=lambda r: r.id)
def test_bad_example_fires(rule: Rule, tmp_path: Path) -> None:
    found = findings_for(tmp_path, rule, rule.bad)
    assert not [f for f in found if f.rule == "internal-error"], describe(found)
    assert any(f.rule == rule.id for f in found), f"{rule.id} did not fire on its bad example:\n{describe(found)}"


@pytest.mark.skipif(not STATIC_RULES, reason="orchestrator.checks.rules is not there yet")
@pytest.mark.parametrize("rule", STATIC_RULES, ids=lambda r: r.id)
def test_good_example_is_clean(rule: Rule, tmp_path: Path) -> None:
    found = findings_for(tmp_path, rule, rule.good)
    assert not [f for f in found if f.rule == "internal-error"], describe(found)
    assert not any(f.rule == rule.id for f in found), f"{rule.id} fired on its good example:\n{describe(found)}"
