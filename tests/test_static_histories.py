"""The static half on small histories built like the public ones that showed each problem (issue 12)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from orchestrator.check import CheckOptions
from orchestrator.checks.engine import run_static
from orchestrator.config import load_config
from orchestrator.report import Finding, Severity

VERSIONS = "api/alembic/versions"


def revision(rev: str, down: str | None, upgrade: str, downgrade: str, message: str = "x") -> str:
    up = textwrap.indent(textwrap.dedent(upgrade).strip("\n"), "    ")
    dn = textwrap.indent(textwrap.dedent(downgrade).strip("\n"), "    ")
    return (
        f'"""{message}\n\nRevision ID: {rev}\nRevises: {down or ""}\n"""\n\nimport sqlalchemy as sa\nfrom alembic import op\n\n'
        f"revision = {rev!r}\ndown_revision = {down!r}\n\n\ndef upgrade():\n{up}\n\n\ndef downgrade():\n{dn}\n"
    )


def check(root: Path, files: dict[str, str], **options: object) -> list[Finding]:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return run_static(root, load_config(root), CheckOptions(repo=root, static_only=True, **options))  # type: ignore[arg-type]


def test_warehouse_unnamed_constraint_drop_is_one_error_without_a_database(tmp_path: Path) -> None:
    files = {
        f"{VERSIONS}/ee4c59b2ef3a_releases.py": revision(
            "ee4c59b2ef3a",
            None,
            'op.create_table("releases", sa.Column("id", sa.Integer(), primary_key=True), '
            'sa.Column("project_id", sa.Integer()), sa.Column("version", sa.Text()))',
            'op.drop_table("releases")',
        ),
        f"{VERSIONS}/08aedc089eaf_add_unique_constraint_for_release_.py": revision(
            "08aedc089eaf",
            "ee4c59b2ef3a",
            'op.create_unique_constraint(None, "releases", ["project_id", "version"])',
            'op.drop_constraint(None, "releases", type_="unique")',
        ),
    }
    found = check(tmp_path, files)
    [drop] = [f for f in found if f.rule == "unnamed-constraint-drop"]
    assert drop.severity is Severity.ERROR and drop.file.startswith(f"{VERSIONS}/08aedc089eaf") and drop.line == 19
    # One cause, one finding: the offline rendering's "Can't emit DROP CONSTRAINT" is not reported again.
    assert not [f for f in found if f.rule == "unanalysable-sql"], found


def test_warehouse_downgrades_that_raise_on_purpose_are_irreversible_not_empty(tmp_path: Path) -> None:
    files = {
        f"{VERSIONS}/ee4c59b2ef3a_files.py": revision(
            "ee4c59b2ef3a", None, 'op.create_table("files", sa.Column("id", sa.Integer(), primary_key=True))', "pass"
        ),
        f"{VERSIONS}/0977b97fce94_add_file_blake2_256_digest.py": revision(
            "0977b97fce94",
            "ee4c59b2ef3a",
            'op.add_column("files", sa.Column("blake2_256_digest", sa.Text()))',
            'raise RuntimeError("Cannot Go Backwards In Time.")',
        ),
        f"{VERSIONS}/06bfbc92f67d_rename_tables.py": revision(
            "06bfbc92f67d",
            "0977b97fce94",
            'op.rename_table("files", "release_files")',
            '"""No way back."""\nraise NotImplementedError',
        ),
    }
    found = check(tmp_path, files, since="ee4c59b2ef3a")
    irreversible = sorted((f.file, f.line, f.severity) for f in found if f.rule == "irreversible-downgrade")
    assert irreversible == [
        (f"{VERSIONS}/06bfbc92f67d_rename_tables.py", 20, Severity.WARNING),
        (f"{VERSIONS}/0977b97fce94_add_file_blake2_256_digest.py", 19, Severity.WARNING),
    ]
    assert all(
        "revision 0977b97fce94" in f.message or "revision 06bfbc92f67d" in f.message
        for f in found
        if f.rule == "irreversible-downgrade"
    )
    assert not [f for f in found if f.rule in ("empty-downgrade", "downgrade-failed")], found
    # Listed in irreversible_revisions: the decision is recorded, an info.
    (tmp_path / "pyproject.toml").write_text('[tool.delegate]\nirreversible_revisions = ["0977b97fce94"]\n')
    found = check(tmp_path, {}, since="ee4c59b2ef3a")
    listed = [f for f in found if f.rule == "irreversible-downgrade" and "0977b97fce94" in f.message]
    assert [f.severity for f in listed] == [Severity.INFO]


LESSON_NOTES_MODEL = """# Data Model: Lesson notes

