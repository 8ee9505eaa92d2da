"""The run's history on disk: one JSON object per line, appended and flushed after every step."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from orchestrator.agent.protocols import ModelTurn


class Trajectory:
    """`run_dir/trajectory.jsonl`: messages as sent, each turn's usage and stop reason, each tool call."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._file: IO[str] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8")

    def _write(self, record: dict[str, Any]) -> None:
        if self._file is not None:
            self._file.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
            self._file.flush()

    def message(self, message: dict[str, Any]) -> None:
        self._write({"kind": "message", **message})

    def turn(self, turn: ModelTurn) -> None:
        self._write(
            {
                "kind": "turn",
                "model": turn.model,
                "stop_reason": turn.stop_reason,
                "stop_details": turn.stop_details,
                "usage": turn.usage.to_dict(),
                "cost_usd": round(turn.cost_usd, 6),
            }
        )

    def tool(self, tool_use_id: str, name: str, tool_input: object, content: str, is_error: bool) -> None:
        self._write({"kind": "tool", "id": tool_use_id, "name": name, "is_error": is_error, "content": content})

    def event(self, kind: str, **data: Any) -> None:
        self._write({"kind": kind, **data})

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
