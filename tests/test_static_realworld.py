"""Shapes found in long public Alembic histories (several dialects, app imports, context calls) that the static
check must read without false findings or crashes."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from orchestrator.check import CheckOptions
from orchestrator.checks import engine
from orchestrator.checks.dialects import runs_on_postgresql
from orchestrator.config import DelegateConfig


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def prepared(root: Path, *paths: Path) -> engine.PreparedCheck:
    options = CheckOptions(repo=root, static_only=True, paths=list(paths))
    return engine.prepare(root, DelegateConfig(), options, rules=[])


# -- branches on the database's dialect --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("test", "expected"),
    [
        ('op.get_bind().dialect.name == "mysql"', False),
        ('op.get_bind().dialect.name == "postgresql"', True),
        ('"sqlite" == conn.dialect.name', False),
        ('context.get_context().dialect.name != "postgresql"', False),
        ('engine_kind in ("mysql", "mssql")', False),
        ('engine_kind not in ["sqlite"]', True),
        ('engine_kind == "mysql" and has_rows', False),
        ('engine_kind == "postgresql" or has_rows', True),
        ('not engine_kind == "sqlite"', True),
        ("is_lite", False),
        ("isinstance(bind.dialect, MySQLDialect)", False),
        ("isinstance(bind.dialect, (postgresql.PGDialect_psycopg2, SQLiteDialect))", True),
        # anything that does not depend on the dialect alone stays undecided: both branches are read
        ("has_rows", None),
        ('engine_kind == "mysql" or has_rows', None),
        ('"mysql" in engine_kind', None),
        ('engine_kind.startswith("mysql")', None),
        ("isinstance(bind.dialect, SomethingElse)", None),
        ('settings.name == "mysql"', None),
    ],
)
def test_a_dialect_test_is_judged_for_postgresql(test: str, expected: bool | None) -> None:
    bound = {
        "engine_kind": ast.parse("op.get_bind().dialect.name", mode="eval").body,
        "is_lite": ast.parse('conn.dialect.name == "sqlite"', mode="eval").body,
    }
    assert runs_on_postgresql(ast.parse(test, mode="eval").body, bound.get) is expected


def test_sql_of_another_dialects_branch_is_neither_parsed_nor_judged(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "versions/c0ffee000001_widen_notes.py",
        '''
        """widen notes"""
        from alembic import op
        from sqlalchemy.dialects.mysql.base import MySQLDialect

        revision = "c0ffee000001"
        down_revision = None


        def upgrade():
            bind = op.get_bind()
            kind = bind.dialect.name
            if kind == "postgresql":
                op.execute("UPDATE notes SET body = '' WHERE body IS NULL")
            elif kind == "mysql":
                op.execute("UPDATE notes SET `body` = '' WHERE body IS NULL")
                op.execute("ALTER TABLE notes MODIFY body MEDIUMTEXT")
            else:
                op.execute("PRAGMA foreign_keys=OFF")
            if isinstance(bind.dialect, MySQLDialect):
                op.execute(f"ALTER TABLE {kind} MODIFY x TEXT")
            if kind != "sqlite":
                op.execute("DELETE FROM notes WHERE body = ''")


        def downgrade():
            if op.get_bind().dialect.name in ("mysql", "mssql"):
                op.execute("ALTER TABLE notes MODIFY body TEXT")
        ''',
    )
    result = prepared(tmp_path, path)
    assert [f.rule for f in result.findings] == []  # no sql-syntax-error, no unanalysable f-string
    assert [s.sql for s in result.context.statements] == [
        "UPDATE notes SET body = '' WHERE body IS NULL",
        "DELETE FROM notes WHERE body = ''",
    ]


def test_a_branch_on_anything_else_is_read_both_ways(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "versions/c0ffee000002_backfill.py",
        '''
        """backfill"""
        from alembic import op

        revision = "c0ffee000002"
        down_revision = None
        BACKFILL = True


        def upgrade():
            if BACKFILL:
                op.execute("UPDATE notes SET body = '' WHERE body IS NULL")
            else:
                op.execute("UPDATE notes SET body = NULL WHERE body = ''")


        def downgrade():
            pass
        ''',
    )
    assert len(prepared(tmp_path, path).context.statements) == 2


def test_another_dialects_syntax_outside_any_branch_is_still_an_error(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "versions/c0ffee000003_widen.py",
        '''
        """widen"""
        from alembic import op

        revision = "c0ffee000003"
        down_revision = None


        def upgrade():
            op.execute("ALTER TABLE notes MODIFY body MEDIUMTEXT")


        def downgrade():
            pass
        ''',
    )
    assert [(f.rule, f.line) for f in prepared(tmp_path, path).findings] == [("sql-syntax-error", 9)]


# -- the offline rendering -----------------------------------------------------------------------------------------


def test_a_revision_asking_alembics_context_is_rendered_in_offline_mode(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "versions/c0ffee000004_add_flag.py",
        '''
        """add flag"""
        import sqlalchemy as sa
        from alembic import context, op

        revision = "c0ffee000004"
        down_revision = None


        def upgrade():
            if context.is_offline_mode():
                op.add_column("notes", sa.Column("flag", sa.Boolean(), nullable=True))
            else:
                raise RuntimeError("this branch reads rows, which offline mode cannot")
            if context.get_context().dialect.name == "postgresql":
                op.create_index("ix_notes_flag", "notes", ["flag"])


        def downgrade():
            op.drop_index("ix_notes_flag", table_name="notes")
            op.drop_column("notes", "flag")
        ''',
    )
    result = prepared(tmp_path, path)
    assert [f.rule for f in result.findings] == []
    upgrade = [s.sql for s in result.context.statements if s.direction == "upgrade"]
    assert upgrade == ["ALTER TABLE notes ADD COLUMN flag BOOLEAN", "CREATE INDEX ix_notes_flag ON notes (flag)"]


# -- changing-column-type reads the alter_column call's own existing_type= -----------------------------------------


def _type_findings(root: Path, upgrade: str) -> list[str]:
    from orchestrator.checks.rules.changing_column_type import ChangingColumnType

    body = textwrap.indent(textwrap.dedent(upgrade).strip("\n"), "    ")
    path = root / "versions/c0ffee000005_resize.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        '"""resize: the table comes from a history that is not checked here"""\n'
        "import sqlalchemy as sa\nfrom alembic import op\n\n"
        'revision = "c0ffee000005"\ndown_revision = None\n\n\n'
        f"def upgrade():\n{body}\n\n\ndef downgrade():\n    pass\n",
        encoding="utf-8",
    )
    result = prepared(root, path)
    return [v.message for v in ChangingColumnType().check(result.context)]


def test_a_widening_declared_by_existing_type_is_not_a_rewrite(tmp_path: Path) -> None:
    assert (
        _type_findings(
            tmp_path,
            """
            op.alter_column("users", "email", existing_type=sa.VARCHAR(length=64), type_=sa.String(length=320))
            with op.batch_alter_table("params") as batch_op:
                batch_op.alter_column("value", existing_type=sa.String(500), type_=sa.String(8000))
            """,
        )
        == []
    )


def test_a_narrowing_declared_by_existing_type_is_still_a_rewrite(tmp_path: Path) -> None:
    found = _type_findings(
        tmp_path,
        """
        with op.batch_alter_table("clusters") as batch_op:
            batch_op.alter_column("host", existing_type=sa.VARCHAR(length=256), type_=sa.String(length=255))
        op.alter_column("users", "age", existing_type=sa.Integer(), type_=sa.BigInteger())
        op.alter_column("users", "nick", existing_type=sa.Enum("a", "b", name="nick_kind"), type_=sa.String(length=20))
        """,
    )
    assert found == [
        'changing column "host" of existing table public.clusters from varchar(256) to varchar(255) rewrites '
        "the table under ACCESS EXCLUSIVE",
        'changing column "age" of existing table public.users from int4 to int8 rewrites the table under ACCESS '
        "EXCLUSIVE",
        'changing column "nick" of existing table public.users from its current type to varchar(20) rewrites '
        "the table under ACCESS EXCLUSIVE",
    ]
