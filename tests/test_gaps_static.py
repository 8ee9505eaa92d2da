"""Gaps a planted bug slipped through (issue 15): a UNIQUE index, a closing-line suppression, a changed attribute."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from orchestrator.check import CheckOptions
from orchestrator.checks import engine
from orchestrator.config import DelegateConfig
from orchestrator.verify.fingerprint import SchemaDifference, SchemaFingerprint

VERSIONS = "api/alembic/versions"
HEAD = '"""x"""\nfrom alembic import op\n\nrevision = "aa11"\ndown_revision = None\n\n'


def findings(tmp_path: Path, rel: str, text: str, rule: str) -> list[int | None]:
    """The lines at which the real catalogue, run by the engine, reports `rule` in one file of a fresh repo."""
    path = tmp_path / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    found = engine.run_static(tmp_path, DelegateConfig(), CheckOptions(repo=tmp_path, static_only=True, paths=[path]))
    return [f.line for f in found if f.rule == rule]


# -- require-concurrent-index: a UNIQUE index locks writes just the same ------------------------------------------


@pytest.mark.parametrize("unique", ["UNIQUE ", ""])
def test_a_unique_index_on_an_existing_table_needs_concurrently(tmp_path: Path, unique: str) -> None:
    sql = f"SET lock_timeout = '5s';\nCREATE {unique}INDEX ix_lessons_slot ON public.lessons (slot);\n"
    assert findings(tmp_path, "api/sql/migration.sql", sql, "require-concurrent-index") == [2]


def test_op_create_index_unique_on_an_existing_table_needs_concurrently(tmp_path: Path) -> None:
    text = HEAD + (
        "def upgrade():\n"
        "    op.execute(\"SET LOCAL lock_timeout = '5s'\")\n"
        '    op.create_index("ix_lessons_slot", "lessons", ["slot"], unique=True)\n\n\n'
        "def downgrade():\n"
        '    op.drop_index("ix_lessons_slot", table_name="lessons")\n'
    )
    assert findings(tmp_path, f"{VERSIONS}/aa11_idx.py", text, "require-concurrent-index") == [9]


def test_a_unique_concurrent_index_or_one_on_a_new_table_is_fine(tmp_path: Path) -> None:
    sql = (
        "CREATE UNIQUE INDEX CONCURRENTLY ix_lessons_slot ON public.lessons (slot);\n"
        "CREATE TABLE public.slots (id int);\n"
        "CREATE UNIQUE INDEX ix_slots_id ON public.slots (id);\n"
    )
    assert findings(tmp_path, "api/sql/migration.sql", sql, "require-concurrent-index") == []


# -- suppressions: a comment on the statement's closing line counts for the whole statement ------------------------


@pytest.mark.parametrize("closing", ["  (slot\n)", "  (slot)\n"], ids=["parenthesis", "lone-semicolon"])
def test_a_suppression_on_the_closing_line_of_a_sql_statement_silences_it(tmp_path: Path, closing: str) -> None:
    sql = (
        "SET lock_timeout = '5s';\n"
        "CREATE INDEX ix_lessons_slot ON public.lessons\n"
        f"{closing}; -- delegate: ignore require-concurrent-index -- lessons holds 40 rows\n"
        "CREATE INDEX ix_lessons_day\n"
        "  ON public.lessons (day);\n"
    )
    assert findings(tmp_path, "api/sql/migration.sql", sql, "require-concurrent-index") == [5]


def test_a_suppression_on_the_closing_line_of_an_op_execute_call_silences_it(tmp_path: Path) -> None:
    text = HEAD + (
        "def upgrade():\n"
        "    op.execute(\"SET LOCAL lock_timeout = '5s'\")\n"
        "    op.execute(\n"
        '        "CREATE INDEX ix_lessons_slot ON public.lessons (slot)"\n'
        "    )  # delegate: ignore require-concurrent-index -- lessons holds 40 rows\n"
        "    op.execute(\n"
        '        "CREATE INDEX ix_lessons_day ON public.lessons (day)"\n'
        "    )\n"
    )
    assert findings(tmp_path, f"{VERSIONS}/aa11_idx.py", text, "require-concurrent-index") == [13]


# -- the fingerprint diff: an object that still exists but changed is a difference --------------------------------


def fingerprint(**objects: dict[str, dict[str, str]]) -> SchemaFingerprint:
    return SchemaFingerprint(objects=objects)


@pytest.mark.parametrize(
    ("kind", "name", "attribute", "before", "after"),
    [
        ("column", "public.profiles.name", "not null", "true", "false"),
        ("column", "public.profiles.name", "default", "'x'::text", "'y'::text"),
        ("column", "public.profiles.name", "type", "text", "character varying(40)"),
        ("relation", "public.profiles", "row level security", "true", "false"),
    ],
)
def test_a_changed_attribute_of_an_object_that_still_exists_is_reported(
    kind: str, name: str, attribute: str, before: str, after: str
) -> None:
    base = {"public.profiles": {"kind": "r", "row level security": "true"}}
    columns = {"public.profiles.name": {"type": "text", "not null": "true", "default": "'x'::text"}}
    expected = fingerprint(relation=base, column=columns)
    changed = {"relation": {k: dict(v) for k, v in base.items()}, "column": {k: dict(v) for k, v in columns.items()}}
    changed[kind][name][attribute] = after
    actual = fingerprint(**changed)
    assert expected.objects[kind][name][attribute] == before
    assert actual.diff(expected) == [
        SchemaDifference(
            kind=kind,
            name=name,
            change="changed",
            attribute=attribute,
            expected=before,
            actual=after,
            what="column" if kind == "column" else "table",
        )
    ]
    assert actual.diff(actual) == []


def test_an_attribute_only_one_side_has_is_reported_as_none() -> None:
    expected = fingerprint(column={"public.profiles.name": {"type": "text", "default": "'x'::text"}})
    actual = fingerprint(column={"public.profiles.name": {"type": "text"}})
    [difference] = actual.diff(expected)
    assert (difference.attribute, difference.expected, difference.actual) == ("default", "'x'::text", "none")
    assert difference.message == "column public.profiles.name differs: default was 'x'::text, is none"
