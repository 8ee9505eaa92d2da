"""The Anthropic Messages API behind the Model protocol: prompt caching, usage and cost, errors named for a person.

The SDK is imported here and nowhere else. Retries are this adapter's, not the SDK's (its max_retries is 0): an
overloaded (529, 5xx), rate-limited (429), timed-out (408) or conflicting (409) answer is retried with
exponential backoff that honours retry-after, so a recorded session holds every attempt and replays request for
request, without the waits. Caching: one breakpoint on the tools, one on the system prompt (the
agent definition and the bundle), and one on the newest message, so each turn reads the prefix the last one
wrote. The history itself is never changed: the breakpoint goes on a copy of the last message.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from orchestrator.agent.pricing import PriceTable
from orchestrator.agent.protocols import RETRIED_STATUSES, ModelTurn, Usage
from orchestrator.errors import AgentError, DelegateError

if TYPE_CHECKING:
    import anthropic

EPHEMERAL = {"type": "ephemeral"}


class AnthropicModel:
    def __init__(
        self,
        model: str,
        *,
        prices: PriceTable,
        api_key: str | None = None,
        base_url: str | None = None,
        retries: int = 4,
        wait: bool = True,
        max_tokens: int = 16_000,
        timeout: float = 600.0,
    ) -> None:
        import anthropic

        self.name = model
        self.prices = prices
        self.max_tokens = max_tokens
        self.retries = retries
        self.wait = wait  # False on replay: a recorded retry-after is not waited for again
        self.attempts = 0  # requests sent, retries included
        self.client: anthropic.Anthropic = anthropic.Anthropic(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout
        )

    def send(self, system: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> ModelTurn:
        import anthropic

        request = build_request(self.name, system, messages, tools, self.max_tokens)
        try:
            body = self._create(request)
        except anthropic.APIStatusError as exc:
            raise api_error(exc, self.name) from None
        except anthropic.APIConnectionError as exc:
            raise connection_error(exc) from None
        usage = usage_of(body.get("usage") or {})
        return ModelTurn(
            content=list(body.get("content") or []),
            stop_reason=str(body.get("stop_reason") or ""),
            stop_details=body.get("stop_details"),
            usage=usage,
            model=str(body.get("model") or self.name),
            cost_usd=self.prices.cost(self.name, usage),
        )

    def _create(self, request: dict[str, Any]) -> dict[str, Any]:
        import tenacity

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(retryable),
            stop=tenacity.stop_after_attempt(self.retries + 1),
            wait=retry_after_or_backoff if self.wait else tenacity.wait_none(),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                self.attempts += 1
                raw = self.client.messages.with_raw_response.create(**request)
                body: dict[str, Any] = raw.http_response.json()
                return body
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover


def retryable(exc: BaseException) -> bool:
    """Worth another try: an overloaded or failing server, a rate limit, a timeout, a lock conflict."""
    import anthropic

    if isinstance(exc, anthropic.APIStatusError):
        return exc.status_code in RETRIED_STATUSES
    return isinstance(exc, anthropic.APITimeoutError)


def retry_after_or_backoff(state: Any) -> float:
    """The server's retry-after (seconds, or retry-after-ms) when it sent one, capped at a minute; else 1, 2, 4 s..."""
    exc = state.outcome.exception() if state.outcome is not None else None
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is not None:
            try:
                return min(max(float(value) * scale, 0.0), 60.0)
            except ValueError:
                break
    return float(min(2 ** (state.attempt_number - 1), 30))


def build_request(
    model: str, system: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]], max_tokens: int
) -> dict[str, Any]:
    """The request body, with the three cache breakpoints; `messages` itself is left as it is."""
    cached_tools = [dict(tool) for tool in tools]
    if cached_tools:
        cached_tools[-1]["cache_control"] = EPHEMERAL
    sent = list(messages)
    if sent:
        last = copy.deepcopy(sent[-1])
        content = last.get("content")
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        if content:
            content[-1] = {**content[-1], "cache_control": EPHEMERAL}
            last["content"] = content
        sent[-1] = last
    return {
        "model": model,
        "max_tokens": max_tokens,
        "system": [{"type": "text", "text": system, "cache_control": EPHEMERAL}],
        "messages": sent,
        "tools": cached_tools,
        "tool_choice": {"type": "auto"},  # any/tool is refused by the current models
    }


def usage_of(raw: dict[str, Any]) -> Usage:
    return Usage(
        input_tokens=int(raw.get("input_tokens") or 0),
        output_tokens=int(raw.get("output_tokens") or 0),
        cache_read_input_tokens=int(raw.get("cache_read_input_tokens") or 0),
        cache_creation_input_tokens=int(raw.get("cache_creation_input_tokens") or 0),
    )


def _error_text(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error")
        error: dict[str, Any] = inner if isinstance(inner, dict) else body
        kind, message = error.get("type"), error.get("message")
        if kind or message:
            return f"{kind or 'error'}: {message or ''}".strip()
    return str(getattr(exc, "message", "") or exc)


def api_error(exc: anthropic.APIStatusError, model: str) -> AgentError:
    """The API's refusal of a request, as an exit-3 error that says what to do."""
    status = exc.status_code
    said = _error_text(exc)
    if status == 401:
        return AgentError(f"the Anthropic API refused the key (401 {said})", "set ANTHROPIC_API_KEY to a valid key")
    if status == 403:
        return AgentError(
            f"the key may not use this API or model (403 {said})", "check the key's workspace and model access"
        )
    if status == 404:
        return AgentError(
            f"the Anthropic API does not know the model {model!r} (404 {said})",
            "pass --model with a current model id (for example claude-sonnet-5-5), or fix the agent definition's model",
        )
    if status == 429:
        return AgentError(
            f"the Anthropic API kept rate-limiting the run after its retries (429 {said})",
            "wait and run again, or lower the request rate of other jobs on this key",
        )
    if status in (529, 503) or status >= 500:
        return AgentError(
            f"the Anthropic API stayed unavailable after its retries ({status} {said})", "run again later"
        )
    if status == 400 and "prompt is too long" in said:
        return AgentError(f"the request no longer fits the model's context window (400 {said})")
    return AgentError(f"the Anthropic API rejected the request ({status} {said})")


def connection_error(exc: BaseException) -> DelegateError:
    """A request that never got an answer: on replay, a prompt the cassette does not hold."""
    cause: BaseException | None = exc
    while cause is not None:
        if type(cause).__name__ == "CannotOverwriteExistingCassetteException":
            from orchestrator.agent.recording import MISMATCH, CassetteMismatch

            return CassetteMismatch(MISMATCH, "re-record the cassette with --record")
        cause = cause.__cause__ or cause.__context__
    return AgentError(
        f"could not reach the Anthropic API ({exc})",
        "check the network and ANTHROPIC_BASE_URL, or replay a cassette with --replay",
    )
