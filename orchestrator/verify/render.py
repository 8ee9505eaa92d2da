"""Text rendering of the live verification: steps, revision runs, the RLS matrix, locks and EXPLAIN summaries."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from orchestrator.verification import StepStatus, Verification

_STATUS_STYLE = {
    StepStatus.PASSED: "[green]passed[/]",
    StepStatus.FAILED: "[red]failed[/]",
    StepStatus.WARNED: "[yellow]warned[/]",
    StepStatus.SKIPPED: "[dim]skipped[/]",
}
_ACTORS = ("anon", "authenticated:A", "authenticated:B", "service_role")
_ACTOR_LABEL = {"authenticated:A": "user A", "authenticated:B": "user B"}
_VERBS = ("select", "insert", "update", "delete")


def _action_order(action: str) -> tuple[int, str]:
    verb, _, target = action.partition("_")
    return (_VERBS.index(verb) if verb in _VERBS else len(_VERBS), target)


def _cell(expected: str, observed: str) -> str:
    mark = {"allow": "✓", "deny": "✗", "error": "!"}[observed]
    if observed == "error":
        return f"[magenta]{mark} error[/]"
    if expected == observed:
        return f"[green]{mark}[/]"
    if expected == "either":
        return f"[dim]{mark}[/]"  # the app's choice: neither a leak nor an overblock
    return f"[bold red]{mark} (want {'✓' if expected == 'allow' else '✗'})[/]"


def render_verification(verification: Verification, console: Console) -> None:
    """Print the verification section of `delegate check` (JSON output is `verification.model_dump()`)."""
    title = "Live verification"
    if verification.database:
        title += f" on {escape(verification.database)}"
    console.print(f"[bold]{title}[/]")
    if verification.revisions:
        base = verification.base_revision or "an empty database"
        console.print(escape(f"revisions under test: {', '.join(verification.revisions)} (base: {base})"))

    steps = Table(title="Steps", title_justify="left", show_edge=False)
    steps.add_column("step")
    steps.add_column("status")
    steps.add_column("time", justify="right")
    steps.add_column("detail", overflow="fold")
    for step in verification.steps:
        time = "" if step.status is StepStatus.SKIPPED else f"{step.seconds:.2f} s"
        steps.add_row(escape(step.name), _STATUS_STYLE[step.status], time, escape(step.detail))
    console.print(steps)

    if verification.revision_runs:
        rows = [
            {
                "revision": run.revision,
                "status": run.status,
                **{
                    name: f"{value:.0f} ms" if value is not None else ""
                    for name, value in (
                        ("upgrade", run.upgrade_ms),
                        ("downgrade", run.downgrade_ms),
                        ("estimated", run.estimated_ms),
                    )
                },
                "file": run.file or "",
                "detail": run.detail.splitlines()[0][:120] if run.detail else "",  # why it failed or was skipped
            }
            for run in verification.revision_runs
        ]
        # Columns empty in every row are left out, so the rest fits an 80-column terminal.
        columns = [c for c in rows[0] if c in ("revision", "status") or any(row[c] for row in rows)]
        runs = Table(title="Revisions", title_justify="left", show_edge=False)
        for column in columns:
            right = column in ("upgrade", "downgrade", "estimated")
            no_wrap = column in ("revision", "status")
            runs.add_column(column, justify="right" if right else "left", no_wrap=no_wrap, overflow="fold")
        for row in rows:
            runs.add_row(*(escape(row[c]) for c in columns))
        console.print(runs)

    if verification.rls_matrix:
        console.print(
            "[bold]RLS matrix[/] (✓ allowed, ✗ denied, dim: the app's choice; own/other: the acting user's rows or the other user's)"
        )
        actors = [a for a in _ACTORS if any(c.actor == a for c in verification.rls_matrix)]
        by_table: dict[str, dict[str, dict[str, str]]] = {}
        for cell in verification.rls_matrix:
            by_table.setdefault(cell.table, {}).setdefault(cell.action, {})[cell.actor] = _cell(
                cell.expected, cell.observed
            )
        for table, by_action in by_table.items():
            # One small table per database table keeps full names readable in an 80-column terminal.
            console.print(
                escape(table), style="bold", highlight=False
            )  # not a title: rich wraps titles to the table's width
            matrix = Table(show_edge=False, pad_edge=False)
            matrix.add_column("action")
            for actor in actors:
                matrix.add_column(_ACTOR_LABEL.get(actor, actor), justify="center")
            for action in sorted(by_action, key=_action_order):
                matrix.add_row(escape(action.replace("_", " ")), *(by_action[action].get(a, "") for a in actors))
            console.print(matrix)

    if verification.locks:
        locks = Table(title="Locks on existing tables", title_justify="left", show_edge=False)
        for column in ("revision", "relation", "mode", "time", "statement"):
            locks.add_column(column, justify="right" if column == "time" else "left", overflow="fold")
        for lock in verification.locks:
            style = "bold red" if lock.mode in ("ACCESS EXCLUSIVE", "SHARE") else ""
            mode = f"[{style}]{escape(lock.mode)}[/]" if style else escape(lock.mode)
            statement = lock.statement if len(lock.statement) <= 70 else lock.statement[:69] + "…"
            locks.add_row(
                escape(lock.revision or ""),
                escape(lock.relation),
                mode,
                f"{lock.seconds * 1000:.0f} ms",
                escape(statement),
            )
        console.print(locks)

    if verification.explains:
        console.print("[bold]EXPLAIN of the plan's query patterns[/] (with enable_seqscan off)")
        for summary in verification.explains:
            flag = f" [red]seq scan on {escape(', '.join(summary.seq_scans))}[/]" if summary.seq_scans else ""
            if summary.whole_index_scans:
                flag += f" [red]whole index read on {escape(', '.join(summary.whole_index_scans))}[/]"
            console.print(f"  {escape(summary.query)}{flag}", highlight=False)
            for line in summary.plan.splitlines()[:4]:
                console.print(f"    [dim]{escape(line)}[/]", highlight=False)

    for note in verification.notes:
        console.print(f"[dim]note: {escape(note)}[/]", highlight=False)
