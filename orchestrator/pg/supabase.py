"""Apply the Supabase emulation (roles, auth schema, grants; shipped as supabase.sql) to a database."""

from __future__ import annotations

from functools import cache
from importlib import resources

import psycopg

from orchestrator.errors import InputError
from orchestrator.pg.address import ServerAddress, _first_line

# Part of every template key: bump it whenever supabase.sql changes so cached templates are rebuilt.
SUPABASE_EMULATION_VERSION = "2"


@cache
def supabase_sql() -> str:
    """The emulation script, read from the package data."""
    return resources.files("orchestrator.pg").joinpath("supabase.sql").read_text(encoding="utf-8")


def apply_supabase_emulation(url: str) -> None:
    """Create Supabase's roles, auth schema, auth.uid()/role()/email()/jwt() and default grants in the database at `url`."""
    description = ServerAddress.parse(url).description
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(supabase_sql().encode())
            _require_role_switching(conn, description)
    except psycopg.errors.InsufficientPrivilege as exc:
        raise InputError(
            f"cannot set up the Supabase roles and auth schema at {description}: {_first_line(str(exc))}",
            "create the roles anon, authenticated, service_role (BYPASSRLS) and authenticator once as a superuser, "
            "or use a role with CREATEROLE",
        ) from None
    except psycopg.OperationalError as exc:
        raise InputError(f"cannot connect to {description}: {_first_line(str(exc))}") from None


API_ROLES = ("anon", "authenticated", "service_role")


def _require_role_switching(conn: psycopg.Connection, description: str) -> None:
    """RLS checks run `SET LOCAL ROLE authenticated`; fail now, clearly, if this login may not switch roles."""
    row = conn.execute(
        "SELECT current_user, array_agg(r) FILTER (WHERE NOT pg_has_role(current_user, r, 'MEMBER')) "
        "FROM unnest(%s::text[]) AS r",
        (list(API_ROLES),),
    ).fetchone()
    if row is None or not row[1]:
        return
    user, missing = row[0], ", ".join(row[1])
    raise InputError(
        f"the role {user!r} at {description} may not SET ROLE to {missing}, which the RLS checks need",
        f"as a superuser: GRANT {missing} TO {user}; or use a superuser URL for a scratch server",
    )
