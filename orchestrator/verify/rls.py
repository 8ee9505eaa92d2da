"""The RLS matrix: who (anon, two signed-in users, service_role) can read and change whose rows, table by table."""

from __future__ import annotations

import json
from typing import Any, Literal

import psycopg
from psycopg import sql
from pydantic import BaseModel

from orchestrator.verification import RlsCell
from orchestrator.verify.rows import RowError, RowSynthesizer, TableInfo, split_name

Observed = Literal["allow", "deny", "error"]
_DENIED = ("42501",)  # insufficient_privilege: missing GRANT, and "new row violates row-level security policy"


class Actor(BaseModel):
    label: str  # anon | authenticated:A | authenticated:B | service_role
    role: str
    user: str | None = None  # the auth.users id in the JWT


def table_has_rls(conn: psycopg.Connection[Any], qualified: str) -> bool:
    schema, name = split_name(qualified)
    row = conn.execute(
        "SELECT c.relrowsecurity FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = %s",
        (schema, name),
    ).fetchone()
    return bool(row and row[0])


def expected_for(actor: Actor, action: str, owned: bool, public_read: bool) -> Literal["allow", "deny", "either"]:
    """The default expectation (documented in the README): owners only, anon reads nothing unless public, service all.

    A table that is neither owner-scoped nor declared public-read is expected private: only service_role reaches it.
    Whether owners may delete their own rows is the app's choice (soft deletes, kept history): either is fine.
    """
    if actor.role == "service_role":
        return "allow"
    if action.startswith("select") and public_read:
        return "allow"
    if actor.role == "authenticated" and owned and action == "delete_own":
        return "either"
    if actor.role == "authenticated" and owned and action.endswith("_own"):
        return "allow"
    return "deny"


class RlsMatrix:
    """Runs every attempt in a savepoint of one transaction that is rolled back: the database is left as found."""

    def __init__(self, conn: psycopg.Connection[Any], owner_columns: list[str]) -> None:
        self.conn = conn
        self.owner_columns = owner_columns

    def run(self, tables: list[str], public_read: set[str]) -> list[RlsCell]:
        cells: list[RlsCell] = []
        for table in tables:
            try:
                cells += self._table(table, table in public_read or table.split(".")[-1] in public_read)
            finally:
                self.conn.rollback()
        return cells

    def _table(self, table: str, public_read: bool) -> list[RlsCell]:
        synth = RowSynthesizer(self.conn, self.owner_columns)
        owned = synth.owner_path(table) is not None
        actors = [Actor(label="anon", role="anon")]
        try:
            user_a, user_b = synth.new_user(), synth.new_user()
            actors += [
                Actor(label="authenticated:A", role="authenticated", user=user_a),
                Actor(label="authenticated:B", role="authenticated", user=user_b),
                Actor(label="service_role", role="service_role"),
            ]
            rows = {
                user_a: synth.insert(table, owner=user_a if owned else None),
                user_b: synth.insert(table, owner=user_b if owned else None),
            }
        except RowError as exc:
            # A table the synthesizer cannot fill still gets its cells, each saying why.
            return [
                RlsCell(table=table, actor=label, action=action, expected="deny", observed="error", detail=str(exc))
                for label in ("anon", "authenticated:A", "authenticated:B", "service_role")
                for action in ("select", "insert", "update", "delete")
            ]
        info = synth.describe(table)
        cells: list[RlsCell] = []
        for actor in actors:
            if actor.role == "authenticated" and owned:
                assert actor.user is not None
                other = user_b if actor.user == user_a else user_a
                plan = [(f"{verb}_own", actor.user) for verb in ("select", "insert", "update", "delete")]
                plan += [(f"{verb}_other", other) for verb in ("select", "insert", "update", "delete")]
            else:
                plan = [(verb, user_a) for verb in ("select", "insert", "update", "delete")]
            for action, target in plan:
                observed, detail = self._attempt(synth, info, actor, action, rows[target], target if owned else None)
                cells.append(
                    RlsCell(
                        table=table,
                        actor=actor.label,
                        action=action,
                        expected=expected_for(actor, action, owned, public_read),
                        observed=observed,
                        detail=detail,
                    )
                )
        return cells

    def _become(self, actor: Actor) -> None:
        claims: dict[str, Any] = {"role": actor.role}
        if actor.user:
            claims |= {"sub": actor.user, "aud": "authenticated", "email": f"{actor.user[:8]}@example.test"}
        self.conn.execute(
            "SELECT set_config('request.jwt.claims', %s, true), set_config('request.jwt.claim.sub', %s, true),"
            " set_config('request.jwt.claim.role', %s, true)",
            (json.dumps(claims), actor.user or "", actor.role),
        )
        # SET LOCAL inside the transaction: RLS applies to the API role, never to us (a superuser bypasses it).
        self.conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(actor.role)))

    def _attempt(
        self,
        synth: RowSynthesizer,
        info: TableInfo,
        actor: Actor,
        action: str,
        row: dict[str, Any],
        owner: str | None,
    ) -> tuple[Observed, str]:
        verb = action.split("_")[0]
        self.conn.execute("SAVEPOINT delegate_rls")
        try:
            where = sql.SQL("ctid = {}::tid").format(sql.Literal(row["_ctid"]))
            if verb == "insert":
                # Prepare a valid row (and its parents) as ourselves, take it out again, then let the actor insert it.
                # The owner's existing row goes first (rolled back with the savepoint): a UNIQUE (user_id) would
                # otherwise make any second row fail for a reason that has nothing to do with RLS.
                self.conn.execute(sql.SQL("DELETE FROM {} WHERE {}").format(info.ident, where))
                fresh = synth.insert(info.qualified, owner=owner)
                self.conn.execute(
                    sql.SQL("DELETE FROM {} WHERE ctid = {}::tid").format(info.ident, sql.Literal(fresh["_ctid"]))
                )
                columns = [c.name for c in info.columns if not (c.generated or c.identity)]
                values = {k: v for k, v in fresh.items() if k in columns}
                self._become(actor)
                self.conn.execute(
                    sql.SQL("INSERT INTO {} ({}) SELECT {} FROM jsonb_populate_record(NULL::{}, {}::jsonb) r").format(
                        info.ident,
                        sql.SQL(", ").join(sql.Identifier(c) for c in values),
                        sql.SQL(", ").join(sql.SQL("r.{}").format(sql.Identifier(c)) for c in values),
                        info.ident,
                        sql.Literal(json.dumps(values)),
                    )
                )
                return "allow", ""
            self._become(actor)
            if verb == "select":
                got = self.conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE {}").format(info.ident, where))
                count = (got.fetchone() or (0,))[0]
                return ("allow" if count else "deny"), ""
            if verb == "update":
                column = next(c.name for c in info.columns if not (c.generated or c.identity))
                cur = self.conn.execute(
                    sql.SQL("UPDATE {} SET {} = {} WHERE {}").format(
                        info.ident, sql.Identifier(column), sql.Identifier(column), where
                    )
                )
                return ("allow" if cur.rowcount else "deny"), ""
            cur = self.conn.execute(sql.SQL("DELETE FROM {} WHERE {}").format(info.ident, where))
            return ("allow" if cur.rowcount else "deny"), ""
        except RowError as exc:
            return "error", str(exc)
        except psycopg.OperationalError:
            raise
        except psycopg.Error as exc:
            message = (str(exc).strip().splitlines() or [""])[0]
            if exc.sqlstate in _DENIED:
                return "deny", message
            return "error", message
        finally:
            self.conn.execute("ROLLBACK TO SAVEPOINT delegate_rls")
