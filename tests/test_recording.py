"""Record a session through the real SDK against the scripted server, replay it offline, and refuse stale cassettes."""

from __future__ import annotations

import gzip
import json
import re
import time
from pathlib import Path
from typing import Any

import anthropic
import pytest
import yaml
from vcr.errors import CannotOverwriteExistingCassetteException

from orchestrator.agent.recording import MISMATCH, CassetteMismatch, cassette, read_metadata, scrub_response
from orchestrator.errors import ExitCode, InputError
from tests.support.messages_api import ScriptedMessagesAPI, overloaded, rate_limited, reply, text, tool_use
from tests.support.network import NetworkBlocked, network_blocked
from tests.support.sessions import FAKE_API_KEY, scripted_cassette

FAKE_KEY = "sk-ant-api03-" + "Rk4_wT-9pLmQ" * 6 + "Xy3_vB7n"  # 80 characters after the prefix, shaped like a real key
MODEL = "claude-sonnet-5-5"
TOOLS = [
    {
        "name": "read_file",
        "description": "Read a file.",
        "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}},
    },
    {
        "name": "submit",
        "description": "Submit.",
        "input_schema": {"type": "object", "properties": {"summary": {"type": "string"}}},
    },
]
SYSTEM = [
    {
        "type": "text",
        "text": "You write Alembic migrations.\nOne revision per feature.",
        "cache_control": {"type": "ephemeral"},
    }
]
SCRIPT = [
    reply(text("Let me look."), tool_use("read_file", {"path": "api/alembic/versions/0001_init.py"})),
    reply(tool_use("submit", {"summary": "Added lesson_progress."})),
    reply(text("Submitted.")),
]


def run_session(
    client: anthropic.Anthropic, task: str = "Write the migration for specs/042."
) -> list[anthropic.types.Message]:
    """A tiny tool-use loop: answer every tool call with a fixed result until the model ends its turn."""
    messages: list[Any] = [{"role": "user", "content": task}]
    replies = []
    while True:
        message = client.messages.create(model=MODEL, max_tokens=1024, system=SYSTEM, tools=TOOLS, messages=messages)
        replies.append(message)
        if message.stop_reason != "tool_use":
            return replies
        messages.append(message.to_param())
        results = [
            {"type": "tool_result", "tool_use_id": block.id, "content": f"result of {block.name}"}
            for block in message.content
            if block.type == "tool_use"
        ]
        messages.append({"role": "user", "content": results})


def record(
    path: Path, script: list[Any], *, max_retries: int = 0, task: str = "Write the migration for specs/042."
) -> list[anthropic.types.Message]:
    with ScriptedMessagesAPI(script) as api:
        client = anthropic.Anthropic(base_url=api.base_url, api_key=FAKE_KEY, max_retries=max_retries)
        with cassette(
            path, "record", metadata={"scripted": True, "server": "tests/support/messages_api.py", "model": MODEL}
        ):
            return run_session(client, task)


def replay_client(max_retries: int = 0) -> anthropic.Anthropic:
    # the default base URL: a cassette recorded against the local server replays against the real API's address
    return anthropic.Anthropic(api_key="sk-ant-api03-replay", max_retries=max_retries)


@pytest.fixture
def recorded(tmp_path: Path) -> tuple[Path, list[anthropic.types.Message]]:
    path = tmp_path / "cassettes" / "session.yaml"
    return path, record(path, SCRIPT)


def test_a_recorded_session_replays_offline_with_the_same_responses(
    recorded: tuple[Path, list[anthropic.types.Message]],
) -> None:
    path, live = recorded
    with network_blocked() as attempts, cassette(path, "replay") as recording:
        replayed = run_session(replay_client())
        assert recording.played == recording.interactions == 3
    assert attempts == []
    assert [m.model_dump() for m in replayed] == [m.model_dump() for m in live]


