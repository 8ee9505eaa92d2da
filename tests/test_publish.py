"""The migration plan and runbook: every part filled from what was measured, no template placeholder left."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from orchestrator.config import load_config
from orchestrator.publish import (
    COMPLETE,
    IN_PROGRESS,
    TESTING,
    PlanFacts,
    plan_facts,
    render_migration_plan,
    render_runbook,
    runner_prefix,
)
from orchestrator.report import CheckReport, Finding, Severity
from tests.support.delegated_branch import BUNDLE_FILES, DELEGATED_BRANCH, USAGE, git, make_delegated_branch
from tests.support.example_repo import BASE_REVISION, FEATURE_SPEC, SOLUTION_REVISION

REVISION_FILE = "api/alembic/versions/002_lesson_progress.py"
PLACEHOLDERS = [
    r"\[FEATURE NAME\]",
    r"XXX_",
    r"\[[A-Z][A-Z _/-]{2,}\]",  # [ENTITY], [DATE], [REVISION ID]: a template's blanks
    r"\{\{|\}\}|\{%|%\}",  # Jinja left unrendered
    r"\bNone\b",
    r"\bTODO\b",
    r"NEEDS CLARIFICATION",
]


@pytest.fixture(scope="module")
def delegated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """(repo, plan, runbook) of a branch committed from a static-only check."""
    repo, written = make_delegated_branch(tmp_path_factory.mktemp("publish"))
    plan = git(repo, "show", f"{DELEGATED_BRANCH}:{written[0]}")
    runbook = git(repo, "show", f"{DELEGATED_BRANCH}:{written[1]}")
    return repo, plan, runbook


def _facts(repo: Path, report: CheckReport) -> PlanFacts:
    git(repo, "checkout", "-q", DELEGATED_BRANCH)
    try:
        return plan_facts(
            repo,
            load_config(repo),
            report,
            FEATURE_SPEC,
            agent="database-architect",
            model="claude-sonnet-5-5",
            bundle_files=BUNDLE_FILES,
            usage=USAGE,
        )
    finally:
        git(repo, "checkout", "-q", "main")


def _static_report(repo: Path) -> CheckReport:
    from orchestrator.check import CheckOptions, run_check

    git(repo, "checkout", "-q", DELEGATED_BRANCH)
    try:
        return run_check(CheckOptions(repo=repo, spec=repo / FEATURE_SPEC, static_only=True))
    finally:
        git(repo, "checkout", "-q", "main")


def _section(text: str, title: str) -> str:
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_the_plan_and_runbook_are_committed_on_the_branch(delegated: tuple[Path, str, str]) -> None:
    repo, plan, runbook = delegated
    files = git(repo, "show", "--name-only", "--format=", DELEGATED_BRANCH).split()
    assert f"{FEATURE_SPEC}/migration-plan.md" in files
    assert f"{FEATURE_SPEC}/migration-runbook.md" in files
    assert plan.startswith("# Migration Plan: Lesson Progress Tracking\n")
    assert runbook.startswith("# Migration Runbook: Lesson Progress Tracking\n")
    assert git(repo, "status", "--porcelain") == ""


@pytest.mark.parametrize("which", ["plan", "runbook"])
def test_no_template_placeholder_survives(delegated: tuple[Path, str, str], which: str) -> None:
    text = delegated[1] if which == "plan" else delegated[2]
    for pattern in PLACEHOLDERS:
        assert not re.search(pattern, text), (pattern, re.search(pattern, text))


def test_every_section_of_the_template_is_there(delegated: tuple[Path, str, str]) -> None:
    plan = delegated[1]
    for title in (
        "Summary",
        "Schema Changes",
        "Migration Details",
        "Migration Sequence",
        "Quality Checklist",
        "Seed Data",
        "Delegation",
        "Verification Commands",
        "Rollback Plan",
        "Notes",
    ):
        assert f"\n## {title}\n" in plan, title
    for status in ("⏳ Pending", "🚧 In Progress", "✅ Complete", "🧪 Testing", "🚀 Applied"):
        assert status in _section(plan, "Schema Changes")
    for sub in ("Zero-downtime", "Security", "Performance", "Testing"):
        assert f"### {sub}\n" in plan


def test_schema_change_rows_come_from_the_parsed_revision(delegated: tuple[Path, str, str]) -> None:
    table = _section(delegated[1], "Schema Changes")
    rows = {
        cells[0].strip("` "): cells
        for line in table.splitlines()
        if line.startswith("| `")
        for cells in [[c.strip() for c in line.strip("|").split(" | ")]]
    }
    assert set(rows) >= {
        "public.proficiency_level",
        "public.lesson_objectives",
        "public.student_progress",
        "public.lessons",
        "public.coaches_student",
    }
    assert "add column debrief_notes" in rows["public.lessons"][1]
    assert "create index concurrently ix_lessons_student_id_scheduled_at" in rows["public.lessons"][1]
    assert "create table" in rows["public.student_progress"][1]
    assert "6 policies" in rows["public.student_progress"][1]
    # Foreign keys are the new table's dependencies, with the revision it builds on.
    assert "public.students" in rows["public.student_progress"][4]
    assert f"revision {BASE_REVISION}" in rows["public.student_progress"][4]
    assert all(cells[2] == f"`{REVISION_FILE}`" for cells in rows.values())
    assert all(cells[3] == TESTING for cells in rows.values())  # static only: 🧪


def test_migration_details_list_the_upgrade_and_downgrade_statements_in_order(delegated: tuple[Path, str, str]) -> None:
    details = _section(delegated[1], "Migration Details")
    assert f"### `{SOLUTION_REVISION}`" in details
    up, down = details.split("**Downgrade operations**")
    assert "1. `SET lock_timeout = '5s'`" in up
    assert up.index("CREATE TABLE lesson_objectives") < up.index("CREATE TABLE student_progress")
    assert up.index("ALTER TABLE lessons ADD COLUMN debrief_notes TEXT") < up.index("CREATE INDEX CONCURRENTLY")
    assert "DROP INDEX CONCURRENTLY ix_lessons_student_id_scheduled_at" in down
    assert "DROP TYPE public.proficiency_level" in down


def test_the_mermaid_graph_and_execution_order_use_the_real_chain(delegated: tuple[Path, str, str]) -> None:
    sequence = _section(delegated[1], "Migration Sequence")
    graph = sequence[sequence.index("```mermaid") : sequence.index("```", sequence.index("```mermaid") + 3)]
    assert "graph TD" in graph
    assert f'r_{BASE_REVISION}["{BASE_REVISION}<br/>api/alembic/versions/001_initial_schema.py (base)"]' in graph
    assert f'r_{SOLUTION_REVISION}["{SOLUTION_REVISION}<br/>002_lesson_progress.py<br/>{TESTING}"]' in graph
    assert f"r_{BASE_REVISION} --> r_{SOLUTION_REVISION}" in graph
    assert f"1. `{SOLUTION_REVISION}` ({REVISION_FILE}), after `{BASE_REVISION}`" in sequence


def test_static_only_leaves_live_items_unticked_saying_why(delegated: tuple[Path, str, str]) -> None:
    plan = delegated[1]
    assert "- [x] Static rules pass on the revision file: delegate check static rules: 0 errors" in plan
    assert "- [x] Every lock wait is bounded (lock_timeout): static rule require-lock-timeout: no finding" in plan
    assert (
        "- [ ] Downgrade returns the schema to the base exactly (fingerprints compared): not proven: the live" in plan
    )
    assert "- [ ] The delivered tests pass: not proven: the live checks did not run" in plan
    # Every unticked item says why.
    for line in plan.splitlines():
        if line.startswith("- [ ] "):
            assert ": " in line[6:] and line.split(": ", 1)[1].strip(), line


def test_delegation_names_the_agent_files_and_deliverables(delegated: tuple[Path, str, str]) -> None:
    delegation = _section(delegated[1], "Delegation")
    assert "`database-architect` (from `agents/database-architect.md`)" in delegation
    assert "`claude-sonnet-5-5`" in delegation
    assert "cost_usd 0.3154" in delegation
    for path in BUNDLE_FILES:
        assert f"  - `{path}`" in delegation
    for name in ("Migration(s)", "RLS policy SQL", "Idempotent seed data", "Tests of constraints and RLS", "Runbook"):
        row = next(line for line in delegation.splitlines() if line.startswith(f"| {name} |"))
        assert "| ✅ | deliverable-missing: present" in row, row


def test_commands_run_from_the_alembic_folder_with_the_real_ids(delegated: tuple[Path, str, str]) -> None:
    plan, runbook = delegated[1], delegated[2]
    commands = _section(plan, "Verification Commands")
    assert "cd api && alembic current" in commands
    assert f"cd api && alembic upgrade {BASE_REVISION}:{SOLUTION_REVISION} --sql" in commands
    assert f"cd api && alembic upgrade {SOLUTION_REVISION}" in commands
    assert f"delegate check --spec {FEATURE_SPEC}" in commands
    assert f"delegate review {DELEGATED_BRANCH}" in commands
    assert "pytest api/tests/migrations/test_002_lesson_progress.py" in commands
    assert f"cd api && alembic downgrade {BASE_REVISION}" in _section(plan, "Rollback Plan")
    # The runbook: current, upgrade, checks after, downgrade, in that order.
    order = [
        runbook.index("## 1. Before"),
        runbook.index(f"cd api && alembic upgrade {SOLUTION_REVISION}\n"),
        runbook.index("## 3. After"),
        runbook.index(f"cd api && alembic downgrade {BASE_REVISION}"),
    ]
    assert order == sorted(order)
    assert "Estimated duration: not measured" in runbook
    assert "INVALID index `ix_lessons_student_id_scheduled_at`" in runbook


@pytest.mark.parametrize(
    ("lock", "where", "prefix"),
    [("uv.lock", "", "uv run "), ("poetry.lock", "", "poetry run "), ("uv.lock", "api", "uv run "), (None, "", "")],
)
def test_commands_go_through_the_repo_s_runner(tmp_path: Path, lock: str | None, where: str, prefix: str) -> None:
    (tmp_path / "api").mkdir()
    if lock:
        (tmp_path / where / lock).write_text("", encoding="utf-8")
    assert runner_prefix(tmp_path / "api", tmp_path)[0] == prefix


def test_a_uv_project_gets_uv_run_in_the_plan(delegated: tuple[Path, str, str]) -> None:
    repo = delegated[0]
    (repo / "uv.lock").write_text("version = 1\n", encoding="utf-8")
    try:
        facts = _facts(repo, _static_report(repo))
    finally:
        (repo / "uv.lock").unlink()
    assert facts.commands.upgrade == [(SOLUTION_REVISION, f"cd api && uv run alembic upgrade {SOLUTION_REVISION}")]
    assert "cd api && uv run alembic current" in render_runbook(facts)


def test_a_finding_left_on_the_revision_makes_it_in_progress(delegated: tuple[Path, str, str]) -> None:
    repo = delegated[0]
    report = _static_report(repo)
    blocking = Finding(
        rule="require-concurrent-index",
        severity=Severity.ERROR,
        file=REVISION_FILE,
        line=157,
        message="CREATE INDEX on existing table public.lessons without CONCURRENTLY",
    )
    facts = _facts(repo, replace(report, findings=[*report.findings, blocking]))
    (revision,) = facts.revisions
    assert revision.status == IN_PROGRESS
    assert "require-concurrent-index" in revision.status_reason
    plan = render_migration_plan(facts)
    assert "- [ ] Static rules pass on the revision file: require-concurrent-index: CREATE INDEX" in plan
    assert "- [ ] Indexes on existing tables are built CONCURRENTLY, outside a transaction: require-concurrent" in plan
    assert f"error `require-concurrent-index` at `{REVISION_FILE}:157`" in _section(plan, "Notes")


def test_a_missing_deliverable_is_a_cross_by_the_check_that_found_it(delegated: tuple[Path, str, str]) -> None:
    repo = delegated[0]
    report = _static_report(repo)
    missing = Finding(
        rule="deliverable-missing",
        severity=Severity.ERROR,
        file=f"{FEATURE_SPEC}/data-model.md",
        message=f"no runbook for the deploy: add {FEATURE_SPEC}/runbook.md or docs/runbooks/lesson-progress.md",
    )
    facts = _facts(repo, replace(report, findings=[*report.findings, missing]))
    runbook = next(d for d in facts.deliverables if d.name == "Runbook")
    assert not runbook.done
    assert runbook.proof.startswith("deliverable-missing: no runbook for the deploy")
    assert "| Runbook | ❌ | deliverable-missing: no runbook" in render_migration_plan(facts)


@pytest.mark.postgres
def test_a_live_run_fills_statuses_locks_plans_and_durations(tmp_path: Path, pg_server: object) -> None:
    url = pg_server.admin_url  # type: ignore[attr-defined]
    repo, written = make_delegated_branch(tmp_path, database_url=url)
    plan = git(repo, "show", f"{DELEGATED_BRANCH}:{written[0]}")
    runbook = git(repo, "show", f"{DELEGATED_BRANCH}:{written[1]}")
    for pattern in PLACEHOLDERS:
        assert not re.search(pattern, plan + runbook), pattern
    assert f"| {COMPLETE} |" in _section(plan, "Schema Changes")
    assert f'<br/>002_lesson_progress.py<br/>{COMPLETE}"]' in plan
    assert (
        "- [x] Downgrade returns the schema to the base exactly (fingerprints compared): live step `downgrade`" in plan
    )
    assert "- [x] RLS allow/deny matrix as expected for every role: live step `rls matrix`" in plan
    assert "- [x] The delivered tests pass: live step `delivered tests`" in plan
    quality = _section(plan, "Quality Checklist")
    # The measured ACCESS EXCLUSIVE lock on lessons leaves the item unticked, naming the finding.
    assert "- [ ] No strong lock held on an existing table: lock-on-existing-table: ALTER TABLE lessons" in quality
    assert "| `public.lessons` | ACCESS EXCLUSIVE |" in quality
    assert "Student dashboard: recent lessons" in quality
    assert re.search(rf"\| `{SOLUTION_REVISION}` \| \d+ ms \| \d+ ms \| \d+ ms \|", quality)
    assert "lock-on-existing-table" in _section(plan, "Notes")  # the warning that remains is listed
    assert re.search(r"Estimated duration: \d+ ms", runbook)
    assert "ACCESS EXCLUSIVE on `public.lessons`" in runbook


SECOND_REVISION = "9e4b1c7a2f03"
SECOND_FILE = "api/alembic/versions/003_lesson_progress_notes.py"
SECOND_SOURCE = f'''"""lesson progress: notes on objectives

