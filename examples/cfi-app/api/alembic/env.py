"""Alembic environment of the CFI app: DATABASE_URL first, the app's models as the target metadata."""

from __future__ import annotations

import os
import sys
from logging.config import fileConfig
from pathlib import Path
from typing import Any

from sqlalchemy import engine_from_config, pool

from alembic import context

# The app package lives beside the alembic folder (api/app); make it importable whatever the cwd.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.models import Base  # noqa: E402  (after the sys.path line above)

config = context.config

if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata

# Supabase owns these schemas; the app's migrations never create or alter objects in them.
SUPABASE_SCHEMAS = {"auth", "storage", "realtime", "extensions", "graphql", "graphql_public", "vault"}


def database_url() -> str:
    """DATABASE_URL (libpq or SQLAlchemy form) if set, else alembic.ini's sqlalchemy.url."""
    url = os.environ.get("DATABASE_URL") or config.get_main_option("sqlalchemy.url") or ""
    # Supabase and most hosts hand out libpq URLs; SQLAlchemy needs the driver named.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Leave Supabase's own schemas (auth.users and friends) out of autogenerate."""
    return not (type_ == "table" and getattr(obj, "schema", None) in SUPABASE_SCHEMAS)


def run_migrations_offline() -> None:
    """Render the SQL without a database (alembic upgrade --sql)."""
    context.configure(
        url=database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        include_object=include_object,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on a live connection."""
    section = config.get_section(config.config_ini_section, {})
    section["sqlalchemy.url"] = database_url()
    connectable = engine_from_config(section, prefix="sqlalchemy.", poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_object=include_object,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        # A revision may call op.get_bind().commit(); commit again so the last version stamp is kept.
        connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