def test_the_cassette_is_readable_yaml_with_metadata_and_no_credentials(
    recorded: tuple[Path, list[anthropic.types.Message]],
) -> None:
    path, _ = recorded
    content = path.read_text()
    assert FAKE_KEY not in content and FAKE_KEY[:20] not in content
    assert not re.search(r"sk-ant-[A-Za-z0-9_-]{8,}", content)
    assert not re.search(r"(?i)authorization|x-api-key|bearer|cookie|user-agent|x-stainless", content)
    data = yaml.safe_load(content)
    assert list(data) == ["version", "metadata", "interactions"]
    assert data["metadata"]["scripted"] is True and data["metadata"]["model"] == MODEL
    assert data["metadata"]["sdk"] == f"anthropic {anthropic.__version__}"
    first = data["interactions"][0]
    assert first["request"]["uri"] == "http://127.0.0.1/v1/messages"  # no port: re-recording gives the same file
    assert first["request"]["headers"]["accept-encoding"] == ["gzip, identity"]
    assert first["request"]["body"]["json"]["system"][0]["text"] == SYSTEM[0]["text"]
    assert "  text: |-\n" in content or "text: |" in content  # multi-line prompts as literal blocks
    assert first["response"]["body"]["json"]["content"][1]["name"] == "read_file"
    assert set(first["response"]["headers"]) <= {
        "content-type",
        "request-id",
        "retry-after",
        "retry-after-ms",
        "x-should-retry",
    }
    assert read_metadata(path)["server"] == "tests/support/messages_api.py"


def test_vcrpy_itself_reads_the_metadata(recorded: tuple[Path, list[anthropic.types.Message]]) -> None:
    path, _ = recorded
    with cassette(path, "replay") as recording:
        assert recording.cassette.get_metadata("scripted", None) is True
        run_session(replay_client())


def test_re_recording_the_same_script_gives_the_same_file(
    tmp_path: Path, recorded: tuple[Path, list[anthropic.types.Message]]
) -> None:
    path, _ = recorded
    again = tmp_path / "again.yaml"
    record(again, SCRIPT)
    assert again.read_text() == path.read_text()


def test_a_changed_prompt_is_a_cassette_mismatch_not_a_connection_error(
    recorded: tuple[Path, list[anthropic.types.Message]],
) -> None:
    path, _ = recorded
    started = time.monotonic()
    with network_blocked(), pytest.raises(CassetteMismatch) as caught, cassette(path, "replay"):
        run_session(replay_client(max_retries=2), task="Write the migration for specs/043.")
    assert time.monotonic() - started < 2  # not retried with backoff
    error = caught.value
    assert MISMATCH in str(error)
    assert "the prompt changed since this cassette was recorded; re-record with --record" in str(error)
    assert "body.messages[0].content" in str(error) and "specs/043" in str(error)
    assert isinstance(error, InputError) and error.exit_code == ExitCode.BAD_INPUT
    assert isinstance(error.__cause__, CannotOverwriteExistingCassetteException)
    assert not isinstance(error, anthropic.APIConnectionError)


def test_a_mismatch_the_caller_swallowed_is_raised_when_the_cassette_closes(
    recorded: tuple[Path, list[anthropic.types.Message]],
) -> None:
    path, _ = recorded
    with pytest.raises(CassetteMismatch, match="re-record with --record"), cassette(path, "replay"):
        failure = None
        try:
            run_session(replay_client(), task="something else")
        except Exception as error:  # a loop that turns every failure into its own result
            failure = error
        assert isinstance(failure, CassetteMismatch)


def test_a_mismatch_wrapped_by_the_caller_still_says_re_record(
    recorded: tuple[Path, list[anthropic.types.Message]],
) -> None:
    path, _ = recorded

    class LoopFailed(Exception):
        pass

    with pytest.raises(CassetteMismatch, match="re-record with --record"), cassette(path, "replay"):
        try:
            run_session(replay_client(), task="something else")
        except anthropic.AnthropicError as error:
            raise LoopFailed("the API failed") from error


def test_key_order_and_spacing_do_not_matter(recorded: tuple[Path, list[anthropic.types.Message]]) -> None:
    path, live = recorded
    body = {
        "tools": TOOLS,
        "system": SYSTEM,
        "model": MODEL,
        "messages": [{"content": "Write the migration for specs/042.", "role": "user"}],
        "max_tokens": 1024,
    }
    with cassette(path, "replay") as recording:
        client = replay_client()
        response = client.post(
            "/v1/messages", body=json.loads(json.dumps(body, indent=3)), cast_to=anthropic.types.Message
        )
        assert response.model_dump() == live[0].model_dump()
        recording.cassette.play_counts.update(range(1, len(recording.cassette)))  # the rest is not this test's point


