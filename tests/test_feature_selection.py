"""Which revisions are under test: --since, the feature's revisions, the branch's changes, the whole history."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import git
import pytest

from orchestrator.config import DelegateConfig
from orchestrator.errors import InputError
from orchestrator.feature import feature_revisions, select_revisions
from orchestrator.revisions import RevisionGraph

VERSIONS = "api/alembic/versions"


def write_revision(repo: Path, name: str, rev: str, down: str | tuple[str, ...] | None, message: str = "") -> None:
    folder = repo / VERSIONS
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.py").write_text(
        f'"""{message or name}"""\nrevision = {rev!r}\ndown_revision = {down!r}\n\n'
        "def upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n"
    )


def graph_of(repo: Path) -> RevisionGraph:
    return RevisionGraph.from_folder(repo / VERSIONS, repo)


@pytest.fixture
def history(tmp_path: Path) -> Path:
    repo = tmp_path / "app"
    write_revision(repo, "001_init", "a1f0c3", None)
    write_revision(repo, "002_more", "b7e2d9", "a1f0c3")
    g = git.Repo.init(repo, initial_branch="main")
    g.index.add([VERSIONS])
    g.index.commit("base")
    g.create_head("feature/042-progress").checkout()
    write_revision(repo, "003_progress", "c4d8e1", "b7e2d9", "042 lesson progress")
    write_revision(repo, "004_index", "d9a3b2", "c4d8e1", "042 index")
    g.index.add([VERSIONS])
    g.index.commit("feature")
    return repo


def test_branch_changes_are_under_test_and_the_rest_is_the_base(history: Path) -> None:
    selection = select_revisions(history, DelegateConfig(), graph_of(history))
    assert selection.under_test == ["c4d8e1", "d9a3b2"]
    assert selection.base == ["b7e2d9"]
    assert "feature/042-progress" in selection.how


def test_untracked_revision_counts_as_the_branch_s(history: Path) -> None:
    write_revision(history, "005_wip", "e5f6a7", "d9a3b2")
    selection = select_revisions(history, DelegateConfig(), graph_of(history))
    assert selection.under_test == ["c4d8e1", "d9a3b2", "e5f6a7"]


def test_since_takes_everything_after_it(history: Path) -> None:
    selection = select_revisions(history, DelegateConfig(), graph_of(history), since="a1f")
    assert selection.under_test == ["b7e2d9", "c4d8e1", "d9a3b2"]
    assert selection.base == ["a1f0c3"]


def test_unknown_since_is_an_input_error(history: Path) -> None:
    with pytest.raises(InputError, match="--since zzz"):
        select_revisions(history, DelegateConfig(), graph_of(history), since="zzz")


def test_default_branch_itself_tests_the_whole_history(history: Path) -> None:
    git.Repo(history).heads["main"].checkout()
    selection = select_revisions(history, DelegateConfig(), graph_of(history))
    assert selection.under_test == ["a1f0c3", "b7e2d9"]
    assert selection.base == []


def test_not_a_git_repo_tests_the_whole_history(tmp_path: Path) -> None:
    write_revision(tmp_path, "001", "a1f0c3", None)
    write_revision(tmp_path, "002", "b7e2d9", "a1f0c3")
    selection = select_revisions(tmp_path, DelegateConfig(), graph_of(tmp_path))
    assert selection.how == "the whole history"
    assert selection.under_test == ["a1f0c3", "b7e2d9"]


def test_spec_selects_revisions_by_number_and_adds_their_descendants(history: Path) -> None:
    write_revision(history, "005_other", "f1e2d3", "d9a3b2", "unrelated follow-up")
    spec: Any = SimpleNamespace(revision_ids=[], slug="lesson-progress", number="042")
    graph = graph_of(history)
    assert feature_revisions(graph, spec) == {"c4d8e1", "d9a3b2"}
    selection = select_revisions(history, DelegateConfig(), graph, spec=spec)
    assert selection.under_test == ["c4d8e1", "d9a3b2", "f1e2d3"]
    assert selection.base == ["b7e2d9"]


def test_spec_slug_matches_file_names_whatever_the_separator(tmp_path: Path) -> None:
    write_revision(tmp_path, "001_init", "a1f0c3", None)
    write_revision(tmp_path, "002_lesson_progress", "b7e2d9", "a1f0c3", "add tables")
    spec: Any = SimpleNamespace(revision_ids=[], slug="lesson-progress", number="")
    assert feature_revisions(graph_of(tmp_path), spec) == {"b7e2d9"}


def test_merge_base_lists_every_parent_head(tmp_path: Path) -> None:
    write_revision(tmp_path, "001", "a1f0c3", None)
    write_revision(tmp_path, "002a", "b1b1b2", "a1f0c3")
    write_revision(tmp_path, "002b", "c2c2c3", "a1f0c3")
    write_revision(tmp_path, "003merge", "d3d3d4", ("b1b1b2", "c2c2c3"))
    selection = select_revisions(tmp_path, DelegateConfig(), graph_of(tmp_path), since="b1b1b2")
    # the other branch (c2c2c3) is not after b1b1b2, yet the merge needs it: it belongs to the base
    assert selection.under_test == ["d3d3d4"]
    assert selection.base == ["b1b1b2", "c2c2c3"]


def test_since_the_head_tests_nothing_on_top_of_it(history: Path) -> None:
    selection = select_revisions(history, DelegateConfig(), graph_of(history), since="d9a3b2")
    assert selection.under_test == []
    assert selection.base == ["d9a3b2"]


def test_branch_changes_keeps_file_names_with_spaces_whole(history: Path) -> None:
    from orchestrator.feature import branch_changes

    seed = history / "seeds" / "dev" / "042 objectives.sql"
    seed.parent.mkdir(parents=True)
    seed.write_text("SELECT 1;\n")
    g = git.Repo(history)
    g.index.add([str(seed.relative_to(history))])
    g.index.commit("seed with a space in its name")
    changes = branch_changes(history, DelegateConfig())
    assert changes is not None
    paths, label = changes
    assert seed.resolve() in paths
    assert (history / VERSIONS / "003_progress.py").resolve() in paths
    assert "feature/042-progress" in label
