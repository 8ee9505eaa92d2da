"""Suppression comments: `-- delegate: ignore RULE[, RULE2] -- reason` (SQL) and `# delegate: ignore ...` (Python)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from orchestrator.checks.model import SqlStatement

_COMMENT = re.compile(
    r"(?:#|--)\s*delegate:\s*ignore\s+(?P<rules>[A-Za-z0-9_-]+(?:\s*,\s*[A-Za-z0-9_-]+)*)"
    r"(?:\s*--\s*(?P<reason>.*\S))?"
)


@dataclass
class Suppression:
    file: str
    line: int
    rules: frozenset[str]
    reason: str | None
    standalone: bool = True  # the comment is alone on its line (so it speaks about the line below)


def find_suppressions(rel: str, text: str) -> list[Suppression]:
    """Every suppression comment of a file (a cheap substring test first: most files have none)."""
    if "delegate:" not in text:
        return []
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        if "delegate:" not in line:
            continue
        m = _COMMENT.search(line)
        if m:
            rules = frozenset(r.strip() for r in m.group("rules").split(","))
            standalone = not line[: m.start()].strip()
            found.append(Suppression(rel, number, rules, m.group("reason"), standalone))
    return found


class SuppressionIndex:
    """Which rules are silenced on which line of which file.

    A comment silences its own line, and, when it stands alone on its line, the line below it. When it sits on a
    statement (on any line the statement spans, or alone on the line directly above it), it silences every line
    of that statement. A comment at the end of a line of code never reaches the next line.
    """

    def __init__(self, suppressions: Iterable[Suppression]) -> None:
        self.by_file: dict[str, dict[int, set[str]]] = {}
        self.comments: dict[str, dict[int, Suppression]] = {}
        for s in suppressions:
            lines = self.by_file.setdefault(s.file, {})
            for line in (s.line, s.line + 1) if s.standalone else (s.line,):
                lines.setdefault(line, set()).update(s.rules)
            self.comments.setdefault(s.file, {})[s.line] = s

    def attach(self, spans: Iterable[tuple[SqlStatement, int, int]]) -> None:
        """Fill each statement's `suppressed` and extend the silenced lines to the statements' whole spans.

        A span is (statement, first line, last line): for op.execute(...) it covers the whole call as well.
        """
        for stmt, first, last in spans:
            comments = self.comments.get(stmt.file)
            if not comments:
                continue
            rules: set[str] = set()
            above = comments.get(first - 1)
            if above is not None and above.standalone:
                rules.update(above.rules)
            for line in range(first, last + 1):
                if line in comments:
                    rules.update(comments[line].rules)
            if rules:
                stmt.suppressed = stmt.suppressed | rules
                lines = self.by_file[stmt.file]
                for line in range(first, last + 1):
                    lines.setdefault(line, set()).update(rules)

    def silences(self, rule: str, file: str | None, line: int | None) -> bool:
        if file is None or line is None:
            return False
        return rule in self.by_file.get(file, {}).get(line, ())