def test_interactions_left_unplayed_fail(recorded: tuple[Path, list[anthropic.types.Message]]) -> None:
    path, _ = recorded
    with (
        pytest.raises(CassetteMismatch, match=r"1 of 3 recorded interaction\(s\) were never requested"),
        cassette(path, "replay"),
    ):
        client = replay_client()
        first = client.messages.create(
            model=MODEL,
            max_tokens=1024,
            system=SYSTEM,
            tools=TOOLS,
            messages=[{"role": "user", "content": "Write the migration for specs/042."}],
        )
        messages: list[Any] = [
            {"role": "user", "content": "Write the migration for specs/042."},
            first.to_param(),
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": first.content[1].id, "content": "result of read_file"}
                ],
            },
        ]
        client.messages.create(model=MODEL, max_tokens=1024, system=SYSTEM, tools=TOOLS, messages=messages)


def test_a_request_beyond_the_cassette_is_a_mismatch(recorded: tuple[Path, list[anthropic.types.Message]]) -> None:
    path, _ = recorded
    with pytest.raises(CassetteMismatch, match="all played and the session asked for more"), cassette(path, "replay"):
        client = replay_client()
        run_session(client)
        run_session(client)


def test_overloaded_then_success_is_two_interactions_and_replays_without_waiting(tmp_path: Path) -> None:
    path = tmp_path / "overloaded.yaml"
    live = record(path, [overloaded(), *SCRIPT], max_retries=2)
    interactions = yaml.safe_load(path.read_text())["interactions"]
    assert [i["response"]["status"]["code"] for i in interactions] == [529, 200, 200, 200]
    assert interactions[0]["request"]["body"] == interactions[1]["request"]["body"]
    assert interactions[0]["response"]["body"]["json"]["error"]["type"] == "overloaded_error"
    started = time.monotonic()
    with network_blocked(), cassette(path, "replay") as recording:
        replayed = run_session(replay_client(max_retries=2))
        assert recording.played == 4
    assert time.monotonic() - started < 0.3 + 0.5  # no 0.5 s backoff: the replayed 529 says retry-after-ms 1
    assert [m.model_dump() for m in replayed] == [m.model_dump() for m in live]


def test_overloaded_replayed_without_retries_is_the_api_error(tmp_path: Path) -> None:
    path = tmp_path / "overloaded.yaml"
    record(path, [overloaded(), *SCRIPT], max_retries=2)
    with pytest.raises(anthropic.OverloadedError), cassette(path, "replay"):
        run_session(replay_client(max_retries=0))


def test_rate_limit_retry_after_is_recorded(tmp_path: Path) -> None:
    path = tmp_path / "rate-limited.yaml"
    record(path, [rate_limited(retry_after=1), *SCRIPT], max_retries=2)
    first = yaml.safe_load(path.read_text())["interactions"][0]["response"]
    assert first["status"]["code"] == 429 and first["headers"]["retry-after"] == ["1"]
    with network_blocked(), cassette(path, "replay"):
        started = time.monotonic()
        run_session(replay_client(max_retries=2))
        assert time.monotonic() - started < 0.5


def test_a_key_in_a_prompt_is_scrubbed_and_still_replays(tmp_path: Path) -> None:
    path = tmp_path / "key-in-prompt.yaml"
    task = f"My key is {FAKE_KEY}, write the migration."
    record(path, SCRIPT, task=task)
    assert FAKE_KEY not in path.read_text() and "sk-ant-REDACTED" in path.read_text()
    with cassette(path, "replay"):
        run_session(replay_client(), task=task)


def test_a_compressed_response_is_written_decompressed() -> None:
    payload = json.dumps({"type": "message", "content": []}).encode()
    response = {
        "status": {"code": 200, "message": "OK"},
        "headers": {
            "Content-Encoding": ["gzip"],
            "Content-Type": ["application/json"],
            "Set-Cookie": ["a=b"],
            "Date": ["today"],
        },
        "body": {"string": gzip.compress(payload)},
    }
    scrubbed = scrub_response(response)
    assert scrubbed["body"]["string"] == payload
    assert scrubbed["headers"] == {"content-type": ["application/json"]}


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "cassette not found"),
        ("interactions: [\n  - request: {", "is not readable"),
        ("just a string\n", "is not readable"),
        ("version: 1\ninteractions: 7\n", "is not a cassette"),
        (b"\xff\xfe\x00binary", "is not readable"),
    ],
)
def test_a_missing_or_corrupt_cassette_is_bad_input_naming_the_file(
    tmp_path: Path, content: str | bytes | None, reason: str
) -> None:
    path = tmp_path / "broken.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(InputError, match=reason) as caught, cassette(path, "replay"):
        pytest.fail("the block must not run")
    assert str(path) in str(caught.value) and caught.value.exit_code == ExitCode.BAD_INPUT


