"""The agent loop: send, act on the stop reason, run the tools, until the agent submits or a limit ends it.

The history is the message list, linear, written after every step. Recoverable problems (a refused write, a
failed check, a malformed tool call) go back to the model as tool results; only the ends of a run are
exceptions: `Submitted`, and the `AgentFailure`s that name why the agent could not go on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from orchestrator.agent.protocols import Limits, Model, ModelTurn, Progress, Toolbox, ToolOutcome
from orchestrator.agent.trajectory import Trajectory

REMINDER = (
    "You ended your turn without calling `submit`. If the work is done, call `run_checks`, fix what it reports, "
    "then call `submit` with a short summary; otherwise keep working with the tools."
)


class Submitted(Exception):  # noqa: N818 - a normal end of the loop, not an error
    def __init__(self, summary: str, pending: list[dict[str, Any]]) -> None:
        super().__init__(summary)
        self.summary = summary
        self.pending = pending  # the tool results that answer the last turn: the next user message starts with them


class AgentFailure(Exception):
    """The agent cannot go on: `kind` names why (max_tokens, refusal, context_window, turns, tokens, budget, time)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass
class ToolCall:
    name: str
    tool_input: object
    outcome: ToolOutcome


Observer = Callable[[str, object], None]  # ("turn", ModelTurn) | ("tool", ToolCall)


class AgentLoop:
    def __init__(
        self,
        model: Model,
        toolbox: Toolbox,
        tools: list[dict[str, Any]],
        system: str,
        limits: Limits,
        trajectory: Trajectory,
        observe: Observer | None = None,
    ) -> None:
        self.model, self.toolbox, self.tools, self.system = model, toolbox, tools, system
        self.limits, self.trajectory = limits, trajectory
        self.observe = observe or (lambda kind, data: None)
        self.messages: list[dict[str, Any]] = []
        self.progress = Progress()
        self.started = time.monotonic()

    def run(self, user_content: list[dict[str, Any]]) -> Submitted:
        """One round: from a user message (the task, or the pending tool results plus a repair) to a submit."""
        self._append({"role": "user", "content": user_content})
        self.toolbox.submitted = None
        reminded = False
        while True:
            try:
                self.step()
            except Submitted as done:
                return done
            except _EndedTurn as ended:
                if reminded:
                    return Submitted(ended.text, [])
                reminded = True
                self._append({"role": "user", "content": [{"type": "text", "text": REMINDER}]})

    def step(self) -> None:
        self._check_limits()
        turn = self.model.send(self.system, self.messages, self.tools)
        self.progress.turns += 1
        self.progress.usage = self.progress.usage + turn.usage
        self.progress.cost_usd += turn.cost_usd
        self.trajectory.turn(turn)
        self._append({"role": "assistant", "content": turn.content})  # unchanged: thinking blocks go back as sent
        self.observe("turn", turn)
        self._on_stop(turn)

    def _on_stop(self, turn: ModelTurn) -> None:
        reason = turn.stop_reason
        if reason == "tool_use":
            results, summary = self._run_tools(turn)
            if summary is not None:
                raise Submitted(summary, results)
            self._append({"role": "user", "content": results})
        elif reason == "pause_turn":
            return  # the API paused a long turn: sending the conversation again lets it continue
        elif reason in ("end_turn", "stop_sequence"):
            raise _EndedTurn(turn.text())
        elif reason == "max_tokens":
            inside = " inside a tool call" if turn.tool_uses() else ""
            raise AgentFailure(
                "max_tokens",
                f"the model's answer hit max_tokens ({self.limits.per_turn_max_tokens}){inside}; "
                "nothing was run from the cut-off answer",
            )
        elif reason == "refusal":
            details = turn.stop_details or {}
            said = details.get("explanation") or turn.text() or "no explanation given"
            raise AgentFailure("refusal", f"the model refused (category {details.get('category') or 'none'}): {said}")
        elif reason == "model_context_window_exceeded":
            raise AgentFailure("context_window", "the conversation no longer fits the model's context window")
        else:
            raise AgentFailure("stop_reason", f"the API answered with an unknown stop_reason {reason!r}")

    def _run_tools(self, turn: ModelTurn) -> tuple[list[dict[str, Any]], str | None]:
        """Answer every tool_use block of the turn, in order; the summary when one of them was `submit`."""
        results: list[dict[str, Any]] = []
        summary: str | None = None
        for block in turn.tool_uses():
            name, tool_input = str(block.get("name", "")), block.get("input")
            outcome = self.toolbox.run(name, tool_input)
            self.progress.tool_calls += 1
            call = ToolCall(name, tool_input, outcome)
            self.trajectory.tool(block.get("id", ""), call.name, call.tool_input, outcome.content, outcome.is_error)
            self.observe("tool", call)
            result: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": block.get("id", ""),
                "content": outcome.content,
            }
            if outcome.is_error:
                result["is_error"] = True
            results.append(result)
            if name == "submit" and not outcome.is_error:
                summary = self.toolbox.submitted or ""

        return results, summary

    def _append(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        self.trajectory.message(message)

    def _check_limits(self) -> None:
        limits, progress = self.limits, self.progress
        if limits.max_turns is not None and progress.turns >= limits.max_turns:
            raise AgentFailure("turns", f"the agent used its {limits.max_turns} turns without a green submission")
        if limits.max_tokens is not None and progress.usage.total_tokens >= limits.max_tokens:
            raise AgentFailure(
                "tokens", f"the run used {progress.usage.total_tokens} tokens (limit {limits.max_tokens})"
            )
        if limits.budget_usd is not None and progress.cost_usd >= limits.budget_usd:
            raise AgentFailure(
                "budget", f"the run cost ${progress.cost_usd:.4f}, at or over its budget of ${limits.budget_usd:.2f}"
            )
        elapsed = time.monotonic() - self.started
        if limits.wall_seconds is not None and elapsed >= limits.wall_seconds:
            raise AgentFailure("time", f"the run took {elapsed:.0f} s (limit {limits.wall_seconds:.0f} s)")


class _EndedTurn(Exception):  # noqa: N818 - control flow inside the loop
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def tool_input_text(tool_input: object) -> str:
    """A tool call's input in one short line, for progress views."""
    text = json.dumps(tool_input, ensure_ascii=False, sort_keys=True) if not isinstance(tool_input, str) else tool_input
    return text if len(text) <= 120 else text[:117] + "..."
