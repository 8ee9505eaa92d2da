"""Rule documentation: every rule has a complete page, and docs/rules/ is what scripts/gen_rule_docs.py writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.checks.docs import catalogue, rule_docs, rule_markdown
from orchestrator.checks.model import Rule

DOCS = Path(__file__).resolve().parent.parent / "docs" / "rules"
RULES = catalogue()


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_every_rule_page_is_complete(rule: Rule) -> None:
    page = rule_markdown(rule)
    for heading in ("## Why", "## Bad", "## Good", "## Fix"):
        assert heading in page, f"{rule.id}: no {heading}"
    assert rule.summary and rule.why and rule.fix, rule.id


def test_generated_docs_are_up_to_date() -> None:
    expected = rule_docs(RULES)
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in DOCS.glob("*.md")}
    stale = sorted(name for name in expected if on_disk.get(name) != expected[name])
    extra = sorted(set(on_disk) - set(expected))
    assert not stale and not extra, (
        f"docs/rules/ is out of date (changed: {stale}, no longer a rule: {extra}); "
        "run `python scripts/gen_rule_docs.py`"
    )
