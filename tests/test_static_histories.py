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
