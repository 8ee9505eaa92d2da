"""The workspace: a worktree on a new branch that leaves the user's repo alone, and the path guard of its tools."""

from __future__ import annotations

import os
from pathlib import Path

import git
import pytest

from orchestrator.workspace import (
    SandboxLimits,
    ToolRefused,
    Workspace,
    WorkspaceError,
    free_branch_name,
    normalise_path,
)
from tests.support.git_repos import ALLOWED, SECRET_MARKER, TRACKED, make_repo, repo_state, tree_snapshot


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path)


@pytest.fixture
def ws(repo: Path, tmp_path: Path) -> Workspace:
    return Workspace.create(repo, branch="delegate/042", allowed=ALLOWED, worktrees_dir=tmp_path / "worktrees")


def test_create_makes_a_worktree_from_head_and_leaves_the_dirty_user_repo_alone(repo: Path, tmp_path: Path) -> None:
    before = repo_state(repo)
    branches = _branches(repo)
    ws = Workspace.create(repo, branch="delegate/042", allowed=ALLOWED, worktrees_dir=tmp_path / "worktrees")
    assert repo_state(repo) == before
    assert _branches(repo) == {**branches, "delegate/042": ws.base_commit}  # one branch more, nothing else moved
    assert ws.base_commit == git.Repo(repo).head.commit.hexsha
    assert ws.root == (tmp_path / "worktrees" / "delegate-042").resolve()
    assert git.Repo(ws.root).active_branch.name == "delegate/042"
    assert (ws.root / "README.md").read_text() == "# app\n"  # HEAD, not the user's staged edit
    assert not (ws.root / "untracked-notes.txt").exists()
    assert ws.allowed == ALLOWED
    ws.remove()
    assert repo_state(repo) == before
    assert _branches(repo) == branches


def test_an_existing_branch_is_an_error_that_names_it_and_offers_a_free_name(repo: Path, tmp_path: Path) -> None:
    git.Repo(repo).git.branch("delegate/042")
    git.Repo(repo).git.branch("delegate/042-2")
    with pytest.raises(WorkspaceError) as caught:
        Workspace.create(repo, branch="delegate/042", allowed=ALLOWED, worktrees_dir=tmp_path / "wt")
    assert "branch 'delegate/042' already exists" in str(caught.value)
    assert "delegate/042-3" in str(caught.value)
    assert free_branch_name(repo, "delegate/042") == "delegate/042-3"
    assert free_branch_name(repo, "delegate/043") == "delegate/043"


