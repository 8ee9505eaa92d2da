"""The static engine: statements with their lines, units, order and transaction state, from every kind of input."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.check import CheckOptions
from orchestrator.checks import engine
from orchestrator.checks.model import CheckContext, FileKind, Origin, Rule, SqlStatement, Violation
from orchestrator.config import DelegateConfig
from orchestrator.errors import InputError
from orchestrator.report import Severity

VERSIONS = "api/alembic/versions"


class IndexRule(Rule):
    """A stand-in rule (independent of the real catalogue): every non-concurrent CREATE INDEX."""

    id = "test-plain-index"
    severity = Severity.ERROR
    family = "sql"
    summary = "plain index"
    why = fix = "test"
    bad = good = ""

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        for s in ctx.statements:
            if type(s.node).__name__ == "IndexStmt" and not s.node.concurrent:
                yield Violation(s.file, s.line, f"plain index {s.node.idxname}")


class CrashingRule(IndexRule):
    id = "test-crash"

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        raise RuntimeError("boom")


@pytest.fixture
def stub_rules(monkeypatch: pytest.MonkeyPatch) -> list[Rule]:
    rules: list[Rule] = [IndexRule(), CrashingRule()]
    monkeypatch.setattr(engine, "load_rules", lambda: rules)
    return rules


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def line_of(path: Path, needle: str, nth: int = 1) -> int:
    """The 1-based line of the nth line of `path` that contains `needle`."""
    hits = [i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1) if needle in line]
    return hits[nth - 1]


def statements(root: Path, *paths: Path, cfg: DelegateConfig | None = None) -> list[SqlStatement]:
    options = CheckOptions(repo=root, static_only=True, paths=list(paths))
    return engine.prepare(root, cfg or DelegateConfig(), options, rules=[]).context.statements


def engine_findings(root: Path, *paths: Path) -> list[tuple[str, str | None, int | None]]:
    options = CheckOptions(repo=root, static_only=True, paths=list(paths))
    return [(f.rule, f.file, f.line) for f in engine.prepare(root, DelegateConfig(), options, rules=[]).findings]


REVISION_HEAD = '''
"""test"""
import textwrap

import sqlalchemy as sa
from alembic import op

revision = "aa11"
down_revision = None
'''


# -- .sql files ------------------------------------------------------------------------------------------------


def test_sql_lines_count_characters_not_bytes_and_skip_leading_comments(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "migration.sql",
        """
        -- Übersicht: 日本語 ééé ñ
        /* a /* nested */ comment */ CREATE TABLE a (id int);

        -- the next statement starts on line 5
        CREATE INDEX ix_a ON a (id);
        ALTER TABLE a
          ADD COLUMN b text;
        """,
    )
    got = statements(tmp_path, path)
    assert [(s.line, s.end_line, type(s.node).__name__) for s in got] == [
        (2, 2, "CreateStmt"),
        (5, 5, "IndexStmt"),
        (6, 7, "AlterTableStmt"),
    ]
    assert [s.index for s in got] == [0, 1, 2]
    assert {s.unit for s in got} == {"migration.sql"}
    assert got[1].sql == "CREATE INDEX ix_a ON a (id)"
    assert all(s.kind is FileKind.SQL and s.origin is Origin.SQL_FILE and s.direction is None for s in got)


def test_sql_transaction_only_between_begin_and_commit(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "migration.sql",
        """
        CREATE INDEX CONCURRENTLY i1 ON t (a);
        BEGIN;
        CREATE INDEX CONCURRENTLY i2 ON t (b);
        COMMIT;
        START TRANSACTION;
        CREATE INDEX i3 ON t (c);
        ROLLBACK;
        CREATE INDEX i4 ON t (d);
        """,
    )
    indexes = [s for s in statements(tmp_path, path) if type(s.node).__name__ == "IndexStmt"]
    assert [(s.node.idxname, s.in_transaction) for s in indexes] == [
        ("i1", False),
        ("i2", True),
        ("i3", True),
        ("i4", False),
    ]


def test_file_kinds_follow_the_folders(tmp_path: Path) -> None:
    seed = write(tmp_path, "seeds/dev/001.sql", "INSERT INTO t VALUES (1);")
    policy = write(tmp_path, "api/sql/policies/t.sql", "ALTER TABLE t ENABLE ROW LEVEL SECURITY;")
    plain = write(tmp_path, "db/001.sql", "SELECT 1;")
    kinds = {s.file: s.kind for s in statements(tmp_path, seed, policy, plain)}
    assert kinds == {
        "seeds/dev/001.sql": FileKind.SEED,
        "api/sql/policies/t.sql": FileKind.POLICY,
        "db/001.sql": FileKind.SQL,
    }


def test_repo_layout_is_read_without_paths(tmp_path: Path) -> None:
    write(tmp_path, "seeds/a.sql", "INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING;")
    write(tmp_path, "api/sql/policies/p.sql", "ALTER TABLE t ENABLE ROW LEVEL SECURITY;")
    write(tmp_path, f"{VERSIONS}/aa11_x.py", REVISION_HEAD + '\ndef upgrade():\n    op.execute("SELECT 1")\n')
    write(tmp_path, "elsewhere/ignored.sql", "SELECT 2;")
    files = {s.file for s in statements(tmp_path)}
    assert files == {"seeds/a.sql", "api/sql/policies/p.sql", f"{VERSIONS}/aa11_x.py"}


def test_missing_path_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="nope.sql"):
        statements(tmp_path, tmp_path / "nope.sql")


def test_sql_syntax_error_reports_its_line_and_keeps_the_good_statements(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "migration.sql",
        """
        -- é
        CREATE INDEX ix_a ON a (id);
        SELEC oops FROM t;
        CREATE INDEX ix_b ON b (id);
        """,
    )
    assert engine_findings(tmp_path, path) == [("sql-syntax-error", "migration.sql", 3)]
    assert [s.node.idxname for s in statements(tmp_path, path)] == ["ix_a", "ix_b"]


def test_unterminated_quote_does_not_crash(tmp_path: Path) -> None:
    path = write(tmp_path, "migration.sql", "SELECT 1;\nSELECT 'never closed;\n")
    found = engine_findings(tmp_path, path)
    assert [f[0] for f in found] == ["sql-syntax-error"]


# -- revision files: op.execute ---------------------------------------------------------------------------------


def test_op_execute_variants_and_their_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"{VERSIONS}/aa11_variants.py",
        REVISION_HEAD
        + '''
INDEX_SQL = "CREATE INDEX ix_const ON t (a)"


def upgrade():
    op.execute("CREATE INDEX ix_plain ON t (a)")
    op.execute(sa.text("CREATE INDEX ix_text ON t (a)"))
    op.execute(
        "CREATE INDEX ix_concat "
        "ON t (a)"
    )
    op.execute(textwrap.dedent("""
        SELECT 1;
        CREATE INDEX ix_dedent ON t (a);
    """))
    op.execute(INDEX_SQL)
    local = "CREATE INDEX ix_local ON t (a)"
    op.execute(local)
    op.execute(f"CREATE INDEX ix_{1} ON t (a)")
    op.execute(sqltext="CREATE INDEX ix_kw ON t (a)")


def downgrade():
    op.execute("DROP INDEX ix_plain")
''',
    )
    got = statements(tmp_path, path)
    lines = {s.node.idxname: s.line for s in got if type(s.node).__name__ == "IndexStmt"}
    assert lines == {
        "ix_plain": line_of(path, "ix_plain"),
        "ix_text": line_of(path, "ix_text"),
        "ix_concat": line_of(path, "ix_concat"),
        "ix_dedent": line_of(path, "ix_dedent"),
        "ix_const": line_of(path, "ix_const"),
        "ix_local": line_of(path, "ix_local"),
        "ix_kw": line_of(path, "ix_kw"),
    }
    assert lines["ix_concat"] + 1 == line_of(path, '"ON t (a)"')  # the line of the string part, not the call
    up = [s for s in got if s.direction == "upgrade"]
    assert [s.index for s in up] == list(range(len(up)))
    assert {s.unit for s in up} == {f"{VERSIONS}/aa11_variants.py::aa11"}
    assert {s.origin for s in up} == {Origin.OP_EXECUTE}
    down = [s for s in got if s.direction == "downgrade"]
    assert [(s.unit, s.line) for s in down] == [
        (f"{VERSIONS}/aa11_variants.py::aa11::downgrade", line_of(path, "DROP INDEX ix_plain"))
    ]
    unanalysable = [("unanalysable-sql", f"{VERSIONS}/aa11_variants.py", line_of(path, 'f"CREATE'))]
    assert engine_findings(tmp_path, path) == unanalysable


def test_python_syntax_error_is_a_finding(tmp_path: Path) -> None:
    path = write(tmp_path, f"{VERSIONS}/bad.py", 'revision = "x"\ndown_revision = None\ndef upgrade(:\n    pass\n')
    assert engine_findings(tmp_path, path) == [("python-syntax-error", f"{VERSIONS}/bad.py", line_of(path, "(:"))]


# -- revision files: offline rendering --------------------------------------------------------------------------


def test_offline_rendering_maps_op_calls_to_their_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"{VERSIONS}/aa11_render.py",
        REVISION_HEAD
        + """

