"""The live half of `delegate check` on tiny Alembic repos with one planted fault each, on a real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from orchestrator.check import CheckOptions
from orchestrator.config import DelegateConfig
from orchestrator.errors import InputError
from orchestrator.pg import PostgresServer, ScratchDatabase
from orchestrator.report import Finding
from orchestrator.verification import StepStatus, Verification
from orchestrator.verify.live import run_live
from tests.support.live_repo import ENV_PY, GOOD_UP, make_repo

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("no_scratch_left")]


def check(repo: Path, server: PostgresServer, timeout: float = 60, **kw: object) -> tuple[Verification, list[Finding]]:
    cfg = DelegateConfig(timeout_seconds=timeout)
    options = CheckOptions(repo=repo, since="0001base", database_url=server.admin_url, **kw)  # type: ignore[arg-type]
    return run_live(repo, cfg, options)


def rules(findings: list[Finding]) -> set[str]:
    return {f.rule for f in findings}


def step(verification: Verification, name: str) -> StepStatus:
    return next(s.status for s in verification.steps if s.name == name)


def test_a_clean_feature_passes_every_step(tmp_path: Path, pg_server: PostgresServer) -> None:
    seeds = (
        "INSERT INTO auth.users (id, email) VALUES ('00000000-0000-0000-0000-000000000001', 'a@x.test')"
        " ON CONFLICT DO NOTHING;\nINSERT INTO public.notes (user_id, title) VALUES"
        " ('00000000-0000-0000-0000-000000000001', 'hello') ON CONFLICT (user_id, title) DO NOTHING;\n"
    )
    verification, findings = check(make_repo(tmp_path, seeds=seeds), pg_server)
    assert [f for f in findings if f.severity == "error"] == [], findings
    assert step(verification, "upgrade") is StepStatus.PASSED
    assert step(verification, "downgrade") is StepStatus.PASSED
    assert step(verification, "seeds") is StepStatus.PASSED
    assert step(verification, "rls matrix") is StepStatus.PASSED
    assert all(cell.ok for cell in verification.rls_matrix)
    assert {c.table for c in verification.rls_matrix} == {"public.notes"}
    assert verification.revision_runs[0].status == "round-trips"
    assert verification.revision_runs[0].upgrade_ms is not None


USER_A = "00000000-0000-0000-0000-00000000000a"


def test_a_downgrade_that_forgets_the_enum_leaves_a_trace(tmp_path: Path, pg_server: PostgresServer) -> None:
    repo = make_repo(tmp_path, down='op.execute("DROP TABLE public.notes")')
    verification, findings = check(repo, pg_server)
    traces = [f for f in findings if f.rule == "downgrade-leaves-trace"]
    assert len(traces) == 1
    assert "type public.note_kind still exists" in traces[0].message
    assert traces[0].file == "api/alembic/versions/0002_notes.py" and traces[0].line
    assert step(verification, "downgrade") is StepStatus.FAILED
    assert verification.revision_runs[0].status == "leaves-trace"
    # The re-upgrade trips over the same enum: its finding points back at the cause.
    [again] = [f for f in findings if f.rule == "reupgrade-failed"]
    assert "note_kind" in again.message
    assert again.fix.startswith("most likely a consequence of what the downgrade left behind (type public.note_kind")


def test_a_downgrade_that_only_raises_stops_the_round_trip_without_downgrade_failed(
    tmp_path: Path, pg_server: PostgresServer
) -> None:
    # warehouse's `raise RuntimeError("Cannot Go Backwards In Time.")`: irreversible on purpose, not a defect.
    repo = make_repo(tmp_path, down='"""Irreversible."""\nraise RuntimeError("Cannot Go Backwards In Time.")')
    verification, findings = check(repo, pg_server)
    assert not rules(findings) & {"downgrade-failed", "reupgrade-failed"}, findings
    assert step(verification, "downgrade") is StepStatus.WARNED
    assert "revision 0002notes is irreversible on purpose" in next(
        s.detail for s in verification.steps if s.name == "downgrade"
    )
    assert verification.revision_runs[0].status == "irreversible"


def test_a_listed_irreversible_revision_that_refuses_is_an_info(tmp_path: Path, pg_server: PostgresServer) -> None:
    refusing = "op.execute(\"DO $$ BEGIN RAISE EXCEPTION 'notes would be lost'; END $$\")"
    repo = make_repo(tmp_path, down=refusing)
    cfg = DelegateConfig(timeout_seconds=60, irreversible_revisions=["0002notes"])
    options = CheckOptions(repo=repo, since="0001base", database_url=pg_server.admin_url)
    verification, findings = run_live(repo, cfg, options)
    [finding] = [f for f in findings if f.rule in ("downgrade-failed", "irreversible-downgrade")]
    assert finding.rule == "irreversible-downgrade" and finding.severity == "info"
    assert "notes would be lost" in finding.message and finding.file == "api/alembic/versions/0002_notes.py"
    # Without the listing, the same refusal is a downgrade that tried and failed.
    _, findings = check(repo, pg_server)
    assert "downgrade-failed" in rules(findings) and "irreversible-downgrade" not in rules(findings)


def test_on_conflict_do_nothing_without_a_unique_target_is_not_idempotent(
    tmp_path: Path, pg_server: PostgresServer
) -> None:
    seeds = (
        f"INSERT INTO auth.users (id, email) VALUES ('{USER_A}', 'a@x.test') ON CONFLICT DO NOTHING;\n"
        f"INSERT INTO public.profiles (user_id, name) VALUES ('{USER_A}', 'Ada') ON CONFLICT DO NOTHING;\n"
    )
    _, findings = check(make_repo(tmp_path, seeds=seeds), pg_server)
    [finding] = [f for f in findings if f.rule == "seed-not-idempotent-live"]
    assert finding.file == "seeds/010_notes.sql" and finding.line == 2
    assert "public.profiles from 1 to 2" in finding.message


def test_a_seed_that_raises_names_file_and_line(tmp_path: Path, pg_server: PostgresServer) -> None:
    seeds = "SELECT 1;\n\nINSERT INTO public.nope (x) VALUES (1);\n"
    _, findings = check(make_repo(tmp_path, seeds=seeds), pg_server)
    [finding] = [f for f in findings if f.rule == "seed-failed"]
    assert (finding.file, finding.line) == ("seeds/010_notes.sql", 3)
    assert "public.nope" in finding.message


def test_a_seed_written_for_psql_runs_without_its_meta_commands(tmp_path: Path, pg_server: PostgresServer) -> None:
    seeds = "\\set ON_ERROR_STOP on\n\\echo seeding\nSELECT 1;\nINSERT INTO public.nope (x) VALUES (1);\n"
    _, findings = check(make_repo(tmp_path, seeds=seeds), pg_server)
    [finding] = [f for f in findings if f.rule == "seed-failed"]
    assert (finding.file, finding.line) == ("seeds/010_notes.sql", 4)  # the real error, at its own line
    assert "public.nope" in finding.message


def test_a_policy_using_true_for_authenticated_leaks(tmp_path: Path, pg_server: PostgresServer) -> None:
    leaky = GOOD_UP.replace("USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid())", "USING (true)")
    verification, findings = check(make_repo(tmp_path, up=leaky), pg_server)
    leaks = [f for f in findings if f.rule == "rls-leak"]
    assert {f.message.split(" can ")[0] for f in leaks} == {"authenticated:A", "authenticated:B"}
    assert "select_other" in leaks[0].message and "public.notes" in leaks[0].message
    assert leaks[0].file == "api/alembic/versions/0002_notes.py"
    bad = [c for c in verification.rls_matrix if not c.ok]
    assert bad and all(c.actor.startswith("authenticated") and c.action.endswith("_other") for c in bad)


FAILING_TEST = """
import os
import psycopg


