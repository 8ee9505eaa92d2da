"""The scripted Messages API server, driven through the real anthropic SDK: replies, faults, validation, usage."""

from __future__ import annotations

import time
from typing import Any

import anthropic
import pytest

from tests.support.messages_api import (
    Fault,
    ReceivedRequest,
    Reply,
    ScriptedMessagesAPI,
    authentication_failed,
    estimate_tokens,
    invalid_request,
    overloaded,
    rate_limited,
    refusal,
    reply,
    text,
    thinking,
    tool_use,
    unknown_model,
)

FAKE_KEY = "sk-ant-api03-" + "Zx9_-Qw" * 11 + "abc"  # 80 characters after the prefix, shaped like a real key
MODEL = "claude-sonnet-5-5"
LONG = "Reference migration, line by line. " * 200  # about 1,750 tokens: above the 1,024-token cache minimum


def client(api: ScriptedMessagesAPI, max_retries: int = 0) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=api.base_url, api_key=FAKE_KEY, max_retries=max_retries)


def ask(c: anthropic.Anthropic, messages: list[Any], **params: Any) -> anthropic.types.Message:
    return c.messages.create(model=MODEL, max_tokens=1024, messages=messages, **params)


def test_a_tool_use_turn_then_an_answer_with_deterministic_ids() -> None:
    script = [reply(text("Reading."), tool_use("read_file", {"path": "api/alembic/env.py"})), reply(text("Done."))]
    with ScriptedMessagesAPI(script) as api:
        c = client(api)
        first = ask(c, [{"role": "user", "content": "Write the migration."}])
        assert first.stop_reason == "tool_use"
        block = first.content[1]
        assert block.type == "tool_use" and block.name == "read_file" and block.input == {"path": "api/alembic/env.py"}
        assert block.id.startswith("toolu_01") and len(block.id) == len("toolu_01") + 22
        assert first.id.startswith("msg_01")
        result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": block.id, "content": "..."}]}
        second = ask(c, [{"role": "user", "content": "Write the migration."}, first.to_param(), result])
        assert second.stop_reason == "end_turn" and second.content[0].type == "text"
    assert [r.status for r in api.requests] == [200, 200]
    assert api.requests[0].headers["authorization"] == f"Bearer {FAKE_KEY}"
    assert api.requests[1].tool_results()[block.id]["content"] == "..."
    with ScriptedMessagesAPI(script) as again:
        assert ask(client(again), [{"role": "user", "content": "Write the migration."}]).content[1].id == block.id
        again.require_all_played = False


def test_a_turn_computed_from_the_request() -> None:
    def echo(request: ReceivedRequest) -> Reply:
        return reply(text(f"you said {request.messages[-1]['content']}"))

    with ScriptedMessagesAPI([echo]) as api:
        answer = ask(client(api), [{"role": "user", "content": "hello"}])
    assert answer.content[0].text == "you said hello"


@pytest.mark.parametrize(
    ("turn", "stop_reason"),
    [
        (reply(text("partial"), tool_use("write_file", {"path": "a"}), stop_reason="max_tokens"), "max_tokens"),
        (reply(text("working"), stop_reason="pause_turn"), "pause_turn"),
        (reply(stop_reason="model_context_window_exceeded"), "model_context_window_exceeded"),
    ],
)
def test_stop_reasons_reach_the_sdk(turn: Reply, stop_reason: str) -> None:
    with ScriptedMessagesAPI([turn]) as api:
        message = ask(client(api), [{"role": "user", "content": "go"}])
    assert message.stop_reason == stop_reason
    if stop_reason == "max_tokens":
        assert message.usage.output_tokens == 1024  # the request's max_tokens, all spent


def test_a_refusal_carries_its_stop_details() -> None:
    with ScriptedMessagesAPI([refusal("cyber", "The request could enable harm.")]) as api:
        message = ask(client(api), [{"role": "user", "content": "go"}])
    assert message.stop_reason == "refusal"
    assert message.stop_details is not None
    assert message.stop_details.category == "cyber" and message.stop_details.explanation.startswith("The request")


