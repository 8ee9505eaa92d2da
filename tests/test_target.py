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


# ---- the target: Supabase or plain PostgreSQL ------------------------------------------------------------------

PLAIN_REVISION = '''"""init"""
from alembic import op
import sqlalchemy as sa

revision = "0001init"
down_revision = None


def upgrade():
    op.execute('CREATE EXTENSION "uuid-ossp"')
    op.create_table(
        "organizations",
        sa.Column("id", sa.Uuid(), server_default=sa.text("uuid_generate_v4()"), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False),
    )


def downgrade():
    op.drop_table("organizations")
'''


def plain_repo(tmp_path: Path, config: str = "") -> Path:
    versions = tmp_path / "api" / "alembic" / "versions"
    versions.mkdir(parents=True)
    (versions / "0001_init.py").write_text(PLAIN_REVISION)
    if config:
        (tmp_path / "pyproject.toml").write_text(f"[tool.delegate]\n{config}\n")
    return tmp_path


def test_a_history_that_names_nothing_of_supabase_is_plain_postgres(tmp_path: Path) -> None:
    repo = plain_repo(tmp_path)
    target = resolve_target(CheckOptions(repo=repo, static_only=True))
    assert target.platform == "postgres" and not target.supabase
    assert target.platform_reason.startswith("detected: no revision or policy names auth.users")
    report = run_check(CheckOptions(repo=repo, static_only=True))
    assert not [f for f in report.findings if f.rule.startswith("rls-")], report.findings
    assert report.notes == [target.platform_note]
    assert report.to_dict().keys() == {"version", "findings", "verification", "summary"}  # JSON v1 unchanged


def test_the_text_report_of_a_static_check_says_the_target(tmp_path: Path) -> None:
    import io

    from orchestrator.report_formats import render_text

    report = run_check(CheckOptions(repo=plain_repo(tmp_path), static_only=True))
    out = io.StringIO()
    render_text(report, out)
    assert "target: postgres (detected:" in out.getvalue()


def test_the_same_history_set_to_supabase_gets_the_supabase_rules(tmp_path: Path) -> None:
    repo = plain_repo(tmp_path, 'target = "supabase"')
    target = resolve_target(CheckOptions(repo=repo, static_only=True))
    assert target.supabase and target.platform_reason == "target = 'supabase' in [tool.delegate]"
    report = run_check(CheckOptions(repo=repo, static_only=True))
    assert "rls-not-enabled" in {f.rule for f in report.findings}


@pytest.mark.parametrize(
    "text",
    [
        "sa.ForeignKey('auth.users.id')",
        "USING (owner = auth.uid())",
        "USING ((auth.jwt() ->> 'role') = 'admin')",
        "GRANT SELECT ON public.t TO anon",
        "CREATE POLICY p ON public.t FOR SELECT TO anon, authenticated USING (true)",
        "SET LOCAL ROLE service_role",
    ],
)
def test_what_makes_a_history_supabase(tmp_path: Path, text: str) -> None:
    repo = plain_repo(tmp_path)
    (repo / "api" / "sql" / "policies").mkdir(parents=True)
    (repo / "api" / "sql" / "policies" / "t.sql").write_text(f"-- {text}\n")
    target = resolve_target(CheckOptions(repo=repo, static_only=True))
    assert target.platform == "supabase"
    assert target.platform_reason.startswith("detected: api/sql/policies/t.sql names ")


def test_a_column_named_authenticated_is_not_supabase(tmp_path: Path) -> None:
    repo = plain_repo(tmp_path)
    (repo / "api" / "sql" / "policies").mkdir(parents=True)
    (repo / "api" / "sql" / "policies" / "t.sql").write_text("ALTER TABLE t ADD COLUMN authenticated boolean;\n")
    assert resolve_target(CheckOptions(repo=repo, static_only=True)).platform == "postgres"


def test_the_example_app_is_supabase_unless_its_config_says_postgres(feature_branch: Path) -> None:
    target = resolve_target(CheckOptions(repo=feature_branch, static_only=True))
    assert target.platform == "supabase" and target.platform_reason.startswith("detected: api/alembic/versions/")
    pyproject = feature_branch / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("[tool.delegate]\n", '[tool.delegate]\ntarget = "postgres"\n'))
    target = resolve_target(CheckOptions(repo=feature_branch, static_only=True))
    assert target.platform == "postgres" and target.platform_reason == "target = 'postgres' in [tool.delegate]"