Revision ID: {SECOND_REVISION}
Revises: {SOLUTION_REVISION}
"""

import sqlalchemy as sa

from alembic import op

revision = "{SECOND_REVISION}"
down_revision = "{SOLUTION_REVISION}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SET lock_timeout = '5s'")
    op.add_column("lesson_objectives", sa.Column("notes", sa.Text(), nullable=True))


def downgrade() -> None:
    op.execute("SET lock_timeout = '5s'")
    op.drop_column("lesson_objectives", "notes")
'''


def test_a_two_revision_feature_is_planned_in_chain_order_and_judged_per_revision(tmp_path: Path) -> None:
    from orchestrator.check import CheckOptions, run_check
    from tests.support.example_repo import make_example_repo, overlay_solution

    repo = make_example_repo(tmp_path, with_solution=False)
    git(repo, "checkout", "-q", "-b", DELEGATED_BRANCH)
    overlay_solution(repo)
    (repo / SECOND_FILE).write_text(SECOND_SOURCE, encoding="utf-8")
    report = run_check(CheckOptions(repo=repo, spec=repo / FEATURE_SPEC, static_only=True))
    facts = plan_facts(
        repo, load_config(repo), report, FEATURE_SPEC, agent="a", model="m", bundle_files=[]
    )  # files: git's answer (the working tree against main)
    assert [r.revision for r in facts.revisions] == [SOLUTION_REVISION, SECOND_REVISION]
    assert SECOND_FILE in facts.files
    plan = render_migration_plan(facts)
    assert f"r_{BASE_REVISION} --> r_{SOLUTION_REVISION}" in plan
    assert f"r_{SOLUTION_REVISION} --> r_{SECOND_REVISION}" in plan
    assert f"2. `{SECOND_REVISION}` ({SECOND_FILE}), after `{SOLUTION_REVISION}`" in plan
    # The data model names no `notes` column: the second revision is in progress; the first passed on its own.
    row = f"| `public.lesson_objectives` | add column notes | `{SECOND_FILE}` | {IN_PROGRESS} |"
    assert row in plan
    assert [r.status for r in facts.revisions] == [TESTING, IN_PROGRESS]
    assert "data-model-drift" in facts.revisions[1].status_reason
    assert [c for _, c in facts.commands.downgrade] == [
        f"cd api && alembic downgrade {SOLUTION_REVISION}",
        f"cd api && alembic downgrade {BASE_REVISION}",
    ]
    assert facts.commands.upgrade_sql == f"cd api && alembic upgrade {BASE_REVISION}:{SECOND_REVISION} --sql"
    runbook = render_runbook(facts)
    assert runbook.index(f"alembic upgrade {SOLUTION_REVISION}\n") < runbook.index(
        f"alembic upgrade {SECOND_REVISION}\n"
    )
    for pattern in PLACEHOLDERS:
        assert not re.search(pattern, plan + runbook), pattern


def test_the_files_sent_are_the_bundle_s_documents_and_references(tmp_path: Path) -> None:
    from orchestrator.bundle import build_bundle
    from orchestrator.publish import sent_files
    from tests.support.example_repo import make_example_repo

    repo = make_example_repo(tmp_path, with_solution=False)
    bundle = build_bundle(repo, repo / FEATURE_SPEC)
    assert sent_files(bundle)[:3] == [
        f"{FEATURE_SPEC}/spec.md",
        f"{FEATURE_SPEC}/data-model.md",
        f"{FEATURE_SPEC}/plan.md",
    ]
    assert "api/alembic/versions/001_initial_schema.py" in sent_files(bundle)


def test_the_whole_sql_as_parsed_is_in_a_collapsed_block(delegated: tuple[Path, str, str]) -> None:
    details = _section(delegated[1], "Migration Details")
    block = details[details.index("<details>") : details.index("</details>")]
    assert "22 upgrade and 7 downgrade statements" in block
    assert (
        "CONSTRAINT fk_student_progress_student_id_students FOREIGN KEY(student_id) REFERENCES students (id)" in block
    )
    assert block.index("-- upgrade") < block.index("CREATE INDEX CONCURRENTLY") < block.index("-- downgrade")
    assert not any(line != line.rstrip() for line in block.splitlines())
