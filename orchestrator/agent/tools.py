"""The agent's tools: their Anthropic definitions, and the toolbox that runs each call on the workspace and the judge.

Every call is untrusted input. A call that is malformed (unknown tool, input that is not a JSON object, missing,
extra or mistyped arguments) or that the sandbox refuses comes back as an is_error outcome that says why, so the
model can correct itself; it never raises and never writes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from orchestrator.agent.protocols import ToolOutcome
from orchestrator.errors import DelegateError
from orchestrator.repair import findings_for_agent, scrub
from orchestrator.report import CheckReport
from orchestrator.workspace import ToolRefused, Workspace

__all__ = ["TOOL_NAMES", "TOOL_SCHEMAS", "ToolOutcome", "WorkspaceToolbox"]

_PATH = {"type": "string", "description": "A path relative to the repository root, with '/' between folders."}

TOOL_SCHEMAS: list[dict[str, Any]] = [
    {
        "name": "list_files",
        "description": (
            "List the files you may read under a folder of the repository: its tracked files and the files you "
            "wrote in this session (marked '(written)'), one repo-relative path per line, sorted. Use '.' for the "
            "whole repository. Secret-looking files (.env, keys, credentials) and .git are never listed."
        ),
        "input_schema": {
            "type": "object",
            "properties": {"path": {**_PATH, "description": "A folder relative to the repository root; '.' for all."}},
            "required": ["path"],
            "additionalProperties": False,
        },
    },
    {
        "name": "read_file",
        "description": (
            "Read a UTF-8 text file: one of the repository's tracked files, or a file you wrote in this session. "
            "Untracked files, .git, and secret-looking files (.env, keys, credentials) cannot be read."
        ),
        "input_schema": {
            "type": "object",
            "properties": {"path": _PATH},
            "required": ["path"],
            "additionalProperties": False,
        },
    },
    {
        "name": "write_file",
        "description": (
            "Create a file, or replace all of it, with the given UTF-8 text. Writes are allowed only inside the "
            "feature's folders named in the task (the migration versions, policies, seeds and tests folders and the "
            "feature's spec folder); anything else is refused and nothing is written. Limits: 256 KiB per file, "
            "200 files per session, text only. Symbolic links are never followed."
        ),
        "input_schema": {
            "type": "object",
            "properties": {
                "path": _PATH,
                "content": {"type": "string", "description": "The whole new content of the file."},
            },
            "required": ["path", "content"],
            "additionalProperties": False,
        },
    },
    {
        "name": "edit_file",
        "description": (
            "Replace one exact piece of text in a file you may write (same folders as write_file). 'old' must occur "
            "exactly once in the file: copy it from read_file with enough surrounding lines to be unique."
        ),
        "input_schema": {
            "type": "object",
            "properties": {
                "path": _PATH,
                "old": {"type": "string", "description": "The exact text to replace; it must occur exactly once."},
                "new": {"type": "string", "description": "The text to put in its place."},
            },
            "required": ["path", "old", "new"],
            "additionalProperties": False,
        },
    },
    {
        "name": "run_checks",
        "description": (
            "Run every check on the workspace as it is now: the static rules on the migrations and their SQL, and "
            "the live verification on a scratch PostgreSQL (upgrade, downgrade, upgrade again, seeds twice, the RLS "
            "matrix, the delivered tests). Returns the blocking findings with their fixes, then the warnings."
        ),
        "input_schema": {"type": "object", "properties": {}, "additionalProperties": False},
    },
    {
        "name": "submit",
        "description": (
            "Hand in the work when run_checks shows no blocking finding. delegate then runs every check itself and "
            "does not rely on your summary; if anything is still blocking, you get the findings back to fix."
        ),
        "input_schema": {
            "type": "object",
            "properties": {
                "summary": {"type": "string", "description": "What you changed and why, in a few lines."},
            },
            "required": ["summary"],
            "additionalProperties": False,
        },
    },
]

TOOL_NAMES: tuple[str, ...] = tuple(schema["name"] for schema in TOOL_SCHEMAS)
_SCHEMA = {schema["name"]: schema["input_schema"] for schema in TOOL_SCHEMAS}


class WorkspaceToolbox:
    """Runs the agent's tool calls on one workspace; `judge` checks the workspace as it is on disk."""

    def __init__(self, workspace: Workspace, judge: Callable[[], CheckReport]) -> None:
        self.workspace = workspace
        self.judge = judge
        self.submitted: str | None = None
        self.last_report: CheckReport | None = None

    def run(self, name: str, tool_input: object) -> ToolOutcome:
        """One tool call; every problem with the call itself is an is_error outcome that says why."""
        if not isinstance(name, str) or name not in _SCHEMA:
            return ToolOutcome(
                f"there is no tool named {str(name)[:80]!r}; the tools are {', '.join(TOOL_NAMES)}", is_error=True
            )
        args = _arguments(name, tool_input)
        if isinstance(args, ToolOutcome):
            return args
        try:
            return ToolOutcome(self._dispatch(name, args))
        except ToolRefused as refused:
            return ToolOutcome(str(refused), is_error=True)
        except DelegateError as error:
            # the judge could not check the workspace as the agent left it (a revision that does not import, ...)
            return ToolOutcome(f"{name} failed: {scrub(str(error), self.workspace.root)}", is_error=True)

    def _dispatch(self, name: str, args: dict[str, str]) -> str:
        ws = self.workspace
        if name == "list_files":
            return ws.list_files(args["path"])
        if name == "read_file":
            return ws.read_file(args["path"]) or "(the file is empty)"  # the API wants a tool result with text
        if name == "write_file":
            return ws.write_file(args["path"], args["content"])
        if name == "edit_file":
            return ws.edit_file(args["path"], args["old"], args["new"])
        if name == "run_checks":
            self.last_report = self.judge()
            return findings_for_agent(self.last_report, root=ws.root, writable=ws.allowed)
        assert name == "submit"
        self.submitted = args["summary"]
        return (
            "submitted: delegate now runs every check itself on the workspace; "
            "if anything is still blocking, the findings come back to you"
        )


