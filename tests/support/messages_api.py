"""A local HTTP server that speaks the Anthropic Messages API wire format and plays a scripted session.

    with ScriptedMessagesAPI([reply(tool_use("read_file", {"path": "a.py"})), overloaded(), reply(text("done"))]) as api:
        client = anthropic.Anthropic(base_url=api.base_url, api_key=FAKE_KEY)
        ...
    api.requests        # what the server received, parsed, with the status and usage it answered

Each request to POST /v1/messages that passes the API's own validation takes the next turn of the script: a `Reply`
(content blocks and a stop reason), a `Fault` (an HTTP error with the API's error body), or a callable that receives
the `ReceivedRequest` and returns either. A request the API itself would reject (no credentials, no
anthropic-version, a malformed body, a tool_use left without its tool_result, a thinking block sent back changed,
more than 4 cache_control breakpoints) is answered with that error and takes no turn.

Usage is reported as the API reports it, prompt caching included. The prompt is the sequence tools, system blocks,
message content blocks; a block with `cache_control` (or the last block, for a top-level `cache_control`) is a
breakpoint. A breakpoint whose prefix an earlier request of this session wrote is a cache read (the API looks back up
to 20 blocks before each breakpoint for such a prefix); a breakpoint past the read whose prefix holds at least
`min_cacheable_tokens` is written (`cache_creation_input_tokens`); what follows the last cached or written prefix is
`input_tokens`. A shorter prefix is not cached and counts as input, as the API does (no error). Tokens are estimated
deterministically as ceil(len(canonical JSON) / 4) per block, so a session's usage is the same on every run.

With `stream: true` (`messages.create(stream=True)`, `messages.stream()`) the same reply is sent as server-sent
events (message_start, content_block_start/delta/stop, message_delta, message_stop), whole, with a content-length.
Faults are plain error responses either way, as the API answers before a stream starts.

Not modelled: the dropping of earlier turns' thinking blocks from the input count, time-to-live expiry, server tools,
errors in the middle of a stream.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MESSAGES_PATH = "/v1/messages"
MAX_BREAKPOINTS = 4
LOOKBACK_BLOCKS = 20  # the API checks this many block boundaries before a breakpoint for an earlier cache entry
DEFAULT_MIN_CACHEABLE_TOKENS = 1024  # Sonnet and Opus; Haiku needs 2048 (pass min_cacheable_tokens=2048)

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


# --- what a script is made of ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """A 200 response: content blocks in the API's shape and why the model stopped.

    `stop_reason` None means tool_use when a tool_use block is present, else end_turn. `output_tokens` None means the
    estimate of the content (or the request's max_tokens when stop_reason is max_tokens). A tool_use block without an
    id gets a deterministic `toolu_01...` id.
    """

    content: Sequence[Mapping[str, Any]] = ()
    stop_reason: str | None = None
    stop_details: Mapping[str, Any] | None = None
    stop_sequence: str | None = None
    output_tokens: int | None = None


@dataclass(frozen=True)
class Fault:
    """An error response: status, the API's error type and message, extra headers (retry-after, x-should-retry).

    `message` may be a callable of the request (to name the model the request asked for, for instance).
    """

    status: int
    error_type: str
    message: str | Callable[[ReceivedRequest], str]
    headers: Mapping[str, str] = field(default_factory=dict)


Turn = Reply | Fault | Callable[["ReceivedRequest"], Reply | Fault]


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def tool_use(name: str, tool_input: Mapping[str, Any], id: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_use", "name": name, "input": dict(tool_input)}
    if id is not None:
        block["id"] = id
    return block


def thinking(value: str) -> dict[str, Any]:
    """A thinking block; the server signs it and refuses it later if it comes back changed."""
    return {"type": "thinking", "thinking": value}


def reply(*blocks: Mapping[str, Any], stop_reason: str | None = None, output_tokens: int | None = None) -> Reply:
    return Reply(content=tuple(blocks), stop_reason=stop_reason, output_tokens=output_tokens)


def refusal(category: str | None = None, explanation: str | None = None, *blocks: Mapping[str, Any]) -> Reply:
    details = {"type": "refusal", "category": category, "explanation": explanation}
    return Reply(content=tuple(blocks), stop_reason="refusal", stop_details=details)


def overloaded(message: str = "Overloaded") -> Fault:
    return Fault(529, "overloaded_error", message)


def rate_limited(
    retry_after: float = 1, message: str = "Number of request tokens has exceeded your rate limit"
) -> Fault:
    seconds = str(int(retry_after)) if float(retry_after).is_integer() else str(retry_after)
    return Fault(429, "rate_limit_error", message, headers={"retry-after": seconds})


def authentication_failed(message: str = "invalid x-api-key") -> Fault:
    return Fault(401, "authentication_error", message)


def unknown_model() -> Fault:
    return Fault(404, "not_found_error", lambda request: f"model: {request.body.get('model')}")


def invalid_request(message: str) -> Fault:
    return Fault(400, "invalid_request_error", message)


def api_error(message: str = "Internal server error") -> Fault:
    return Fault(500, "api_error", message)


# --- what the server saw --------------------------------------------------------------------------------------------


@dataclass
class Usage:
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int
    cache_creation: dict[str, int]

    def as_json(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "cache_creation": dict(self.cache_creation),
            "output_tokens": self.output_tokens,
            "service_tier": "standard",
        }


@dataclass
class ReceivedRequest:
    """One request as the server received it, and what it answered."""

    method: str
    path: str
    headers: dict[str, str]  # names lowercased
    body: dict[str, Any]  # {} when the body was not a JSON object
    status: int = 0
    turn: int | None = None  # index of the script turn it took; None when the server rejected it before
    usage: Usage | None = None
    response: dict[str, Any] | None = None
    received_at: float = field(default_factory=time.monotonic)

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or [])

    def tool_results(self) -> dict[str, dict[str, Any]]:
        """The tool_result blocks of the last user message, by tool_use_id."""
        messages = self.messages
        if not messages or messages[-1].get("role") != "user" or not isinstance(messages[-1].get("content"), list):
            return {}
        return {
            block["tool_use_id"]: block
            for block in messages[-1]["content"]
            if isinstance(block, dict) and block.get("type") == "tool_result"
        }


class _Rejected(Exception):
    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


# --- the server -----------------------------------------------------------------------------------------------------


class ScriptedMessagesAPI:
    """A Messages API on 127.0.0.1 that plays `turns` in order; a context manager.

    On a clean exit it fails (AssertionError) if turns were left unplayed or a request came after the script ended,
    unless `require_all_played=False`.
    """

    def __init__(
        self,
        turns: Sequence[Turn],
        *,
        session: str = "scripted",
        min_cacheable_tokens: int = DEFAULT_MIN_CACHEABLE_TOKENS,
        known_models: Sequence[str] | None = None,
        require_all_played: bool = True,
        compress: bool = False,
    ) -> None:
        self.turns = list(turns)
        self.session = session
        self.min_cacheable_tokens = min_cacheable_tokens
        self.known_models = set(known_models) if known_models is not None else None
        self.require_all_played = require_all_played
        self.compress = compress  # gzip the body when the request accepts it, as the real API does
        self.requests: list[ReceivedRequest] = []
        self.problems: list[str] = []
        self._next_turn = 0
        self._cache: set[str] = set()  # prefix digests written by earlier requests of the session
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def __enter__(self) -> ScriptedMessagesAPI:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="scripted-messages-api", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        if exc_type is None and self.require_all_played:
            self.assert_all_played()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "the server is not running (use it as a context manager)"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def remaining(self) -> int:
        return len(self.turns) - self._next_turn

    def assert_all_played(self) -> None:
        problems = list(self.problems)
        if self.remaining:
            problems.append(
                f"{self.remaining} scripted turn(s) never requested (played {self._next_turn} of {len(self.turns)})"
            )
        if problems:
            raise AssertionError("scripted Messages API: " + "; ".join(problems))

    @property
    def answered(self) -> list[ReceivedRequest]:
        """The requests that took a turn (what reached the model), in order."""
        return [request for request in self.requests if request.turn is not None]

    # one request

    def handle(
        self, method: str, path: str, headers: dict[str, str], raw_body: bytes
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        with self._lock:
            try:
                body = json.loads(raw_body) if raw_body else {}
            except ValueError:
                body = None
            request = ReceivedRequest(method, path, headers, body if isinstance(body, dict) else {})
            self.requests.append(request)
            request_id = _ident("req_", self.session, "request", len(self.requests))
            response_headers = {"request-id": request_id}
            try:
                self._validate(request, body)
                if self._next_turn >= len(self.turns):
                    self.problems.append(
                        f"request {len(self.requests)} came after the script's {len(self.turns)} turn(s)"
                    )
                    response_headers["x-should-retry"] = "false"  # a script bug: say it once, not three times
                    raise _Rejected(500, "api_error", "the scripted session has no turn left for this request")
                request.turn = self._next_turn
                turn = self.turns[self._next_turn]
                self._next_turn += 1
                outcome = turn(request) if callable(turn) else turn
                if isinstance(outcome, Fault):
                    message = outcome.message(request) if callable(outcome.message) else outcome.message
                    response_headers.update(outcome.headers)
                    raise _Rejected(outcome.status, outcome.error_type, message)
                payload = self._message(request, outcome)
            except _Rejected as rejected:
                request.status = rejected.status
                error = {"type": rejected.error_type, "message": rejected.message}
                request.response = {"type": "error", "error": error, "request_id": request_id}
                return rejected.status, response_headers, request.response
            request.status = 200
            request.response = payload
            return 200, response_headers, payload

    def _validate(self, request: ReceivedRequest, body: object) -> None:
        if request.path.split("?")[0] != MESSAGES_PATH or request.method != "POST":
            raise _Rejected(404, "not_found_error", f"Not Found: {request.method} {request.path}")
        authorization = request.headers.get("authorization", "")
        if not request.headers.get("x-api-key") and not authorization.startswith("Bearer "):
            raise _Rejected(401, "authentication_error", "x-api-key header is required")
        if not request.headers.get("anthropic-version"):
            raise _Rejected(400, "invalid_request_error", "anthropic-version: header is required")
        if not isinstance(body, dict):
            raise _Rejected(400, "invalid_request_error", "The request body is not valid JSON.")
        for name in ("model", "max_tokens", "messages"):
            if name not in body:
                raise _Rejected(400, "invalid_request_error", f"{name}: Field required")
        if self.known_models is not None and body["model"] not in self.known_models:
            raise _Rejected(404, "not_found_error", f"model: {body['model']}")
        messages = body["messages"]
        if not isinstance(messages, list) or not messages:
            raise _Rejected(400, "invalid_request_error", "messages: at least one message is required")
        self._validate_messages(messages)
        breakpoints = sum(1 for segment in _segments(body) if segment.cache_control is not None)
        if body.get("cache_control") is not None:
            breakpoints += 1
        if breakpoints > MAX_BREAKPOINTS:
            raise _Rejected(
                400,
                "invalid_request_error",
                f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. Found {breakpoints}.",
            )

    def _validate_messages(self, messages: list[Any]) -> None:
        pending: set[str] = set()  # tool_use ids of the previous assistant message
        for index, message in enumerate(messages):
            if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
                raise _Rejected(
                    400, "invalid_request_error", f"messages.{index}.role: Input should be 'user' or 'assistant'"
                )
            content = message.get("content")
            blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
            if not isinstance(blocks, list):
                raise _Rejected(400, "invalid_request_error", f"messages.{index}.content: Input should be a valid list")
            if index == 0 and message["role"] != "user":
                raise _Rejected(
                    400, "invalid_request_error", "messages.0.role: the first message must use the user role"
                )
            if message["role"] == "user":
                answered = {
                    block.get("tool_use_id")
                    for block in blocks
                    if isinstance(block, dict) and block.get("type") == "tool_result"
                }
                if pending - answered:
                    missing = ", ".join(sorted(pending - answered))
                    raise _Rejected(
                        400,
                        "invalid_request_error",
                        f"messages.{index}: `tool_use` ids were found without `tool_result` blocks immediately after: {missing}. "
                        "Each `tool_use` block must have a corresponding `tool_result` block in the next message.",
                    )
                if answered - pending:
                    unknown = ", ".join(sorted(str(i) for i in answered - pending))
                    raise _Rejected(
                        400,
                        "invalid_request_error",
                        f"messages.{index}.content: unexpected `tool_use_id` found in `tool_result` blocks: {unknown}. "
                        "Each `tool_result` block must have a corresponding `tool_use` block in the previous message.",
                    )
                pending = set()
            else:
                pending = {
                    block.get("id") for block in blocks if isinstance(block, dict) and block.get("type") == "tool_use"
                }
                for position, block in enumerate(blocks):
                    if (
                        isinstance(block, dict)
                        and block.get("type") == "thinking"
                        and _signature(self.session, block.get("thinking", "")) != block.get("signature")
                    ):
                        raise _Rejected(
                            400,
                            "invalid_request_error",
                            f"messages.{index}.content.{position}: Invalid `signature` in `thinking` block",
                        )
        if pending and messages[-1].get("role") == "assistant":
            # an assistant turn ending in tool_use is a prefill the API refuses
            raise _Rejected(
                400,
                "invalid_request_error",
                "messages: the final assistant message has tool_use blocks without results",
            )

    def _message(self, request: ReceivedRequest, outcome: Reply) -> dict[str, Any]:
        response_index = len(self.answered)
        content: list[dict[str, Any]] = []
        for position, block in enumerate(outcome.content):
            block = dict(block)
            if block.get("type") == "tool_use" and "id" not in block:
                block = {"type": "tool_use", "id": _ident("toolu_", self.session, response_index, position), **block}
            if block.get("type") == "thinking" and "signature" not in block:
                block["signature"] = _signature(self.session, block.get("thinking", ""))
            content.append(block)
        stop_reason = outcome.stop_reason or (
            "tool_use" if any(b.get("type") == "tool_use" for b in content) else "end_turn"
        )
        if outcome.output_tokens is not None:
            output_tokens = outcome.output_tokens
        elif stop_reason == "max_tokens":
            output_tokens = int(request.body["max_tokens"])
        else:
            output_tokens = max(1, estimate_tokens(content)) if content else 1
        request.usage = self._usage(request.body, output_tokens)
        return {
            "id": _ident("msg_", self.session, response_index),
            "type": "message",
            "role": "assistant",
            "model": request.body["model"],
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": outcome.stop_sequence,
            "stop_details": dict(outcome.stop_details) if outcome.stop_details is not None else None,
            "usage": request.usage.as_json(),
        }

    def _usage(self, body: dict[str, Any], output_tokens: int) -> Usage:
        segments = _segments(body)
        if body.get("cache_control") is not None and segments:
            last = segments[-1]
            segments[-1] = _Segment(last.content, last.tokens, body["cache_control"])
        cumulative = [0]
        digests = [hashlib.sha256(json.dumps(body["model"]).encode()).hexdigest()]
        for segment in segments:
            cumulative.append(cumulative[-1] + segment.tokens)
            digests.append(hashlib.sha256((digests[-1] + segment.content).encode()).hexdigest())
        breakpoints = [(i + 1, s.cache_control) for i, s in enumerate(segments) if s.cache_control is not None]
        read = 0  # length, in blocks, of the longest prefix an earlier request wrote
        for end, _ in breakpoints:
            for length in range(end, max(0, end - LOOKBACK_BLOCKS), -1):
                if length > read and digests[length] in self._cache:
                    read = length
                    break
        cached = read
        creation = {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0}
        for end, control in breakpoints:
            if end > cached and cumulative[end] >= self.min_cacheable_tokens:
                ttl = control.get("ttl", "5m") if isinstance(control, dict) else "5m"
                key = "ephemeral_1h_input_tokens" if ttl == "1h" else "ephemeral_5m_input_tokens"
                creation[key] += cumulative[end] - cumulative[cached]
                self._cache.add(digests[end])
                cached = end
        return Usage(
            input_tokens=cumulative[-1] - cumulative[cached],
            output_tokens=output_tokens,
            cache_creation_input_tokens=cumulative[cached] - cumulative[read],
            cache_read_input_tokens=cumulative[read],
            cache_creation=creation,
        )


# --- the prompt as the cache sees it --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Segment:
    content: str  # canonical JSON of the block, cache_control left out, with where it sits
    tokens: int
    cache_control: Any


def canonical_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def estimate_tokens(value: object) -> int:
    """Deterministic token estimate: a quarter of the canonical JSON's length, rounded up."""
    return math.ceil(len(canonical_json(value)) / 4)


def _segments(body: Mapping[str, Any]) -> list[_Segment]:
    """The prompt in cache order (tools, system, messages), one segment per block."""

    def segment(where: object, block: object) -> _Segment:
        control = block.get("cache_control") if isinstance(block, dict) else None
        bare = {k: v for k, v in block.items() if k != "cache_control"} if isinstance(block, dict) else block
        return _Segment(canonical_json([where, bare]), estimate_tokens(bare), control)

    segments = [segment("tool", tool) for tool in body.get("tools") or []]
    system = body.get("system")
    if isinstance(system, str):
        segments.append(segment("system", {"type": "text", "text": system}))
    elif isinstance(system, list):
        segments.extend(segment("system", block) for block in system)
    for index, message in enumerate(body.get("messages") or []):
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
        segments.extend(segment([index, message.get("role")], block) for block in blocks)
    return segments


def _ident(prefix: str, *parts: object) -> str:
    """A deterministic id in the API's shape: prefix, "01", 22 base62 characters."""
    number = int.from_bytes(hashlib.sha256(repr(parts).encode()).digest(), "big")
    chars = []
    for _ in range(22):
        number, rest = divmod(number, 62)
        chars.append(_BASE62[rest])
    return prefix + "01" + "".join(chars)


def _signature(session: str, thought: str) -> str:
    return hashlib.sha256(f"{session}\0{thought}".encode()).hexdigest()


def server_sent_events(message: Mapping[str, Any]) -> bytes:
    """A message as the stream of events the API sends for it (each delta in chunks of up to 40 characters)."""

    def event(name: str, data: Mapping[str, Any]) -> str:
        return f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n"

    def chunks(value: str) -> list[str]:
        return [value[i : i + 40] for i in range(0, len(value), 40)] or [""]

    usage = dict(message["usage"])
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None, "stop_details": None}
    start["usage"] = {**usage, "output_tokens": 1}
    events = [event("message_start", {"message": start}), event("ping", {})]
    for index, block in enumerate(message["content"]):
        kind = block.get("type")
        if kind == "text":
            deltas = [{"type": "text_delta", "text": piece} for piece in chunks(block["text"])]
            opening: Mapping[str, Any] = {**block, "text": ""}
        elif kind == "tool_use":
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in chunks(json.dumps(block["input"]))]
            opening = {**block, "input": {}}
        elif kind == "thinking":
            deltas = [{"type": "thinking_delta", "thinking": piece} for piece in chunks(block["thinking"])]
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
            opening = {**block, "thinking": "", "signature": ""}
        else:
            deltas, opening = [], block
        events.append(event("content_block_start", {"index": index, "content_block": opening}))
        events.extend(event("content_block_delta", {"index": index, "delta": delta}) for delta in deltas)
        events.append(event("content_block_stop", {"index": index}))
    delta = {
        "stop_reason": message["stop_reason"],
        "stop_sequence": message["stop_sequence"],
        "stop_details": message["stop_details"],
    }
    final_usage = {
        k: usage[k] for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens")
    }
    events.append(event("message_delta", {"delta": delta, "usage": final_usage}))
    events.append(event("message_stop", {}))
    return "".join(events).encode()


def _handler_for(api: ScriptedMessagesAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's connection pool expects

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, response_headers, payload = api.handle(self.command, self.path, headers, raw)
            streamed = status == 200 and api.requests[-1].body.get("stream") is True
            data = server_sent_events(payload) if streamed else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "text/event-stream" if streamed else "application/json")
            if api.compress and "gzip" in headers.get("accept-encoding", ""):
                data = gzip.compress(data, mtime=0)
                self.send_header("content-encoding", "gzip")
            self.send_header("content-length", str(len(data)))
            for name, value in response_headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_POST = _serve
        do_GET = _serve

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
            pass

    return Handler
