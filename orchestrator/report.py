"""The data every check produces: findings, and the report that carries them with the live verification.

Plain dataclasses: a static check may report tens of thousands of findings, and a run that never touches a
database should not pay for pydantic (the verification's models, in orchestrator/verification.py, do).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchestrator.verification import Verification


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"  # declared most severe first: the order findings are listed in


@dataclass(slots=True, kw_only=True)
class Finding:
    """One problem, pinned to a file (relative to the repo root) and a line, with what to do about it."""

    rule: str
    severity: Severity
    file: str | None = None
    line: int | None = None
    message: str
    fix: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The finding as the JSON contract spells it (keys in this order)."""
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "file": self.file,
            "line": self.line,
            "message": self.message,
            "fix": self.fix,
        }


@dataclass(slots=True)
class Summary:
    errors: int = 0
    warnings: int = 0
    infos: int = 0


@dataclass
class CheckReport:
    """The result of `delegate check`; its JSON form (to_dict) is a contract (version 1)."""

    version: int = 1
    findings: list[Finding] = field(default_factory=list)
    verification: Verification | None = None
    # What the check chose (the target and why), for the text report; not in the JSON (the live half's
    # verification.notes say it there).
    notes: list[str] = field(default_factory=list)

    @property
    def summary(self) -> Summary:
        counts = {s: 0 for s in Severity}
        for f in self.findings:
            counts[f.severity] += 1
        return Summary(errors=counts[Severity.ERROR], warnings=counts[Severity.WARNING], infos=counts[Severity.INFO])

    @property
    def blocking(self) -> bool:
        return any(f.severity is Severity.ERROR for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        """{"version", "findings", "verification", "summary"}: the v1 contract, in that key order."""
        s = self.summary
        return {
            "version": self.version,
            "findings": [f.to_dict() for f in self.findings],
            "verification": None if self.verification is None else self.verification.model_dump(mode="json"),
            "summary": {"errors": s.errors, "warnings": s.warnings, "infos": s.infos},
        }
