"""orchestrator.bundle: what the agent is given for a feature, on the example app and on repos laid out otherwise."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import git
import jinja2
import pytest

from orchestrator.bundle import (
    DEFAULT_TOKEN_BUDGET,
    Bundle,
    build_bundle,
    estimate_tokens,
    render_system_prompt,
    render_task_prompt,
    suggest_revision_id,
)
from orchestrator.checks.rules.alembic import placeholder_reason
from orchestrator.cli import main
from orchestrator.errors import InputError
from orchestrator.prompts import render_prompt
from tests.support.example_repo import BASE_REVISION, FEATURE_SPEC, SOLUTION_REVISION, make_example_repo

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "specs"
ACTOR = git.Actor("Test Dev", "dev@example.test")


# --- helpers: small target repos made with gitpython ---------------------------------------------------------------


def git_repo(root: Path, files: dict[str, str], message: str = "initial") -> git.Repo:
    """A git repository at `root` holding `files` (repo-relative path -> text), committed on main."""
    root.mkdir(parents=True, exist_ok=True)
    repository = git.Repo.init(root, initial_branch="main")
    write(root, files)
    commit(repository, message)
    return repository


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def commit(repository: git.Repo, message: str) -> None:
    repository.git.add("-A")
    repository.index.commit(message, author=ACTOR, committer=ACTOR)


def revision(rev: str, down: str | None, upgrade: str, message: str = "a revision") -> str:
    return (
        f'"""{message}\n\nRevision ID: {rev}\nRevises: {down or ""}\n"""\n\n'
        "import sqlalchemy as sa\n\nfrom alembic import op\n\n"
        f"revision = {rev!r}\ndown_revision = {down!r}\nbranch_labels = None\ndepends_on = None\n\n\n"
        f"def upgrade() -> None:\n    {upgrade}\n\n\ndef downgrade() -> None:\n    pass\n"
    )


def prompts(bundle: Bundle) -> str:
    return render_system_prompt(bundle) + render_task_prompt(bundle)


SIMPLE_SPEC = {
    "specs/007-notes/spec.md": "# Feature Specification: Notes\n\nUsers keep notes on their projects.\n",
    "specs/007-notes/data-model.md": (
        "# Data Model\n\n## Note\n\n| Field | Type | Constraints |\n|---|---|---|\n"
        "| id | bigint | PK |\n| project_id | bigint | NOT NULL, FK → projects.id |\n| body | text | |\n"
    ),
    "specs/007-notes/plan.md": "# Plan: Notes\n\nOne Alembic revision adds the notes table with RLS.\n",
}


@pytest.fixture(scope="module")
def example_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_example_repo(tmp_path_factory.mktemp("example"), with_solution=False)


@pytest.fixture(scope="module")
def example(example_repo: Path) -> Bundle:
    return build_bundle(example_repo, Path(FEATURE_SPEC))


# --- the example app ------------------------------------------------------------------------------------------------


def test_example_documents_and_data_model(example: Bundle, example_repo: Path) -> None:
    assert (example.feature, example.number, example.slug) == ("042-lesson-progress", "042", "lesson-progress")
    assert example.title == "Lesson Progress Tracking"
    assert example.spec_folder == "specs/042-lesson-progress"
    assert [(d.name, d.path, d.present) for d in example.documents] == [
        ("spec.md", "specs/042-lesson-progress/spec.md", True),
        ("data-model.md", "specs/042-lesson-progress/data-model.md", True),
        ("plan.md", "specs/042-lesson-progress/plan.md", True),
    ]
    plan = (example_repo / FEATURE_SPEC / "plan.md").read_text(encoding="utf-8")
    assert example.document("plan.md").text == plan
    assert example.document("plan.md").tokens == estimate_tokens(plan) == (len(plan) + 3) // 4
    assert [(e.table, e.existing) for e in example.entities] == [
        ("public.lesson_objectives", False),
        ("public.student_progress", False),
        ("public.lessons", True),
    ]
    assert example.tables == {
        "instructors": "referenced",
        "lesson_objectives": "new",
        "lessons": "changed",
        "student_progress": "new",
        "students": "referenced",
    }
    assert example.needs_database_change and example.no_change_reason is None


def test_example_head_references_and_folders(example: Bundle) -> None:
    assert (example.heads, example.head) == ([BASE_REVISION], BASE_REVISION)
    assert example.down_revision == f'"{BASE_REVISION}"'
    (only,) = example.references
    assert (only.revision, only.path) == (BASE_REVISION, "api/alembic/versions/001_initial_schema.py")
    assert only.reasons == [
        "the current head: the new revision's down_revision",
        "the first revision: the schema the history starts from",
        "names lessons, which the feature changes",
        "names instructors, students, which the feature references",
    ]
    assert example.head_files == [only]
    assert example.dropped == []
    assert example.allowed_folders == [
        "api/alembic/versions",
        "api/sql/policies",
        "seeds",
        "api/tests/migrations",
        "specs/042-lesson-progress",
        "api/app/models",
    ]
    assert example.models_path == "api/app/models"  # the live check compares it with the schema
    assert example.runbook_path == "specs/042-lesson-progress/runbook.md"
    assert example.layout.config_source == "pyproject.toml"
    assert example.layout.settings["public_read_tables"] == ["aircraft"]
    assert "python" not in example.layout.settings  # a path on this machine: never in a prompt
    assert "api/alembic/versions/001_initial_schema.py" in example.layout.files
    assert "specs/042-lesson-progress/plan.md" in example.layout.files
    assert example.agent.source == "bundled"
    assert example.notes == []


def test_example_token_counts_add_up(example: Bundle) -> None:
    tokens = example.tokens
    assert tokens.documents == sum(d.tokens for d in example.documents)
    assert tokens.references == sum(m.tokens for m in example.references) > 0
    assert tokens.total == tokens.documents + tokens.agent + tokens.layout + tokens.references
    assert tokens.budget == DEFAULT_TOKEN_BUDGET and tokens.dropped == 0


def test_suggested_revision_id_is_derived_and_passes_the_placeholder_rule(example: Bundle) -> None:
    rid = example.suggested_revision_id
    assert re.fullmatch(r"[0-9a-f]{12}", rid)
    assert placeholder_reason(rid) is None
    assert rid != BASE_REVISION
    assert rid == suggest_revision_id("042-lesson-progress", [BASE_REVISION])
    assert suggest_revision_id("042-lesson-progress", [SOLUTION_REVISION]) != rid  # another head, another id
    assert suggest_revision_id("043-other", [BASE_REVISION]) != rid


def test_suggest_revision_id_skips_ids_the_history_holds() -> None:
    first = suggest_revision_id("f", ["h"])
    second = suggest_revision_id("f", ["h"], taken={first})
    assert second != first and placeholder_reason(second) is None


def test_the_same_feature_in_another_folder_gives_the_same_bundle_and_prompts(example: Bundle, tmp_path: Path) -> None:
    elsewhere = make_example_repo(tmp_path / "somewhere" / "else", with_solution=False)
    again = build_bundle(elsewhere, elsewhere / FEATURE_SPEC)  # an absolute spec path, another checkout
    assert again.digest == example.digest
    assert render_system_prompt(again) == render_system_prompt(example)
    assert render_task_prompt(again) == render_task_prompt(example)
    assert str(tmp_path) not in prompts(again)
    assert hash(again) == hash(example)


def test_the_digest_follows_the_documents(example_repo: Path, example: Bundle, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(example_repo, copy)
    plan = copy / FEATURE_SPEC / "plan.md"
    plan.write_text(plan.read_text(encoding="utf-8") + "\nOne more line.\n", encoding="utf-8")
    changed = build_bundle(copy, Path(FEATURE_SPEC))
    assert changed.digest != example.digest
    assert re.fullmatch(r"[0-9a-f]{64}", changed.digest)
    assert changed.notes == [
        "specs/042-lesson-progress: uncommitted changes; the agent's worktree is made from HEAD and will not see "
        "them (commit them first)"
    ]


def test_system_prompt_holds_instructions_sandbox_documents_and_references(example: Bundle) -> None:
    system = render_system_prompt(example)
    assert system.startswith("You are the database architect")
    assert "# The sandbox" in system
    for folder in example.allowed_folders:
        assert f"  - `{folder}/`" in system
    for document in example.documents:
        assert f'<document path="{document.path}">\n{document.text.strip()}\n</document>' in system
    assert '<migration path="api/alembic/versions/001_initial_schema.py" revision="3f9c2a7d1b84"' in system
    assert example.references[0].text.strip() in system
    assert "`public.lessons` (existing table; fields it adds): debrief_notes" in system
    assert "/tmp" not in system and "digest" not in system


def test_task_prompt_names_the_revision_head_folders_and_deliverables(example: Bundle) -> None:
    task = render_task_prompt(example)
    assert f'`revision = "{example.suggested_revision_id}"`' in task
    assert f'`down_revision = "{BASE_REVISION}"` (the current head)' in task
    for folder in example.allowed_folders:
        assert f"- `{folder}/`" in task
    assert "`upgrade()`" in task and "`downgrade()`" in task
    assert "RLS policy SQL in `api/sql/policies/`" in task
    assert "Idempotent seeds in `seeds/`" in task
    assert "Tests in `api/tests/migrations/`" in task
    assert "The runbook at `specs/042-lesson-progress/runbook.md`" in task
    assert "`lessons` (changed)" in task


def test_templates_refuse_a_missing_value() -> None:
    with pytest.raises(jinja2.UndefinedError):
        render_prompt("task.md.j2")


def test_with_the_solution_the_head_moves_and_both_revisions_are_references(tmp_path: Path) -> None:
    repo = make_example_repo(tmp_path, with_solution=True)
    bundle = build_bundle(repo, Path(FEATURE_SPEC))
    assert bundle.head == SOLUTION_REVISION
    assert [m.revision for m in bundle.references] == [BASE_REVISION, SOLUTION_REVISION]  # parents first
    first, head = bundle.references
    assert "the first revision: the schema the history starts from" in first.reasons
    assert head.reasons[0] == "the current head: the new revision's down_revision"
    assert "names lesson_objectives, student_progress, which the feature creates" in head.reasons
    assert any(f"revisions of this feature ({SOLUTION_REVISION})" in note for note in bundle.notes)
    assert bundle.suggested_revision_id == suggest_revision_id("042-lesson-progress", [SOLUTION_REVISION])


# --- the budget ----------------------------------------------------------------------------------------------------


def history_repo(root: Path, extra: dict[str, str] | None = None) -> Path:
    """Six revisions in a line: the first creates projects, two name projects, the others unrelated tables; each
    padded so that it costs about 500 tokens."""
    pad = "# " + "x" * 76 + "\n"
    chain = [
        ("0a1f3c5e7b9d", "create projects", 'op.create_table("projects", sa.Column("id", sa.BigInteger()))'),
        ("1b2e4d6f8a0c", "create teams", 'op.create_table("teams", sa.Column("id", sa.BigInteger()))'),
        ("2c3f5a7b9d1e", "projects owner", 'op.add_column("projects", sa.Column("owner", sa.Text()))'),
        ("3d4a6b8c0e2f", "create tags", 'op.create_table("tags", sa.Column("id", sa.BigInteger()))'),
        ("4e5b7c9d1f3a", "projects index", 'op.create_index("ix_projects_owner", "projects", ["owner"])'),
        ("5f6c8d0e2a4b", "create labels", 'op.create_table("labels", sa.Column("id", sa.BigInteger()))'),
    ]
    files = dict(SIMPLE_SPEC)
    down = None
    for number, (rev, message, upgrade) in enumerate(chain, start=1):
        files[f"api/alembic/versions/{number:03d}_{rev}.py"] = revision(rev, down, upgrade, message) + pad * 24
        down = rev
    files.update(extra or {})
    git_repo(root, files)
    return root


def test_references_are_the_first_the_ones_naming_feature_tables_and_the_newest(tmp_path: Path) -> None:
    bundle = build_bundle(history_repo(tmp_path / "repo"), Path("specs/007-notes"))
    assert bundle.head == "5f6c8d0e2a4b"
    chosen = {m.revision: m.reasons for m in bundle.references}
    assert list(chosen) == ["0a1f3c5e7b9d", "2c3f5a7b9d1e", "3d4a6b8c0e2f", "4e5b7c9d1f3a", "5f6c8d0e2a4b"]
    assert chosen["0a1f3c5e7b9d"] == [
        "the first revision: the schema the history starts from",
        "names projects, which the feature references",
    ]
    newest = "one of the newest revisions: the repo's current conventions"
    assert chosen["2c3f5a7b9d1e"] == ["names projects, which the feature references", newest]
    assert chosen["3d4a6b8c0e2f"] == [newest]
    assert "1b2e4d6f8a0c" not in chosen  # old, and names no table of the feature
    assert bundle.dropped == []


def test_the_budget_drops_the_lowest_priority_first_and_says_so(tmp_path: Path) -> None:
    repo = history_repo(tmp_path / "repo")
    full = build_bundle(repo, Path("specs/007-notes"))
    cost = {m.revision: m.tokens for m in full.references}
    # Room for the head (kept whatever it costs) and two more: the first revision, then the newest one that
    # names a table of the feature; the older one naming projects and the newest others are dropped.
    budget = cost["5f6c8d0e2a4b"] + cost["0a1f3c5e7b9d"] + cost["4e5b7c9d1f3a"] + 10
    bundle = build_bundle(repo, Path("specs/007-notes"), token_budget=budget)
    assert [m.revision for m in bundle.references] == ["0a1f3c5e7b9d", "4e5b7c9d1f3a", "5f6c8d0e2a4b"]
    assert [m.revision for m in bundle.dropped] == ["2c3f5a7b9d1e", "3d4a6b8c0e2f"]
    dropped = bundle.dropped[0]
    assert dropped.reasons[0] == "names projects, which the feature references"
    assert dropped.why == f"needs {cost['2c3f5a7b9d1e']} tokens, 10 of the {budget}-token budget left"
    assert bundle.tokens.dropped == cost["2c3f5a7b9d1e"] + cost["3d4a6b8c0e2f"]
    assert bundle.tokens.references <= budget
    system = render_system_prompt(bundle)
    assert "Left out to keep within the context budget" in system
    assert "`api/alembic/versions/003_2c3f5a7b9d1e.py` (revision `2c3f5a7b9d1e`)" in system


def test_a_zero_budget_keeps_the_head_alone(tmp_path: Path) -> None:
    bundle = build_bundle(history_repo(tmp_path / "repo"), Path("specs/007-notes"), token_budget=0)
    assert [m.revision for m in bundle.references] == ["5f6c8d0e2a4b"]
    assert not bundle.references[0].truncated  # smaller than the least a head keeps
    assert len(bundle.dropped) == 4


def test_a_head_larger_than_the_budget_is_cut_at_a_line_end(tmp_path: Path) -> None:
    big = revision("0a1f3c5e7b9d", None, 'op.create_table("projects")', "squashed history") + "# " + "y" * 97 + "\n"
    big += ("# " + "z" * 97 + "\n") * 1000  # about 25,000 tokens
    git_repo(tmp_path / "repo", {**SIMPLE_SPEC, "api/alembic/versions/001_squashed.py": big})
    bundle = build_bundle(tmp_path / "repo", Path("specs/007-notes"), token_budget=3_000)
    (head,) = bundle.references
    assert head.truncated and big.startswith(head.text) and head.text.endswith("\n")
    assert head.tokens <= 3_000 and head.text.count("\n") > 50
    assert (
        head.reasons[-1] == f"cut to its first {head.tokens} of {estimate_tokens(big)} tokens: read_file for the rest"
    )
    assert 'revision="0a1f3c5e7b9d" down_revision="None" truncated="true">' in render_system_prompt(bundle)


def test_several_heads_merge_and_an_empty_history_starts_one(tmp_path: Path) -> None:
    two_heads = {
        **SIMPLE_SPEC,
        "api/alembic/versions/a.py": revision("0a1f3c5e7b9d", None, "pass"),
        "api/alembic/versions/b.py": revision("1b2e4d6f8a0c", "0a1f3c5e7b9d", "pass"),
        "api/alembic/versions/c.py": revision("2c3f5a7b9d1e", "0a1f3c5e7b9d", "pass"),
    }
    git_repo(tmp_path / "heads", two_heads)
    bundle = build_bundle(tmp_path / "heads", Path("specs/007-notes"))
    assert bundle.heads == ["1b2e4d6f8a0c", "2c3f5a7b9d1e"] and bundle.head is None
    assert bundle.down_revision == '("1b2e4d6f8a0c", "2c3f5a7b9d1e")'
    assert "this revision merges them" in render_task_prompt(bundle)

    git_repo(tmp_path / "empty", {**SIMPLE_SPEC, "api/alembic/versions/.gitkeep": ""})
    empty = build_bundle(tmp_path / "empty", Path("specs/007-notes"))
    assert (empty.heads, empty.head, empty.references, empty.down_revision) == ([], None, [], "None")
    assert "the history is empty: this is the first revision" in render_task_prompt(empty)


# --- other layouts -------------------------------------------------------------------------------------------------


def test_a_spec_flow_repo_with_its_own_agent_and_layout(tmp_path: Path) -> None:
    spec = "docs/features/017-invoice-reminders"
    files = {
        "delegate.toml": (
            'alembic_ini = "alembic.ini"\nversions_dir = "db/versions"\npolicies_dir = "db/policies"\n'
            'seeds_dirs = ["db/seeds"]\ntests_dir = "tests/db"\nspecs_dir = "docs/features"\n'
        ),
        "alembic.ini": "[alembic]\nscript_location = db\n",
        "db/versions/0001_billing.py": revision(
            "9a0b1c2d3e4f",
            None,
            'op.execute("CREATE TABLE billing.customers (id uuid PRIMARY KEY); CREATE TABLE invoices (id uuid)")',
            "billing schema",
        ),
        "db/policies/.gitkeep": "",
        "tests/db/.gitkeep": "",
        ".claude/agents/implementation/database.md": (
            "---\nname: database-architect\ndescription: Spec-Flow's database agent\ntools: Read, Write, Edit, Bash\n"
            "model: haiku\npermissionMode: acceptEdits\n---\n\nFollow docs/features conventions.\n"
        ),
        ".claude/agents/implementation/frontend.md": "---\nname: frontend\ndescription: UI\n---\nUI work.\n",
    }
    for name in ("spec.md", "data-model.md", "plan.md"):
        files[f"{spec}/{name}"] = (FIXTURES / "017-invoice-reminders" / name).read_text(encoding="utf-8")
    git_repo(tmp_path / "repo", files)
    bundle = build_bundle(tmp_path / "repo", Path(spec))

    assert bundle.agent.source == ".claude/agents/implementation/database.md"
    assert bundle.agent.ignored_keys == ["permissionMode"]
    assert render_system_prompt(bundle).startswith("Follow docs/features conventions.")
    assert bundle.layout.config_source == "delegate.toml"
    assert bundle.allowed_folders == ["db/versions", "db/policies", "db/seeds", "tests/db", spec]
    assert bundle.runbook_path == f"{spec}/runbook.md"
    # Spec-Flow's bracketed headings ([ENTITY: ...], [EXISTING: ...], [NEW]) as the spec parser reads them.
    assert [(e.table, e.existing) for e in bundle.entities] == [
        ("public.invoice_reminders", False),
        ("billing.customers", True),
        ("public.reminder_templates", False),
    ]
    assert bundle.tables["customers"] == "changed" and bundle.tables["invoices"] == "referenced"
    (head,) = bundle.references
    assert head.reasons[2:] == [
        "names customers, which the feature changes",
        "names invoices, which the feature references",
    ]
    task = render_task_prompt(bundle)
    assert '`down_revision = "9a0b1c2d3e4f"`' in task and "`db/policies/`" in task
    assert str(tmp_path) not in prompts(bundle)


def test_a_repo_below_the_git_root(tmp_path: Path) -> None:
    files = {f"services/api/{rel}": text for rel, text in SIMPLE_SPEC.items()}
    files["services/api/api/alembic/versions/001_init.py"] = revision("0a1f3c5e7b9d", None, "pass")
    git_repo(tmp_path / "mono", files)
    bundle = build_bundle(tmp_path / "mono" / "services" / "api", Path("specs/007-notes"))
    assert bundle.spec_folder == "specs/007-notes"
    assert bundle.layout.files == [
        "api/alembic/versions/001_init.py",
        "specs/007-notes/data-model.md",
        "specs/007-notes/plan.md",
        "specs/007-notes/spec.md",
    ]
    assert bundle.references[0].path == "api/alembic/versions/001_init.py"
    assert str(tmp_path) not in prompts(bundle)


def test_the_spec_is_looked_up_in_the_repo_before_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    git_repo(tmp_path / "repo", SIMPLE_SPEC)
    write(tmp_path / "here", {"specs/007-notes/spec.md": "# Another checkout's spec\n"})
    monkeypatch.chdir(tmp_path / "here")
    bundle = build_bundle(tmp_path / "repo", Path("specs/007-notes"))
    assert bundle.document("spec.md").text == SIMPLE_SPEC["specs/007-notes/spec.md"]


# --- no database change ----------------------------------------------------------------------------------------


def test_a_feature_without_a_data_model_or_database_plan_needs_no_change(tmp_path: Path) -> None:
    files = {"specs/031-no-data-model/spec.md": (FIXTURES / "031-no-data-model" / "spec.md").read_text()}
    git_repo(tmp_path / "repo", files)
    bundle = build_bundle(tmp_path / "repo", Path("specs/031-no-data-model"))
    assert not bundle.needs_database_change
    assert bundle.no_change_reason == "the feature has no data-model.md and there is no plan.md"
    assert (bundle.number, bundle.slug, bundle.title) == ("031", "no-data-model", "No data model")
    assert not bundle.document("data-model.md").present
    system = render_system_prompt(bundle)  # still renders: `delegate bundle` shows it, the pipeline stops first
    assert '<document path="specs/031-no-data-model/data-model.md" missing="true"></document>' in system


@pytest.mark.parametrize(
    "data_model",
    [
        "# Data Model\n\nNo database changes: this feature only changes the UI.\n",
        "# Data model\n\nThis feature does not change the database.\n",
        "# Data Model\n\nN/A\n",
        "# Data model\n\n## Entities\n\nNo new entities.\n",
    ],
)
def test_a_data_model_that_says_no_change(tmp_path: Path, data_model: str) -> None:
    files = {
        "specs/050-dark-mode/spec.md": "# Feature Specification: Dark mode\n",
        "specs/050-dark-mode/data-model.md": data_model,
        "specs/050-dark-mode/plan.md": "# Plan\n\nToggle a CSS theme. No migration needed.\n",
    }
    git_repo(tmp_path / "repo", files)
    bundle = build_bundle(tmp_path / "repo", Path("specs/050-dark-mode"))
    assert not bundle.needs_database_change
    assert bundle.no_change_reason is not None
    assert bundle.no_change_reason.startswith("specs/050-dark-mode/data-model.md says so (")
    assert bundle.no_change_reason.endswith("and specs/050-dark-mode/plan.md plans no database work")


def test_a_plan_with_database_work_but_no_data_model_is_an_error(tmp_path: Path) -> None:
    files = {
        "specs/060-tags/spec.md": "# Feature Specification: Tags\n",
        "specs/060-tags/plan.md": "# Plan\n\nAdd a tags table and an Alembic migration.\n",
    }
    git_repo(tmp_path / "repo", files)
    with pytest.raises(InputError, match=r"data-model\.md: missing"):
        build_bundle(tmp_path / "repo", Path("specs/060-tags"))


def test_a_data_model_with_entities_needs_a_change_whatever_its_prose(tmp_path: Path) -> None:
    files = dict(SIMPLE_SPEC)
    files["specs/007-notes/data-model.md"] += "\nNo changes to the database of other services.\n"
    git_repo(tmp_path / "repo", files)
    assert build_bundle(tmp_path / "repo", Path("specs/007-notes")).needs_database_change


# --- bad input and the command ------------------------------------------------------------------------------------


def test_bad_input_names_what_is_wrong(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    write(plain, SIMPLE_SPEC)
    with pytest.raises(InputError, match="not a git repository"):
        build_bundle(plain, Path("specs/007-notes"))
    git_repo(tmp_path / "repo", {"specs/008-x/plan.md": "# Plan\n", "README.md": "x\n"})
    with pytest.raises(InputError, match=r"specs/404-nothing: no such feature folder"):
        build_bundle(tmp_path / "repo", Path("specs/404-nothing"))
    with pytest.raises(InputError, match=r"specs/008-x/spec\.md: missing"):
        build_bundle(tmp_path / "repo", Path("specs/008-x"))
    with pytest.raises(InputError, match="no such folder"):
        build_bundle(tmp_path / "nowhere", Path("specs/007-notes"))
    with pytest.raises(InputError, match="outside the repository"):
        build_bundle(tmp_path / "repo", plain / "specs" / "007-notes")
    git.Repo.init(plain)
    with pytest.raises(InputError, match="no commit yet"):
        build_bundle(plain, Path("specs/007-notes"))


def test_the_runbook_goes_to_the_first_configured_path_the_agent_may_write(tmp_path: Path) -> None:
    files = {
        **SIMPLE_SPEC,
        "delegate.toml": 'runbook_paths = ["docs/runbooks/{slug}.md", "{spec}/deploy/{number}-runbook.md"]\n',
    }
    git_repo(tmp_path / "repo", files)
    bundle = build_bundle(tmp_path / "repo", Path("specs/007-notes"))
    assert bundle.runbook_path == "specs/007-notes/deploy/007-runbook.md"  # docs/ is not an allowed folder
    assert "The runbook at `specs/007-notes/deploy/007-runbook.md`" in render_task_prompt(bundle)


def test_delegate_bundle_text(example_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bundle", FEATURE_SPEC, "--repo", str(example_repo)]) == 0
    out = capsys.readouterr().out
    for expected in (
        "bundle 042-lesson-progress: Lesson Progress Tracking",
        "specs/042-lesson-progress/data-model.md",
        "database-architect from delegate's bundled file",
        "api/alembic/versions/001_initial_schema.py",
        "the current head",
        "References (",
        "system prompt",
    ):
        assert expected in out


def test_delegate_bundle_json_and_the_budget_option(example_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bundle", FEATURE_SPEC, "--repo", str(example_repo), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    bundle = build_bundle(example_repo, Path(FEATURE_SPEC))
    assert data["version"] == 1 and data["digest"] == bundle.digest
    assert data["suggested_revision_id"] == bundle.suggested_revision_id
    assert data["prompt_tokens"]["system"] == estimate_tokens(render_system_prompt(bundle))
    assert Bundle.model_validate({k: v for k, v in data.items() if k not in ("digest", "prompt_tokens")}) == bundle
    assert main(["bundle", FEATURE_SPEC, "--repo", str(example_repo), "--format", "json", "--token-budget", "7"]) == 0
    assert json.loads(capsys.readouterr().out)["tokens"]["budget"] == 7


def test_delegate_bundle_default_budget_is_the_librarys() -> None:
    import inspect

    from orchestrator.commands import bundle as command

    assert inspect.signature(command).parameters["token_budget"].default == DEFAULT_TOKEN_BUDGET


def test_delegate_bundle_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bundle", "specs/042-x", "--repo", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "not a git repository" in err and "fix:" in err and "Traceback" not in err