def test_notes_table_exists():
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        assert conn.execute("SELECT to_regclass('public.notes')").fetchone()[0] is not None


def test_notes_have_a_body_column():
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        columns = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'notes'")]
    assert "body" in columns
"""


def test_a_failing_delivered_test_is_named(tmp_path: Path, pg_server: PostgresServer) -> None:
    verification, findings = check(make_repo(tmp_path, tests=FAILING_TEST), pg_server)
    [finding] = [f for f in findings if f.rule == "delivered-tests-failed"]
    assert "test_notes_have_a_body_column" in finding.message
    assert "test_notes_table_exists" not in finding.message
    assert next(s for s in verification.steps if s.name == "delivered tests").detail == "1 passed, 1 failed"


DRIFTING_MODELS = """
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


users = sa.Table("users", Base.metadata, sa.Column("id", sa.Uuid(), primary_key=True), schema="auth")


class Profile(Base):
    __tablename__ = "profiles"
    id = sa.Column(sa.Uuid(), primary_key=True, server_default=sa.text("gen_random_uuid()"))
    user_id = sa.Column(sa.Uuid(), sa.ForeignKey("auth.users.id"), nullable=False)
    name = sa.Column(sa.Text(), nullable=False)


class Note(Base):
    __tablename__ = "notes"
    id = sa.Column(sa.Uuid(), primary_key=True)
    user_id = sa.Column(sa.Uuid(), nullable=False)
    title = sa.Column(sa.Text(), nullable=False)
    pinned = sa.Column(sa.Boolean(), nullable=False)
