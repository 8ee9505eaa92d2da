"""`delegate review BRANCH`: a generated branch read back in three formats, the user's tree untouched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.cli import main
from orchestrator.review import parse_plan
from orchestrator.review_view import rls_markdown
from orchestrator.verification import RlsCell, Verification
from tests.support.delegated_branch import DELEGATED_BRANCH, git, make_delegated_branch
from tests.support.example_repo import FEATURE_SPEC, SOLUTION_REVISION


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo, _ = make_delegated_branch(tmp_path_factory.mktemp("review"))
    # A second branch whose agent forgot the runbook: a blocking finding.
    git(repo, "checkout", "-q", "-b", "042-broken-migrations", DELEGATED_BRANCH)
    git(repo, "rm", "-q", f"{FEATURE_SPEC}/runbook.md")
    git(repo, "commit", "-q", "-m", "feat(db): migrations for 042-lesson-progress")
    git(repo, "checkout", "-q", "main")
    return repo


def _untouched(repo: Path) -> None:
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    assert git(repo, "status", "--porcelain") == ""
    assert len(git(repo, "worktree", "list", "--porcelain").split("\nworktree ")) == 1
    leftovers = repo / ".git" / "delegate" / "worktrees"
    assert not leftovers.exists() or not any(leftovers.iterdir())


def _review(repo: Path, *args: str) -> list[str]:
    return ["review", DELEGATED_BRANCH, "--repo", str(repo), "--static-only", *args]


def test_json_is_the_check_report_plus_the_branch(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_review(repo, "--format", "json")) == 0
    data = json.loads(capsys.readouterr().out)
    assert list(data)[:4] == ["version", "findings", "verification", "summary"]
    assert {"branch", "base", "files", "plan", "usage"} <= set(data)
    assert data["branch"] == DELEGATED_BRANCH
    assert data["base"]["ref"] == "main"
    assert data["base"]["commit"] == git(repo, "rev-parse", "main").strip()
    assert data["feature"] == FEATURE_SPEC
    assert "api/alembic/versions/002_lesson_progress.py" in data["files"]
    assert f"{FEATURE_SPEC}/migration-plan.md" in data["files"]
    assert "api/alembic/versions/001_initial_schema.py" not in data["files"]  # on the base already
    assert data["plan"]["revisions"] == {SOLUTION_REVISION: "🧪 Testing"}
    assert {row["entity"] for row in data["plan"]["rows"]} >= {"public.lessons", "public.student_progress"}
    assert data["usage"]["delegated_to"] == "database-architect"
    assert data["usage"]["model"] == "claude-sonnet-5-5"
    assert data["usage"]["tokens"] == "88330"
    assert data["usage"]["cost_usd"] == "0.3154"
    assert data["usage"]["cassette"] == "042-lesson-progress.yaml"
    assert data["summary"] == {"errors": 0, "warnings": 0, "infos": 0}
    assert data["verification"] is None
    _untouched(repo)


def test_text_fits_a_terminal_and_names_what_it_read(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_review(repo)) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{DELEGATED_BRANCH} at ")
    assert f"feature {FEATURE_SPEC}" in out
    assert "agent session: database-architect, claude-sonnet-5-5, 88330 tokens, $0.3154" in out
    assert f"{FEATURE_SPEC}/migration-plan.md: {SOLUTION_REVISION} 🧪 Testing" in out
    assert "0 errors, 0 warnings, 0 infos (ok)" in out
    assert max(len(line) for line in out.splitlines()) <= 80
    _untouched(repo)


def test_markdown_is_a_pull_request_body(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_review(repo, "--format", "markdown")) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"## Database migrations for `{FEATURE_SPEC}`\n")
    assert "✅ no blocking finding" in out
    assert "| `public.lessons` | add column debrief_notes" in out
    assert "### Findings\n\nNo finding." in out
    assert "**Agent session**: database-architect, claude-sonnet-5-5" in out


def test_a_blocking_finding_exits_1(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["review", "042-broken-migrations", "--repo", str(repo), "--static-only", "--format", "json"]
    assert main(argv) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["summary"]["errors"] >= 1
    finding = next(f for f in data["findings"] if f["rule"] == "deliverable-missing")
    assert finding["message"].startswith("no runbook")
    assert not finding["message"].count(str(repo))  # judged in the worktree, not the user's tree
    _untouched(repo)


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["review", "no-such-branch"], "no such branch"),
        (["review", "main"], "adds nothing over main"),
    ],
)
def test_bad_input_exits_2(repo: Path, capsys: pytest.CaptureFixture[str], argv: list[str], said: str) -> None:
    assert main([*argv, "--repo", str(repo), "--static-only"]) == 2
    assert said in capsys.readouterr().err


def test_not_a_git_repository_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["review", "x", "--repo", str(tmp_path)]) == 2
    assert "not a git repository" in capsys.readouterr().err


def test_parse_plan_reads_escaped_cells_and_statuses() -> None:
    text = (
        "## Schema Changes\n\n| Entity | Operation | File | Status | Dependencies |\n|---|---|---|---|---|\n"
        "| `public.a` | create table; check a \\| b | `v/1.py` | ✅ Complete | none |\n\n"
        "## Migration Details\n\n### `abc123`: add a\n\n**File**: `v/1.py` | **Revises**: `000` \n"
        " | **Status**: 🚧 In Progress (1 blocking finding(s) remain: x)\n"
    )
    plan = parse_plan(text)
    assert [(r.entity, r.operation, r.status) for r in plan.rows] == [
        ("public.a", "create table; check a | b", "✅ Complete")
    ]
    assert plan.revisions == {"abc123": "🚧 In Progress"}


def test_the_markdown_rls_matrix_marks_failing_cells() -> None:
    cells = [
        RlsCell(table="public.t", actor="anon", action="select", expected="deny", observed="allow"),
        RlsCell(table="public.t", actor="authenticated:A", action="select_own", expected="allow", observed="allow"),
        RlsCell(table="public.t", actor="service_role", action="delete", expected="allow", observed="deny"),
    ]
    lines = rls_markdown(Verification(rls_matrix=cells))
    text = "\n".join(lines)
    assert "**`public.t`**: 2 wrong cell(s)" in text
    assert "| action | anon | user A | service_role |" in text
    assert "| select | **✓** 🔴 want ✗ |  |  |" in text
    assert "| select own |  | ✓ |  |" in text
    assert "| delete |  |  | **✗** 🔴 want ✓ |" in text


@pytest.mark.postgres
def test_a_live_review_shows_the_matrix_and_the_lock_and_timing_table(
    tmp_path: Path, pg_server: object, capsys: pytest.CaptureFixture[str]
) -> None:
    repo, _ = make_delegated_branch(tmp_path)
    url = pg_server.admin_url  # type: ignore[attr-defined]
    argv = ["review", DELEGATED_BRANCH, "--repo", str(repo), "--database-url", url, "--format", "markdown"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "### RLS matrix" in out
    assert "**`public.student_progress`**" in out
    assert "| action | anon | user A | user B | service_role |" in out
    assert "### Locks and timings" in out
    assert f"| `{SOLUTION_REVISION}` | round-trips |" in out
    assert "| `public.lessons` | **ACCESS EXCLUSIVE** |" in out
    assert "lock-on-existing-table" in out
    _untouched(repo)
    assert main(["review", DELEGATED_BRANCH, "--repo", str(repo), "--database-url", url]) == 0
    text = capsys.readouterr().out
    assert "RLS matrix: 64 cells on 3 table(s), all as expected" in text
    assert max(len(line) for line in text.splitlines() if not line.startswith(" " * 5)) <= 200


def test_the_base_is_the_commit_the_workspace_branched_from(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Made from another branch's commit (as the workspace does: `git worktree add -b B PATH SHA`), the branch adds
    only its own files, not that branch's."""
    from tests.support.example_repo import make_example_repo, overlay_solution

    repo = make_example_repo(tmp_path, with_solution=False)
    git(repo, "checkout", "-q", "-b", "develop")
    (repo / "NOTES.md").write_text("develop's own work\n", encoding="utf-8")
    git(repo, "add", "NOTES.md")
    git(repo, "commit", "-q", "-m", "develop: notes")
    start = git(repo, "rev-parse", "HEAD").strip()
    tree = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "-b", DELEGATED_BRANCH, str(tree), start)
    overlay_solution(tree)
    git(tree, "add", "-A")
    git(tree, "commit", "-q", "-m", "feat(db): migrations for 042-lesson-progress")
    git(repo, "worktree", "remove", "--force", str(tree))
    assert main(["review", DELEGATED_BRANCH, "--repo", str(repo), "--static-only", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["base"] == {"ref": start, "commit": start}
    assert "NOTES.md" not in data["files"]
    assert "api/alembic/versions/002_lesson_progress.py" in data["files"]
    assert data["plan"] is None and data["usage"] is None
