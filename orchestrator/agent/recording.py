"""Record the agent's Messages API traffic into a cassette (vcrpy, readable YAML, no credentials) and replay it offline.

    with cassette(Path("cassettes/042-lesson-progress.yaml"), "record", metadata={"scripted": False, "model": m}):
        ...   # every httpx2 request (the anthropic SDK's) goes out and is written down
    with cassette(path, "replay") as recording:
        ...   # every request is answered from the file; nothing reaches the network

Replay matches method, path and the JSON body (not scheme, host or port, so a session recorded against a local server
replays against the default base URL), plays each interaction once and in the order asked for, and fails if any is
left unplayed. A request that matches nothing raises `CassetteMismatch` straight through the SDK (it is an
`AnthropicError`, so the SDK neither wraps it in `APIConnectionError` nor retries it); its `__cause__` is vcrpy's
`CannotOverwriteExistingCassetteException`. Error responses that the SDK retries are replayed with a 1 ms
`retry-after-ms`, so a recorded 529 or 429 replays without the wait.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from unittest import mock
from urllib.parse import urlsplit, urlunsplit

import anthropic
import httpx2
import vcr
import yaml
from anthropic import AnthropicError
from anthropic._constants import ANTHROPIC_API_VERSION
from vcr.cassette import Cassette
from vcr.errors import CannotOverwriteExistingCassetteException
from vcr.filters import decode_response
from vcr.persisters.filesystem import CassetteNotFoundError
from vcr.record_mode import RecordMode
from vcr.request import Request

from orchestrator.agent.protocols import RETRIED_STATUSES
from orchestrator.errors import InputError

Mode = Literal["record", "replay"]

MISMATCH = "the prompt changed since this cassette was recorded; re-record with --record"

# Allowlists: a header not named here is not written, so no credential or cookie can reach a cassette.
REQUEST_HEADERS = frozenset({"content-type", "accept", "accept-encoding", "anthropic-version", "anthropic-beta"})
RESPONSE_HEADERS = frozenset({"content-type", "request-id", "retry-after", "retry-after-ms", "x-should-retry"})
RECORDING_ACCEPT_ENCODING = "gzip, identity"  # what vcrpy can decode before writing (httpx2 may offer zstd, br)
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
KEY_PATTERN = re.compile(r"sk-ant-[A-Za-z0-9_\-]{8,}")
KEY_PLACEHOLDER = "sk-ant-REDACTED"


class CassetteMismatch(InputError, AnthropicError):
    """A replayed request that the cassette does not hold: the prompt, the tools or the loop changed (exit 2)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        InputError.__init__(self, message, hint)


@dataclass
class Recording:
    """The open cassette: what the caller may inspect while and after the session runs."""

    path: Path
    mode: Mode
    metadata: dict[str, Any]
    cassette: Cassette
    mismatch: CassetteMismatch | None = field(default=None, repr=False)

    @property
    def interactions(self) -> int:
        return len(self.cassette)

    @property
    def played(self) -> int:
        return self.cassette.play_count


@contextlib.contextmanager
def cassette(path: Path, mode: Mode, metadata: Mapping[str, Any] | None = None) -> Iterator[Recording]:
    """Record every httpx2 request made inside the block into `path`, or answer them from it.

    Record overwrites `path` (written when the block ends, even on an error, so a failed session is kept) and stores
    `metadata` beside the interactions, with the SDK's version and API version added. Replay raises `InputError`
    for a missing or unreadable cassette, `CassetteMismatch` for a request the cassette does not hold or for
    interactions left unplayed when the block ends cleanly.
    """
    path = Path(path)
    if mode == "record":
        with _recording(path, metadata or {}) as recording:
            yield recording
    elif mode == "replay":
        with _replaying(path) as recording:
            yield recording
    else:
        raise ValueError(f"cassette mode must be 'record' or 'replay', not {mode!r}")


def read_metadata(path: Path) -> dict[str, Any]:
    """The metadata block of a cassette file (InputError if the file is missing or not a cassette)."""
    return dict(_load_file(Path(path)).get("metadata") or {})


# --- record --------------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _recording(path: Path, metadata: Mapping[str, Any]) -> Iterator[Recording]:
    stored = {
        "sdk": f"anthropic {anthropic.__version__}",
        "anthropic_version": ANTHROPIC_API_VERSION,
        "recorder": f"vcrpy {vcr.__version__}",
        **metadata,
    }
    context = Cassette.use(
        path=str(path),
        serializer=CassetteSerializer,
        persister=_FreshFilePersister,
        record_mode=RecordMode.ONCE,
        match_on=MATCH_ON,
        before_record_request=scrub_request,
        before_record_response=scrub_response,
        allow_playback_repeats=False,
    )
    with context as recorded, _accept_encoding(RECORDING_ACCEPT_ENCODING):
        for key, value in stored.items():
            recorded.get_metadata(key, _plain(value))
        yield Recording(path=path, mode="record", metadata=dict(stored), cassette=recorded)


