"""`delegate clean`: removes what delegate left in a repo (worktrees and run folders under `<git common dir>/delegate/`)
and, on request, the cached base template databases on a server. Branches are results, never removed."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.repo_state import git_root, state_dir

_RUN_PID = re.compile(r"-(\d+)$")  # runs/<feature>-<UTC stamp>-<pid>


@dataclass
class CleanResult:
    state: Path
    worktrees: list[str] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    locks: list[str] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # what was left, and why

    @property
    def removed_anything(self) -> bool:
        return bool(self.worktrees or self.runs or self.locks or self.templates)

    def lines(self) -> list[str]:
        out = [f"removed worktree {w}" for w in self.worktrees]
        out += [f"removed run folder {r}" for r in self.runs]
        out += [f"removed lock file {lk}" for lk in self.locks]
        out += [f"dropped template database {t}" for t in self.templates]
        out += [f"kept {k}" for k in self.kept]
        if not self.removed_anything and not self.kept:
            out.append(f"nothing to clean in {self.state}")
        return out


def _registered_worktrees(repo: Path) -> list[Path]:
    proc = subprocess.run(
        ["git", "worktree", "list", "--porcelain"], cwd=repo, capture_output=True, text=True, check=False
    )
    return [
        Path(line[len("worktree ") :]).resolve() for line in proc.stdout.splitlines() if line.startswith("worktree ")
    ]


def _held(lock: Path) -> bool:
    """True when another process holds the lock (a `delegate migrations` run in progress)."""
    try:
        with lock.open("a+", encoding="utf-8") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
    except OSError:
        return False
    return False


def _alive(pid: int) -> bool:
    from orchestrator.runner.process import pid_alive

    return pid == os.getpid() or pid_alive(pid)


def clean_repo(repo: Path) -> CleanResult:
    """Remove the worktrees (git worktree remove --force, then prune) and run folders delegate left in `repo`'s
    state folder, and lock files no run holds. While a run holds a lock, its worktrees and run folders stay."""
    root = git_root(repo)
    state = state_dir(root)
    result = CleanResult(state=state)
    if not state.is_dir():
        return result
    locks = sorted((state / "locks").glob("*.lock")) if (state / "locks").is_dir() else []
    busy = [lk for lk in locks if _held(lk)]
    worktrees = state / "worktrees"
    if busy:
        names = ", ".join(lk.stem for lk in busy)
        result.kept.append(f"{worktrees} (a `delegate migrations` run is in progress on {names})")
    elif worktrees.is_dir():
        registered = _registered_worktrees(root)
        for tree in registered:
            if worktrees.resolve() in tree.parents:
                subprocess.run(
                    ["git", "worktree", "remove", "--force", str(tree)], cwd=root, capture_output=True, check=False
                )
                if tree.exists():
                    shutil.rmtree(tree, ignore_errors=True)
                result.worktrees.append(str(tree))
        for leftover in sorted(p for p in worktrees.iterdir()):
            # A folder git no longer knows (a run killed before git registered it, or pruned already).
            if leftover.resolve() not in registered:
                if leftover.is_dir():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    leftover.unlink(missing_ok=True)
                result.worktrees.append(str(leftover))
        subprocess.run(["git", "worktree", "prune"], cwd=root, capture_output=True, check=False)
        with contextlib.suppress(OSError):
            worktrees.rmdir()
    runs = state / "runs"
    if runs.is_dir():
        for run in sorted(runs.iterdir()):
            match = _RUN_PID.search(run.name)
            if match and _alive(int(match.group(1))):
                result.kept.append(f"{run} (its process {match.group(1)} is still running)")
                continue
            if run.is_dir():
                shutil.rmtree(run, ignore_errors=True)
            else:
                run.unlink(missing_ok=True)
            result.runs.append(str(run))
        with contextlib.suppress(OSError):
            runs.rmdir()
    for lock in locks:
        if lock not in busy:
            lock.unlink(missing_ok=True)
            result.locks.append(str(lock))
    return result


def drop_template_databases(database_url: str, prefix: str | None = None) -> list[str]:
    """Drop the cached base templates (`delegate_tpl_<hash>`) on the server `database_url` names; their names."""
    from orchestrator.pg import TEMPLATE_PREFIX, drop_templates, open_server

    with open_server(database_url) as server:
        return drop_templates(server, prefix or TEMPLATE_PREFIX)
