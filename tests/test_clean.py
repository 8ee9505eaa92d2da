"""`delegate clean`: removes delegate's worktrees, run folders and stale locks, and nothing else."""

from __future__ import annotations

import fcntl
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.clean import clean_repo, drop_template_databases
from orchestrator.cli import main
from tests.support.delegated_branch import git
from tests.support.example_repo import make_example_repo


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def littered(tmp_path: Path) -> Path:
    """The example repo with what runs leave: a registered worktree on a kept branch, a stale folder, run folders
    of a finished and of a running process, a stale lock; and the user's own worktree and branch elsewhere."""
    repo = make_example_repo(tmp_path, with_solution=False)
    state = repo / ".git" / "delegate"
    (state / "worktrees").mkdir(parents=True)
    git(repo, "worktree", "add", "-q", "-b", "042-lesson-progress-migrations", str(state / "worktrees" / "kept"))
    (state / "worktrees" / "stale").mkdir()
    (state / "worktrees" / "stale" / "file.py").write_text("x = 1\n", encoding="utf-8")
    finished = state / "runs" / f"042-lesson-progress-20261201T000000-{_dead_pid()}"
    finished.mkdir(parents=True)
    (finished / "trajectory.jsonl").write_text("{}\n", encoding="utf-8")
    (state / "locks").mkdir()
    (state / "locks" / "042-lesson-progress.lock").write_text("pid 1", encoding="utf-8")
    git(repo, "worktree", "add", "-q", "-b", "my-own-work", str(tmp_path / "mine"))
    return repo


def test_clean_removes_worktrees_runs_and_stale_locks(littered: Path) -> None:
    repo = littered
    state = repo / ".git" / "delegate"
    running = state / "runs" / "043-other-20261201T000000-1"  # pid 1 is alive: its run folder stays
    running.mkdir()
    finished = [p for p in (state / "runs").iterdir() if p.name.startswith("042-")]
    result = clean_repo(repo)
    assert sorted(Path(w).name for w in result.worktrees) == ["kept", "stale"]
    assert result.runs == [str(finished[0])]
    assert not finished[0].exists()
    assert not (state / "worktrees").exists()
    assert not (state / "locks" / "042-lesson-progress.lock").exists()
    assert running.is_dir()
    assert any("043-other" in k and "still running" in k for k in result.kept)
    # Nothing else: the branches (the results) stay, and the user's own worktree with them.
    assert "042-lesson-progress-migrations" in git(repo, "branch", "--list")
    worktrees = git(repo, "worktree", "list", "--porcelain")
    assert "mine" in worktrees and "kept" not in worktrees
    assert (repo.parent / "mine" / "api").is_dir()
    assert git(repo, "status", "--porcelain") == ""


def test_a_run_in_progress_keeps_its_worktrees(littered: Path) -> None:
    lock = littered / ".git" / "delegate" / "locks" / "042-lesson-progress.lock"
    with lock.open("a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = clean_repo(littered)
    assert result.worktrees == []
    assert lock.exists()
    assert (littered / ".git" / "delegate" / "worktrees" / "kept").is_dir()
    assert any("in progress on 042-lesson-progress" in k for k in result.kept)


def test_the_command_says_what_it_removed(littered: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["clean", "--repo", str(littered)]) == 0
    out = capsys.readouterr().out
    assert "removed worktree " in out and "kept" in out
    assert "removed run folder " in out
    assert main(["clean", "--repo", str(littered)]) == 0
    assert "removed" not in capsys.readouterr().out


def test_templates_need_a_server_and_a_repo_must_be_git(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = make_example_repo(tmp_path, with_solution=False)
    assert main(["clean", "--repo", str(repo), "--templates"]) == 2
    assert "--database-url" in capsys.readouterr().err
    plain = tmp_path / "plain"
    plain.mkdir()
    assert main(["clean", "--repo", str(plain)]) == 2
    assert "not a git repository" in capsys.readouterr().err


@pytest.mark.postgres
def test_templates_are_dropped_by_name_and_nothing_else(pg_server: object) -> None:
    """With a prefix of this test's own: the real delegate_tpl_* templates of other runs on this server stay."""
    prefix = f"pubtest_{secrets.token_hex(3)}"
    template = f"{prefix}_{secrets.token_hex(8)}"
    other = f"{prefix}_keepme"
    server = pg_server
    for name in (template, other):
        server.create_database(name)  # type: ignore[attr-defined]
    try:
        dropped = drop_template_databases(server.admin_url, prefix=prefix)  # type: ignore[attr-defined]
        assert dropped == [template]
        assert not server.database_exists(template)  # type: ignore[attr-defined]
        assert server.database_exists(other)  # type: ignore[attr-defined]
    finally:
        for name in (template, other):
            if server.database_exists(name):  # type: ignore[attr-defined]
                server.drop_database(name)  # type: ignore[attr-defined]