def test_thinking_blocks_must_come_back_unchanged() -> None:
    script = [reply(thinking("Plan the index."), tool_use("run_checks", {})), reply(text("ok")), reply(text("ok"))]
    with ScriptedMessagesAPI(script, require_all_played=False) as api:
        c = client(api)
        first = ask(c, [{"role": "user", "content": "go"}])
        assert first.content[0].type == "thinking" and first.content[0].signature
        result = {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": first.content[1].id, "content": "green"}],
        }
        assert ask(c, [{"role": "user", "content": "go"}, first.to_param(), result]).content[0].text == "ok"
        changed = first.to_param()
        changed["content"] = [{**first.content[0].model_dump(), "thinking": "Something else."}, first.content[1]]
        with pytest.raises(anthropic.BadRequestError, match="Invalid `signature` in `thinking` block"):
            ask(c, [{"role": "user", "content": "go"}, changed, result])
    assert [r.turn for r in api.requests] == [0, 1, None]  # the refused request took no turn


def test_the_api_s_own_validation_takes_no_turn() -> None:
    with ScriptedMessagesAPI([reply(tool_use("list_files", {"path": "."})), reply(text("ok"))]) as api:
        c = client(api)
        first = ask(c, [{"role": "user", "content": "go"}])
        with pytest.raises(anthropic.BadRequestError, match="without `tool_result` blocks"):
            ask(c, [{"role": "user", "content": "go"}, first.to_param(), {"role": "user", "content": "and?"}])
        too_many = [{"type": "text", "text": f"part {i}", "cache_control": {"type": "ephemeral"}} for i in range(5)]
        with pytest.raises(anthropic.BadRequestError, match="A maximum of 4 blocks with cache_control"):
            ask(c, [{"role": "user", "content": too_many}])
        no_key = anthropic.Anthropic(
            base_url=api.base_url, api_key=FAKE_KEY, max_retries=0, default_headers={"Authorization": anthropic.Omit()}
        )
        with pytest.raises(anthropic.AuthenticationError):
            ask(no_key, [{"role": "user", "content": "go"}])
        result = {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": first.content[0].id, "content": "a.py"}],
        }
        assert ask(c, [{"role": "user", "content": "go"}, first.to_param(), result]).content[0].text == "ok"
    assert [r.status for r in api.requests] == [200, 400, 400, 401, 200]


def test_overloaded_then_success_is_retried_by_the_sdk() -> None:
    with ScriptedMessagesAPI([overloaded(), reply(text("ok"))]) as api:
        message = ask(client(api, max_retries=2), [{"role": "user", "content": "go"}])
    assert message.content[0].text == "ok"
    assert [r.status for r in api.requests] == [529, 200]
    assert [r.headers["x-stainless-retry-count"] for r in api.requests] == ["0", "1"]


def test_overloaded_without_retries_is_an_overloaded_error_with_the_api_s_body() -> None:
    with ScriptedMessagesAPI([overloaded()]) as api, pytest.raises(anthropic.OverloadedError) as caught:
        ask(client(api), [{"role": "user", "content": "go"}])
    error = caught.value
    assert error.status_code == 529 and error.type == "overloaded_error" and error.api_message == "Overloaded"
    assert error.request_id is not None and error.request_id.startswith("req_01")
    assert error.body == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
        "request_id": error.request_id,
    }


def test_rate_limit_retry_after_is_honoured() -> None:
    with ScriptedMessagesAPI([rate_limited(retry_after=1), reply(text("ok"))]) as api:
        ask(client(api, max_retries=1), [{"role": "user", "content": "go"}])
    limited, answered = api.requests
    assert limited.status == 429 and answered.status == 200
    assert answered.received_at - limited.received_at >= 0.95  # the SDK's own backoff would be about 0.5 s


