"""What a judge that checks the same workspace again and again keeps between runs, keyed by content.

The agent's loop judges a worktree after every tool call; most of its files did not change since the last call.
A `StaticMemo` keeps the parse of each SQL text (and of the DO/function bodies inside it), the revision files read
with ast and the op.* calls found in them, each under the text it came from: an edited file misses, an unchanged
one is not parsed again. The rules only read these trees, never change them. One-shot runs use no memo.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from orchestrator.checks.revision_sql import RevisionSql
    from orchestrator.checks.sqltext import ParsedStatement, SqlSyntaxError
    from orchestrator.revisions import RevisionFile

K = TypeVar("K")
V = TypeVar("V")

MAX_ENTRIES = 50_000  # per table; a run that goes beyond starts the table afresh (texts, not files: bodies count)


class StaticMemo:
    def __init__(self) -> None:
        self.parsed: dict[str, tuple[list[ParsedStatement], list[SqlSyntaxError]]] = {}
        self.bodies: dict[str, Any] = {}
        self.revision_files: dict[tuple[Path, str, str], RevisionFile] = {}
        self.revision_sql: dict[tuple[Path, str], RevisionSql] = {}
        self.hits = 0
        self.misses = 0

    def get(self, table: dict[K, V], key: K, build: Callable[[], V]) -> V:
        if key in table:
            self.hits += 1
            return table[key]
        self.misses += 1
        if len(table) >= MAX_ENTRIES:
            table.clear()
        value = table[key] = build()
        return value