"""


def test_models_that_drift_from_the_schema(tmp_path: Path, pg_server: PostgresServer) -> None:
    _, findings = check(make_repo(tmp_path, models=DRIFTING_MODELS), pg_server)
    drift = [f.message for f in findings if f.rule == "models-drift"]
    assert any("public.notes.pinned" in m or "notes.pinned" in m for m in drift), drift
    assert any("notes.kind" in m for m in drift), drift
    assert not any("auth" in m for m in drift), drift


def test_models_that_do_not_import_are_a_finding(tmp_path: Path, pg_server: PostgresServer) -> None:
    _, findings = check(make_repo(tmp_path, models="import no_such_module\n"), pg_server)
    [finding] = [f for f in findings if f.rule == "models-drift"]
    assert "app.models:Base" in finding.message and "no_such_module" in finding.message


PLAN = """# Plan

## Query patterns

### Notes by kind

```sql
SELECT id FROM public.notes WHERE kind = :kind;
```

### Notes of a user

```sql
SELECT id FROM public.notes WHERE user_id = $1;
```

### First notes of a kind

```sql
SELECT id FROM public.notes WHERE kind = :kind ORDER BY id LIMIT 5;
```
"""


def test_a_query_pattern_without_an_index_is_a_seq_scan(tmp_path: Path, pg_server: PostgresServer) -> None:
    repo = make_repo(tmp_path)
    (repo / "specs" / "002-notes").mkdir(parents=True)
    (repo / "specs" / "002-notes" / "plan.md").write_text(PLAN)
    (repo / "specs" / "002-notes" / "data-model.md").write_text("# Data model\n\n## Note\n\n- `title`: text\n")
    verification, findings = check(repo, pg_server, spec=Path("specs/002-notes"))
    seq, walked = [f for f in findings if f.rule == "seq-scan-on-target-query"]
    assert "Notes by kind" in seq.message and "public.notes" in seq.message
    assert seq.file == "specs/002-notes/plan.md" and seq.line == 5
    assert [e.seq_scans for e in verification.explains] == [["public.notes"], [], []]
    # ORDER BY id LIMIT: the planner walks the primary key and filters on kind, a full scan by another name.
    assert [e.whole_index_scans for e in verification.explains] == [[], [], ["public.notes (index notes_pkey)"]]
    assert "First notes of a kind" in walked.message and "notes_pkey" in walked.message
    assert walked.line == 17


def test_a_broken_env_py_is_an_upgrade_failure_naming_it(tmp_path: Path, pg_server: PostgresServer) -> None:
    repo = make_repo(tmp_path, env_py=ENV_PY.replace("config = context.config", "config = context.config\n1 / 0"))
    verification, findings = check(repo, pg_server)
    [finding] = [f for f in findings if f.rule == "upgrade-failed"]
    assert finding.file == "api/alembic/env.py" and finding.line == 7
    assert "ZeroDivisionError" in finding.message


def test_a_revision_that_hangs_is_killed_at_the_timeout(tmp_path: Path, pg_server: PostgresServer) -> None:
    repo = make_repo(tmp_path, up='op.execute("select pg_sleep(600)")', down="pass")
    verification, findings = check(repo, pg_server, timeout=3)
    [finding] = [f for f in findings if f.rule == "upgrade-failed"]
    assert "timed out after 3 s" in finding.message and "0002notes" in finding.message
    assert finding.file == "api/alembic/versions/0002_notes.py"
    assert step(verification, "upgrade") is StepStatus.FAILED


DROPPING_TEST = """
import os
import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo


