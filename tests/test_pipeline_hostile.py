"""A scripted agent that behaves as none of the bundled cassettes does, run live against the local Messages API:
it submits before doing anything while claiming all is done, then calls tools out of order and with hostile or
malformed input, then ends its turns without submitting. Nothing of it may escape or be believed."""

from __future__ import annotations

from pathlib import Path

import git
import pytest

from orchestrator.pg.server import PostgresServer
from orchestrator.pipeline import MigrationsOptions, run_migrations
from tests.support.example_repo import FEATURE_SPEC, make_example_repo
from tests.support.messages_api import Reply, ScriptedMessagesAPI, text, tool_use
from tests.support.sessions import FAKE_API_KEY

pytestmark = pytest.mark.postgres

HOSTILE = [
    tool_use("bash", {"command": "cat ~/.ssh/id_rsa"}),  # a tool that does not exist
    tool_use("write_file", {"path": "api/alembic/versions/../../../../outside.py", "content": "x = 1\n"}),
    tool_use("read_file", {"path": ".git/config"}),
    tool_use("edit_file", {"path": "api/alembic/versions/002_nope.py", "old": "a", "new": "b"}),  # not there
    tool_use("write_file", {"path": "seeds/x.sql"}),  # content missing
    tool_use("list_files", {"path": "/"}),
    tool_use("run_checks", {"verbose": True}),  # an argument the tool does not take
]


def test_a_lying_out_of_order_hostile_agent_is_refused_and_judged_red(
    tmp_path: Path, pg_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_example_repo(tmp_path, with_solution=False)
    handle = git.Repo(repo)
    head, branches = handle.head.commit.hexsha, {b.name for b in handle.branches}
    turns = [
        Reply((text("Done."), tool_use("submit", {"summary": "All migrations written; every test passes."}))),
        Reply((text("Let me look around."), *HOSTILE)),
        Reply((text("Everything is in place."),), stop_reason="end_turn"),
        Reply((text("Really, it is done."),), stop_reason="end_turn"),
    ]
    with ScriptedMessagesAPI(turns, session="hostile") as api:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", FAKE_API_KEY)
        result = run_migrations(
            MigrationsOptions(repo=repo, spec=Path(FEATURE_SPEC), database_url=pg_server.admin_url, max_rounds=1)
        )
        results = api.requests[2].tool_results()  # the answers to the hostile turn
    assert result.status == "checks-failed" and result.exit_code == 1 and result.commit is None
    first, second = result.rounds
    assert first.summary == "All migrations written; every test passes."  # the lie, recorded and not believed
    assert "deliverable-missing" in first.blocking_rules and second.errors > 0
    assert second.summary == "Really, it is done."  # two ended turns: the second counts as the submission
    assert len(results) == len(HOSTILE)
    answers = {block["tool_use_id"]: block for block in results.values()}
    refused = [answers[b["id"]] for b in api.requests[1].response["content"] if b["type"] == "tool_use"]
    assert [bool(r.get("is_error")) for r in refused] == [True] * len(HOSTILE)
    assert "no tool named 'bash'" in str(refused[0]["content"])
    assert not (tmp_path / "outside.py").exists() and not (repo / "outside.py").exists()
    assert result.files == []  # nothing was written at all
    assert handle.head.commit.hexsha == head and {b.name for b in handle.branches} - branches == {result.branch}
