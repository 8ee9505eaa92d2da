"""What `delegate migrations` shows as it runs (rich, one line per event) and what it prints at the end."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, TextIO

from orchestrator.agent.loop import ToolCall, tool_input_text
from orchestrator.agent.protocols import ModelTurn, Progress

if TYPE_CHECKING:
    from rich.console import Console

    from orchestrator.pipeline import MigrationsResult
    from orchestrator.report import CheckReport, Finding

_STATUS_STYLE = {
    "committed": "bold green",
    "no-change": "green",
    "checks-failed": "bold red",
    "agent-failed": "bold red",
}


class LiveView:
    """An observer for the loop and the pipeline: the round, each turn with tokens and dollars so far, each tool
    call, and each round's check results. Text from the agent and the repo is printed as text, never as markup."""

    def __init__(self, console: Console, progress: Progress | None = None) -> None:
        self.console = console
        self.progress = progress
        self.turns = 0
        self.tokens = 0
        self.cost = 0.0

    def __call__(self, kind: str, data: object) -> None:
        from rich.text import Text

        line: Text | None = None
        if kind == "bundle":
            bundle: Any = data
            refs = len(getattr(bundle, "references", []) or [])
            line = Text.assemble(
                ("bundle ", "bold"),
                f"{bundle.spec_folder}: agent {bundle.agent.name} ({bundle.agent.source}), model {bundle.agent.model}, "
                f"{refs} reference migration(s)",
            )
        elif kind == "round":
            line = Text.assemble(("\nround ", "bold cyan"), (str(data), "bold cyan"))
        elif kind == "turn" and isinstance(data, ModelTurn):
            self.turns += 1
            self.tokens += data.usage.total_tokens
            self.cost += data.cost_usd
            cached = f", {data.usage.cache_read_share:.0%} from cache" if data.usage.prompt_tokens else ""
            line = Text.assemble(
                (f"  turn {self.turns:>2} ", "dim"),
                f"{data.stop_reason:<9} {data.usage.prompt_tokens:>7} in{cached} / {data.usage.output_tokens} out",
                (f"   total {self.tokens} tokens, ${self.cost:.4f}", "dim"),
            )
        elif kind == "tool" and isinstance(data, ToolCall):
            style = "red" if data.outcome.is_error else "green"
            mark = "refused" if data.outcome.is_error else "ok"
            line = Text.assemble(
                ("    ", ""), (f"{data.name:<11}", "bold"), f" {_short_input(data.tool_input)} ", (mark, style)
            )
            if data.outcome.is_error:
                line.append(f"  {data.outcome.content.splitlines()[0] if data.outcome.content else ''}", "red")
        elif kind == "judging":
            line = Text("  checking the submission (static rules, then live PostgreSQL)...", "dim")
        elif kind == "judged":
            judged: tuple[int, CheckReport] = data  # type: ignore[assignment]
            line = _judged_line(*judged)
        elif kind == "note":
            line = Text.assemble(("note ", "yellow"), str(data))
        if line is not None:
            self.console.print(line, highlight=False)


def _short_input(tool_input: object) -> str:
    if isinstance(tool_input, dict):
        if "path" in tool_input:
            extra = f" ({len(str(tool_input.get('content', '')))} chars)" if "content" in tool_input else ""
            return f"{tool_input['path']}{extra}"
        if "summary" in tool_input:
            return json.dumps(str(tool_input["summary"])[:80], ensure_ascii=False)
        if not tool_input:
            return ""
    return tool_input_text(tool_input)


def _judged_line(round_no: int, report: CheckReport) -> Any:
    from rich.text import Text

    s = report.summary
    verdict = ("blocking findings: sent back for repair", "red") if report.blocking else ("green", "bold green")
    line = Text.assemble(
        (f"  round {round_no} checked: ", "bold"),
        f"{s.errors} errors, {s.warnings} warnings, {s.infos} infos - ",
        verdict,
    )
    by_rule: dict[str, list[Finding]] = {}
    for finding in report.findings:
        if finding.severity.value == "error":
            by_rule.setdefault(finding.rule, []).append(finding)
    for rule, findings in by_rule.items():  # one line a rule: what was found where, and how often
        first = findings[0]
        where = f"{first.file}:{first.line}" if first.file and first.line else first.file or "the database"
        more = f" (+{len(findings) - 1} more)" if len(findings) > 1 else ""
        line.append(f"\n    {rule:<28} {where}{more}  {first.message[:90]}", "red")
    return line


def print_result(result: MigrationsResult, fmt: str, out: TextIO, console: Console | None) -> None:
    if fmt == "json":
        out.write(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n")
        return
    assert console is not None
    from rich.text import Text

    usage = result.progress.usage
    console.print()
    console.print(
        Text.assemble((result.status, _STATUS_STYLE.get(result.status, "bold")), "  ", result.message), highlight=False
    )
    if result.status == "no-change":
        return
    console.print(
        Text(
            f"rounds {len(result.rounds)}, turns {result.progress.turns}, tokens {usage.total_tokens} "
            f"({usage.cache_read_share:.0%} of the prompt from cache), cost ${result.progress.cost_usd:.4f}"
        ),
        highlight=False,
    )
    if result.branch and result.commit:
        console.print(Text(f"branch {result.branch}  commit {result.commit}"), highlight=False)
    for path in result.files:
        console.print(Text(f"  {path}"), highlight=False)
    if result.run_dir:
        console.print(Text(f"session: {result.run_dir}", "dim"), highlight=False)