def upgrade():
    op.create_table("fresh", sa.Column("id", sa.Integer, primary_key=True))
    op.execute("CREATE INDEX ix_exec ON t (a)")
    op.create_index(
        "ix_rendered",
        "lessons",
        ["student_id"],
    )
    with op.get_context().autocommit_block():
        op.create_index("ix_conc", "lessons", ["b"], postgresql_concurrently=True)
    op.add_column("lessons", sa.Column("n", sa.Integer(), nullable=False))


def downgrade():
    op.drop_index("ix_rendered", table_name="lessons")
""",
    )
    got = statements(tmp_path, path)
    up = [(type(s.node).__name__, s.line, s.origin, s.in_transaction) for s in got if s.direction == "upgrade"]
    assert up == [
        ("CreateStmt", line_of(path, "op.create_table"), Origin.OP_RENDERED, True),
        ("IndexStmt", line_of(path, "ix_exec"), Origin.OP_EXECUTE, True),
        ("IndexStmt", line_of(path, "op.create_index("), Origin.OP_RENDERED, True),  # the call's first line
        ("IndexStmt", line_of(path, '"ix_conc"'), Origin.OP_RENDERED, False),
        ("AlterTableStmt", line_of(path, "op.add_column"), Origin.OP_RENDERED, True),
    ]
    down = [(type(s.node).__name__, s.line) for s in got if s.direction == "downgrade"]
    assert down == [("DropStmt", line_of(path, "op.drop_index"))]


def test_rendering_failure_is_reported_and_op_execute_still_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"{VERSIONS}/aa11_fail.py",
        REVISION_HEAD
        + """