## Entities

### lesson_notes (new)

A student's private notes on a lesson.

| Column | Type | Constraints | Notes |
|--------|------|-------------|-------|
| id | uuid | PK, default gen_random_uuid() | |
| student_id | uuid | NOT NULL, FK → auth.users.id | owner |
| body | text | NOT NULL | |
| created_at | timestamptz | NOT NULL, default now() | |

### LessonReaction (new)

| Column | Type | Constraints | Notes |
|--------|------|-------------|-------|
| id | uuid | PK | |
| note_id | uuid | NOT NULL, FK → lesson_notes.id | |
| emoji | text | NOT NULL | |
"""


def test_entities_written_as_table_names_match_the_tables_the_feature_creates(tmp_path: Path) -> None:
    # A heading that is the table (`### lesson_notes (new)`) and a CamelCase entity whose table is singular.
    files = {
        "specs/001-lesson-notes/spec.md": "# Feature Specification: Lesson notes\n",
        "specs/001-lesson-notes/plan.md": "# Implementation Plan: Lesson notes\n",
        "specs/001-lesson-notes/data-model.md": LESSON_NOTES_MODEL,
        f"{VERSIONS}/e6a1c0f4b2d9_lesson_notes.py": revision(
            "e6a1c0f4b2d9",
            None,
            """
            op.execute("CREATE TABLE public.lesson_notes (id uuid PRIMARY KEY DEFAULT gen_random_uuid(),"
                       " student_id uuid NOT NULL, body text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())")
            op.execute("CREATE TABLE public.lesson_reaction (id uuid PRIMARY KEY,"
                       " note_id uuid NOT NULL REFERENCES public.lesson_notes (id), emoji text NOT NULL)")
            """,
            'op.execute("DROP TABLE public.lesson_reaction")\nop.execute("DROP TABLE public.lesson_notes")',
        ),
    }
    found = check(tmp_path, files, spec=Path("specs/001-lesson-notes"))
    assert not [f for f in found if f.rule == "data-model-drift"], [f.message for f in found]
    # A field the model promises is still missed when no migration creates it.
    model = LESSON_NOTES_MODEL.replace(
        "| emoji | text | NOT NULL | |", "| emoji | text | NOT NULL | |\n| weight | int | | |"
    )
    found = check(tmp_path, {"specs/001-lesson-notes/data-model.md": model}, spec=Path("specs/001-lesson-notes"))
    assert [f.message for f in found if f.rule == "data-model-drift"] == [
        "field lesson_reactions.weight is in the data model but no migration of the feature creates it"
    ]


def test_clean_with_snapshot_numbering_is_its_convention_and_an_agent_s_id_is_not(tmp_path: Path) -> None:
    ids = ["0001_initial", "0002_slots_v1", "0003_email_events", "0004_lead_status", "0064", "a1b2c3d4e5f6"]
    files = {}
    for down, rev in zip([None, *ids], ids, strict=False):
        files[f"{VERSIONS}/{rev}.py"] = revision(rev, down, 'op.execute("SELECT 1")', 'op.execute("SELECT 1")')
    found = check(tmp_path, files, since="0004_lead_status")
    flagged = [f for f in found if f.rule == "placeholder-revision-id"]
    assert [(f.file, f.severity) for f in flagged] == [(f"{VERSIONS}/a1b2c3d4e5f6.py", Severity.WARNING)]
    assert "`0065_<slug>`" in (flagged[0].fix or "")