@contextlib.contextmanager
def _accept_encoding(value: str) -> Iterator[None]:
    """Send `Accept-Encoding: value` on every httpx2 request (wrapping vcrpy's patched transports)."""

    def sync_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
        def handle_request(self: Any, request: httpx2.Request) -> Any:
            request.headers["Accept-Encoding"] = value
            return original(self, request)

        return handle_request

    def async_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
        async def handle_async_request(self: Any, request: httpx2.Request) -> Any:
            request.headers["Accept-Encoding"] = value
            return await original(self, request)

        return handle_async_request

    with (
        mock.patch.object(httpx2.HTTPTransport, "handle_request", sync_wrapper(httpx2.HTTPTransport.handle_request)),
        mock.patch.object(
            httpx2.AsyncHTTPTransport,
            "handle_async_request",
            async_wrapper(httpx2.AsyncHTTPTransport.handle_async_request),
        ),
    ):
        yield


def scrub_request(request: Request) -> Request:
    """The request as it is written down and matched: allowlisted headers, no port on loopback, no key in the body."""
    request = copy.deepcopy(request)
    request.headers = {
        name.lower(): value for name, value in request.headers.items() if name.lower() in REQUEST_HEADERS
    }
    parts = urlsplit(request.uri)
    if parts.hostname in LOOPBACK_HOSTS:
        # a local server's port changes every run; keeping it would make each re-recording differ
        request.uri = urlunsplit((parts.scheme, parts.hostname, parts.path, parts.query, parts.fragment))
    if isinstance(request.body, bytes):
        request.body = _scrub_text(request.body.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")
    return request


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    """The response as it is written down: decompressed, allowlisted headers, no key in the body."""
    response = decode_response(response)
    response["headers"] = {
        name.lower(): values for name, values in response["headers"].items() if name.lower() in RESPONSE_HEADERS
    }
    body = response["body"].get("string")
    if isinstance(body, bytes):
        response["body"]["string"] = _scrub_text(body.decode("utf-8", "surrogateescape")).encode(
            "utf-8", "surrogateescape"
        )
    return response


def _scrub_text(value: str) -> str:
    return KEY_PATTERN.sub(KEY_PLACEHOLDER, value)


def _plain(value: Any) -> Any:
    """Metadata as YAML-safe plain data (paths and other objects become strings)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


class _FreshFilePersister:
    """Records from scratch (never loads the old file), and replaces the file in one step when saving."""

    @classmethod
    def load_cassette(cls, cassette_path: str, serializer: Any) -> Any:
        raise CassetteNotFoundError()

    @staticmethod
    def save_cassette(cassette_path: str, cassette_dict: dict[str, Any], serializer: Any) -> None:
        target = Path(cassette_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        data = vcr.serialize.serialize(cassette_dict, serializer)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(data)
            # mkstemp makes the file private (0600); a cassette is a project file, readable as the umask allows
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise


# --- replay --------------------------------------------------------------------------------------------------------


def json_body(r1: Request, r2: Request) -> None:
    """vcrpy matcher: the bodies are equal as JSON (key order and spacing aside), else the first difference."""
    # vcrpy calls matchers as (request asked for, recorded request)
    now, recorded = _parse_body(r1.body), _parse_body(r2.body)
    difference = first_difference(recorded, now)
    if difference is not None:
        raise AssertionError(difference)


def _method(r1: Request, r2: Request) -> None:
    assert r1.method == r2.method, f"method {r1.method} != {r2.method}"


def _path(r1: Request, r2: Request) -> None:
    assert r1.path == r2.path, f"path {r1.path} != {r2.path}"


_method.__name__ = "method"
_path.__name__ = "path"
MATCH_ON = (_method, _path, json_body)


def _parse_body(body: Any) -> Any:
    if body is None or body == b"":
        return None
    raw = body.decode("utf-8", "surrogateescape") if isinstance(body, bytes) else str(body)
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def first_difference(recorded: Any, now: Any, where: str = "body") -> str | None:
    """Where two JSON values first differ, as `path: recorded X, now Y`; None when they are equal."""
    if isinstance(recorded, dict) and isinstance(now, dict):
        for key in list(recorded) + [k for k in now if k not in recorded]:
            if key not in now:
                return f"{where}.{key}: recorded {_short(recorded[key])}, now absent"
            if key not in recorded:
                return f"{where}.{key}: not recorded, now {_short(now[key])}"
            found = first_difference(recorded[key], now[key], f"{where}.{key}")
            if found:
                return found
        return None
    if isinstance(recorded, list) and isinstance(now, list):
        for index, (a, b) in enumerate(zip(recorded, now, strict=False)):
            found = first_difference(a, b, f"{where}[{index}]")
            if found:
                return found
        if len(recorded) != len(now):
            return f"{where}: recorded {len(recorded)} item(s), now {len(now)}"
        return None
    if recorded == now and type(recorded) is type(now):
        return None
    return f"{where}: recorded {_short(recorded)}, now {_short(now)}"


def _short(value: Any, limit: int = 120) -> str:
    shown = json.dumps(value, ensure_ascii=False)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


class _ReplayCassette(Cassette):
    """vcrpy's cassette, but a request it cannot answer raises CassetteMismatch (and the recording remembers it)."""

    recording: Recording | None = None
    requests_seen = 0

    def can_play_response_for(self, request: Request) -> bool:
        self.requests_seen += 1
        if super().can_play_response_for(request):
            return True
        if not self.write_protected:
            return False
        cause = CannotOverwriteExistingCassetteException(cassette=self, failed_request=request)
        mismatch = self._mismatch(request)
        if self.recording is not None:
            self.recording.mismatch = mismatch
        raise mismatch from cause

    def _mismatch(self, request: Request) -> CassetteMismatch:
        scrubbed = scrub_request(request)
        unplayed = [index for index in range(len(self)) if self.play_counts[index] == 0]
        where = f"{self._path}: request {self.requests_seen} ({scrubbed.method} {scrubbed.path})"
        if not unplayed:
            detail = f"the cassette's {len(self)} interaction(s) are all played and the session asked for more"
        else:
            expected = self.data[unplayed[0]][0]
            problems = [
                message or name
                for name, message in ((m.__name__, _failure(m, scrubbed, expected)) for m in self._match_on)
                if message is not None
            ]
            detail = "first difference from the next recorded request: " + "; ".join(problems)
        return CassetteMismatch(
            f"{where}: {MISMATCH}\n  {detail}",
            hint=_re_record_hint(self.recording.metadata if self.recording else {}),
        )


def _re_record_hint(metadata: Mapping[str, Any]) -> str:
    """How to make the cassette again: from its script when a scripted server recorded it, else with a key."""
    if metadata.get("scripted"):
        server = metadata.get("server") or "the scripted Messages API"
        return f"this cassette was recorded from a script ({server}): update the script and record it again, or undo the change"
    return "record the session again with --record FILE (needs ANTHROPIC_API_KEY), or undo the change"


def _failure(matcher: Callable[[Request, Request], Any], now: Request, recorded: Request) -> str | None:
    try:
        result = matcher(now, recorded)
    except AssertionError as error:
        return str(error) or matcher.__name__
    return None if result in (None, True) else matcher.__name__


def _fast_retries(request: Request, response: dict[str, Any]) -> tuple[Request, dict[str, Any]]:
    """after_load hook: a response the SDK will retry says to retry at once (replays need not wait)."""
    if response["status"]["code"] in RETRIED_STATUSES:
        response = copy.deepcopy(response)
        response["headers"]["retry-after-ms"] = ["1"]
    return request, response


@contextlib.contextmanager
def _replaying(path: Path) -> Iterator[Recording]:
    data = _load_file(path)
    context = _ReplayCassette.use(
        path=str(path),
        serializer=CassetteSerializer,
        record_mode=RecordMode.NONE,
        match_on=MATCH_ON,
        before_record_request=scrub_request,
        allow_playback_repeats=False,
        after_load_interaction=_fast_retries,
        record_on_exception=False,
    )
    with context as replayed:
        recording = Recording(path=path, mode="replay", metadata=dict(data.get("metadata") or {}), cassette=replayed)
        replayed.recording = recording
        try:
            yield recording
        except CassetteMismatch:
            raise
        except BaseException as error:
            cause = _mismatch_in_chain(error)
            if cause is not None:
                raise (recording.mismatch or _chain_mismatch(recording, cause)) from error
            raise
        if recording.mismatch is not None:
            # the caller caught it (say, as an API failure) and went on: the replay still did not match
            raise recording.mismatch
        if not replayed.all_played:
            unplayed = len(replayed) - len(replayed.play_counts)
            raise CassetteMismatch(
                f"{path}: {unplayed} of {len(replayed)} recorded interaction(s) were never requested: {MISMATCH}",
                hint=_re_record_hint(recording.metadata),
            )


def _mismatch_in_chain(error: BaseException) -> CannotOverwriteExistingCassetteException | None:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, CannotOverwriteExistingCassetteException):
            return current
        current = current.__cause__ or current.__context__
    return None


