"""The agent loop on a scripted model: every stop reason, tool answers, limits, and the history on disk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orchestrator.agent.loop import REMINDER, AgentFailure, AgentLoop, Submitted
from orchestrator.agent.protocols import Limits, ModelTurn, ToolOutcome, Usage
from orchestrator.agent.trajectory import Trajectory


class ScriptedModel:
    """Plays back turns; records what it was sent (a deep copy of the messages at each call)."""

    name = "scripted"

    def __init__(self, turns: list[ModelTurn]) -> None:
        self.turns = list(turns)
        self.sent: list[list[dict[str, Any]]] = []

    def send(self, system: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> ModelTurn:
        self.sent.append(json.loads(json.dumps(messages)))
        if not self.turns:
            raise AssertionError("the loop asked for more turns than were scripted")
        return self.turns.pop(0)


class RecordingToolbox:
    def __init__(self) -> None:
        self.submitted: str | None = None
        self.calls: list[tuple[str, object]] = []

    def run(self, name: str, tool_input: object) -> ToolOutcome:
        self.calls.append((name, tool_input))
        if name == "submit" and isinstance(tool_input, dict):
            self.submitted = str(tool_input.get("summary", ""))
            return ToolOutcome("submitted")
        if name == "write_file" and isinstance(tool_input, dict) and str(tool_input.get("path", "")).startswith("/"):
            return ToolOutcome("refused: absolute path", is_error=True)
        return ToolOutcome(f"ran {name}")


def turn(stop: str, *blocks: dict[str, Any], cost: float = 0.0, usage: Usage | None = None, **extra: Any) -> ModelTurn:
    return ModelTurn(
        content=list(blocks), stop_reason=stop, usage=usage or Usage(10, 5), model="scripted", cost_usd=cost, **extra
    )


def tool(tid: str, name: str, **tool_input: Any) -> dict[str, Any]:
    return {"type": "tool_use", "id": tid, "name": name, "input": tool_input}


def make_loop(
    turns: list[ModelTurn], tmp_path: Path, **limits: Any
) -> tuple[AgentLoop, ScriptedModel, RecordingToolbox]:
    model, toolbox = ScriptedModel(turns), RecordingToolbox()
    loop = AgentLoop(model, toolbox, [], "system", Limits(**limits), Trajectory(tmp_path / "t.jsonl"))
    return loop, model, toolbox


def task() -> list[dict[str, Any]]:
    return [{"type": "text", "text": "do the feature"}]


def test_tools_run_in_order_and_each_gets_its_result(tmp_path: Path) -> None:
    thinking = {"type": "thinking", "thinking": "plan", "signature": "sig=="}
    loop, model, toolbox = make_loop(
        [
            turn("tool_use", thinking, tool("t1", "read_file", path="a"), tool("t2", "write_file", path="/etc/x")),
            turn("tool_use", tool("t3", "submit", summary="done")),
        ],
        tmp_path,
    )
    done = loop.run(task())
    assert isinstance(done, Submitted) and done.summary == "done"
    assert [c[0] for c in toolbox.calls] == ["read_file", "write_file", "submit"]
    # the second request carries the first answer unchanged (thinking included) and one result per tool_use
    second = model.sent[1]
    assert second[1] == {"role": "assistant", "content": loop.messages[1]["content"]}
    assert second[1]["content"][0] == thinking
    results = second[2]["content"]
    assert [r["tool_use_id"] for r in results] == ["t1", "t2"]
    assert results[1]["is_error"] is True and "is_error" not in results[0]
    # submit's own result is pending: it opens the next round's user message
    assert done.pending == [{"type": "tool_result", "tool_use_id": "t3", "content": "submitted"}]


def test_pause_turn_resends_the_conversation(tmp_path: Path) -> None:
    loop, model, _ = make_loop(
        [turn("pause_turn", {"type": "text", "text": "working"}), turn("tool_use", tool("t1", "submit", summary="s"))],
        tmp_path,
    )
    loop.run(task())
    assert len(model.sent) == 2
    assert model.sent[1][-1]["role"] == "assistant"  # sent again as it was, no user message added


def test_end_turn_without_submit_gets_one_reminder_then_counts_as_submitted(tmp_path: Path) -> None:
    loop, model, toolbox = make_loop(
        [turn("end_turn", {"type": "text", "text": "all good"}), turn("end_turn", {"type": "text", "text": "really"})],
        tmp_path,
    )
    done = loop.run(task())
    assert model.sent[1][-1]["content"][0]["text"] == REMINDER
    assert done.summary == "really" and done.pending == []


@pytest.mark.parametrize(
    ("stop", "kind", "words"),
    [
        ("max_tokens", "max_tokens", "inside a tool call"),
        ("refusal", "refusal", "category cyber"),
        ("model_context_window_exceeded", "context_window", "context window"),
        ("something_new", "stop_reason", "something_new"),
    ],
)
def test_named_failures(tmp_path: Path, stop: str, kind: str, words: str) -> None:
    blocks = [tool("t1", "write_file", path="x")] if stop == "max_tokens" else [{"type": "text", "text": "no"}]
    details = {"type": "refusal", "category": "cyber", "explanation": None} if stop == "refusal" else None
    loop, _, toolbox = make_loop([turn(stop, *blocks, stop_details=details)], tmp_path)
    with pytest.raises(AgentFailure) as failure:
        loop.run(task())
    assert failure.value.kind == kind and words in failure.value.message
    assert toolbox.calls == []  # nothing from a cut-off or refused answer runs


def test_limits_end_the_run(tmp_path: Path) -> None:
    reading = [turn("tool_use", tool(f"t{i}", "read_file", path="a"), cost=0.4) for i in range(5)]
    loop, _, _ = make_loop(list(reading), tmp_path, max_turns=3)
    with pytest.raises(AgentFailure) as turns:
        loop.run(task())
    assert turns.value.kind == "turns" and loop.progress.turns == 3
    loop, _, _ = make_loop(list(reading), tmp_path, budget_usd=1.0)
    with pytest.raises(AgentFailure) as budget:
        loop.run(task())
    assert budget.value.kind == "budget" and loop.progress.turns == 3  # 1.2 dollars spent after three turns
    loop, _, _ = make_loop(list(reading), tmp_path, max_tokens=30)
    with pytest.raises(AgentFailure) as tokens:
        loop.run(task())
    assert tokens.value.kind == "tokens" and loop.progress.turns == 2


def test_a_second_round_starts_with_the_pending_results_and_resets_submit(tmp_path: Path) -> None:
    loop, model, toolbox = make_loop(
        [turn("tool_use", tool("t1", "submit", summary="one")), turn("tool_use", tool("t2", "submit", summary="two"))],
        tmp_path,
    )
    first = loop.run(task())
    second = loop.run([*first.pending, {"type": "text", "text": "fix these"}])
    assert second.summary == "two"
    opened = model.sent[1][-1]["content"]
    assert opened[0]["type"] == "tool_result" and opened[1]["text"] == "fix these"


def test_history_and_usage_are_written_after_every_step(tmp_path: Path) -> None:
    loop, _, _ = make_loop(
        [
            turn("tool_use", tool("t1", "read_file", path="a"), usage=Usage(100, 10, 50, 20), cost=0.01),
            turn("tool_use", tool("t2", "submit", summary="s"), usage=Usage(5, 10, 150, 0), cost=0.002),
        ],
        tmp_path,
    )
    loop.run(task())
    records = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    kinds = [r["kind"] for r in records]
    assert kinds == ["message", "turn", "message", "tool", "message", "turn", "message", "tool"]
    assert loop.progress.usage == Usage(105, 20, 200, 20)
    assert loop.progress.cost_usd == pytest.approx(0.012)
    assert loop.progress.usage.cache_read_share == pytest.approx(200 / 325)
