"""`delegate review` printed: text for a terminal (80 columns), Markdown for a pull request body, JSON for programs."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, TextIO

from orchestrator.errors import InputError
from orchestrator.live_summary import ACTOR_LABEL, action_order, actors_of
from orchestrator.report import Severity
from orchestrator.verification import RlsCell, Verification

if TYPE_CHECKING:
    from orchestrator.review import BranchReview

REVIEW_FORMATS = ("text", "markdown", "json")


def emit_review(review: BranchReview, fmt: str, out: TextIO | None = None, verbose: bool = False) -> None:
    stream = out or sys.stdout
    if fmt == "json":
        stream.write(json.dumps(review.to_dict(), indent=2, ensure_ascii=False) + "\n")
    elif fmt == "markdown":
        stream.write(to_markdown(review))
    elif fmt == "text":
        render_review_text(review, stream, verbose=verbose)
    else:
        raise InputError(f"--format {fmt}: unknown format", f"use one of {', '.join(REVIEW_FORMATS)}")


def _ref(review: BranchReview, quote: str = "") -> str:
    """The base's name: a branch, or (made from a bare commit) the commit it was made from."""
    ref = review.base_ref
    if len(ref) == 40 and all(c in "0123456789abcdef" for c in ref):
        return "the commit it was made from"
    return f"{quote}{ref}{quote}"


def _usage_line(usage: dict[str, str]) -> str:
    parts = [usage.get("delegated_to", "?"), usage.get("model", "?")]
    if "tokens" in usage:
        parts.append(f"{usage['tokens']} tokens")
    if "cost_usd" in usage:
        parts.append(f"${usage['cost_usd']}")
    if "cassette" in usage:
        parts.append(f"cassette {usage['cassette']}")
    return ", ".join(parts)


# -- text ----------------------------------------------------------------------------------------------------------


def render_review_text(review: BranchReview, stream: TextIO, verbose: bool = False) -> None:
    from rich.console import Console
    from rich.text import Text

    from orchestrator.report_formats import render_text

    console = Console(file=stream, highlight=False, soft_wrap=True)
    head = Text()
    head.append(f"{review.branch}", style="bold")
    head.append(f" at {review.commit[:12]}, over {_ref(review)} at {review.base[:12]}\n")
    head.append(f"  {len(review.commits)} commit(s), {len(review.files)} file(s)")
    head.append(f"; feature {review.feature_folder}\n" if review.feature_folder else "; no feature folder found\n")
    if review.usage:
        usage = {k: v for k, v in review.usage.items() if k != "cassette"}
        head.append(f"  agent session: {_usage_line(usage)}\n")
        if "cassette" in review.usage:
            head.append(f"  replayed from cassette {review.usage['cassette']}\n")
        if "checks" in review.usage:
            head.append(f"  checks when committed: {review.usage['checks']}\n")
    else:
        head.append("  no agent session recorded (no Delegated-to trailer)\n", style="dim")
    listed = review.files if verbose else review.files[:15]
    for path in listed:
        head.append(f"  + {path}\n", style="dim")
    if len(review.files) > len(listed):
        head.append(f"  and {len(review.files) - len(listed)} more (--verbose)\n", style="dim")
    if review.plan is not None:
        head.append(f"{review.plan.file}: ", style="bold")
        statuses = ", ".join(f"{rev} {status}" for rev, status in review.plan.revisions.items())
        head.append((statuses or "no revision statuses") + "\n")
    else:
        head.append("no migration-plan.md on the branch\n", style="dim")
    console.print(head, end="")
    console.print()
    console.print(Text("Checks re-run on the branch's content", style="bold"))
    render_text(review.report, stream, console=console, verbose=verbose)


# -- markdown ------------------------------------------------------------------------------------------------------


