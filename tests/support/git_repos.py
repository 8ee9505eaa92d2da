"""Small real git repositories for the workspace tests, and snapshots to prove what a run did not touch."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import git

# Planted in every file the agent must never see; no tool result may ever contain it.
SECRET_MARKER = "PLANTED-SECRET-7f3a"

ALLOWED = ("api/alembic/versions", "api/sql/policies", "seeds", "api/tests/migrations", "specs/042-lesson-progress")

TRACKED = {
    "README.md": "# app\n",
    "api/alembic.ini": "[alembic]\nscript_location = alembic\n",
    "api/alembic/env.py": "# env\n",
    "api/alembic/versions/0001_init.py": 'revision = "0001"\ndown_revision = None\n',
    "api/sql/policies/profiles.sql": "create policy p on profiles using (true);\n",
    "seeds/base.sql": "insert into t values (1);\n",
    "specs/042-lesson-progress/spec.md": "# Lesson progress\n",
    "specs/042-lesson-progress/data-model.md": "# Data model\n",
    "specs/041-other/spec.md": "# Other\n",
    # tracked, but secret: never read
    ".env": f"ANTHROPIC_API_KEY={SECRET_MARKER}\n",
    ".env.example": f"KEY={SECRET_MARKER}\n",
    "deploy/id_rsa": f"-----BEGIN OPENSSH PRIVATE KEY-----\n{SECRET_MARKER}\n",
    "deploy/server.pem": f"{SECRET_MARKER}\n",
    "config/credentials.json": f'{{"token": "{SECRET_MARKER}"}}\n',
    "docs/notes.txt": f"-----BEGIN RSA PRIVATE KEY-----\n{SECRET_MARKER}\n-----END RSA PRIVATE KEY-----\n",
}


def make_repo(base: Path, *, tracked_symlinks: bool = True) -> Path:
    """A repo at base/repo with the seed's layout, secrets among its tracked files, symlinks pointing outside
    (base/outside holds the marker), an untracked file, and a dirty working tree and index."""
    outside = base / "outside"
    outside.mkdir(parents=True, exist_ok=True)
    (outside / "secret.txt").write_text(f"{SECRET_MARKER}\n")
    root = base / "repo"
    repo = git.Repo.init(root, initial_branch="main")
    with repo.config_writer() as config:
        config.set_value("user", "name", "Repo Owner")
        config.set_value("user", "email", "owner@example.com")
    for rel, text in TRACKED.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    if tracked_symlinks:
        os.symlink(outside / "secret.txt", root / "docs" / "outside-link.txt")
        os.symlink(outside, root / "docs" / "outside-dir")
    repo.git.add("-A")
    repo.git.commit("-m", "init", "--no-verify")
    # dirty: a staged change, an unstaged change, an untracked file with a secret
    (root / "README.md").write_text("# app, edited\n")
    repo.git.add("README.md")
    (root / "seeds/base.sql").write_text("-- unstaged edit\n")
    (root / "untracked-notes.txt").write_text(f"{SECRET_MARKER}\n")
    return root


def repo_state(root: Path) -> dict[str, str]:
    """What a user sees of their repo: status, index, HEAD, current branch, all branches, stash, worktree files."""
    repo = git.Repo(root)
    return {
        "status": repo.git.status("--porcelain=v1", "--untracked-files=all", "--ignored"),
        "index": repo.git.ls_files("--stage"),
        "head": repo.git.rev_parse("HEAD"),
        "branch": repo.git.symbolic_ref("HEAD"),
        "diff": repo.git.diff(),
        "diff_cached": repo.git.diff("--cached"),
        "files": repr(tree_snapshot(root, skip={".git"})),
    }


def tree_snapshot(root: Path, *, skip: set[str] | frozenset[str] = frozenset()) -> dict[str, tuple[str, str]]:
    """Every entry under root (relative path -> kind and content hash or link target), symlinks not followed;
    `skip` names relative paths whose subtrees are left out."""
    result: dict[str, tuple[str, str]] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        kept = []
        for d in sorted(dirnames):
            rel = d if rel_dir == "." else f"{rel_dir}/{d}"
            if rel in skip:
                continue
            if os.path.islink(os.path.join(dirpath, d)):
                result[rel] = ("link", os.readlink(os.path.join(dirpath, d)))
            else:
                result[rel] = ("dir", "")
                kept.append(d)
        dirnames[:] = kept
        for f in filenames:
            rel = f if rel_dir == "." else f"{rel_dir}/{f}"
            if rel in skip:
                continue
            full = os.path.join(dirpath, f)
            if os.path.islink(full):
                result[rel] = ("link", os.readlink(full))
            else:
                with open(full, "rb") as handle:
                    result[rel] = ("file", hashlib.sha256(handle.read()).hexdigest())
    return result
