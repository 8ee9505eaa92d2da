"""The live half of `delegate check` on tiny Alembic repos with one planted fault each, on a real PostgreSQL."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from orchestrator.check import CheckOptions
from orchestrator.config import DelegateConfig
from orchestrator.errors import InputError
from orchestrator.pg import PostgresServer
from orchestrator.report import Finding, StepStatus, Verification
from orchestrator.verify.live import run_live

pytestmark = pytest.mark.postgres

ENV_PY = '''
import os
from alembic import context
from sqlalchemy import create_engine, pool

config = context.config


def url():
    raw = os.environ.get("DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    return raw.replace("postgresql://", "postgresql+psycopg://", 1)


if context.is_offline_mode():
    context.configure(url=url(), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = create_engine(url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
'''

INI = """
[alembic]
script_location = %(here)s/alembic
sqlalchemy.url = postgresql+psycopg://nobody@invalid/none
"""

# The base: a profiles table owned through user_id, with owner-only policies.
BASE_UP = """
    op.execute("CREATE TABLE public.profiles (id uuid PRIMARY KEY DEFAULT gen_random_uuid(),"
               " user_id uuid NOT NULL REFERENCES auth.users(id), name text NOT NULL)")
    op.execute("ALTER TABLE public.profiles ENABLE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY profiles_owner ON public.profiles FOR ALL TO authenticated"
               " USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid())")
"""
BASE_DOWN = """
    op.execute("DROP TABLE public.profiles")
"""

# The feature, done right: notes owned through user_id, owner-only policies, a unique title per user.
GOOD_UP = """
    op.execute("CREATE TYPE public.note_kind AS ENUM ('plain', 'todo')")
    op.execute("CREATE TABLE public.notes (id uuid PRIMARY KEY DEFAULT gen_random_uuid(),"
               " user_id uuid NOT NULL REFERENCES auth.users(id), title text NOT NULL,"
               " kind public.note_kind NOT NULL DEFAULT 'plain', UNIQUE (user_id, title))")
    op.execute("CREATE INDEX notes_user_id_idx ON public.notes (user_id)")
    op.execute("ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY notes_owner ON public.notes FOR ALL TO authenticated"
               " USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid())")
"""
GOOD_DOWN = """
    op.execute("DROP TABLE public.notes")
    op.execute("DROP TYPE public.note_kind")
"""


def revision(rev: str, down: str | None, up: str, down_body: str) -> str:
    return (
        f'"""{rev}"""\nfrom alembic import op\n\nrevision = {rev!r}\ndown_revision = {down!r}\n\n\n'
        f"def upgrade():\n{textwrap.indent(textwrap.dedent(up).strip(), '    ')}\n\n\n"
        f"def downgrade():\n{textwrap.indent(textwrap.dedent(down_body).strip(), '    ')}\n"
    )


def make_repo(
    tmp: Path,
    up: str = GOOD_UP,
    down: str = GOOD_DOWN,
    seeds: str | None = None,
    tests: str | None = None,
    models: str | None = None,
    env_py: str = ENV_PY,
) -> Path:
    """A minimal target repo: api/alembic.ini, api/alembic/env.py, a base revision and a feature revision."""
    versions = tmp / "api" / "alembic" / "versions"
    versions.mkdir(parents=True)
    (tmp / "api" / "alembic.ini").write_text(INI)
    (tmp / "api" / "alembic" / "env.py").write_text(env_py)
    (versions / "0001_base.py").write_text(revision("0001base", None, BASE_UP, BASE_DOWN))
    (versions / "0002_notes.py").write_text(revision("0002notes", "0001base", up, down))
    if seeds is not None:
        (tmp / "seeds").mkdir()
        (tmp / "seeds" / "010_notes.sql").write_text(seeds)
    if tests is not None:
        (tmp / "api" / "tests" / "migrations").mkdir(parents=True)
        (tmp / "api" / "tests" / "migrations" / "test_notes.py").write_text(tests)
    if models is not None:
        (tmp / "api" / "app").mkdir()
        (tmp / "api" / "app" / "__init__.py").write_text("")
        (tmp / "api" / "app" / "models.py").write_text(models)
    return tmp


def check(
    repo: Path, server: PostgresServer, timeout: float = 60, **kw: object
) -> tuple[Verification, list[Finding]]:
    cfg = DelegateConfig(timeout_seconds=timeout)
    options = CheckOptions(repo=repo, since="0001base", database_url=server.admin_url, **kw)  # type: ignore[arg-type]
    return run_live(repo, cfg, options)


def rules(findings: list[Finding]) -> set[str]:
    return {f.rule for f in findings}


def step(verification: Verification, name: str) -> StepStatus:
    return next(s.status for s in verification.steps if s.name == name)


@pytest.fixture(autouse=True)
def no_scratch_left(pg_server: PostgresServer):
    yield
    with pg_server.admin_connection() as conn:
        left = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'delegate\\_scratch%%'").fetchall()
    assert not left, f"scratch databases left behind: {left}"


def test_a_clean_feature_passes_every_step(tmp_path: Path, pg_server: PostgresServer) -> None:
    seeds = "INSERT INTO auth.users (id, email) VALUES ('00000000-0000-0000-0000-000000000001', 'a@x.test')" \
        " ON CONFLICT DO NOTHING;\nINSERT INTO public.notes (user_id, title) VALUES" \
        " ('00000000-0000-0000-0000-000000000001', 'hello') ON CONFLICT (user_id, title) DO NOTHING;\n"
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