def test_create_refuses_what_is_not_a_repo_root_with_a_commit(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    with pytest.raises(WorkspaceError, match="not a git repository"):
        Workspace.create(tmp_path / "plain", branch="b", allowed=ALLOWED, worktrees_dir=tmp_path / "wt")
    git.Repo.init(tmp_path / "empty")
    with pytest.raises(WorkspaceError, match="no commit yet"):
        Workspace.create(tmp_path / "empty", branch="b", allowed=ALLOWED, worktrees_dir=tmp_path / "wt")
    root = make_repo(tmp_path / "r")
    with pytest.raises(WorkspaceError, match="not its root"):
        Workspace.create(root / "api", branch="b", allowed=ALLOWED, worktrees_dir=tmp_path / "wt")
    with pytest.raises(WorkspaceError, match="not a valid git branch name"):
        Workspace.create(root, branch="bad..name", allowed=ALLOWED, worktrees_dir=tmp_path / "wt")
    with pytest.raises(WorkspaceError, match="allowed folder"):
        Workspace.create(root, branch="b", allowed=["../elsewhere"], worktrees_dir=tmp_path / "wt")
    with pytest.raises(WorkspaceError, match="inside your working tree"):
        Workspace.create(root, branch="b", allowed=ALLOWED, worktrees_dir=root / ".delegate")
    (root / ".gitignore").write_text(".delegate/\n")  # ignored (even uncommitted): it would not show up
    Workspace.create(root, branch="b", allowed=ALLOWED, worktrees_dir=root / ".delegate").remove()
    Workspace.create(root, branch="b", allowed=ALLOWED, worktrees_dir=root / ".git" / "delegate").remove()
    with pytest.raises(WorkspaceError, match="root cannot be an allowed folder"):
        Workspace.create(root, branch="b", allowed=["."], worktrees_dir=tmp_path / "wt")


def test_reads_reach_tracked_and_written_files_only(ws: Workspace) -> None:
    assert ws.read_file("specs/042-lesson-progress/spec.md") == "# Lesson progress\n"
    assert ws.read_file("./specs//042-lesson-progress/spec.md") == "# Lesson progress\n"
    (ws.root / "api/alembic/versions/untracked.py").write_text("x = 1\n")
    with pytest.raises(ToolRefused, match="only the repository's tracked files"):
        ws.read_file("api/alembic/versions/untracked.py")
    ws.write_file("api/alembic/versions/0002_lessons.py", "y = 2\n")
    assert ws.read_file("api/alembic/versions/0002_lessons.py") == "y = 2\n"


@pytest.mark.parametrize("path", [p for p, text in TRACKED.items() if SECRET_MARKER in text])
def test_secret_files_are_never_read_even_when_tracked(ws: Workspace, path: str) -> None:
    with pytest.raises(ToolRefused) as caught:
        ws.read_file(path)
    assert path in str(caught.value)
    assert SECRET_MARKER not in str(caught.value)


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("../outside/secret.txt", "'..'"),
        ("specs/../../outside/secret.txt", "'..'"),
        ("/etc/passwd", "absolute"),
        ("~/.ssh/id_rsa", "home folders"),
        ("~root/x", "home folders"),
        (".git/config", ".git"),
        (".GIT/config", ".git"),
        ("api/.Git/HEAD", ".git"),
        ("GIT~1/config", "home folders"),
        (".git./config", "ends with a dot"),
        (".git /config", "space"),
        ("\uff0egit/config", "stand for others"),  # fullwidth full stop
        ("\u2024\u2024/outside", "stand for others"),  # one dot leader
        ("api/\u200d.git/config", "control, format"),  # zero width joiner
        ("spec\x00.md", "control"),
        ("api\\..\\..\\x", "backslashes"),
        ("C:/Windows", "drive"),
        ("", "names no file"),
        (".", "names no file"),
        ("...", "climbs out"),
        (7, "not a string"),
        ("a" * 500, "longer than"),
        ("docs/outside-link.txt", "symbolic link"),
        ("docs/outside-dir", "symbolic link"),
        ("docs/outside-dir/notes.txt", "tracked files"),
        ("untracked-notes.txt", "tracked files"),
        ("home/.ssh/known_hosts", "secret"),
        ("seeds/prod.env", "secret"),
        ("seeds/db_credentials.json", "secret"),
    ],
)
def test_hostile_paths_are_refused_saying_why(ws: Workspace, path: object, why: str) -> None:
    with pytest.raises(ToolRefused) as caught:
        ws.read_file(path)
    assert why in str(caught.value)
    with pytest.raises(ToolRefused):
        ws.write_file(path, "x")
    assert ws.written() == []


def test_writes_reach_only_the_allowed_folders(ws: Workspace, tmp_path: Path) -> None:
    outside = tree_snapshot(tmp_path, skip={f"worktrees/delegate-042/{a}" for a in ALLOWED})
    for path in [
        "README.md",
        "api/alembic/env.py",
        "api/alembic/versions",  # the folder itself is no file
        "api/alembic/versions-evil/x.py",  # a sibling that merely starts with an allowed name
        "specs/041-other/spec.md",  # another feature's spec
        "api/alembic/versions/.gitignore",
        "api/alembic/versions/.gitattributes",
    ]:
        with pytest.raises(ToolRefused, match="cannot write"):
            ws.write_file(path, "x\n")
    assert ws.written() == []
    assert "writes are allowed only inside api/alembic/versions, api/sql/policies" in _refusal(
        ws.write_file, "README.md", "x"
    )
    assert ws.write_file("api/alembic/versions/0002_lessons.py", "a\nb\n") == (
        "wrote api/alembic/versions/0002_lessons.py (4 bytes, 2 lines)"
    )
    ws.write_file("specs/042-lesson-progress/notes/deep/plan.md", "plan\n")
    ws.write_file("seeds/base.sql", "-- replaced\n")  # a tracked file inside an allowed folder may change
    assert ws.written() == [
        "api/alembic/versions/0002_lessons.py",
        "seeds/base.sql",
        "specs/042-lesson-progress/notes/deep/plan.md",
    ]
    assert tree_snapshot(tmp_path, skip={f"worktrees/delegate-042/{a}" for a in ALLOWED}) == outside


