"""Builders for the rules' bad/good examples: whole Alembic revision files as a person would write them."""

from __future__ import annotations

import re
import textwrap
from functools import lru_cache

VERSIONS = "api/alembic/versions"


def revision(
    upgrade: str,
    downgrade: str = "pass",
    *,
    rev: str = "3f9c2a7d1b84",
    down: str | None = "27c6a30d7c24",
    message: str = "lesson tracking",
    imports: str = "import sqlalchemy as sa\nfrom alembic import op",
) -> str:
    """A revision file in the layout `alembic revision` generates, with the given function bodies."""
    up = textwrap.indent(textwrap.dedent(upgrade).strip("\n"), "    ")
    dn = textwrap.indent(textwrap.dedent(downgrade).strip("\n"), "    ")
    return (
        f'"""{message}\n\nRevision ID: {rev}\nRevises: {down or ""}\nCreate Date: 2025-03-02 10:12:44.118000\n"""\n\n'
        f"{imports}\n\n"
        f"# revision identifiers, used by Alembic.\n"
        f"revision = {rev!r}\ndown_revision = {down!r}\nbranch_labels = None\ndepends_on = None\n\n\n"
        f"def upgrade() -> None:\n{up}\n\n\ndef downgrade() -> None:\n{dn}\n"
    )


def revision_path(name: str, rev: str = "3f9c2a7d1b84") -> str:
    return f"{VERSIONS}/{rev}_{name}.py"


SPEC_DIR = "specs/001-example"
FEATURE_REV = "e6a1c0f4b2d9"
FEATURE_REVISION_PATH = f"{VERSIONS}/{FEATURE_REV}_001_lesson_notes.py"

_FIELD_ROWS = {
    "id": "| id | bigint | PK, identity | |",
    "student_id": "| student_id | uuid | NOT NULL, FK → students.id | owner |",
    "body": "| body | text | NOT NULL | |",
    "contact_email": "| contact_email | text | nullable | PII: where reminders go |",
    "created_at": "| created_at | timestamptz | NOT NULL, default now() | |",
}


def spec_files(fields: tuple[str, ...] = ("id", "student_id", "body", "created_at")) -> dict[str, str]:
    """specs/001-example: one new entity, lesson_notes, with the given fields (spec-kit layout)."""
    rows = "\n".join(_FIELD_ROWS[f] for f in fields)
    return {
        f"{SPEC_DIR}/spec.md": "# Feature Specification: Lesson notes\n\nStudents keep private notes per lesson.\n",
        f"{SPEC_DIR}/data-model.md": (
            "# Data Model: Lesson notes\n\n## Entities\n\n### LessonNote (new)\n\n"
            "Table: `lesson_notes`. A student's private notes on their lessons.\n\n"
            "| Field | Type | Constraints | Notes |\n|-------|------|-------------|-------|\n"
            f"{rows}\n"
        ),
        f"{SPEC_DIR}/plan.md": "# Implementation Plan: Lesson notes\n\nOne table, owner-scoped RLS.\n",
    }


def lesson_notes_table(columns: tuple[str, ...] = ("body",)) -> str:
    """The feature's revision creating lesson_notes with id, student_id, created_at and `columns`."""
    types = {"body": "sa.Text(), nullable=False", "contact_email": "sa.Text(), nullable=True"}
    extra = "".join(f'    sa.Column("{c}", {types.get(c, "sa.Text()")}),\n' for c in columns)
    return revision(
        "op.create_table(\n"
        '    "lesson_notes",\n'
        '    sa.Column("id", sa.BigInteger(), sa.Identity(always=True), primary_key=True),\n'
        '    sa.Column("student_id", sa.Uuid(), nullable=False),\n'
        + extra
        + '    sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),\n'
        ")\n"
        'op.execute("ALTER TABLE public.lesson_notes ENABLE ROW LEVEL SECURITY")',
        'op.drop_table("lesson_notes")',
        rev=FEATURE_REV,
        down=None,
        message="001 example: lesson notes",
    )


def about(text: str, names: dict[str, str]) -> str:
    """A fix written for the rule's example, made about the finding's own objects: each example name in `names`
    (a whole identifier, `_` counting as a separator) becomes the real one, longest names first."""
    if not names:
        return text
    pieces = _pieces(text, tuple(sorted(names, key=len, reverse=True)))
    return "".join(piece if name is None else names[name] for piece, name in pieces)


@lru_cache(maxsize=1024)
def _pieces(text: str, keys: tuple[str, ...]) -> tuple[tuple[str, str | None], ...]:
    """`text` cut at every whole-identifier occurrence of `keys`: (literal, None) and ("", key) pieces. The text and
    keys are a rule's own (a handful of fix templates), so each is cut once; a finding only joins the pieces."""
    pattern = re.compile("|".join(rf"(?<![A-Za-z0-9]){re.escape(k)}(?![A-Za-z0-9])" for k in keys))
    pieces: list[tuple[str, str | None]] = []
    last = 0
    for match in pattern.finditer(text):
        pieces += [(text[last : match.start()], None), ("", match.group(0))]
        last = match.end()
    pieces.append((text[last:], None))
    return tuple(pieces)


def bare(table: str) -> str:
    """`lessons` for public.lessons (the schema a migration's unqualified names mean), else `schema.table`."""
    schema, _, name = table.rpartition(".")
    return name if schema in ("", "public") else table
