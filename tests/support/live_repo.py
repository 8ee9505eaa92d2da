"""Tiny Alembic target repos for the live tests: an env.py that takes DATABASE_URL, a base revision (profiles, owner
policies) and a feature revision (notes) that tests replace with a planted fault."""

from __future__ import annotations

import textwrap
from pathlib import Path

ENV_PY = """
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
"""

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
