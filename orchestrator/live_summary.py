"""The live verification in a few lines that fit 80 columns (the whole tables are `--verbose`'s)."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from orchestrator.verification import RlsCell, StepStatus, Verification

if TYPE_CHECKING:
    from rich.console import Console

ACTORS = ("anon", "authenticated:A", "authenticated:B", "service_role")
ACTOR_LABEL = {"authenticated:A": "user A", "authenticated:B": "user B"}
VERBS = ("select", "insert", "update", "delete")
STRONG_LOCKS = ("ACCESS EXCLUSIVE", "EXCLUSIVE", "SHARE", "SHARE ROW EXCLUSIVE")
_LISTED = 5  # failing revisions, wrong cells, locks, flagged plans listed before "and N more"


def action_order(action: str) -> tuple[int, str]:
    """RLS actions in verb order (select, insert, update, delete), then by target (own, other)."""
    verb, _, target = action.partition("_")
    return (VERBS.index(verb) if verb in VERBS else len(VERBS), target)


def actors_of(cells: list[RlsCell]) -> list[str]:
    seen = {c.actor for c in cells}
    return [a for a in ACTORS if a in seen] + sorted(seen - set(ACTORS))


def cell_words(cell: RlsCell) -> str:
    """A wrong cell in words: `anon select own: allowed, want denied`."""
    seen = {"allow": "allowed", "deny": "denied", "error": "error"}[cell.observed]
    want = {"allow": "allowed", "deny": "denied", "either": "either"}[cell.expected]
    actor = ACTOR_LABEL.get(cell.actor, cell.actor)
    return f"{actor} {cell.action.replace('_', ' ')}: {seen}, want {want}"


def _fit(text: str, width: int) -> str:
    indent = text[: len(text) - len(text.lstrip())]
    text = indent + " ".join(text.split())
    return text if len(text) <= width else text[: max(width - 1, 1)] + "…"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def summary_lines(verification: Verification, width: int = 80) -> list[tuple[str, str]]:
    """(style, line) pairs, each line at most `width` characters; notes come last, whole (they are prose)."""
    lines: list[tuple[str, str]] = []

    def add(text: str, style: str = "") -> None:
        lines.append((style, _fit(text, width)))

    title = "Live verification" + (f" on {verification.database}" if verification.database else "")
    add(title, "bold")
    revisions = verification.revisions
    base = verification.base_revision or "an empty database"
    if len(revisions) > 3:
        add(f"{len(revisions)} revisions under test: {revisions[0]} … {revisions[-1]} (base: {base})")
    elif revisions:
        add(f"revisions under test: {', '.join(revisions)} (base: {base})")

    counts = Counter(s.status for s in verification.steps)
    total = sum(counts.values())
    parts = [f"{counts[s]} {s.value}" for s in StepStatus if counts[s]]
    style = "red" if counts[StepStatus.FAILED] else ("yellow" if counts[StepStatus.WARNED] else "green")
    add(f"steps: {', '.join(parts) or 'none'} (of {total})", style)
    for step in verification.steps:
        if step.status is StepStatus.PASSED:
            continue
        seconds = "" if step.status is StepStatus.SKIPPED else f" {step.seconds:.2f} s"
        add(f"  {step.status.value:<7} {step.name}{seconds}: {step.detail}", _STEP_STYLE[step.status])

    runs = verification.revision_runs
    if runs:
        statuses = Counter(r.status for r in runs)
        add("revisions: " + ", ".join(f"{n} {s}" for s, n in statuses.most_common()))
        bad = [r for r in runs if r.status not in ("round-trips", "skipped")]
        for run in bad[:_LISTED]:
            detail = run.detail.splitlines()[0] if run.detail else ""
            add(f"  {run.revision} {run.status}: {detail or run.file or ''}", "red")
        if len(bad) > _LISTED:
            add(f"  and {len(bad) - _LISTED} more", "red")
        timed = sorted((r for r in runs if r.upgrade_ms is not None), key=lambda r: -(r.upgrade_ms or 0))
        if timed:
            slow = timed[0]
            add(
                f"  slowest: {slow.revision} up {_ms(slow.upgrade_ms)}, down {_ms(slow.downgrade_ms)}"
                + (f", estimated {_ms(slow.estimated_ms)}" if slow.estimated_ms is not None else ""),
                "dim",
            )

    cells = verification.rls_matrix
    if cells:
        tables = sorted({c.table for c in cells})
        wrong = [c for c in cells if not c.ok]
        if not wrong:
            add(f"RLS matrix: {len(cells)} cells on {len(tables)} table(s), all as expected", "green")
        else:
            add(f"RLS matrix: {len(wrong)} of {len(cells)} cells wrong on {len(tables)} table(s)", "red")
            for cell in wrong[:_LISTED]:
                add(f"  {cell.table} {cell_words(cell)}", "red")
            if len(wrong) > _LISTED:
                add(f"  and {len(wrong) - _LISTED} more", "red")

    locks = verification.locks
    if locks:
        modes = Counter(lock.mode for lock in locks)
        add("locks on existing tables: " + ", ".join(f"{n} {m}" for m, n in modes.most_common()))
        order = sorted(locks, key=lambda lk: (lk.mode != "ACCESS EXCLUSIVE", -lk.seconds))
        for lock in order[:_LISTED]:
            style = "red" if lock.mode in ("ACCESS EXCLUSIVE", "SHARE") else ""
            held = f"{lock.seconds * 1000:.0f} ms"
            add(f"  {lock.relation} {lock.mode} {held} ({lock.revision or '-'}): {lock.statement}", style)
        if len(locks) > _LISTED:
            add(f"  and {len(locks) - _LISTED} more")

    explains = verification.explains
    if explains:
        flagged = [e for e in explains if e.seq_scans or e.whole_index_scans]
        add(
            f"EXPLAIN: {len(explains)} query pattern(s), {len(flagged)} reading a whole table or index",
            "red" if flagged else "green",
        )
        for e in flagged[:_LISTED]:
            add(f"  {', '.join(e.seq_scans + e.whole_index_scans)}: {e.query}", "red")
    return lines


_STEP_STYLE = {
    StepStatus.PASSED: "green",
    StepStatus.FAILED: "red",
    StepStatus.WARNED: "yellow",
    StepStatus.SKIPPED: "dim",
}


def render_summary(verification: Verification, console: Console) -> None:
    """Print summary_lines() at the console's width, then the notes and a pointer to --verbose."""
    from rich.text import Text

    body = Text()
    for style, line in summary_lines(verification, width=min(console.width, 100)):
        body.append(line + "\n", style=style or None)
    for note in verification.notes:
        body.append(f"note: {note}\n", style="dim")
    body.append("(--verbose: every step, revision, RLS cell, lock and plan)\n", style="dim")
    console.print(body, end="", highlight=False)
