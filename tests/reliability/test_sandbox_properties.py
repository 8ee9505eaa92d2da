"""Issue 13, point 1: hostile tool calls against the workspace (hypothesis). Nothing is written outside the allowed
folders, nothing but tracked or session-written files is read, no secret ever reaches a tool result, and every
refusal is a tool error that wrote nothing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import git
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from orchestrator.agent.tools import TOOL_NAMES, ToolOutcome, WorkspaceToolbox
from orchestrator.report import CheckReport
from orchestrator.workspace import SandboxLimits, Workspace
from tests.support.git_repos import ALLOWED, SECRET_MARKER, TRACKED, make_repo, tree_snapshot

EXAMPLES = int(os.environ.get("DELEGATE_SANDBOX_EXAMPLES", "40"))
LIMITS = SandboxLimits(max_file_bytes=2048, max_files_written=6)

HOSTILE = [
    "..",
    ".",
    "",
    "...",
    "~",
    "~root",
    "/",
    "//",
    "\\",
    "..\\..",
    "C:",
    "c:\\windows",
    ".git",
    ".GIT",
    ".Git",
    "git~1",
    "GIT~1",
    ".git.",
    ".git ",
    " .git",
    ".git\u200d",
    "\u200c.git",
    "\uff0egit",
    "\uff0e\uff0e",
    "\u2024\u2024",
    ".\u0261it",
    ".gi\u0165",
    "\u0130",
    "K\u212a",
    "\x00",
    "a\x00b",
    "\n",
    "\t",
    "\x7f",
    "\u202e",
    "%2e%2e",
    "..%2f",
    "config",
    "HEAD",
    "hooks",
    "objects",
    ".env",
    ".ENV",
    ".env.local",
    ".envrc",
    "prod.env",
    "id_rsa",
    "id_ed25519.pub",
    "server.pem",
    "tls.key",
    "credentials.json",
    "secrets.toml",
    ".ssh",
    ".aws",
    ".netrc",
    ".pgpass",
    ".gitignore",
    ".gitattributes",
    "escape",
    "leak.sql",
    "dot-git",
    "worktree-git",
    "untracked.sql",
    "outside-link.txt",
    "outside-dir",
    "secret.txt",
    "0002_lessons.py",
    "spec.md",
    "a" * 300,
]
PREFIXES = ["", "/", "~/", "./", "../", "../../", "{root}/", "{outside}/", "{repo}/", "{repo}/.git/", "{base}/"]
TRACKED_OR_NEAR = sorted(TRACKED) + ["docs/outside-link.txt", "docs/outside-dir/secret.txt", "untracked-notes.txt"]
# a few names that succeed, so that reads and edits also meet what earlier calls wrote
PLAIN = ["seeds/a.sql", "seeds/base.sql", "api/alembic/versions/0002_lessons.py", "specs/042-lesson-progress/plan.md"]


def _join(prefix: str, parts: list[str]) -> str:
    return prefix + "/".join(parts)


name_chars = st.characters(codec="utf-8", exclude_categories=("Cs",))
paths = st.one_of(
    st.builds(
        _join, st.sampled_from(PREFIXES), st.lists(st.sampled_from(HOSTILE + list(ALLOWED)), min_size=1, max_size=5)
    ),
    st.builds(
        lambda folder, parts: "/".join([folder, *parts]),
        st.sampled_from(ALLOWED),
        st.lists(st.sampled_from(HOSTILE) | st.text(name_chars, min_size=1, max_size=12), min_size=1, max_size=3),
    ),
    st.sampled_from(TRACKED_OR_NEAR),
    st.sampled_from(PLAIN),
    st.sampled_from(PLAIN),
    st.builds(
        lambda folder, name: f"{folder}/{name}.sql",
        st.sampled_from(ALLOWED),
        st.from_regex(r"[a-z0-9_]{1,12}", fullmatch=True),
    ),
    st.text(name_chars, max_size=40),
)
not_strings = st.one_of(
    st.none(), st.integers(), st.booleans(), st.lists(st.text(max_size=3), max_size=2), st.binary(max_size=8)
)
contents = st.one_of(
    st.text(max_size=120),
    st.binary(max_size=64).map(lambda b: b.decode("latin-1")),
    st.integers(LIMITS.max_file_bytes - 4, LIMITS.max_file_bytes + 4).map(lambda n: "x" * n),
    st.integers(LIMITS.max_file_bytes // 2 - 2, LIMITS.max_file_bytes // 2 + 2).map(lambda n: "é" * n),
    st.sampled_from(["a\x00b", "\ud800", "\udfff tail", f"{SECRET_MARKER}-is-mine"]),
    not_strings,
)
calls = st.one_of(
    st.tuples(st.just("read_file"), st.fixed_dictionaries({"path": paths | not_strings})),
    st.tuples(st.just("list_files"), st.fixed_dictionaries({"path": paths})),
    st.tuples(st.just("write_file"), st.fixed_dictionaries({"path": paths, "content": contents})),
    st.tuples(
        st.just("edit_file"),
        st.fixed_dictionaries({"path": paths, "old": st.sampled_from(["select", "x", "", "é", "a"]), "new": contents}),
    ),
    st.tuples(
        st.sampled_from([*TOOL_NAMES, "bash", "read_file "]),
        st.one_of(
            st.text(max_size=40),
            st.dictionaries(
                st.sampled_from(["path", "content", "old", "new", "summary", "x"]), paths | not_strings, max_size=4
            ),
            not_strings,
        ),
    ),
)


@dataclass
class Sandbox:
    base: Path
    repo: Path
    outside: Path


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Sandbox:
    base = tmp_path_factory.mktemp("sandbox")
    repo = make_repo(base)
    with git.Repo(repo).config_writer() as config:
        config.set_value("delegate", "token", SECRET_MARKER)
    (repo / ".git" / "planted-secret").write_text(f"{SECRET_MARKER}\n")
    return Sandbox(base=base, repo=repo, outside=base / "outside")


@pytest.fixture(scope="module")
def fresh(sandbox: Sandbox) -> Iterator[Any]:
    """Hands each example a workspace as new, with hostile plants: one worktree, reset between examples (a git
    worktree per example would cost most of the test's time)."""
    first = Workspace.create(
        sandbox.repo, branch="prop", allowed=ALLOWED, worktrees_dir=sandbox.base / "wt", limits=LIMITS
    )
    worktree = git.Repo(first.root)
    tracked = [t for t in worktree.git.ls_files("-z").split("\0") if t]

    def make() -> Workspace:
        worktree.git.reset("--hard", "--quiet", first.base_commit)
        worktree.git.clean("-ffdxq")
        ws = Workspace(
            repo=first.repo,
            root=first.root,
            branch=first.branch,
            base_commit=first.base_commit,
            allowed=ALLOWED,
            tracked=tracked,
            limits=LIMITS,
        )
        for folder in ALLOWED:
            d = ws.root / folder
            d.mkdir(parents=True, exist_ok=True)
            os.symlink(sandbox.outside, d / "escape")
            os.symlink(sandbox.outside / "secret.txt", d / "leak.sql")
            os.symlink(sandbox.outside / "new-file.sql", d / "dangling.sql")
            os.symlink(sandbox.repo / ".git", d / "dot-git")
            os.symlink(ws.root / ".git", d / "worktree-git")
            (d / "untracked.sql").write_text(f"{SECRET_MARKER}\n")
        return ws

    yield make
    first.remove()


def _fill(value: object, sandbox: Sandbox, ws: Workspace) -> object:
    if isinstance(value, str):
        return (
            value.replace("{root}", str(ws.root))
            .replace("{outside}", str(sandbox.outside))
            .replace("{repo}", str(sandbox.repo))
            .replace("{base}", str(sandbox.base))
        )
    if isinstance(value, dict):
        return {k: _fill(v, sandbox, ws) for k, v in value.items()}
    return value


def _inside_unlinked(root: Path, path: str) -> Path | None:
    """root/path if every component exists below root without a symlink on the way, else None (the test's own
    oracle, independent of the workspace's guard)."""
    if not path or path.startswith("/") or "\x00" in path:
        return None
    current = root
    for part in [p for p in path.split("/") if p not in ("", ".")]:
        if part == "..":
            return None
        current = current / part
        if current.is_symlink() or not current.exists():
            return None
    return current if current.is_file() else None


class _Judge:
    def __call__(self) -> CheckReport:
        return CheckReport()


@settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(script=st.lists(calls, min_size=1, max_size=10))
def test_hostile_tool_calls_never_escape_the_sandbox(
    sandbox: Sandbox, fresh: Any, script: list[tuple[str, object]]
) -> None:
    ws: Workspace = fresh()
    tracked = set(git.Repo(ws.root).git.ls_files("-z").split("\0")) - {""}
    wt_rel = ws.root.relative_to(sandbox.base).as_posix()
    outside_allowed = {f"{wt_rel}/{folder}" for folder in ALLOWED}
    before_outside = tree_snapshot(sandbox.base, skip=outside_allowed)
    written: set[str] = set()
    box = WorkspaceToolbox(ws, _Judge())
    for name, raw in script:
        tool_input = _fill(raw, sandbox, ws)
        before_ws = tree_snapshot(ws.root)
        outcome = box.run(name, tool_input)
        assert isinstance(outcome, ToolOutcome)
        event(f"{name if name in TOOL_NAMES else 'unknown tool'}: {'refused' if outcome.is_error else 'done'}")
        assert SECRET_MARKER not in outcome.content.replace(f"{SECRET_MARKER}-is-mine", "")
        if outcome.is_error:
            assert outcome.content  # says why
            assert tree_snapshot(ws.root) == before_ws, f"a refused {name} changed the workspace"
            continue
        args = tool_input if isinstance(tool_input, dict) else {}
        if name in ("write_file", "edit_file"):
            target = _inside_unlinked(ws.root, args["path"])
            assert target is not None
            rel = target.relative_to(ws.root).as_posix()
            assert any(rel.startswith(folder + "/") for folder in ALLOWED), rel
            assert os.path.realpath(target).startswith(str(ws.root) + os.sep)
            written.add(rel)
        elif name == "read_file":
            target = _inside_unlinked(ws.root, args["path"])
            assert target is not None
            rel = target.relative_to(ws.root).as_posix()
            assert rel in tracked or rel in written, rel
            assert target.read_text(encoding="utf-8") == outcome.content or outcome.content == "(the file is empty)"
        elif name == "list_files":
            for line in outcome.content.splitlines():
                listed = line.removesuffix(" (written)")
                assert listed in tracked or listed in written or line.startswith("…"), listed
                assert not listed.startswith("/")
    assert set(ws.written()) == written
    assert len(written) <= LIMITS.max_files_written
    assert tree_snapshot(sandbox.base, skip=outside_allowed) == before_outside


def test_thousands_of_files_stop_at_the_count_limit(tmp_path: Path) -> None:
    ws = Workspace.create(make_repo(tmp_path), branch="many", allowed=ALLOWED, worktrees_dir=tmp_path / "wt")
    box = WorkspaceToolbox(ws, _Judge())
    outcomes = [
        box.run("write_file", {"path": f"seeds/gen/{n:05}.sql", "content": f"select {n};\n"}) for n in range(3000)
    ]
    limit = ws.limits.max_files_written
    assert not any(o.is_error for o in outcomes[:limit])
    assert all(o.is_error and "the limit" in o.content for o in outcomes[limit:])
    assert len(list((ws.root / "seeds/gen").iterdir())) == limit
    assert not box.run("write_file", {"path": "seeds/gen/00000.sql", "content": "rewrite\n"}).is_error
    listing = box.run("list_files", {"path": "seeds"}).content.splitlines()
    assert sum(line.startswith("seeds/gen/") for line in listing) == limit


def test_huge_and_binary_content_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    ws = Workspace.create(make_repo(tmp_path), branch="huge", allowed=ALLOWED, worktrees_dir=tmp_path / "wt")
    box = WorkspaceToolbox(ws, _Judge())
    for content in ["x" * (50 * 1024 * 1024), "\x00" * 10, "PNG\x00\x1a", "\ud83d"]:
        outcome = box.run("write_file", {"path": "seeds/blob.sql", "content": content})
        assert outcome.is_error
        assert len(outcome.content) < 400
    assert not (ws.root / "seeds/blob.sql").exists()
    assert list((ws.root / "seeds").iterdir()) == [ws.root / "seeds/base.sql"]
