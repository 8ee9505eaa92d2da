"""The Anthropic adapter's request (cache breakpoints, history untouched), its usage and cost, its errors."""

from __future__ import annotations

import copy

import pytest

from orchestrator.agent.anthropic_model import api_error, build_request, connection_error
from orchestrator.agent.pricing import PriceTable
from orchestrator.agent.protocols import Usage
from orchestrator.errors import InputError


def test_three_cache_breakpoints_and_the_history_left_alone() -> None:
    tools = [{"name": "a", "input_schema": {}}, {"name": "b", "input_schema": {}}]
    messages = [
        {"role": "user", "content": "task"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "a", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "x"}]},
    ]
    before = copy.deepcopy(messages)
    request = build_request("claude-sonnet-5-5", "sys", messages, tools, 1000)
    assert messages == before and "cache_control" not in tools[-1]
    assert request["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in request["tools"][0]
    assert request["system"] == [{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}]
    assert request["messages"][-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    assert all("cache_control" not in str(m) for m in request["messages"][:-1])
    assert request["tool_choice"] == {"type": "auto"}
    marks = str(request).count("cache_control")
    assert marks == 3  # the API allows four


def test_a_string_message_becomes_a_block_for_its_breakpoint() -> None:
    request = build_request("m", "s", [{"role": "user", "content": "task"}], [], 10)
    assert request["messages"][0]["content"] == [
        {"type": "text", "text": "task", "cache_control": {"type": "ephemeral"}}
    ]


def test_prices_by_model_family_and_overrides() -> None:
    table = PriceTable.load()
    usage = Usage(
        input_tokens=1_000_000, output_tokens=100_000, cache_read_input_tokens=2_000_000, cache_creation_input_tokens=0
    )
    assert table.cost("claude-sonnet-5-5", usage) == pytest.approx(3.0 + 1.5 + 0.6)
    assert table.cost("claude-haiku-5-5", usage) == pytest.approx(1.0 + 0.5 + 0.2)
    assert table.cost("some-other-model", usage) == 0.0
    custom = PriceTable.load({"claude-sonnet-5-5": {"input": 10.0}})
    assert custom.cost("claude-sonnet-5-5", Usage(input_tokens=1_000_000)) == pytest.approx(10.0)
    assert custom.cost("claude-sonnet-5-5", Usage(output_tokens=1_000_000)) == pytest.approx(15.0)
    with pytest.raises(InputError, match="claude-x"):
        PriceTable.load({"claude-x": {"inptu": 1.0}})
    with pytest.raises(InputError, match="numbers"):
        PriceTable.load({"claude-x": {"input": "cheap"}})


class _StatusError(Exception):
    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status
        self.body = {"type": "error", "error": {"type": kind, "message": message}}


@pytest.mark.parametrize(
    ("status", "kind", "words"),
    [
        (401, "authentication_error", "refused the key"),
        (404, "not_found_error", "does not know the model 'claude-nope'"),
        (429, "rate_limit_error", "kept rate-limiting"),
        (529, "overloaded_error", "stayed unavailable"),
        (400, "invalid_request_error", "rejected the request"),
    ],
)
def test_api_errors_name_the_cause(status: int, kind: str, words: str) -> None:
    error = api_error(_StatusError(status, kind, "said"), "claude-nope")  # type: ignore[arg-type]
    assert words in error.message and kind in error.message
    assert int(error.exit_code) == 3


def test_a_connection_error_from_a_replay_mismatch_says_to_re_record() -> None:
    class CannotOverwriteExistingCassetteException(Exception):
        pass

    outer = RuntimeError("connection error")
    outer.__cause__ = CannotOverwriteExistingCassetteException("no match")
    error = connection_error(outer)
    assert "re-record with --record" in error.message
    plain = connection_error(RuntimeError("dns"))
    assert "could not reach" in plain.message


def test_prices_come_from_the_repo_config(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from orchestrator.config import load_config

    (tmp_path / "pyproject.toml").write_text("[tool.delegate.prices.sonnet]\ninput = 30.0\n", encoding="utf-8")
    cfg = load_config(tmp_path)
    assert cfg.prices == {"sonnet": {"input": 30.0}}
    table = PriceTable.load(cfg.prices)
    assert table.cost("claude-sonnet-5-5", Usage(input_tokens=1_000_000, output_tokens=1_000_000)) == pytest.approx(
        45.0
    )
    (tmp_path / "pyproject.toml").write_text('[tool.delegate.prices.sonnet]\ninput = "cheap"\n', encoding="utf-8")
    with pytest.raises(InputError, match="pyproject.toml"):
        load_config(tmp_path)
