"""The target is resolved once per check: git asked once, the spec read once, one selection for every half."""

from __future__ import annotations

from pathlib import Path

import pytest

import orchestrator.feature
from orchestrator.check import CheckOptions, run_check
from orchestrator.target import resolve_target
from tests.support.example_repo import make_example_repo

ROOT = Path(__file__).resolve().parent.parent
GIT = ["git", "-c", "user.name=T", "-c", "user.email=t@example.test", "-c", "commit.gpgsign=false"]


@pytest.fixture
def feature_branch(tmp_path: Path) -> Path:
    """examples/cfi-app on main, the 042 solution committed on a feature branch (as an agent's worktree)."""
    return make_example_repo(tmp_path, with_solution=True)


def test_the_branch_decides_revisions_and_spec_for_both_halves(feature_branch: Path) -> None:
    target = resolve_target(CheckOptions(repo=feature_branch, static_only=True))
    assert target.selection is not None and target.selection.under_test == ["b7e41d09c5a2"]
    assert target.feature_revisions == {"b7e41d09c5a2"}
    assert target.spec_guessed and target.spec is not None
    assert target.spec_folder == (feature_branch / "specs" / "042-lesson-progress").resolve()
    assert target.changes is not None and target.changes.label == "branch feature/042-lesson-progress"
    # The graph holds the very files the static half reads.
    assert {rf.rel for rf in target.revision_files} == {rf.rel for rf in target.graph.by_id.values()}


def test_an_explicit_spec_is_not_a_guess(feature_branch: Path) -> None:
    target = resolve_target(CheckOptions(repo=feature_branch, spec=Path("specs/042-lesson-progress")))
    assert target.spec is not None and not target.spec_guessed


def test_git_is_asked_once_per_check(feature_branch: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path | None] = []
    asked = orchestrator.feature.branch_changes

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(kwargs.get("under"))  # type: ignore[arg-type]
        return asked(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(orchestrator.feature, "branch_changes", counting)
    run_check(CheckOptions(repo=feature_branch, static_only=True))
    assert calls == [None]


def test_paths_judge_every_file_and_ask_no_git(feature_branch: Path) -> None:
    revision = feature_branch / "api" / "alembic" / "versions" / "002_lesson_progress.py"
    target = resolve_target(CheckOptions(repo=feature_branch, static_only=True, paths=[revision]))
    assert target.changes is None and target.selection is None and target.feature_revisions is None
    assert [rf.rel for rf in target.revision_files] == ["api/alembic/versions/002_lesson_progress.py"]