def test_drop_the_database_under_delegate():
    url = os.environ["DATABASE_URL"]
    name = conninfo_to_dict(url)["dbname"]
    with psycopg.connect(make_conninfo(url, dbname="postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
"""


def test_a_database_dropped_mid_run_is_bad_input_naming_the_cause(tmp_path: Path, pg_server: PostgresServer) -> None:
    repo = make_repo(tmp_path, tests=DROPPING_TEST)
    with pytest.raises(InputError, match="dropped by someone else|went away during"):
        check(repo, pg_server)


def test_the_example_with_the_042_solution_is_clean(tmp_path: Path, pg_server: PostgresServer) -> None:
    from orchestrator.config import load_config
    from tests.support.example_repo import BASE_REVISION, SOLUTION_REVISION, make_example_repo

    repo = make_example_repo(tmp_path, with_solution=True)
    options = CheckOptions(repo=repo, database_url=pg_server.admin_url)
    verification, findings = run_live(repo, load_config(repo), options)
    assert verification.revisions == [SOLUTION_REVISION] and verification.base_revision == BASE_REVISION
    assert [f for f in findings if f.severity == "error"] == []
    statuses = {s.name: s.status for s in verification.steps}
    assert statuses["upgrade"] is StepStatus.PASSED and statuses["downgrade"] is StepStatus.PASSED
    assert statuses["delivered tests"] is StepStatus.PASSED and statuses["models"] is StepStatus.PASSED
    assert statuses["seeds"] is StepStatus.PASSED and statuses["rls matrix"] is StepStatus.PASSED
    assert {c.table for c in verification.rls_matrix} >= {"public.student_progress"}


def test_a_version_table_under_another_name_is_still_alembic_s(tmp_path: Path, pg_server: PostgresServer) -> None:
    """env.py's `version_table=` (several Alembic environments in one database): the renamed table is neither a
    trace of the downgrade, nor a table the models lack, nor a lock on the feature's tables."""
    from orchestrator.config import load_config
    from orchestrator.verify.version_tables import stamped_revisions
    from tests.support.example_repo import BASE_REVISION, SOLUTION_REVISION, edit_env_py, make_example_repo

    repo = make_example_repo(tmp_path, with_solution=True)
    metadata = "target_metadata=target_metadata,"
    renamed = metadata + '\n        version_table="cfi_versions",'
    edit_env_py(repo, metadata, renamed, "a version table of its own", count=2)
    options = CheckOptions(repo=repo, database_url=pg_server.admin_url)
    verification, findings = run_live(repo, load_config(repo), options)
    assert verification.revisions == [SOLUTION_REVISION] and verification.base_revision == BASE_REVISION
    assert [f for f in findings if f.severity == "error"] == []
    assert step(verification, "downgrade") is StepStatus.PASSED and step(verification, "models") is StepStatus.PASSED
    assert "re-upgrade" in {s.name for s in verification.steps}
    assert all("cfi_versions" not in lock.relation for lock in verification.locks)
    with ScratchDatabase(pg_server) as db:
        with psycopg.connect(db.url, autocommit=True) as conn:
            conn.execute("CREATE TABLE cfi_versions (version_num varchar(32) PRIMARY KEY)")
            conn.execute("INSERT INTO cfi_versions VALUES ('b2'), ('a1')")
            conn.execute("CREATE TABLE notes (version_num varchar(32), body text)")  # not a version table
        assert stamped_revisions(db.url) == ["a1", "b2"]


ASYNC_ONLINE = """def do_run_migrations(connection):
    context.configure(connection=connection, target_metadata=target_metadata, include_object=include_object,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations():
    from sqlalchemy.ext.asyncio import async_engine_from_config

    section = config.get_section(config.config_ini_section, {})
    section["sqlalchemy.url"] = database_url()
    connectable = async_engine_from_config(section, prefix="sqlalchemy.", poolclass=pool.NullPool)
    async with connectable.connect() as connection:
        await connection.run_sync(do_run_migrations)
    await connectable.dispose()


def run_migrations_online():
    import asyncio

    asyncio.run(run_async_migrations())
"""


def test_an_async_env_py_runs_every_step(tmp_path: Path, pg_server: PostgresServer) -> None:
    """`alembic init -t async`'s env.py, under delegate's own interpreter: psycopg's async mode, and the guard
    reading the database of an async connection."""
    from orchestrator.config import load_config
    from tests.support.example_repo import edit_env_py, make_example_repo

    repo = make_example_repo(tmp_path, with_solution=True)
    text = (repo / "api" / "alembic" / "env.py").read_text(encoding="utf-8")
    sync_online = text[text.index("def run_migrations_online() -> None:") : text.index("\n\n\nif context.is_offline")]
    edit_env_py(repo, sync_online, ASYNC_ONLINE.rstrip(), "async env.py")
    options = CheckOptions(repo=repo, database_url=pg_server.admin_url)
    verification, findings = run_live(repo, load_config(repo), options)
    assert [f for f in findings if f.severity == "error"] == []
    assert all(s.status is not StepStatus.FAILED for s in verification.steps)
    assert step(verification, "delivered tests") is StepStatus.PASSED


# A plain PostgreSQL app built like polar's history: the first revision creates uuid-ossp itself (alembic_utils'
# PGExtension does the same), the tables have no RLS, and nothing names auth.users or the Supabase roles.
PLAIN_FIRST_UP = """
    op.execute('CREATE EXTENSION "uuid-ossp"')
    op.execute("CREATE TABLE public.organizations (id uuid PRIMARY KEY DEFAULT uuid_generate_v4(), name text NOT NULL)")
"""
PLAIN_FIRST_DOWN = """
    op.execute("DROP TABLE public.organizations")
    op.execute('DROP EXTENSION "uuid-ossp"')
"""
PLAIN_SECOND_UP = """
    op.execute("CREATE TABLE public.meters (id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),"
               " organization_id uuid NOT NULL REFERENCES public.organizations(id), name text NOT NULL)")
"""
PLAIN_SECOND_DOWN = """
    op.execute("DROP TABLE public.meters")
"""


def make_plain_repo(tmp: Path) -> Path:
    from tests.support.live_repo import revision

    repo = make_repo(tmp)
    versions = repo / "api" / "alembic" / "versions"
    (versions / "0001_base.py").write_text(revision("0001base", None, PLAIN_FIRST_UP, PLAIN_FIRST_DOWN))
    (versions / "0002_notes.py").write_text(revision("0002notes", "0001base", PLAIN_SECOND_UP, PLAIN_SECOND_DOWN))
    return repo


def test_a_plain_postgres_history_runs_without_the_supabase_emulation(
    tmp_path: Path, pg_server: PostgresServer
) -> None:
    repo = make_plain_repo(tmp_path)
    options = CheckOptions(repo=repo, database_url=pg_server.admin_url)
    verification, findings = run_live(repo, DelegateConfig(timeout_seconds=60), options)
    assert [f for f in findings if f.severity == "error"] == [], findings
    statuses = {s.name: s for s in verification.steps}
    assert statuses["upgrade"].status is StepStatus.PASSED and statuses["downgrade"].status is StepStatus.PASSED
    assert statuses["rls matrix"].status is StepStatus.SKIPPED and "target postgres" in statuses["rls matrix"].detail
    [note] = [n for n in verification.notes if n.startswith("target:")]
    assert note.startswith("target: postgres (detected: no revision or policy names auth.users")


def test_the_same_history_under_the_emulation_fails_its_first_upgrade(
    tmp_path: Path, pg_server: PostgresServer
) -> None:
    # What the live check did before the target was resolved: the emulation's uuid-ossp is already there.
    repo = make_plain_repo(tmp_path)
    options = CheckOptions(repo=repo, database_url=pg_server.admin_url)
    verification, findings = run_live(repo, DelegateConfig(timeout_seconds=60, target="supabase"), options)
    [failed] = [f for f in findings if f.rule == "upgrade-failed"]
    assert "already exists" in failed.message
    assert any(n.startswith("target: supabase (target = 'supabase' in the config)") for n in verification.notes)


def test_target_postgres_on_the_example_turns_the_emulation_off(tmp_path: Path, pg_server: PostgresServer) -> None:
    from dataclasses import replace

    from orchestrator.config import load_config
    from tests.support.example_repo import make_example_repo

    repo = make_example_repo(tmp_path, with_solution=True)
    cfg = replace(load_config(repo), target="postgres")
    verification, findings = run_live(repo, cfg, CheckOptions(repo=repo, database_url=pg_server.admin_url))
    # The example's history references auth.users: without the emulation there is no auth schema to reference.
    [failed] = [f for f in findings if f.rule == "upgrade-failed"]
    assert failed.file == "api/alembic/versions/001_initial_schema.py" and "auth" in failed.message
    assert "target: postgres (target = 'postgres' in [tool.delegate])" in verification.notes
    [base] = [s for s in verification.steps if s.name == "base template"]
    assert base.status is StepStatus.FAILED


def test_a_plain_template_has_no_supabase_emulation(pg_server: PostgresServer) -> None:
    from orchestrator.pg import ensure_template
    from orchestrator.pg.scratch import template_name

    key = "plain-postgres-test"
    assert template_name(key, supabase=False) != template_name(key)
    plain = ensure_template(pg_server, key, lambda url: None, supabase=False)
    with ScratchDatabase(pg_server, template=plain) as db, psycopg.connect(db.url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = 'auth'").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'uuid-ossp'").fetchone() == (0,)
