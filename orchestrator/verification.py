"""What the live half did and saw (steps, RLS matrix, locks, plans, revision runs): pydantic models, since they
cross process boundaries as JSON. Imported only by runs that verify on PostgreSQL."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field, computed_field


class StepStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    WARNED = "warned"
    SKIPPED = "skipped"


class VerificationStep(BaseModel):
    name: str
    status: StepStatus
    seconds: float = 0.0
    detail: str = ""


class RlsCell(BaseModel):
    """One cell of the RLS allow/deny matrix: who tried what on which table, what was expected and seen."""

    table: str
    actor: str  # anon | authenticated:A | authenticated:B | service_role
    action: str  # select_own, select_other, insert_own, insert_other, update_other, delete_other ...
    expected: Literal["allow", "deny", "either"]  # either: the app's choice (an owner deleting its own rows)
    observed: Literal["allow", "deny", "error"]
    detail: str = ""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        return self.expected == self.observed or (self.expected == "either" and self.observed != "error")


class LockObservation(BaseModel):
    revision: str | None = None
    file: str | None = None
    line: int | None = None
    statement: str
    relation: str
    mode: str
    seconds: float = 0.0


class ExplainSummary(BaseModel):
    query: str
    plan: str  # the top plan lines, as EXPLAIN prints them
    seq_scans: list[str] = Field(default_factory=list)  # feature tables read by a sequential scan
    # feature tables read by walking a whole index and filtering every row ("schema.table (index name)")
    whole_index_scans: list[str] = Field(default_factory=list)


class RevisionRun(BaseModel):
    """One revision in a live run or a stairway walk."""

    revision: str
    file: str | None = None
    status: str  # round-trips | upgrade-failed | downgrade-failed | leaves-trace | reupgrade-failed | skipped
    upgrade_ms: float | None = None
    downgrade_ms: float | None = None
    estimated_ms: float | None = None
    detail: str = ""


class Verification(BaseModel):
    """What the live half did, step by step, and what it saw."""

    database: str = ""  # which server ran it (never a password)
    base_revision: str | None = None
    revisions: list[str] = Field(default_factory=list)
    steps: list[VerificationStep] = Field(default_factory=list)
    rls_matrix: list[RlsCell] = Field(default_factory=list)
    locks: list[LockObservation] = Field(default_factory=list)
    explains: list[ExplainSummary] = Field(default_factory=list)
    revision_runs: list[RevisionRun] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
