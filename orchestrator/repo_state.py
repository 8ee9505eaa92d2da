"""The user's repository as delegate sees it: its root, and the folder where delegate keeps its own state
(`<git common dir>/delegate/`: worktrees, run folders, locks), out of the working tree."""

from __future__ import annotations

import subprocess
from pathlib import Path

from orchestrator.errors import InputError


def git_root(path: Path) -> Path:
    """The top of the working tree holding `path`; an InputError when it is not a git repository."""
    if not path.is_dir():
        raise InputError(f"--repo {path}: no such folder", "pass the root of the target repository")
    proc = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], cwd=path, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise InputError(
            f"{path}: not a git repository",
            "delegate works on a branch of your repository: run it inside one (git init and a first commit)",
        )
    return Path(proc.stdout.strip()).resolve()


def state_dir(repo: Path) -> Path:
    """`<git common dir>/delegate`: where delegate keeps worktrees, runs and locks (out of the working tree)."""
    proc = subprocess.run(
        ["git", "rev-parse", "--git-common-dir"], cwd=repo, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise InputError(f"{repo}: git rev-parse --git-common-dir failed: {proc.stderr.strip()}")
    common = Path(proc.stdout.strip())
    return (common if common.is_absolute() else repo / common).resolve() / "delegate"
