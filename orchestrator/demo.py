"""`delegate demo`: the whole pipeline on the bundled example, from the bundled cassette, with no key and no
database: a fresh git copy of examples/cfi-app, the recorded agent session replayed (a flawed first submission,
the judge's findings, the repair, the commit), then the branch read back as `delegate review` does."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from orchestrator.agent.loop import Observer
from orchestrator.errors import InputError
from orchestrator.pipeline import MigrationsOptions, MigrationsResult, run_migrations
from orchestrator.resources import data_dir

FEATURE = "specs/042-lesson-progress"
CASSETTE = "042-lesson-progress.yaml"
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
# Identity and signing set per command: the machine's git config must not matter for the demo's one commit.
_GIT = ["git", "-c", "user.name=Demo", "-c", "user.email=demo@cfi-app.test", "-c", "commit.gpgsign=false"]


@dataclass
class DemoResult:
    repo: Path
    migrations: MigrationsResult
    review: object | None  # orchestrator.review.BranchReview, when the branch was committed


def example_app() -> Path:
    return data_dir("examples") / "cfi-app"


def bundled_cassette() -> Path:
    return data_dir("cassettes") / CASSETTE


def make_demo_repo(folder: Path) -> Path:
    """A git repository at folder/cfi-app holding the bundled example in one commit on `main`."""
    repo = folder / "cfi-app"
    if repo.exists():
        raise InputError(f"{repo} already exists", "pass --dir with an empty or new folder")
    shutil.copytree(example_app(), repo, ignore=_IGNORE)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "cfi-app as shipped"]):
        subprocess.run([*_GIT, *args], cwd=repo, check=True, capture_output=True)
    return repo


def run_demo(
    folder: Path | None = None, database_url: str | None = None, observe: Observer | None = None
) -> DemoResult:
    """Replay the bundled session on a fresh copy of the example; the copy is kept (its path is in the result)."""
    cassette = bundled_cassette()
    if not cassette.is_file():
        raise InputError(f"{cassette}: the bundled cassette is missing", "reinstall delegate")
    base = Path(tempfile.mkdtemp(prefix="delegate-demo-")) if folder is None else folder
    base.mkdir(parents=True, exist_ok=True)
    repo = make_demo_repo(base)
    result = run_migrations(
        MigrationsOptions(repo=repo, spec=Path(FEATURE), replay=cassette, database_url=database_url), observe
    )
    review = None
    if result.commit is not None and result.branch is not None:
        from orchestrator.review import ReviewOptions, review_branch

        if observe is not None:
            observe("note", f"reading {result.branch} back as `delegate review` does...")
        review = review_branch(ReviewOptions(branch=result.branch, repo=repo, database_url=database_url))
    return DemoResult(repo=repo, migrations=result, review=review)
