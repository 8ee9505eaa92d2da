"""The re-entrant judge: one Judge, many checks of a repo whose files change between them, each one right."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.check import CheckOptions, Judge, run_check
from orchestrator.pg import PostgresServer
from orchestrator.report import CheckReport
from tests.support.example_repo import make_example_repo

ROOT = Path(__file__).resolve().parent.parent
REVISION = "api/alembic/versions/002_lesson_progress.py"
GIT = ["git", "-c", "user.name=T", "-c", "user.email=t@example.test", "-c", "commit.gpgsign=false"]


def solved_example(tmp_path: Path) -> Path:
    """examples/cfi-app on main, the 042 solution committed on a feature branch (as an agent's worktree)."""
    return make_example_repo(tmp_path, with_solution=True)


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} not once in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def rules_of(report: CheckReport) -> list[tuple[str, str | None]]:
    return sorted((f.rule, f.file) for f in report.findings)


def test_static_checks_follow_the_files_between_calls(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "api" / "sql" / "policies").mkdir(parents=True)
    policy = repo / "api" / "sql" / "policies" / "notes.sql"
    policy.write_text("ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;\n", encoding="utf-8")
    with Judge(CheckOptions(repo=repo, static_only=True)) as judge:
        first = judge.check()
        policy.write_text("DROP TABLE public.notes;\n", encoding="utf-8")
        second = judge.check()
        assert rules_of(second) == rules_of(run_check(CheckOptions(repo=repo, static_only=True)))
        policy.write_text("ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;\n", encoding="utf-8")
        third = judge.check()
        assert judge.memo.hits > 0  # the first text, seen again, was not parsed again
    assert "drop-table" not in {r for r, _ in rules_of(first)}
    assert "drop-table" in {r for r, _ in rules_of(second)}
    assert rules_of(third) == rules_of(first)


@pytest.mark.postgres
def test_a_judge_checks_a_changing_worktree_on_one_server(tmp_path: Path, pg_server: PostgresServer) -> None:
    """Clean, then a harmless edit, a downgrade that forgets a table (live finding), an upgrade error in the same
    file (static and live), then clean again: each check sees the files as they are, on the same server."""
    repo = solved_example(tmp_path)
    revision = repo / REVISION
    original = revision.read_text(encoding="utf-8")
    options = CheckOptions(repo=repo, database_url=pg_server.admin_url)
    with Judge(options) as judge:
        clean = judge.check()
        server = judge.server()
        assert clean.verification is not None and clean.verification.revisions == ["b7e41d09c5a2"]
        assert not clean.blocking, clean.findings

        # A repair that leaves the migrated database as it was: the delivered tests' outcome is reused, and the
        # report says so.
        drop = '    op.drop_table("lesson_objectives")\n'
        replace_in(revision, drop, '    op.execute("SELECT 1")\n' + drop)
        same = judge.check()
        assert judge.server() is server
        assert rules_of(same) == rules_of(clean)
        assert same.verification is not None
        assert any(n.startswith("delivered tests: the outcome of an earlier check") for n in same.verification.notes)

        revision.write_text(original.replace(drop, ""), encoding="utf-8")
        trace = judge.check()
        traces = [f for f in trace.findings if f.rule == "downgrade-leaves-trace"]
        assert traces and any("lesson_objectives" in f.message for f in traces), trace.findings

        revision.write_text(
            original.replace("def upgrade() -> None:\n", 'def upgrade() -> None:\n    op.execute("SELEC 1")\n'),
            encoding="utf-8",
        )
        broken = judge.check()
        assert "sql-syntax-error" in {f.rule for f in broken.findings}, broken.findings
        assert "upgrade-failed" in {f.rule for f in broken.findings}, broken.findings

        revision.write_text(original, encoding="utf-8")
        again = judge.check()
        assert judge.server() is server
    assert rules_of(again) == rules_of(clean)
    # A one-shot check of the same files agrees with the judge's.
    assert rules_of(run_check(options)) == rules_of(again)
