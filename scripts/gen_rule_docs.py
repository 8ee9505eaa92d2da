"""Writes docs/rules/<id>.md for every rule (and docs/rules/README.md), from the rules themselves."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from orchestrator.checks.docs import write_rule_docs  # noqa: E402


def main() -> int:
    written = write_rule_docs(ROOT / "docs" / "rules")
    print(f"wrote {len(written)} files to docs/rules/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
