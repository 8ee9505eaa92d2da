"""orchestrator.agent.definition: Claude Code subagent files read as Claude Code reads them, and a repo's own one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestrator.agent.definition import (
    OUR_TOOLS,
    AgentDefinition,
    bundled_definition,
    default_model,
    load_agent_definition,
    newest_model,
    parse_agent_definition,
    sdk_models,
)
from orchestrator.errors import InputError

BODY = "You write migrations.\n"


def agent_file(front_matter: str, body: str = BODY) -> str:
    return f"---\n{front_matter.strip()}\n---\n\n{body}"


def parse(front_matter: str, body: str = BODY) -> AgentDefinition:
    return parse_agent_definition(agent_file(front_matter, body), ".claude/agents/db.md")


def write_agent(repo: Path, rel: str, front_matter: str, body: str = BODY) -> Path:
    path = repo / ".claude" / "agents" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(agent_file(front_matter, body), encoding="utf-8")
    return path


# --- the bundled definition and the default model ---------------------------------------------------------------


def test_bundled_definition_uses_our_tools_and_the_newest_sonnet() -> None:
    agent = bundled_definition()
    assert agent.name == "database-architect"
    assert agent.source == "bundled"
    assert agent.tools == list(OUR_TOOLS)  # edit_file included, in the tool contract's order
    assert agent.model_requested == "sonnet"  # no stale full id in the shipped file
    assert agent.model == default_model()
    assert agent.max_turns is None
    for tool in ("list_files {path}", "write_file {path, content}", "edit_file {path, old, new}", "submit {summary}"):
        assert tool in agent.instructions
    assert agent.instructions.startswith("You are the database architect")


def test_default_model_is_the_newest_sonnet_the_sdk_lists() -> None:
    model = default_model()
    assert model in sdk_models()
    assert model.startswith("claude-sonnet-")
    assert model == newest_model("sonnet")
    # Today's SDK: claude-sonnet-5-5 is newer than claude-sonnet-5 and claude-sonnet-4-6.
    if {"claude-sonnet-5-5", "claude-sonnet-5", "claude-sonnet-4-6"} <= set(sdk_models()):
        assert model == "claude-sonnet-5-5"


def test_the_model_list_read_from_source_is_the_sdks_literal() -> None:
    import typing

    from anthropic.types.model_param import ModelParam

    literal = next(arg for arg in typing.get_args(ModelParam) if typing.get_origin(arg) is typing.Literal)
    assert sdk_models() == list(typing.get_args(literal))


@pytest.mark.parametrize(
    ("family", "models", "expected"),
    [
        (
            "sonnet",
            ["claude-sonnet-4-6", "claude-sonnet-5-5", "claude-sonnet-5", "claude-opus-5-5"],
            "claude-sonnet-5-5",
        ),
        # Versions compare as numbers, not strings: 4-10 is newer than 4-9.
        ("sonnet", ["claude-sonnet-4-9", "claude-sonnet-4-10"], "claude-sonnet-4-10"),
        # An undated alias names the newest snapshot of its version.
        ("haiku", ["claude-haiku-4-5-20251001", "claude-haiku-4-5"], "claude-haiku-4-5"),
        ("haiku", ["claude-haiku-4-5-20251001", "claude-3-5-haiku-20241022"], "claude-haiku-4-5-20251001"),
        # The old naming (version before family) still parses.
        ("sonnet", ["claude-3-5-sonnet-20241022", "claude-3-7-sonnet-20250219"], "claude-3-7-sonnet-20250219"),
        ("opus", ["claude-sonnet-5-5"], None),
    ],
)
def test_newest_model_parses_versions(family: str, models: list[str], expected: str | None) -> None:
    assert newest_model(family, models) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("sonnet", "newest sonnet"),
        ("opus", "newest opus"),
        ("haiku", "newest haiku"),
        ("inherit", "default"),
        ("Sonnet", "newest sonnet"),
        ("claude-opus-4-5-20251101", "claude-opus-4-5-20251101"),
        ("claude-sonnet-9-9", "claude-sonnet-9-9"),  # newer than this SDK knows: sent as written
    ],
)
def test_model_alias_or_full_id(value: str, expected: str) -> None:
    agent = parse(f"name: database-architect\ndescription: d\nmodel: {value}")
    if expected == "default":
        assert agent.model == default_model()
    elif expected.startswith("newest "):
        assert agent.model == newest_model(expected.split()[1])
        assert agent.model is not None and expected.split()[1] in agent.model
    else:
        assert agent.model == expected
    assert agent.model_requested == value


def test_no_model_means_the_default() -> None:
    agent = parse("name: database-architect\ndescription: d")
    assert agent.model == default_model() and agent.model_requested is None


def test_a_model_that_is_no_claude_model_names_the_file() -> None:
    with pytest.raises(InputError) as caught:
        parse("name: database-architect\ndescription: d\nmodel: gpt-4o")
    assert ".claude/agents/db.md" in caught.value.message and "gpt-4o" in caught.value.message


# --- required keys, ignored keys, malformed files ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("front_matter", "key"),
    [
        ("description: writes migrations", "name"),
        ("name: database-architect", "description"),
        ("name: ''\ndescription: d", "name"),
        ("name: database-architect\ndescription: [a, b]", "description"),
    ],
)
def test_name_and_description_are_required(front_matter: str, key: str) -> None:
    with pytest.raises(InputError) as caught:
        parse(front_matter)
    assert caught.value.message.startswith(".claude/agents/db.md: ")
    assert f"`{key}` is required" in caught.value.message
    assert caught.value.hint is not None and key in caught.value.hint


def test_claude_codes_other_keys_are_accepted_and_ignored() -> None:
    agent = parse(
        """