def test_a_symlink_planted_inside_is_never_followed(ws: Workspace, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    os.symlink(outside, ws.root / "api/alembic/versions/escape")
    os.symlink(outside / "secret.txt", ws.root / "seeds/linked.sql")
    os.symlink(outside / "new.sql", ws.root / "seeds/dangling.sql")
    before = tree_snapshot(outside)
    for path in ["api/alembic/versions/escape/x.py", "seeds/linked.sql", "seeds/dangling.sql"]:
        with pytest.raises(ToolRefused, match="symbolic link"):
            ws.write_file(path, "pwned\n")
    with pytest.raises(ToolRefused, match="symbolic link"):
        ws.edit_file("seeds/linked.sql", SECRET_MARKER, "x")
    assert tree_snapshot(outside) == before
    # an allowed folder that is itself a link out (say, a seeds/ the repo links elsewhere)
    os.rename(ws.root / "api/sql/policies", tmp_path / "moved-policies")
    os.symlink(outside, ws.root / "api/sql/policies")
    with pytest.raises(ToolRefused, match="'api/sql/policies' is a symbolic link"):
        ws.write_file("api/sql/policies/new.sql", "x\n")
    with pytest.raises(ToolRefused, match="symbolic link"):
        ws.list_files("api/sql/policies")
    assert tree_snapshot(outside) == before


def test_content_is_bounded_utf8_text(repo: Path, tmp_path: Path) -> None:
    ws = Workspace.create(
        repo,
        branch="small",
        allowed=ALLOWED,
        worktrees_dir=tmp_path / "wt",
        limits=SandboxLimits(max_file_bytes=100, max_files_written=3),
    )
    assert "over the 100-byte limit" in _refusal(ws.write_file, "seeds/big.sql", "é" * 51)
    ws.write_file("seeds/ok.sql", "é" * 50)
    assert "NUL" in _refusal(ws.write_file, "seeds/bin.sql", "a\x00b")
    assert "surrogates" in _refusal(ws.write_file, "seeds/s.sql", "\ud800")
    assert "must be a string" in _refusal(ws.write_file, "seeds/b.sql", b"bytes")
    ws.write_file("seeds/two.sql", "2")
    ws.write_file("seeds/three.sql", "3")
    assert "already wrote 3 files, the limit" in _refusal(ws.write_file, "seeds/four.sql", "4")
    ws.write_file("seeds/three.sql", "3 again")  # rewriting a file of the session does not count
    (ws.root / "seeds/base.sql").write_bytes(b"\x00\x01binary")
    assert "binary" in _refusal(ws.read_file, "seeds/base.sql")
    (ws.root / "seeds/base.sql").write_bytes(b"\xff\xfe latin")
    assert "not UTF-8" in _refusal(ws.read_file, "seeds/base.sql")
    (ws.root / "seeds/base.sql").write_text("x" * 101)
    assert "101 bytes" in _refusal(ws.read_file, "seeds/base.sql")
    assert sorted(p.name for p in (ws.root / "seeds").iterdir()) == ["base.sql", "ok.sql", "three.sql", "two.sql"]


def test_edit_file_replaces_exactly_one_occurrence(ws: Workspace) -> None:
    ws.write_file("seeds/lessons.sql", "insert a;\ninsert b;\ninsert a;\n")
    assert "occurs 2 times" in _refusal(ws.edit_file, "seeds/lessons.sql", "insert a;", "x")
    assert "does not occur" in _refusal(ws.edit_file, "seeds/lessons.sql", "insert c;", "x")
    assert "'old' is empty" in _refusal(ws.edit_file, "seeds/lessons.sql", "", "x")
    assert ws.edit_file("seeds/lessons.sql", "insert b;", "insert b on conflict do nothing;").startswith(
        "edited seeds/lessons.sql"
    )
    assert ws.read_file("seeds/lessons.sql") == "insert a;\ninsert b on conflict do nothing;\ninsert a;\n"
    assert "cannot write" in _refusal(ws.edit_file, "README.md", "app", "x")
    assert "only the repository's tracked files" in _refusal(ws.edit_file, "seeds/none.sql", "a", "b")


def test_list_files_shows_tracked_and_written_files_but_no_secrets(ws: Workspace) -> None:
    ws.write_file("api/alembic/versions/0002_lessons.py", "x\n")
    listing = ws.list_files(".")
    assert listing == ws.list_files("")
    lines = listing.splitlines()
    assert lines == sorted(lines)
    assert "api/alembic/versions/0002_lessons.py (written)" in lines
    assert "specs/042-lesson-progress/spec.md" in lines
    for secret in [".env", ".env.example", "deploy/id_rsa", "deploy/server.pem", "config/credentials.json"]:
        assert secret not in lines
    assert str(ws.root) not in listing and "untracked-notes.txt" not in listing
    assert ws.list_files("api/alembic/versions").splitlines() == [
        "api/alembic/versions/0001_init.py",
        "api/alembic/versions/0002_lessons.py (written)",
    ]
    assert "nothing to list under 'nowhere'" in _refusal(ws.list_files, "nowhere")
    assert "'..'" in _refusal(ws.list_files, "..")


def test_commit_moves_only_the_workspace_branch(repo: Path, ws: Workspace) -> None:
    hook = Path(repo) / ".git" / "hooks" / "pre-commit"
    hook.write_text(f"#!/bin/sh\ntouch {repo}/hook-ran\n")
    hook.chmod(0o755)
    before = repo_state(repo)
    main_sha = git.Repo(repo).heads["main"].commit.hexsha
    ws.write_file("api/alembic/versions/0002_lessons.py", "x = 1\n")
    ws.write_file("seeds/base.sql", "-- changed\n")
    (ws.root / "seeds/stray.sql").write_text("not the agent's\n")
    sha = ws.commit("Add lesson progress")
    commit = git.Repo(repo).commit(sha)
    assert git.Repo(repo).heads["delegate/042"].commit.hexsha == sha
    assert git.Repo(repo).heads["main"].commit.hexsha == main_sha
    assert commit.parents[0].hexsha == ws.base_commit
    assert sorted(commit.stats.files) == ["api/alembic/versions/0002_lessons.py", "seeds/base.sql"]
    assert (commit.author.name, commit.author.email) == ("Repo Owner", "owner@example.com")
    assert commit.message.strip() == "Add lesson progress"
    assert repo_state(repo) == before
    assert not (Path(repo) / "hook-ran").exists()
    ws.remove(keep_branch=True)
    assert not ws.root.exists()
    assert git.Repo(repo).heads["delegate/042"].commit.hexsha == sha
    assert repo_state(repo) == before


def test_commit_without_a_configured_author_uses_delegate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    root = make_repo(tmp_path)
    with git.Repo(root).config_writer() as config:
        config.remove_section("user")
    ws = Workspace.create(root, branch="d", allowed=ALLOWED, worktrees_dir=tmp_path / "wt")
    with pytest.raises(WorkspaceError, match="nothing to commit"):
        ws.commit("empty")
    ws.write_file("seeds/x.sql", "x\n")
    commit = git.Repo(root).commit(ws.commit("x"))
    assert (commit.author.name, commit.author.email) == ("delegate", "delegate@localhost")


def test_remove_drops_the_worktree_and_branch(repo: Path, ws: Workspace) -> None:
    ws.write_file("seeds/x.sql", "x\n")
    ws.remove()
    assert not ws.root.exists()
    assert "delegate/042" not in [h.name for h in git.Repo(repo).heads]
    assert "delegate-042" not in git.Repo(repo).git.worktree("list")


def test_normalise_path_is_the_lexical_half_of_the_guard() -> None:
    assert normalise_path("./a//b/./c.py") == "a/b/c.py"
    assert normalise_path(".", folder=True) == ""
    assert normalise_path("specs/042-secret-sharing", folder=True) == "specs/042-secret-sharing"
    assert normalise_path("specs/042-secret-sharing/spec.md") == "specs/042-secret-sharing/spec.md"
    with pytest.raises(ToolRefused, match="secret"):
        normalise_path("home/.ssh", folder=True)
    assert normalise_path("specs/042-café/spec.md") == "specs/042-café/spec.md"  # composed accents are fine
    assert normalise_path("api/alembic/versions/0042_add_api_secrets.py")  # a source file may name secrets
    with pytest.raises(ToolRefused, match="stand for others"):
        normalise_path("specs/042-cafe\u0301/spec.md")  # decomposed: not what git stores


def _refusal(call, *args: object) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ToolRefused) as caught:
        call(*args)
    return str(caught.value)