def _chain_mismatch(recording: Recording, cause: CannotOverwriteExistingCassetteException) -> CassetteMismatch:
    return CassetteMismatch(f"{recording.path}: {MISMATCH}\n  {cause}", hint=_re_record_hint(recording.metadata))


def _load_file(path: Path) -> dict[str, Any]:
    """The cassette file parsed, or InputError naming it (missing, unreadable, not YAML, not a cassette)."""
    if not path.is_file():
        raise InputError(
            f"cassette not found: {path}",
            hint="pass the path of a recorded session to --replay, or record one with --record",
        )
    try:
        data = CassetteSerializer.deserialize(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, ValueError, TypeError) as error:
        raise InputError(f"cassette {path} is not readable: {error}", hint="record it again with --record") from error
    interactions = data.get("interactions") if isinstance(data, dict) else None
    if not isinstance(interactions, list) or not all(
        isinstance(i, dict) and isinstance(i.get("request"), dict) and isinstance(i.get("response"), dict)
        for i in interactions
    ):
        raise InputError(
            f"cassette {path} is not a cassette (no list of interactions)", hint="record it again with --record"
        )
    return data


# --- the file format ------------------------------------------------------------------------------------------------


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """Multi-line strings (prompts, file contents) as literal blocks, so a cassette reads like the session."""