def _arguments(name: str, tool_input: object) -> dict[str, str] | ToolOutcome:
    """The call's arguments checked against the tool's schema, or the is_error outcome that says what is wrong."""
    schema = _SCHEMA[name]
    properties: dict[str, Any] = schema["properties"]
    expected = ", ".join(f"{key!r}" for key in properties) or "no arguments"
    shape = "{" + ", ".join(f'"{key}": "..."' for key in properties) + "}"
    if isinstance(tool_input, bytes | bytearray):
        tool_input = tool_input.decode("utf-8", errors="replace")
    if isinstance(tool_input, str):
        try:
            tool_input = json.loads(tool_input) if tool_input.strip() else {}
        except json.JSONDecodeError as exc:
            return ToolOutcome(
                f"the input of {name} is not valid JSON ({exc.msg} at character {exc.pos}); send an object like {shape}",
                is_error=True,
            )
    if tool_input is None and not properties:
        tool_input = {}
    if not isinstance(tool_input, dict):
        return ToolOutcome(
            f"the input of {name} must be a JSON object like {shape}, not {type(tool_input).__name__}", is_error=True
        )
    missing = [key for key in schema.get("required", []) if key not in tool_input]
    extra = sorted(str(key) for key in tool_input if key not in properties)
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(repr(k) for k in missing)}")
        if extra:
            parts.append(f"unknown {', '.join(repr(k[:40]) for k in extra)}")
        return ToolOutcome(f"{name} takes {expected}: {'; '.join(parts)}", is_error=True)
    wrong = [key for key, value in tool_input.items() if not isinstance(value, str)]
    if wrong:
        return ToolOutcome(
            f"{name}: {', '.join(repr(k) for k in wrong)} must be a string "
            f"(got {', '.join(type(tool_input[k]).__name__ for k in wrong)})",
            is_error=True,
        )
    return dict(tool_input)
