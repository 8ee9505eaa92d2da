"""The three small protocols the loop sees (model, toolbox) and the data they exchange: one turn, its usage."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

# The API's answers worth another try: a timeout, a conflict, a rate limit, an overloaded or failing server (529
# among them). The adapter retries them; a replayed cassette answers them at once.
RETRIED_STATUSES = frozenset({408, 409, 429}) | frozenset(range(500, 600))


@dataclass
class Usage:
    """Tokens as the Messages API counts them: input_tokens is the uncached part of the prompt."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_input_tokens + other.cache_read_input_tokens,
            self.cache_creation_input_tokens + other.cache_creation_input_tokens,
        )

    @property
    def prompt_tokens(self) -> int:
        """Every input token of the prompt, wherever it came from (fresh, written to or read from the cache)."""
        return self.input_tokens + self.cache_read_input_tokens + self.cache_creation_input_tokens

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.output_tokens

    @property
    def cache_read_share(self) -> float:
        """The share of prompt tokens read from the cache (0 when nothing was sent)."""
        return self.cache_read_input_tokens / self.prompt_tokens if self.prompt_tokens else 0.0

    def to_dict(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
        }


@dataclass
class ModelTurn:
    """One answer of the model: its content blocks exactly as the API sent them (thinking included)."""

    content: list[dict[str, Any]]
    stop_reason: str
    usage: Usage
    model: str
    stop_details: dict[str, Any] | None = None
    cost_usd: float = 0.0

    def tool_uses(self) -> list[dict[str, Any]]:
        return [block for block in self.content if block.get("type") == "tool_use"]

    def text(self) -> str:
        return "\n".join(block.get("text", "") for block in self.content if block.get("type") == "text").strip()


class Model(Protocol):
    """Answers a conversation. The Anthropic adapter is one; tests may script another."""

    name: str

    def send(self, system: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> ModelTurn: ...


@dataclass
class ToolOutcome:
    content: str
    is_error: bool = False


class Toolbox(Protocol):
    """Runs one tool call on the workspace; a bad call is an is_error outcome, never an exception."""

    submitted: str | None

    def run(self, name: str, tool_input: object) -> ToolOutcome: ...


@dataclass
class Limits:
    """The ends of a run: any limit reached stops the agent with a named failure (None: no limit)."""

    max_turns: int | None = 60
    max_tokens: int | None = 5_000_000
    budget_usd: float | None = None
    wall_seconds: float | None = 3600.0
    per_turn_max_tokens: int = 16_000  # the answer's max_tokens; above ~21k the SDK insists on streaming


@dataclass
class Progress:
    """What a run has used so far, across rounds."""

    turns: int = 0
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    tool_calls: int = 0