def _str_presenter(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str_presenter)
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class CassetteSerializer:
    """vcrpy serializer: YAML with metadata first and JSON bodies stored as data under `json:` instead of a string.

    vcrpy itself reads the `metadata` key beside `version` and `interactions` (vcrpy >= 9.3), so the files stay
    ordinary vcrpy cassettes.
    """

    @staticmethod
    def serialize(cassette_dict: dict[str, Any]) -> str:
        data = copy.deepcopy(cassette_dict)
        for interaction in data["interactions"]:
            request, response = interaction["request"], interaction["response"]
            request["body"] = _body_to_data(request.get("body"))
            response["body"] = _body_to_data(response.get("body", {}).get("string"))
        ordered = {"version": data.get("version", 1)}
        if data.get("metadata"):
            ordered["metadata"] = data["metadata"]
        ordered["interactions"] = [
            {
                "request": _ordered(i["request"], ("method", "uri", "headers", "body")),
                "response": _ordered(i["response"], ("status", "headers", "body")),
            }
            for i in data["interactions"]
        ]
        return yaml.dump(ordered, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)

    @staticmethod
    def deserialize(cassette_string: str) -> dict[str, Any]:
        data = yaml.load(cassette_string, Loader=_Loader)
        if not isinstance(data, dict):
            raise ValueError("the file holds no cassette mapping")
        interactions = data.get("interactions")
        for interaction in interactions if isinstance(interactions, list) else []:
            if not isinstance(interaction, dict):
                continue
            request, response = interaction.get("request"), interaction.get("response")
            if isinstance(request, dict):
                request["body"] = _data_to_body(request.get("body"))
                request.setdefault("headers", {})
            if isinstance(response, dict):
                response["body"] = {"string": _data_to_body(response.get("body")) or b""}
                response.setdefault("headers", {})
        return data


def _body_to_data(body: Any) -> Any:
    """A body as it is written: {json: data} for a JSON body, {text: str} for other text, None for none."""
    if body is None or body == b"" or body == "":
        return None
    raw = body.decode("utf-8", "surrogateescape") if isinstance(body, bytes) else str(body)
    try:
        return {"json": json.loads(raw)}
    except ValueError:
        return {"text": raw}


def _data_to_body(stored: Any) -> bytes | None:
    if stored is None:
        return None
    if isinstance(stored, dict) and "json" in stored:
        return json.dumps(stored["json"], ensure_ascii=False).encode("utf-8")
    if isinstance(stored, dict) and "text" in stored:
        return str(stored["text"]).encode("utf-8", "surrogateescape")
    if isinstance(stored, dict) and "string" in stored:  # vcrpy's own response layout
        value = stored["string"]
        return value if isinstance(value, bytes) else str(value).encode("utf-8")
    return stored if isinstance(stored, bytes) else str(stored).encode("utf-8")


def _ordered(mapping: dict[str, Any], first: tuple[str, ...]) -> dict[str, Any]:
    return {**{k: mapping[k] for k in first if k in mapping}, **{k: v for k, v in mapping.items() if k not in first}}