@pytest.mark.parametrize(
    ("fault", "error_class", "message"),
    [
        (authentication_failed(), anthropic.AuthenticationError, "invalid x-api-key"),
        (unknown_model(), anthropic.NotFoundError, f"model: {MODEL}"),
        (invalid_request("messages.0.content: Field required"), anthropic.BadRequestError, "Field required"),
    ],
)
def test_client_errors_are_not_retried(fault: Fault, error_class: type[Exception], message: str) -> None:
    with ScriptedMessagesAPI([fault]) as api, pytest.raises(error_class, match=message):
        ask(client(api, max_retries=2), [{"role": "user", "content": "go"}])
    assert len(api.requests) == 1


def test_an_unknown_model_named_by_the_server() -> None:
    with (
        ScriptedMessagesAPI([], known_models=[MODEL]) as api,
        pytest.raises(anthropic.NotFoundError, match="model: claude-nonexistent"),
    ):
        client(api).messages.create(
            model="claude-nonexistent", max_tokens=10, messages=[{"role": "user", "content": "go"}]
        )


def test_a_script_not_played_to_the_end_fails_the_test() -> None:
    with (
        pytest.raises(AssertionError, match="1 scripted turn"),
        ScriptedMessagesAPI([reply(text("a")), reply(text("b"))]) as api,
    ):
        ask(client(api), [{"role": "user", "content": "go"}])


def test_a_request_after_the_script_ends_fails_the_test() -> None:
    with pytest.raises(AssertionError, match="came after the script"), ScriptedMessagesAPI([reply(text("a"))]) as api:
        c = client(api, max_retries=2)
        ask(c, [{"role": "user", "content": "go"}])
        with pytest.raises(anthropic.InternalServerError):
            ask(c, [{"role": "user", "content": "again"}])
    assert len(api.requests) == 2  # x-should-retry: false, so the SDK asked once


# --- usage and prompt caching --------------------------------------------------------------------------------------


TOOLS = [
    {
        "name": "read_file",
        "description": "Read a file. " + LONG,
        "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}},
    },
    {
        "name": "submit",
        "description": "Submit the work.",
        "input_schema": {"type": "object", "properties": {"summary": {"type": "string"}}},
        "cache_control": {"type": "ephemeral"},
    },
]
SYSTEM = [{"type": "text", "text": "You write Alembic migrations.\n" + LONG, "cache_control": {"type": "ephemeral"}}]