def test_the_network_is_really_blocked_in_replay_tests() -> None:
    with network_blocked(), pytest.raises(anthropic.APIConnectionError) as caught:
        replay_client().messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "go"}])
    chain = [caught.value.__cause__, getattr(caught.value.__cause__, "__context__", None)]
    assert any(isinstance(error, NetworkBlocked) or "network blocked" in str(error) for error in chain)


def test_a_streamed_session_records_and_replays(tmp_path: Path) -> None:
    path = tmp_path / "streamed.yaml"

    def streamed(client: anthropic.Anthropic) -> anthropic.types.Message:
        with client.messages.stream(
            model=MODEL, max_tokens=1024, system=SYSTEM, tools=TOOLS, messages=[{"role": "user", "content": "go"}]
        ) as stream:
            return stream.get_final_message()

    with ScriptedMessagesAPI([SCRIPT[0]]) as api, cassette(path, "record"):
        live = streamed(anthropic.Anthropic(base_url=api.base_url, api_key=FAKE_KEY, max_retries=0))
    body = yaml.safe_load(path.read_text())["interactions"][0]["response"]["body"]
    assert body["text"].startswith("event: message_start\n")  # readable, not one long quoted line
    with network_blocked(), cassette(path, "replay"):
        assert streamed(replay_client()).model_dump() == live.model_dump()


def test_scripted_cassette_records_with_its_metadata(tmp_path: Path) -> None:
    path = tmp_path / "scripted.yaml"
    with scripted_cassette(path, SCRIPT, metadata={"model": MODEL, "feature": "042-lesson-progress"}) as api:
        run_session(anthropic.Anthropic(base_url=api.base_url, api_key=FAKE_API_KEY, max_retries=0))
    assert read_metadata(path) | {"sdk": None} == {
        "sdk": None,
        "anthropic_version": anthropic._constants.ANTHROPIC_API_VERSION,
        "recorder": read_metadata(path)["recorder"],
        "scripted": True,
        "server": "tests/support/messages_api.py",
        "model": MODEL,
        "feature": "042-lesson-progress",
    }
    assert FAKE_API_KEY not in path.read_text()
    with cassette(path, "replay"):
        run_session(replay_client())


def test_a_compressed_session_is_written_readable_and_replays(tmp_path: Path) -> None:
    path = tmp_path / "gzip.yaml"
    with ScriptedMessagesAPI(SCRIPT, compress=True) as api, cassette(path, "record"):
        live = run_session(anthropic.Anthropic(base_url=api.base_url, api_key=FAKE_KEY, max_retries=0))
    response = yaml.safe_load(path.read_text())["interactions"][0]["response"]
    assert "content-encoding" not in response["headers"]
    assert response["body"]["json"]["content"][0]["text"] == "Let me look."
    with network_blocked(), cassette(path, "replay"):
        assert [m.model_dump() for m in run_session(replay_client())] == [m.model_dump() for m in live]


def test_a_session_that_fails_is_still_written(tmp_path: Path) -> None:
    path = tmp_path / "failed.yaml"
    with ScriptedMessagesAPI([overloaded()]) as api, pytest.raises(anthropic.OverloadedError), cassette(path, "record"):
        run_session(anthropic.Anthropic(base_url=api.base_url, api_key=FAKE_KEY, max_retries=0))
    interactions = yaml.safe_load(path.read_text())["interactions"]
    assert [i["response"]["status"]["code"] for i in interactions] == [529]
    with pytest.raises(anthropic.OverloadedError), cassette(path, "replay"):
        run_session(replay_client())


def test_recording_replaces_an_old_cassette(recorded: tuple[Path, list[anthropic.types.Message]]) -> None:
    path, _ = recorded
    with ScriptedMessagesAPI([reply(text("Nothing to do."))]) as api, cassette(path, "record"):
        run_session(anthropic.Anthropic(base_url=api.base_url, api_key=FAKE_KEY, max_retries=0), task="other")
    assert len(yaml.safe_load(path.read_text())["interactions"]) == 1
    assert not list(path.parent.glob(".*.tmp"))