import not_a_module_anywhere


def upgrade():
    op.execute("CREATE INDEX ix_still ON t (a)")
    op.create_index("ix_lost", "t", ["a"])
""",
    )
    found = engine_findings(tmp_path, path)
    assert found == [("unanalysable-sql", f"{VERSIONS}/aa11_fail.py", line_of(path, "import not_a_module"))]
    assert [s.node.idxname for s in statements(tmp_path, path)] == ["ix_still"]


def test_no_subprocess_when_only_op_execute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestrator.checks import offline

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("rendered although only op.execute was used")

    monkeypatch.setattr(offline, "RenderJob", forbidden)
    path = write(tmp_path, f"{VERSIONS}/aa11_x.py", REVISION_HEAD + '\ndef upgrade():\n    op.execute("SELECT 1")\n')
    assert len(statements(tmp_path, path)) == 1


def test_autocommit_block_of_op_execute(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"{VERSIONS}/aa11_ac.py",
        REVISION_HEAD
        + """

def upgrade():
    op.execute("SET lock_timeout = '5s'")
    with op.get_context().autocommit_block():
        op.execute("CREATE INDEX CONCURRENTLY ix_a ON t (a)")
    op.execute("CREATE INDEX ix_b ON t (b)")
""",
    )
    got = [(s.sql.split()[0], s.in_transaction) for s in statements(tmp_path, path)]
    assert got == [("SET", True), ("CREATE", False), ("CREATE", True)]


# -- DO and function bodies -------------------------------------------------------------------------------------


def test_do_body_statements_with_their_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "migration.sql",
        """
        -- ß
        DO $$
        DECLARE r record;
        BEGIN
          IF NOT EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = 'ix') THEN
            CREATE INDEX ix ON users (email);
          END IF;
          EXECUTE 'ALTER TABLE users ADD COLUMN a int';
          EXECUTE 'ALTER TABLE ' || 'users';
          this is not sql at all;
        END $$;
        CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $body$
        BEGIN
          UPDATE users SET a = 1;
        END;
        $body$;
        """,
    )
    got = [(type(s.node).__name__, s.origin, s.line) for s in statements(tmp_path, path)]
    assert got == [
        ("DoStmt", Origin.SQL_FILE, line_of(path, "DO $$")),
        ("IndexStmt", Origin.DO_BODY, line_of(path, "CREATE INDEX ix ON")),
        ("AlterTableStmt", Origin.DO_BODY, line_of(path, "ADD COLUMN a int")),
        ("CreateFunctionStmt", Origin.SQL_FILE, line_of(path, "CREATE FUNCTION")),
        ("UpdateStmt", Origin.FUNCTION_BODY, line_of(path, "UPDATE users")),
    ]


# -- rules, crashes, severities ---------------------------------------------------------------------------------


def test_a_crashing_rule_is_an_internal_error_finding(tmp_path: Path, stub_rules: list[Rule]) -> None:
    path = write(tmp_path, "migration.sql", "CREATE INDEX ix ON t (a);\n")
    found = engine.run_static(tmp_path, DelegateConfig(), CheckOptions(repo=tmp_path, paths=[path]))
    assert [(f.rule, f.line) for f in found] == [("internal-error", None), ("test-plain-index", 1)]
    assert "test-crash" in found[0].message


def test_a_crashing_rule_raises_under_debug(
    tmp_path: Path, stub_rules: list[Rule], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DELEGATE_DEBUG", "1")
    path = write(tmp_path, "migration.sql", "CREATE INDEX ix ON t (a);\n")
    with pytest.raises(RuntimeError, match="boom"):
        engine.run_static(tmp_path, DelegateConfig(), CheckOptions(repo=tmp_path, paths=[path]))


def test_config_severity_override_and_off(tmp_path: Path, stub_rules: list[Rule]) -> None:
    path = write(tmp_path, "migration.sql", "CREATE INDEX ix ON t (a);\n")
    options = CheckOptions(repo=tmp_path, paths=[path])
    cfg = DelegateConfig(rules={"test-plain-index": "warning", "test-crash": "off"})
    found = engine.run_static(tmp_path, cfg, options)
    assert [(f.rule, f.severity) for f in found] == [("test-plain-index", Severity.WARNING)]
    cfg = DelegateConfig(rules={"test-plain-index": "off", "test-crash": "off"})
    assert engine.run_static(tmp_path, cfg, options) == []


def test_unknown_rule_in_config_is_an_input_error(tmp_path: Path, stub_rules: list[Rule]) -> None:
    path = write(tmp_path, "migration.sql", "SELECT 1;\n")
    cfg = DelegateConfig(rules={"test-plain-indx": "off"})
    with pytest.raises(InputError, match="test-plain-indx") as err:
        engine.run_static(tmp_path, cfg, CheckOptions(repo=tmp_path, paths=[path]))
    assert "test-plain-index" in (err.value.hint or "")


def test_a_folder_of_revisions_is_one_graph_and_env_py_is_not_a_revision(tmp_path: Path) -> None:
    folder = tmp_path / "api" / "alembic"
    write(tmp_path, "api/alembic/env.py", "from alembic import context\ncontext.configure()\n")
    write(tmp_path, "api/alembic/versions/aa11_a.py", REVISION_HEAD + '\ndef upgrade():\n    op.execute("SELECT 1")\n')
    second = REVISION_HEAD.replace('"aa11"', '"bb22"').replace("down_revision = None", 'down_revision = "aa11"')
    write(tmp_path, "api/alembic/versions/bb22_b.py", second + '\ndef upgrade():\n    op.execute("SELECT 2")\n')
    options = CheckOptions(repo=tmp_path, static_only=True, paths=[folder])
    ctx = engine.prepare(tmp_path, DelegateConfig(), options, rules=[]).context
    assert sorted(rf.rel for rf in ctx.revision_files) == [f"{VERSIONS}/aa11_a.py", f"{VERSIONS}/bb22_b.py"]
    assert ctx.graph.heads == ["bb22"] and ctx.graph.bases == ["aa11"]
    assert ctx.feature_revisions is None  # explicit paths: everything is the feature


def test_files_outside_the_repo_keep_their_absolute_path(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    outside = write(tmp_path, "elsewhere/m.sql", "SELECT 1;")
    assert [s.file for s in statements(repo, outside)] == [outside.resolve().as_posix()]


def test_an_unchanged_revision_is_rendered_once_per_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestrator.checks import offline

    body = REVISION_HEAD + '\ndef upgrade():\n    op.create_index("ix_cached_once", "t", ["a"])\n'
    first = write(tmp_path / "one", f"{VERSIONS}/aa11_c.py", body)
    assert [s.node.idxname for s in statements(tmp_path / "one", first)] == ["ix_cached_once"]

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("rendered again although the file did not change")

    monkeypatch.setattr(offline, "RenderJob", forbidden)
    second = write(tmp_path / "two", f"{VERSIONS}/aa11_c.py", body)
    got = statements(tmp_path / "two", second)
    assert [(s.node.idxname, s.file, s.line) for s in got] == [("ix_cached_once", f"{VERSIONS}/aa11_c.py", 11)]


def test_the_example_feature_is_clean_and_only_its_revision_is_the_feature(tmp_path: Path) -> None:
    from orchestrator.config import load_config
    from tests.support.example_repo import FEATURE_SPEC, SOLUTION_REVISION, make_example_repo

    repo = make_example_repo(tmp_path, with_solution=True)
    options = CheckOptions(repo=repo, static_only=True, spec=Path(FEATURE_SPEC))
    cfg = load_config(repo)
    prepared = engine.prepare(repo, cfg, options)
    assert prepared.context.feature_revisions == {SOLUTION_REVISION}
    assert prepared.context.spec is not None
    found = engine.run_static(repo, cfg, options)
    assert [f for f in found if f.severity is Severity.ERROR] == [], found


def test_sql_run_through_op_get_bind_is_rendered(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"{VERSIONS}/aa11_bind.py",
        REVISION_HEAD
        + """

