"""Refuse to migrate any database but the scratch one delegate created.

Loaded by the Alembic driver and the stairway worker in the target repo's interpreter (standard library and alembic
only). delegate hands env.py the scratch database as `sqlalchemy.url` and DATABASE_URL; an env.py that builds its
URL from something else (app settings, POSTGRES_HOST and friends, a .env file) would upgrade and downgrade
whatever that names, such as a developer's own database. Before Alembic touches a connection (its version table
included), the guard compares the database the connection is really on with DELEGATE_SCRATCH_DATABASE and raises
WrongDatabase when they differ.
"""

from __future__ import annotations

import os
from typing import Any

ENV_NAME = "DELEGATE_SCRATCH_DATABASE"


class WrongDatabase(RuntimeError):
    """env.py connected somewhere else than the scratch database; nothing was run there."""


def connected_database(connection: Any) -> str | None:
    """The name of the database `connection` (a SQLAlchemy Connection) is on, without running a query (a query
    would open a transaction, and Alembic would then leave committing to the caller)."""
    try:
        raw = connection.connection.dbapi_connection
        name = getattr(getattr(raw, "info", None), "dbname", None)  # psycopg 3, psycopg2 >= 2.8
        if isinstance(name, str) and name:
            return name
    except Exception:  # noqa: BLE001, S110 - an unusual driver: fall back to the URL it was opened with
        pass
    try:
        name = connection.engine.url.database
    except Exception:  # noqa: BLE001
        return None
    return name if isinstance(name, str) and name else None


def check(connection: Any) -> None:
    expected = os.environ.get(ENV_NAME)
    if not expected or connection is None:
        return
    actual = connected_database(connection)
    if actual is not None and actual != expected:
        raise WrongDatabase(
            f"env.py connected to database {actual!r}, not to the scratch database {expected!r} that delegate "
            "gave it as sqlalchemy.url and DATABASE_URL; nothing was run there"
        )


def install() -> None:
    """Check every online MigrationContext when it is made (before the version table is read or created)."""
    from alembic.runtime import migration

    original_init = migration.MigrationContext.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        if not self.as_sql:
            check(self.connection)

    migration.MigrationContext.__init__ = init  # type: ignore[method-assign]