def _branches(repo: Path) -> dict[str, str]:
    lines = git.Repo(repo).git.for_each_ref("--format=%(refname:short) %(objectname)", "refs/heads").splitlines()
    return dict(line.split(" ") for line in lines)


def test_carry_brings_an_uncommitted_spec_into_the_branch(repo: Path, ws: Workspace, tmp_path: Path) -> None:
    spec = repo / "specs/042-lesson-progress"
    (spec / "plan.md").write_text("# Plan, not committed yet\n")
    (spec / "spec.md").write_text("# Lesson progress, edited\n")
    (spec / "data-model.md").write_text("# Data model\n")  # as HEAD has it: not carried
    (spec / ".env.local").write_text(f"K={SECRET_MARKER}\n")
    (spec / "key.txt").write_text(f"-----BEGIN PRIVATE KEY-----\n{SECRET_MARKER}\n")
    (spec / "logo.png").write_bytes(b"\x89PNG\x00\x00")
    os.symlink(tmp_path / "outside" / "secret.txt", spec / "linked.md")
    before = repo_state(repo)
    assert ws.carry("specs/042-lesson-progress") == [
        "specs/042-lesson-progress/plan.md",
        "specs/042-lesson-progress/spec.md",
    ]
    assert repo_state(repo) == before
    assert ws.read_file("specs/042-lesson-progress/plan.md") == "# Plan, not committed yet\n"
    assert ws.written() == []  # the agent wrote nothing yet
    ws.write_file("seeds/lessons.sql", "select 1;\n")
    commit = git.Repo(repo).commit(ws.commit("with the spec"))
    assert sorted(commit.stats.files) == [
        "seeds/lessons.sql",
        "specs/042-lesson-progress/plan.md",
        "specs/042-lesson-progress/spec.md",
    ]
    assert ws.carry("specs/none") == []
    with pytest.raises(WorkspaceError, match="below the repository root"):
        ws.carry(".")


