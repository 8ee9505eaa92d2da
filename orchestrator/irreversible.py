"""Downgrades that are irreversible on purpose: one that only raises, or a revision listed in irreversible_revisions."""

from __future__ import annotations

import ast
from collections.abc import Collection
from dataclasses import dataclass

from orchestrator.report import Finding, Severity
from orchestrator.revisions import RevisionFile

RULE = "irreversible-downgrade"


def only_raise(fn: ast.FunctionDef | None) -> ast.Raise | None:
    """The raise of a function whose body does nothing but raise (after a docstring, `pass` or `...`), else None."""
    if fn is None:
        return None
    raised: ast.Raise | None = None
    for stmt in fn.body:
        if isinstance(stmt, ast.Raise):
            raised = raised or stmt
        elif not (isinstance(stmt, ast.Pass) or (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant))):
            return None
    return raised


@dataclass(frozen=True)
class IrreversibleDowngrade:
    """Why a revision's downgrade is irreversible on purpose, and what the live half reports when it refuses."""

    revision: str
    file: str
    line: int | None
    raises: bool  # downgrade() only raises (the static rule reports it: the live half adds no finding)
    listed: bool  # named in irreversible_revisions

    @property
    def severity(self) -> Severity:
        return Severity.INFO if self.listed else Severity.WARNING

    @property
    def why(self) -> str:
        how = "its downgrade() only raises" if self.raises else "its downgrade() refuses"
        return how + (" (listed in irreversible_revisions)" if self.listed else "")

    def stops_here(self) -> str:
        """The live step's note: the round trip stops at this revision, on purpose."""
        return f"revision {self.revision} is irreversible on purpose ({self.why}): the downgrade stops there"

    def live_finding(self, error: str) -> Finding | None:
        """The finding for a refused downgrade: none when downgrade() only raises, since the static rule already
        reports that; an info for a listed revision whose downgrade tried and refused."""
        if self.raises:
            return None
        first = (error.strip().splitlines() or [""])[0]
        return Finding(
            rule=RULE,
            severity=self.severity,
            file=self.file,
            line=self.line,
            message=f"{self.revision}: irreversible on purpose (irreversible_revisions): its downgrade refuses: {first}",
            fix="",
        )


def irreversible_downgrade(rf: RevisionFile | None, listed_revisions: Collection[str]) -> IrreversibleDowngrade | None:
    """Whether `rf`'s downgrade is irreversible on purpose (None: a downgrade that fails is a defect).
    `listed_revisions` are the revisions irreversible_revisions names (RevisionGraph.named_by)."""
    if rf is None or rf.revision is None:
        return None
    raised = only_raise(rf.downgrade)
    listed = rf.revision in listed_revisions
    if raised is None and not listed:
        return None
    line = raised.lineno if raised is not None else (rf.downgrade.lineno if rf.downgrade is not None else None)
    return IrreversibleDowngrade(rf.revision, rf.rel, line, raises=raised is not None, listed=listed)
