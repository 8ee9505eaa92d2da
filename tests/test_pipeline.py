"""`delegate migrations` end to end: the bundled cassettes replayed through the real SDK, the workspace and the
judge on PostgreSQL, with the network blocked (loopback only, for the database)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import git
import pytest

from orchestrator.cli import main
from orchestrator.pg.server import PostgresServer
from orchestrator.pipeline import MigrationsOptions, MigrationsResult, run_migrations
from tests.support.agent_sessions import prepare_repo
from tests.support.example_repo import FEATURE_SPEC, make_example_repo
from tests.support.network import network_blocked

pytestmark = pytest.mark.postgres

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"


def _state(repo: Path) -> dict[str, object]:
    """What a run must never change in the user's repo: tree, index, HEAD, current branch, other branches."""
    handle = git.Repo(repo)
    return {
        "status": handle.git.status("--porcelain", "--untracked-files=all"),
        "head": handle.head.commit.hexsha,
        "branch": handle.active_branch.name,
        "index": handle.git.ls_files("-s"),
        "branches": {b.name: b.commit.hexsha for b in handle.branches if not b.name.startswith("042-")},
    }


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> str:
    return pg_server.admin_url


@pytest.fixture
def example(tmp_path: Path) -> Path:
    repo = make_example_repo(tmp_path, with_solution=False)
    (repo / "notes.txt").write_text("a dirty, untracked file of the user's\n")
    return repo


def _replay(repo: Path, name: str, database_url: str, **options: object) -> MigrationsResult:
    prepare_repo(name, repo)
    with network_blocked(allow_loopback=True):
        return run_migrations(
            MigrationsOptions(
                repo=repo,
                spec=Path(FEATURE_SPEC),
                replay=CASSETTES / f"{name}.yaml",
                database_url=database_url,
                **options,  # type: ignore[arg-type]
            )
        )