def _md(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _mark(cell: RlsCell) -> str:
    mark = {"allow": "✓", "deny": "✗", "error": "⚠ error"}[cell.observed]
    if cell.observed == "error":
        return f"**{mark}** 🔴"
    if cell.ok:
        return mark if cell.expected != "either" else f"{mark} (either)"
    want = "✓" if cell.expected == "allow" else "✗"
    return f"**{mark}** 🔴 want {want}"


def rls_markdown(verification: Verification) -> list[str]:
    """The RLS matrix as one ✓/✗ table per database table; a wrong cell is bold, marked 🔴 and says what was wanted."""
    lines: list[str] = []
    cells = verification.rls_matrix
    actors = actors_of(cells)
    by_table: dict[str, dict[str, dict[str, RlsCell]]] = {}
    for cell in cells:
        by_table.setdefault(cell.table, {}).setdefault(cell.action, {})[cell.actor] = cell
    for table, by_action in by_table.items():
        wrong = sum(1 for row in by_action.values() for c in row.values() if not c.ok)
        lines += ["", f"**`{table}`**" + (f": {wrong} wrong cell(s)" if wrong else ""), ""]
        lines.append("| action | " + " | ".join(ACTOR_LABEL.get(a, a) for a in actors) + " |")
        lines.append("|---" * (len(actors) + 1) + "|")
        for action in sorted(by_action, key=action_order):
            row = by_action[action]
            marks = [_mark(row[a]) if a in row else "" for a in actors]
            lines.append(f"| {action.replace('_', ' ')} | " + " | ".join(marks) + " |")
    return lines


def to_markdown(review: BranchReview) -> str:
    """A pull request body: what the branch adds, the checks re-run on it, the RLS matrix, locks and timings."""
    report = review.report
    s = report.summary
    verdict = "❌ blocking findings" if report.blocking else "✅ no blocking finding"
    v = report.verification
    where = "static rules and a live run on PostgreSQL" if v is not None else "static rules only, no live run"
    feature = f"`{review.feature_folder}`" if review.feature_folder else f"`{review.branch}`"
    lines = [
        f"## Database migrations for {feature}",
        "",
        f"Branch `{review.branch}` (`{review.commit[:12]}`) over {_ref(review, '`')} (`{review.base[:12]}`): "
        f"{len(review.commits)} commit(s), {len(review.files)} file(s).",
        "",
        f"**Checks** ({where}, re-run by `delegate review`): {verdict}: "
        f"{s.errors} errors, {s.warnings} warnings, {s.infos} infos.",
    ]
    if review.usage:
        lines += ["", f"**Agent session**: {_md(_usage_line(review.usage))}"]
        if "checks" in review.usage:
            lines.append(f"(checks when committed: {_md(review.usage['checks'])})")
    lines += ["", "### Files", ""]
    lines += [f"- `{path}`" for path in review.files] or ["- none"]
    if review.plan is not None:
        lines += ["", f"### Plan ([{review.plan.file}]({review.plan.file}))", ""]
        if review.plan.rows:
            lines += ["| Entity | Operation | File | Status |", "|---|---|---|---|"]
            lines += [
                f"| `{_md(r.entity)}` | {_md(r.operation)} | `{_md(r.file)}` | {_md(r.status)} |"
                for r in review.plan.rows
            ]
        if review.plan.revisions:
            lines.append("")
        for rev, status in review.plan.revisions.items():
            lines.append(f"- `{rev}`: {status}")
    lines += ["", "### Findings", ""]
    if report.findings:
        lines += ["| Severity | Rule | Where | Message |", "|---|---|---|---|"]
        icon = {Severity.ERROR: "❌ error", Severity.WARNING: "⚠️ warning", Severity.INFO: "ℹ️ info"}
        for f in report.findings:
            at = f"`{f.file}:{f.line}`" if f.file and f.line else (f"`{f.file}`" if f.file else "")
            lines.append(f"| {icon[f.severity]} | `{f.rule}` | {at} | {_md(f.message)} |")
    else:
        lines.append("No finding.")
    if v is not None:
        lines += ["", "### Live verification", ""]
        base = v.base_revision or "an empty database"
        lines.append(f"Revisions under test: {', '.join(f'`{r}`' for r in v.revisions) or 'none'} (base: `{base}`).")
        lines += ["", "| Step | Status | Time | Detail |", "|---|---|---|---|"]
        for step in v.steps:
            lines.append(f"| {step.name} | {step.status.value} | {step.seconds:.2f} s | {_md(step.detail)} |")
        if v.rls_matrix:
            wrong = [c for c in v.rls_matrix if not c.ok]
            lines += [
                "",
                "### RLS matrix",
                "",
                f"✓ allowed, ✗ denied; 🔴 a cell that differs from what the policy should do "
                f"({len(wrong)} of {len(v.rls_matrix)}).",
            ]
            lines += rls_markdown(v)
        if v.revision_runs or v.locks:
            lines += ["", "### Locks and timings", ""]
        if v.revision_runs:
            lines += ["| Revision | Status | Upgrade | Downgrade | Estimated |", "|---|---|---|---|---|"]
            for run in v.revision_runs:
                cells = [
                    f"{x:.0f} ms" if x is not None else "-"
                    for x in (run.upgrade_ms, run.downgrade_ms, run.estimated_ms)
                ]
                lines.append(f"| `{run.revision}` | {run.status} | " + " | ".join(cells) + " |")
        if v.locks:
            lines += ["", "| Revision | Relation | Mode | Held | Statement |", "|---|---|---|---|---|"]
            for lock in v.locks:
                statement = lock.statement if len(lock.statement) <= 80 else lock.statement[:79] + "…"
                mode = f"**{lock.mode}**" if lock.mode in ("ACCESS EXCLUSIVE", "SHARE") else lock.mode
                lines.append(
                    f"| `{lock.revision or ''}` | `{lock.relation}` | {mode} | {lock.seconds * 1000:.0f} ms "
                    f"| `{_md(statement)}` |"
                )
        if v.explains:
            lines += ["", "| Query pattern | Scans a whole table or index |", "|---|---|"]
            for e in v.explains:
                flagged = ", ".join(e.seq_scans + e.whole_index_scans) or "no"
                lines.append(f"| {_md(e.query)} | {_md(flagged)} |")
    lines += ["", "_Generated by `delegate review`: the checks above ran again on this branch's files._", ""]
    return "\n".join(lines)
