"""A throwaway git copy of the example target repo (examples/cfi-app), optionally with feature 042 solved.

Tests and benchmarks use it; keep `make_example_repo`'s signature stable.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_APP = EXAMPLES / "cfi-app"
SOLUTION_042 = EXAMPLES / "solutions" / "042-lesson-progress"

BASE_BRANCH = "main"  # the branch orchestrator.demo.make_demo_repo commits the example on
FEATURE_BRANCH = "feature/042-lesson-progress"
BASE_REVISION = "3f9c2a7d1b84"  # api/alembic/versions/001_initial_schema.py
SOLUTION_REVISION = "b7e41d09c5a2"  # the solution's api/alembic/versions/002_lesson_progress.py
FEATURE_SPEC = "specs/042-lesson-progress"


# Identity and signing set per command: the machine's git config must not matter.
_GIT = ["git", "-c", "user.name=Example Dev", "-c", "user.email=dev@cfi-app.test", "-c", "commit.gpgsign=false"]


def git_in(repo: Path, *args: str) -> None:
    """Run git in `repo` with a fixed identity, failing on error."""
    subprocess.run(
        [*_GIT, *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def overlay_solution(repo: Path, solution: Path = SOLUTION_042) -> list[str]:
    """Copy the solution's files onto `repo` (replacing files of the same path); returns their repo-relative paths."""
    copied: list[str] = []
    for src in sorted(solution.rglob("*")):
        if src.is_dir() or "__pycache__" in src.parts or src.suffix == ".pyc":
            continue
        rel = src.relative_to(solution)
        dest = repo / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)
        copied.append(rel.as_posix())
    return copied


def make_example_repo(tmp_path: Path, with_solution: bool) -> Path:
    """Copy examples/cfi-app into `tmp_path / "cfi-app"` and make it a git repository; return its root.

    - Branch `main` holds one commit with the example as shipped (head revision 3f9c2a7d1b84).
    - With `with_solution=True`, branch `feature/042-lesson-progress` adds one commit on top with the
      reference solution of feature 042 (examples/solutions/042-lesson-progress overlaid: revision
      b7e41d09c5a2, its policy SQL, seed, tests, models and runbook), and that branch is checked out.
      Without it, `main` is checked out and the working tree is clean.

    Only git is needed (no network, no database); it takes well under a second.
    """
    from orchestrator.demo import make_demo_repo

    repo = make_demo_repo(tmp_path)  # the copy `delegate demo` makes: one commit on main
    if with_solution:
        git_in(repo, "checkout", "-q", "-b", FEATURE_BRANCH)
        overlay_solution(repo)
        git_in(repo, "add", "-A")
        git_in(repo, "commit", "-q", "-m", "042-lesson-progress: migration, RLS policies, seeds, tests, runbook")
    return repo


# The line of the example's env.py that picks the database URL (tests replace it to mimic other projects).
ENV_PY_URL_LINE = 'url = os.environ.get("DATABASE_URL") or config.get_main_option("sqlalchemy.url") or ""'


def edit_env_py(repo: Path, old: str, new: str, message: str, count: int = 1) -> None:
    """Replace `old` (which must occur `count` times) in the example repo's env.py by `new`, and commit."""
    env = repo / "api" / "alembic" / "env.py"
    text = env.read_text(encoding="utf-8")
    assert text.count(old) == count, f"{old!r} occurs {text.count(old)} times in {env}"
    env.write_text(text.replace(old, new), encoding="utf-8")
    git_in(repo, "commit", "-qam", message)