def _with_newest_marked(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The history with cache_control on the newest message's last block only, as the loop sends it."""
    marked = []
    for index, message in enumerate(messages):
        content = message["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else [dict(b) for b in content]
        blocks = [{k: v for k, v in b.items() if k != "cache_control"} for b in blocks]
        if index == len(messages) - 1:
            blocks[-1]["cache_control"] = {"type": "ephemeral"}
        marked.append({"role": message["role"], "content": blocks})
    return marked


def test_cache_reads_grow_over_a_session_that_extends_its_prefix() -> None:
    turns = 6
    script = [
        reply(text(f"step {i}. " + "notes " * 40), tool_use("read_file", {"path": f"f{i}.py"})) for i in range(turns)
    ]
    history: list[dict[str, Any]] = [{"role": "user", "content": "Write the migration for the spec.\n" + LONG}]
    usages = []
    with ScriptedMessagesAPI(script) as api:
        c = client(api)
        for _ in range(turns):
            message = ask(c, _with_newest_marked(history), tools=TOOLS, system=SYSTEM)
            usages.append(message.usage)
            history.append({"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in message.content]})
            tool_id = message.content[1].id
            history.append(
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": tool_id, "content": f"contents {tool_id} " * 30}
                    ],
                }
            )
    first, *rest = usages
    assert first.cache_read_input_tokens == 0 and first.cache_creation_input_tokens > 3000
    assert first.input_tokens == 0  # everything up to the newest message's breakpoint was written
    reads = [u.cache_read_input_tokens for u in rest]
    assert reads == sorted(reads) and len(set(reads)) == len(reads)  # strictly growing
    for previous, usage in zip(usages, rest, strict=False):
        # what the last request wrote is what this one reads
        assert usage.cache_read_input_tokens == previous.cache_read_input_tokens + previous.cache_creation_input_tokens
        assert 0 < usage.cache_creation_input_tokens < 1000  # only the newest turn is written
    total_input = sum(u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens for u in usages)
    assert sum(u.cache_read_input_tokens for u in usages) / total_input > 0.7


def test_a_prefix_below_the_minimum_is_not_cached() -> None:
    short = [{"type": "text", "text": "short system prompt", "cache_control": {"type": "ephemeral"}}]
    with ScriptedMessagesAPI([reply(text("a")), reply(text("b"))]) as api:
        c = client(api)
        for _ in range(2):
            usage = ask(c, [{"role": "user", "content": "go"}], system=short).usage
            assert usage.cache_creation_input_tokens == 0 and usage.cache_read_input_tokens == 0
            expected = estimate_tokens({"type": "text", "text": "short system prompt"}) + estimate_tokens(
                {"type": "text", "text": "go"}
            )
            assert usage.input_tokens == expected


def test_a_changed_system_prompt_invalidates_what_follows_it() -> None:
    with ScriptedMessagesAPI([reply(text("a")), reply(text("b")), reply(text("c"))]) as api:
        c = client(api)
        messages = [
            {"role": "user", "content": [{"type": "text", "text": "go", "cache_control": {"type": "ephemeral"}}]}
        ]
        written = ask(c, messages, tools=TOOLS, system=SYSTEM).usage
        same = ask(c, messages, tools=TOOLS, system=SYSTEM).usage
        changed = ask(c, messages, tools=TOOLS, system=[{**SYSTEM[0], "text": SYSTEM[0]["text"] + " (edited)"}]).usage
    assert same.cache_read_input_tokens == written.cache_creation_input_tokens and same.cache_creation_input_tokens == 0
    tools_only = sum(estimate_tokens({k: v for k, v in t.items() if k != "cache_control"}) for t in TOOLS)
    assert changed.cache_read_input_tokens == tools_only  # the tools' breakpoint still hits; the rest is written anew
    assert changed.cache_creation_input_tokens > 0


def test_top_level_cache_control_marks_the_last_block_and_ttl_is_reported() -> None:
    with ScriptedMessagesAPI([reply(text("a")), reply(text("b"))]) as api:
        c = client(api)
        messages = [{"role": "user", "content": LONG}]
        first = ask(c, messages, cache_control={"type": "ephemeral", "ttl": "1h"}).usage
        second = ask(c, messages, cache_control={"type": "ephemeral", "ttl": "1h"}).usage
    assert (
        first.cache_creation is not None
        and first.cache_creation.ephemeral_1h_input_tokens == first.cache_creation_input_tokens > 0
    )
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens and second.input_tokens == 0


def test_usage_is_the_same_on_every_run() -> None:
    def run() -> list[dict[str, Any]]:
        with ScriptedMessagesAPI([reply(text("a"))]) as api:
            return [ask(client(api), [{"role": "user", "content": LONG}], system=SYSTEM).usage.model_dump()]

    assert run() == run()
    started = time.monotonic()
    run()
    assert time.monotonic() - started < 1.0


def test_a_streamed_reply_is_the_same_message() -> None:
    script = [
        reply(
            thinking("Plan: one table. " * 5),
            text("Writing it now. " * 6),
            tool_use("write_file", {"path": "a.py", "content": "x = 1\n" * 30}),
        )
    ]
    with ScriptedMessagesAPI(script) as plain:
        expected = ask(client(plain), [{"role": "user", "content": LONG}], system=SYSTEM)
    with (
        ScriptedMessagesAPI(script) as api,
        client(api).messages.stream(
            model=MODEL, max_tokens=1024, messages=[{"role": "user", "content": LONG}], system=SYSTEM
        ) as stream,
    ):
        streamed_text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert streamed_text == "Writing it now. " * 6
    assert final.model_dump(exclude={"parsed_output"}) == expected.model_dump()
    assert api.requests[0].body["stream"] is True
