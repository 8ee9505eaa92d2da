"""Errors that reach a user: each carries the exit code of the contract and a hint that says what to do."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FINDINGS = 1  # blocking findings, or checks still red after the repair rounds
    BAD_INPUT = 2  # bad input or usage
    AGENT_FAILED = 3  # the agent or the API failed (auth, budget, refusal)


class DelegateError(Exception):
    """An error with a message for a person: what went wrong (naming the file or value) and what to do."""

    exit_code: ExitCode = ExitCode.BAD_INPUT

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  fix: {self.hint}" if self.hint else self.message


class InputError(DelegateError):
    """Bad input or usage: a missing file, a malformed config, an unreachable database (exit 2)."""

    exit_code = ExitCode.BAD_INPUT


class NotBuiltYet(InputError):
    """A command that exists in the CLI but whose feature has not landed yet (exit 2)."""


class AgentError(DelegateError):
    """The agent or the API failed: auth, budget, refusal, context exceeded (exit 3)."""

    exit_code = ExitCode.AGENT_FAILED
