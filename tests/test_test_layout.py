"""The test suite's own layout: shared helpers come from tests/support, imported one way, and no test file imports
another (two import paths for one helper are two module objects, and the bare form may load another checkout's)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_tests_import_helpers_only_from_tests_support() -> None:
    files = sorted(p for p in TESTS.rglob("*.py") if "fixtures" not in p.relative_to(TESTS).parts)
    own = {p.stem for p in files} - {"__init__"}
    wrong = []
    for path in files:
        for module in _imported_modules(path):
            top = module.split(".")[0]
            if (
                top in own
                or top == "support"
                or (module.startswith("tests.") and not module.startswith("tests.support"))
            ):
                wrong.append(f"{path.relative_to(TESTS)} imports {module}")
    assert not wrong, "import shared helpers as `from tests.support.<module> import ...`: " + "; ".join(wrong)