def test_commit_of_unchanged_files_says_nothing_to_commit(ws: Workspace) -> None:
    ws.write_file("seeds/base.sql", TRACKED["seeds/base.sql"])
    with pytest.raises(WorkspaceError, match="nothing to commit"):
        ws.commit("no change")


def test_a_branch_taken_between_the_check_and_the_worktree_is_a_clear_error(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = Workspace.create(repo, branch="delegate/042", allowed=ALLOWED, worktrees_dir=tmp_path / "first")
    other.write_file("seeds/mine.sql", "select 1;\n")
    monkeypatch.setattr("orchestrator.workspace._branch_exists", lambda handle, branch: False)  # lost the race
    with pytest.raises(WorkspaceError) as caught:
        Workspace.create(repo, branch="delegate/042", allowed=ALLOWED, worktrees_dir=tmp_path / "second")
    assert "git could not make the worktree for branch 'delegate/042'" in str(caught.value)
    assert "another delegate run may be using this branch" in str(caught.value)
    assert (other.root / "seeds/mine.sql").read_text() == "select 1;\n"  # the first run's work is intact
    assert git.Repo(other.root).active_branch.name == "delegate/042"


def test_the_users_hooks_do_not_run_when_the_worktree_is_made(repo: Path, tmp_path: Path) -> None:
    for name in ("post-checkout", "reference-transaction"):
        hook = repo / ".git" / "hooks" / name
        hook.write_text(f"#!/bin/sh\ntouch {tmp_path}/{name}-ran\n")
        hook.chmod(0o755)
    Workspace.create(repo, branch="hooks", allowed=ALLOWED, worktrees_dir=tmp_path / "wt").remove()
    assert not list(tmp_path.glob("*-ran"))


def test_an_allowed_entry_may_be_one_file(repo: Path, tmp_path: Path) -> None:
    # a models module that is one file (app/models.py): that file is writable, its neighbours are not
    ws = Workspace.create(
        repo, branch="delegate/models", allowed=(*ALLOWED, "api/app/models.py"), worktrees_dir=tmp_path / "wt"
    )
    assert "wrote api/app/models.py" in ws.write_file("api/app/models.py", "x = 1\n")
    assert "writes are allowed only inside" in _refusal(ws.write_file, "api/app/other.py", "x = 1\n")
    assert "writes are allowed only inside" in _refusal(ws.write_file, "api/alembic/versions", "x\n")