name: database-architect
description: >
  Writes migrations
  for features.
permissionMode: acceptEdits
color: blue
skills: [sql]
hooks:
  PreToolUse:
    - matcher: Bash
maxTurns: 25
"""
    )
    assert agent.description == "Writes migrations for features."
    assert agent.max_turns == 25
    assert agent.ignored_keys == ["color", "hooks", "permissionMode", "skills"]
    assert agent.tools == list(OUR_TOOLS)  # no tools key: every tool, as in Claude Code


@pytest.mark.parametrize("value", ["0", "-3", "many", "true", "2.5"])
def test_max_turns_must_be_a_positive_whole_number(value: str) -> None:
    with pytest.raises(InputError, match="maxTurns"):
        parse(f"name: database-architect\ndescription: d\nmaxTurns: {value}")


def test_no_front_matter_is_an_error_naming_the_file() -> None:
    with pytest.raises(InputError, match=r"^x\.md: no YAML front matter"):
        parse_agent_definition("# Database architect\nYou write migrations.\n", "x.md")


def test_invalid_yaml_names_the_file_and_line() -> None:
    with pytest.raises(InputError) as caught:
        parse_agent_definition("---\nname: database-architect\ndescription: [unclosed\n---\nbody\n", "x.md")
    assert caught.value.message.startswith("x.md: line ")
    assert "not valid YAML" in caught.value.message


def test_an_empty_body_is_an_error() -> None:
    with pytest.raises(InputError, match="no instructions"):
        parse("name: database-architect\ndescription: d", body="\n\n")


def test_crlf_files_and_the_body_as_written() -> None:
    text = "---\r\nname: database-architect\r\ndescription: d\r\n---\r\n\r\nLine one.\r\n\r\n## Two\r\n"
    agent = parse_agent_definition(text, "x.md")
    assert agent.name == "database-architect"
    assert agent.instructions.startswith("Line one.")
    assert "## Two" in agent.instructions


# --- tools ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tools", "expected", "ignored"),
    [
        ("Read, Write, Edit, Glob, Grep, Bash", list(OUR_TOOLS), []),
        ("Read, Grep", ["list_files", "read_file", "run_checks", "submit"], []),
        ("[Read, Write]", ["read_file", "write_file", "run_checks", "submit"], []),
        ("Read, WebFetch, TodoWrite, mcp__github__search", ["read_file", "run_checks", "submit"],
         ["TodoWrite", "WebFetch", "mcp__github__search"]),
        ("Read, Bash(alembic upgrade:*), MultiEdit", ["read_file", "edit_file", "run_checks", "submit"], []),
        ("list_files, read_file, write_file", ["list_files", "read_file", "write_file", "run_checks", "submit"], []),
        ("[]", ["run_checks", "submit"], []),
    ],
)  # fmt: skip
def test_claude_code_tool_names_map_to_ours(tools: str, expected: list[str], ignored: list[str]) -> None:
    agent = parse(f"name: database-architect\ndescription: d\ntools: {tools}")
    assert agent.tools == expected
    assert agent.ignored_tools == ignored


def test_disallowed_tools_are_removed_but_run_checks_and_submit_stay() -> None:
    agent = parse("name: database-architect\ndescription: d\ndisallowedTools: Write, Edit, Bash")
    assert agent.tools == ["list_files", "read_file", "run_checks", "submit"]


def test_tools_of_the_wrong_type_name_the_file() -> None:
    with pytest.raises(InputError, match=r"db\.md: `tools`"):
        parse("name: database-architect\ndescription: d\ntools: 3")


# --- a repo's own definition ------------------------------------------------------------------------------------


def test_without_a_repo_definition_the_bundled_one_is_used(tmp_path: Path) -> None:
    write_agent(tmp_path, "frontend.md", "name: frontend-developer\ndescription: UI")
    agent = load_agent_definition(tmp_path)
    assert agent.source == "bundled"
    assert "delegate's own definition" in agent.reason


def test_spec_flow_keeps_its_agent_in_a_subfolder(tmp_path: Path) -> None:
    write_agent(
        tmp_path,
        "implementation/database.md",
        "name: database-architect\ndescription: Spec-Flow's database agent\ntools: Read, Write, Edit, Grep, Glob, Bash\n"
        "model: opus\nmaxTurns: 30",
        body="Plan the schema with Spec-Flow's conventions.\n",
    )
    write_agent(tmp_path, "implementation/backend.md", "name: backend-dev\ndescription: API")
    agent = load_agent_definition(tmp_path)
    assert agent.source == ".claude/agents/implementation/database.md"
    assert agent.name == "database-architect"
    assert agent.model == newest_model("opus")
    assert agent.max_turns == 30
    assert agent.tools == list(OUR_TOOLS)
    assert agent.instructions == "Plan the schema with Spec-Flow's conventions.\n"
    assert "overrides delegate's" in agent.reason


def test_a_name_that_ends_with_database_architect_overrides(tmp_path: Path) -> None:
    write_agent(tmp_path, "cfipros.md", "name: cfipros-database-architect\ndescription: the seed's own")
    agent = load_agent_definition(tmp_path)
    assert (agent.name, agent.source) == ("cfipros-database-architect", ".claude/agents/cfipros.md")


def test_two_candidates_the_exact_name_wins_and_the_choice_is_said(tmp_path: Path) -> None:
    write_agent(tmp_path, "a.md", "name: cfipros-database-architect\ndescription: suffix")
    write_agent(tmp_path, "deep/er/z.md", "name: database-architect\ndescription: exact")
    agent = load_agent_definition(tmp_path)
    assert agent.source == ".claude/agents/deep/er/z.md"
    assert ".claude/agents/a.md (cfipros-database-architect)" in agent.reason
    assert "the exact name database-architect wins" in agent.reason


def test_two_suffix_candidates_the_nearest_then_the_first_path_wins(tmp_path: Path) -> None:
    write_agent(tmp_path, "team/b.md", "name: b-database-architect\ndescription: deeper")
    write_agent(tmp_path, "y.md", "name: y-database-architect\ndescription: top, second")
    write_agent(tmp_path, "x.md", "name: x-database-architect\ndescription: top, first")
    first = load_agent_definition(tmp_path)
    assert first.source == ".claude/agents/x.md"
    assert load_agent_definition(tmp_path) == first  # deterministic


def test_a_broken_repo_definition_is_an_error_not_a_silent_fallback(tmp_path: Path) -> None:
    write_agent(tmp_path, "db.md", "name: database-architect")  # no description
    with pytest.raises(InputError) as caught:
        load_agent_definition(tmp_path)
    assert caught.value.message.startswith(".claude/agents/db.md: `description` is required")


def test_unrelated_files_under_claude_agents_are_skipped(tmp_path: Path) -> None:
    notes = tmp_path / ".claude" / "agents" / "README.md"
    notes.parent.mkdir(parents=True)
    notes.write_text("# Our agents\nNo front matter here.\n", encoding="utf-8")
    write_agent(tmp_path, "bad.md", "name: [unclosed\ndescription: broken YAML of another agent")
    assert load_agent_definition(tmp_path).source == "bundled"


@pytest.mark.skipif(os.name == "nt", reason="symlinks")
def test_a_symlink_out_of_the_repo_is_not_the_repos_definition(tmp_path: Path) -> None:
    outside = tmp_path / "outside.md"
    outside.write_text(agent_file("name: database-architect\ndescription: elsewhere"), encoding="utf-8")
    repo = tmp_path / "repo"
    (repo / ".claude" / "agents").mkdir(parents=True)
    (repo / ".claude" / "agents" / "db.md").symlink_to(outside)
    assert load_agent_definition(repo).source == "bundled"
