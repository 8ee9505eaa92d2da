"""A check report as the agent reads it: the findings as deterministic text, and the repair message of a round.

What goes to the model must be the same for the same work, run after run (a cassette replays request for request),
and must not leak where the tool runs: durations, servers, ports, absolute paths, timestamps, scratch database names
and process ids are left out or replaced by a placeholder.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from orchestrator.prompts import render_prompt
from orchestrator.report import CheckReport, Finding, Severity

MAX_BLOCKING = 40
MAX_WARNINGS = 20
MAX_CELLS = 40
_MAX_TEXT = 600

_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
_TIMESTAMP = re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?")
_DURATION = r"\d+(?:\.\d+)?\s?(?:ms|milliseconds?|s|secs?|seconds?|min|minutes?)\b"
_DURATION_ASIDE = re.compile(r"\s*\([^()]*?" + _DURATION + r"[^()]*\)")
_DURATION_ANY = re.compile(r"\b" + _DURATION)
_HOST_PORT = re.compile(r"\b(?:localhost|\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-f:]+\])(?::\d+)?", re.IGNORECASE)
_PORT = re.compile(r"\bport\s+\d+", re.IGNORECASE)
_PID = re.compile(r"\b(pid|process)\s+\d+", re.IGNORECASE)
_SCRATCH_NAME = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)*_\d+_[0-9a-f]{8}\b")  # prefix_host_pid_random
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/-])/(?:[\w.@+-]+/)+[\w.@+-]*")


def scrub(text: str, root: Path | str | None = None) -> str:
    """`text` without what differs between runs or machines; paths under `root` become repo-relative."""
    if root is not None:
        for prefix in {str(root), str(Path(root).resolve())}:
            text = text.replace(prefix.rstrip("/") + "/", "").replace(prefix, ".")
    text = _URL.sub("<url>", text)
    text = _TIMESTAMP.sub("<time>", text)
    text = _DURATION_ASIDE.sub("", text)
    text = _DURATION_ANY.sub("<time>", text)
    text = _HOST_PORT.sub("<server>", text)
    text = _PORT.sub("port <port>", text)
    text = _PID.sub(lambda m: f"{m.group(1)} <id>", text)
    text = _SCRATCH_NAME.sub("<scratch database>", text)
    text = _ABSOLUTE_PATH.sub("<path>", text)
    if len(text) > _MAX_TEXT:
        text = text[:_MAX_TEXT].rstrip() + " …"
    return text


def findings_for_agent(
    report: CheckReport, *, root: Path | str | None = None, writable: Sequence[str] | None = None
) -> str:
    """The report as text for the agent: blocking findings first (rule, file:line, message, fix), then warnings
    briefly, then the failed verification steps and RLS matrix cells. The same report gives the same text.

    `root` (the workspace) turns absolute paths under it into repo-relative ones; `writable` (the allowed folders)
    marks the blocking findings pinned to a file the agent cannot write, so it fixes them from its own side."""
    errors = sorted((f for f in report.findings if f.severity is Severity.ERROR), key=_order)
    warnings = sorted((f for f in report.findings if f.severity is Severity.WARNING), key=_order)
    lines = [_headline(len(errors), len(warnings))]
    if errors:
        lines += ["", "Blocking findings (each must be fixed):"]
        for n, f in enumerate(errors[:MAX_BLOCKING], start=1):
            lines.append(f"{n}. [{f.rule}] {_where(f, root)}: {scrub(f.message, root)}")
            if f.fix:
                lines.append(f"   fix: {scrub(f.fix, root)}")
            if (
                writable is not None
                and f.file
                and not any(f.file == w.rstrip("/") or f.file.startswith(w.rstrip("/") + "/") for w in writable)
            ):
                lines.append(
                    "   note: that file is outside the folders you may write; make your own files agree with it"
                )
        lines += _more(len(errors), MAX_BLOCKING, "blocking findings")
    if warnings:
        lines += ["", "Warnings (not blocking; fix them if it is cheap):"]
        lines += [f"- [{f.rule}] {_where(f, root)}: {scrub(f.message, root)}" for f in warnings[:MAX_WARNINGS]]
        lines += _more(len(warnings), MAX_WARNINGS, "warnings")
    verification = report.verification
    if verification is not None:
        failed = [s for s in verification.steps if s.status == "failed"]
        if failed:
            lines += ["", "Verification steps that failed on PostgreSQL:"]
            lines += [f"- {s.name}" + (f": {scrub(s.detail, root)}" if s.detail else "") for s in failed]
        cells = sorted(
            (c for c in verification.rls_matrix if not c.ok), key=lambda c: (c.table, c.actor, c.action, c.observed)
        )
        if cells:
            lines += ["", "RLS matrix cells that failed (table, who, what: expected, observed):"]
            for c in cells[:MAX_CELLS]:
                detail = f" ({scrub(c.detail, root)})" if c.detail else ""
                lines.append(
                    f"- {c.table}, {c.actor}, {c.action}: expected {c.expected}, observed {c.observed}{detail}"
                )
            lines += _more(len(cells), MAX_CELLS, "failed cells")
    return "\n".join(lines)


def repair_message(
    report: CheckReport,
    round_no: int,
    max_rounds: int,
    *,
    root: Path | str | None = None,
    writable: Sequence[str] | None = None,
) -> str:
    """The message that opens repair round `round_no` (1-based) of at most `max_rounds`."""
    if not 1 <= round_no <= max_rounds:
        raise ValueError(f"repair round {round_no} is outside 1..{max_rounds}")
    blocking = sum(1 for f in report.findings if f.severity is Severity.ERROR)
    text = render_prompt(
        "repair.md.j2",
        round_no=round_no,
        max_rounds=max_rounds,
        rounds_left=max_rounds - round_no,
        blocking=blocking,
        findings=findings_for_agent(report, root=root, writable=writable),
    )
    return text.strip() + "\n"


def _headline(errors: int, warnings: int) -> str:
    if not errors:
        return f"No blocking finding: the checks are green ({_count(warnings, 'warning')})."
    return f"The checks are red: {_count(errors, 'blocking finding')}, {_count(warnings, 'warning')}."


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _order(f: Finding) -> tuple[str, int, str, str]:
    return (f.file or "", f.line or 0, f.rule, f.message)


def _where(f: Finding, root: Path | str | None) -> str:
    if not f.file:
        return "(no file)"
    file = scrub(f.file, root)
    return f"{file}:{f.line}" if f.line else file


def _more(total: int, shown: int, noun: str) -> list[str]:
    return (
        [f"… and {total - shown} more {noun}, not shown: fix these first, then run_checks again"]
        if total > shown
        else []
    )