def upgrade():
    conn = op.get_bind()
    conn.execute(sa.text("UPDATE users SET plan = 'free'"))
""",
    )
    got = [(type(s.node).__name__, s.line, s.origin) for s in statements(tmp_path, path)]
    assert got == [("UpdateStmt", line_of(path, "conn.execute"), Origin.OP_RENDERED)]


def test_nothing_to_check_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no revision files"):
        statements(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="empty"):
        statements(tmp_path, tmp_path / "empty")


def test_real_rule_fires_at_the_op_call_line(tmp_path: Path) -> None:
    """With the real catalogue: op.create_index on an existing table is require-concurrent-index at the call."""
    path = write(
        tmp_path,
        f"{VERSIONS}/aa11_idx.py",
        REVISION_HEAD
        + """

def upgrade():
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.create_index(
        "ix_lessons_student",
        "lessons",
        ["student_id"],
    )


def downgrade():
    op.drop_index("ix_lessons_student", table_name="lessons")
""",
    )
    found = engine.run_static(tmp_path, DelegateConfig(), CheckOptions(repo=tmp_path, static_only=True, paths=[path]))
    hits = [(f.file, f.line) for f in found if f.rule == "require-concurrent-index"]
    assert hits == [(f"{VERSIONS}/aa11_idx.py", line_of(path, "op.create_index("))]


def test_a_psql_script_is_checked_and_its_includes_are_named(tmp_path: Path) -> None:
    """The real rules (not the stubs): meta-commands neither hide statements nor count as syntax errors."""
    path = tmp_path / "seeds" / "dev.sql"
    path.parent.mkdir()
    path.write_text(
        "\\set ON_ERROR_STOP on\n\\ir more.sql\nCREATE INDEX ix ON users (email);\n",
        encoding="utf-8",
    )
    found = engine.run_static(tmp_path, DelegateConfig(), CheckOptions(repo=tmp_path, paths=[path]))
    assert {(f.rule, f.line) for f in found} >= {("seed-has-ddl", 3), ("unanalysable-sql", 2)}
    assert "sql-syntax-error" not in {f.rule for f in found}
    [include] = [f for f in found if f.rule == "unanalysable-sql"]
    assert "more.sql" in include.message