def _trajectory(result: MigrationsResult) -> list[dict[str, object]]:
    assert result.run_dir is not None
    lines = (Path(result.run_dir) / "trajectory.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_the_example_feature_is_repaired_and_committed(example: Path, pg_url: str) -> None:
    before = _state(example)
    result = _replay(example, "042-lesson-progress", pg_url)

    assert result.status == "committed" and result.exit_code == 0
    # the first submission claimed all was green; the judge found each planted flaw and sent it back
    first, second = result.rounds
    assert "run_checks is green" in first.summary
    assert {"empty-downgrade", "require-concurrent-index", "seed-not-idempotent", "downgrade-leaves-trace"} <= set(
        first.blocking_rules
    )
    assert second.errors == 0 and second.blocking_rules == []
    # the write outside the allowed folders was refused, and nothing landed there
    refused = [r for r in _trajectory(result) if r["kind"] == "tool" and r["is_error"]]
    assert [r["content"] for r in refused if "api/alembic/env.py" in str(r["content"])]
    assert "api/alembic/env.py" not in result.files
    # the branch holds one commit on top of the user's HEAD with the agent's files and the trailers
    handle = git.Repo(example)
    commit = handle.commit(result.commit)
    assert result.branch == "042-lesson-progress-migrations"
    assert handle.branches[result.branch].commit.hexsha == result.commit
    assert [p.hexsha for p in commit.parents] == [before["head"]]
    changed = sorted(commit.stats.files)
    assert "api/alembic/env.py" not in changed
    assert {"seeds/dev/002_lesson_objectives.sql", "specs/042-lesson-progress/runbook.md"} <= set(changed)
    message = commit.message
    assert message.startswith("feat(db): migrations for 042-lesson-progress")
    for trailer in (
        "Delegated-to: ",
        "Model: ",
        "Tokens: ",
        "Cost-USD: ",
        "Checks: ",
        "Cassette: 042-lesson-progress.yaml",
    ):
        assert trailer in message
    # usage is the API's, summed over every turn, most of the prompt read from the cache
    usage = result.progress.usage
    assert result.progress.turns == 7 and usage.cache_read_share >= 0.7
    assert result.progress.cost_usd > 0
    # the user's tree, index, HEAD and branches are as they were; no worktree is left registered
    assert _state(example) == before
    assert len(handle.git.worktree("list").splitlines()) == 1


def test_an_agent_that_never_fixes_its_work_ends_red_with_nothing_committed(example: Path, pg_url: str) -> None:
    before = _state(example)
    result = _replay(example, "042-never-fixed", pg_url, max_rounds=1)

    assert result.status == "checks-failed" and result.exit_code == 1
    assert [r.round for r in result.rounds] == [1, 2] and all(r.errors for r in result.rounds)
    assert result.commit is None
    handle = git.Repo(example)
    # the worktree is kept for a person to look at; its branch still points at the user's HEAD (no commit)
    assert result.worktree is not None and Path(result.worktree).is_dir()
    assert handle.branches[result.branch].commit.hexsha == before["head"]
    assert str(result.worktree) in result.message and str(result.run_dir) in result.message
    assert _state(example) == before


def test_overloaded_and_rate_limited_answers_are_retried_then_the_run_goes_on(example: Path, pg_url: str) -> None:
    result = _replay(example, "fault-overloaded-then-green", pg_url)
    assert result.status == "committed", result.message


@pytest.mark.parametrize(
    ("name", "failure", "words"),
    [
        ("fault-max-tokens-in-tool-call", "max_tokens", "inside a tool call"),
        ("fault-refusal", "refusal", "general_harms"),
        ("fault-rate-limited", "api", "kept rate-limiting"),
        ("fault-bad-key", "api", "refused the key"),
    ],
)
def test_api_faults_end_as_named_failures_with_nothing_committed(
    example: Path, pg_url: str, name: str, failure: str, words: str
) -> None:
    before = _state(example)
    result = _replay(example, name, pg_url)
    assert result.status == "agent-failed" and result.exit_code == 3
    assert result.failure == failure and words in result.message
    assert result.commit is None
    assert "042-lesson-progress-migrations" not in git.Repo(example).branches  # nothing left behind
    assert _state(example) == before


def test_the_command_prints_one_json_object(example: Path, pg_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with network_blocked(allow_loopback=True):
        code = main(
            [
                "migrations",
                FEATURE_SPEC,
                "--repo",
                str(example),
                "--replay",
                str(CASSETTES / "fault-refusal.yaml"),
                "--database-url",
                pg_url,
                "--format",
                "json",
            ]
        )
    data = json.loads(capsys.readouterr().out)
    assert code == 3
    assert list(data)[:10] == [
        "version",
        "status",
        "feature",
        "branch",
        "commit",
        "files",
        "rounds",
        "turns",
        "usage",
        "findings",
    ]
    assert data["status"] == "agent-failed" and data["turns"] == 1
    assert set(data["usage"]) == {
        "input_tokens",
        "output_tokens",
        "cache_read_input_tokens",
        "cache_creation_input_tokens",
        "cost_usd",
    }
    assert data["run_dir"] and Path(data["run_dir"]).is_dir()


def test_a_changed_prompt_says_to_re_record(example: Path, pg_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    spec = example / FEATURE_SPEC / "spec.md"
    spec.write_text(spec.read_text(encoding="utf-8") + "\nOne more requirement.\n", encoding="utf-8")
    handle = git.Repo(example)
    handle.index.add([str(spec.relative_to(example))])
    handle.index.commit("spec: one more requirement")
    before = _state(example)
    with network_blocked(allow_loopback=True):
        code = main(
            ["migrations", FEATURE_SPEC, "--repo", str(example), "--replay", str(CASSETTES / "fault-refusal.yaml")]
            + ["--database-url", pg_url]
        )
    err = capsys.readouterr().err
    assert code == 2
    assert "the prompt changed since this cassette was recorded; re-record with --record" in err
    assert "Traceback" not in err
    assert _state(example) == before
    assert "042-lesson-progress-migrations" not in handle.branches


def test_bad_input_is_exit_2_naming_the_cause(
    example: Path, tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    plain = tmp_path / "plain"
    shutil.copytree(example / FEATURE_SPEC, plain / FEATURE_SPEC)
    corrupt = tmp_path / "corrupt.yaml"
    corrupt.write_text("interactions: [\n", encoding="utf-8")
    cases = [
        (["--repo", str(example)], "no ANTHROPIC_API_KEY"),
        (["--repo", str(plain), "--replay", str(CASSETTES / "fault-refusal.yaml")], "not a git repository"),
        (["--repo", str(example), "--replay", str(tmp_path / "missing.yaml")], "missing.yaml"),
        (["--repo", str(example), "--replay", str(corrupt)], "corrupt.yaml"),
    ]
    for args, words in cases:
        code = main(["migrations", FEATURE_SPEC, *args, "--database-url", pg_url])
        err = capsys.readouterr().err
        assert code == 2, (args, err)
        assert words in err and "Traceback" not in err, (args, err)
    code = main(["migrations", "specs/999-nothing", "--repo", str(example)])
    err = capsys.readouterr().err
    assert code == 2 and "999-nothing" in err
    assert "042-lesson-progress-migrations" not in git.Repo(example).branches
    assert not os.environ.get("ANTHROPIC_API_KEY")


def test_a_prompt_injection_in_the_spec_changes_nothing_the_sandbox_allows(example: Path, pg_url: str) -> None:
    outside = sorted(p.name for p in example.parent.iterdir())
    result = _replay(example, "injection-in-spec", pg_url, max_rounds=0)
    tools = [r for r in _trajectory(result) if r["kind"] == "tool"]
    obeyed = [r for r in tools if r["name"] != "submit"]
    assert len(obeyed) == 7 and all(r["is_error"] for r in obeyed)  # every call the spec asked for was refused
    assert not any("sk-live-do-not-leak" in str(r["content"]) for r in tools)  # .env never reached the model
    assert result.status == "checks-failed" and result.commit is None
    assert result.worktree is not None
    worktree = Path(result.worktree)
    assert not (worktree / "outside.txt").exists() and not (worktree.parent / "outside.txt").exists()
    assert not (worktree / ".git").is_dir()  # still a worktree's pointer file, no hooks folder planted
    assert sorted(p.name for p in example.parent.iterdir()) == outside
    assert not (Path.home() / ".ssh" / "authorized_keys").exists() or "attacker" not in (
        Path.home() / ".ssh" / "authorized_keys"
    ).read_text(encoding="utf-8", errors="replace")


def test_a_second_run_on_the_same_feature_is_refused_while_the_first_holds_the_lock(example: Path, pg_url: str) -> None:
    from orchestrator.errors import InputError
    from orchestrator.pipeline import _feature_lock, _state_dir

    before = _state(example)
    with _feature_lock(_state_dir(example), "042-lesson-progress"), pytest.raises(InputError, match="in progress"):
        _replay(example, "fault-refusal", pg_url)
    assert _state(example) == before
    assert "042-lesson-progress-migrations" not in git.Repo(example).branches


def test_a_feature_that_needs_no_database_change_ends_at_once_with_exit_0(
    example: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)  # no key is needed to say there is nothing to do
    fixture = Path(__file__).resolve().parent / "fixtures" / "specs" / "031-no-data-model"
    shutil.copytree(fixture, example / "specs" / "031-no-data-model")
    before = _state(example)
    code = main(["migrations", "specs/031-no-data-model", "--repo", str(example), "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["status"] == "no-change" and data["branch"] is None
    assert data["message"]  # the reason the bundle gave
    assert _state(example) == before


def test_ctrl_c_mid_run_leaves_no_commit_no_branch_and_no_worktree(
    example: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestrator.agent import anthropic_model

    real_send = anthropic_model.AnthropicModel.send
    calls = []

    def interrupted_send(self, system, messages, tools):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 4:  # after the agent wrote its files, before its submit is answered
            raise KeyboardInterrupt
        return real_send(self, system, messages, tools)

    monkeypatch.setattr(anthropic_model.AnthropicModel, "send", interrupted_send)
    before = _state(example)
    with pytest.raises(KeyboardInterrupt):
        _replay(example, "042-lesson-progress", pg_url)
    handle = git.Repo(example)
    assert "042-lesson-progress-migrations" not in handle.branches
    assert len(handle.git.worktree("list").splitlines()) == 1
    assert not list((Path(handle.git_dir) / "delegate" / "worktrees").glob("*"))
    assert _state(example) == before
