"""Test helper: the example repo with a branch committed as `delegate migrations` commits a green run."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.example_repo import FEATURE_SPEC, make_example_repo, overlay_solution

DELEGATED_BRANCH = "042-lesson-progress-migrations"
BUNDLE_FILES = [
    f"{FEATURE_SPEC}/spec.md",
    f"{FEATURE_SPEC}/data-model.md",
    f"{FEATURE_SPEC}/plan.md",
    "api/alembic/versions/001_initial_schema.py",
]
USAGE = {
    "input_tokens": 41210,
    "output_tokens": 9120,
    "cache_read_input_tokens": 30000,
    "cache_creation_input_tokens": 8000,
    "cost_usd": 0.3154,
}
_GIT = ["git", "-c", "user.name=delegate", "-c", "user.email=delegate@example.test", "-c", "commit.gpgsign=false"]


def git(repo: Path, *args: str) -> str:
    return subprocess.run([*_GIT, *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def commit_message(feature: str = "042-lesson-progress") -> str:
    return (
        f"feat(db): migrations for {feature}\n\n"
        "Written by the database-architect agent and proven by `delegate check` in 2 round(s).\n\n"
        "Delegated-to: database-architect\n"
        "Model: claude-sonnet-5-5\n"
        "Tokens: 88330\n"
        "Cost-USD: 0.3154\n"
        "Checks: 0 errors, 1 warnings\n"
        "Cassette: 042-lesson-progress.yaml\n"
    )


def make_delegated_branch(tmp_path: Path, database_url: str | None = None) -> tuple[Path, list[str]]:
    """The example repo on `main` (checked out, clean) and branch 042-lesson-progress-migrations made from it:
    the solution of feature 042, its migration plan and runbook rendered from a check of that content (live when
    `database_url` is given), one commit with the pipeline's message and trailers. Returns (repo, plan files)."""
    from orchestrator.check import CheckOptions, run_check
    from orchestrator.config import load_config
    from orchestrator.publish import plan_facts, write_plan_files

    repo = make_example_repo(tmp_path, with_solution=False)
    git(repo, "checkout", "-q", "-b", DELEGATED_BRANCH)
    files = overlay_solution(repo)
    report = run_check(
        CheckOptions(repo=repo, spec=Path(FEATURE_SPEC), database_url=database_url, static_only=database_url is None)
    )
    facts = plan_facts(
        repo,
        load_config(repo),
        report,
        FEATURE_SPEC,
        agent="database-architect",
        agent_source="agents/database-architect.md",
        model="claude-sonnet-5-5",
        bundle_files=BUNDLE_FILES,
        usage=USAGE,
        files=sorted(files),
        branch=DELEGATED_BRANCH,
    )
    written = write_plan_files(repo, facts)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", commit_message())
    git(repo, "checkout", "-q", "main")
    return repo, written
