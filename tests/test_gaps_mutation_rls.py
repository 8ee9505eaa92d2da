"""The RLS matrix, cell by cell and expectation by expectation (tests that kill mutants benchmarks/mutation.py found)."""

from __future__ import annotations

import psycopg
import pytest

from orchestrator.pg import ScratchDatabase
from orchestrator.verification import RlsCell
from orchestrator.verify.rls import Actor, RlsMatrix, expected_for, table_has_rls

ANON = Actor(label="anon", role="anon")
USER = Actor(label="authenticated:A", role="authenticated", user="00000000-0000-0000-0000-00000000000a")
SERVICE = Actor(label="service_role", role="service_role")


@pytest.mark.parametrize(
    ("actor", "action", "owned", "public_read", "expected"),
    [
        (SERVICE, "delete_other", True, False, "allow"),
        (SERVICE, "insert", False, False, "allow"),
        (ANON, "select", False, True, "allow"),
        (ANON, "select", False, False, "deny"),
        (ANON, "insert", False, True, "deny"),
        (USER, "select_other", True, True, "allow"),
        (USER, "select_other", True, False, "deny"),
        (USER, "select_own", True, False, "allow"),
        (USER, "insert_own", True, False, "allow"),
        (USER, "update_own", True, False, "allow"),
        (USER, "delete_own", True, False, "either"),
        (USER, "delete_own", False, False, "deny"),
        (USER, "update_own", False, False, "deny"),
        (USER, "update_other", True, True, "deny"),
        (USER, "delete_other", True, True, "deny"),
        (USER, "insert_other", True, False, "deny"),
        (USER, "select", False, False, "deny"),
        (ANON, "update_own", True, False, "deny"),
        (ANON, "delete_own", True, False, "deny"),
    ],
)  # fmt: skip
def test_expected_for(actor: Actor, action: str, owned: bool, public_read: bool, expected: str) -> None:
    assert expected_for(actor, action, owned, public_read) == expected


def run(url: str, ddl: str, tables: list[str], public_read: set[str] | None = None) -> list[RlsCell]:
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(ddl.encode())
    with psycopg.connect(url) as conn:
        return RlsMatrix(conn, owner_columns=["owner_id"]).run(tables, public_read or set())


OWNED = """
CREATE TABLE public.notes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                           owner_id uuid NOT NULL REFERENCES auth.users (id), body text NOT NULL);
ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY notes_owner ON public.notes FOR ALL TO authenticated
  USING (owner_id = auth.uid()) WITH CHECK (owner_id = auth.uid());
"""


@pytest.mark.postgres
@pytest.mark.usefixtures("no_scratch_left")
def test_an_owner_only_table_passes_every_cell_and_is_left_as_found(scratch_db: ScratchDatabase) -> None:
    cells = run(scratch_db.url, OWNED, ["public.notes"])
    assert [c for c in cells if not c.ok] == []
    seen = {(c.actor, c.action): c.observed for c in cells}
    assert seen[("authenticated:A", "select_own")] == "allow"
    assert seen[("authenticated:A", "insert_other")] == "deny"
    assert seen[("authenticated:B", "update_other")] == "deny"
    assert seen[("anon", "select")] == "deny" and seen[("service_role", "delete")] == "allow"
    assert all(c.table == "public.notes" for c in cells) and len(cells) == 2 * 4 + 2 * 8
    denied = next(c for c in cells if (c.actor, c.action) == ("authenticated:A", "insert_other"))
    assert "row-level security" in denied.detail
    with psycopg.connect(scratch_db.url) as conn:
        assert conn.execute("SELECT count(*) FROM public.notes").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM auth.users").fetchone() == (0,)
        assert table_has_rls(conn, "public.notes") and table_has_rls(conn, "notes")
        conn.execute("CREATE TABLE public.open (id int)")
        assert not table_has_rls(conn, "public.open") and not table_has_rls(conn, "public.nothing")


@pytest.mark.postgres
@pytest.mark.usefixtures("no_scratch_left")
def test_a_table_with_no_owner_is_private_and_a_public_read_one_is_named_by_its_bare_name(
    scratch_db: ScratchDatabase,
) -> None:
    ddl = (
        "CREATE TABLE public.plans (name text PRIMARY KEY);\n"
        "ALTER TABLE public.plans ENABLE ROW LEVEL SECURITY;\n"
        "CREATE POLICY plans_read ON public.plans FOR SELECT USING (true);\n"
        "CREATE TABLE public.secrets (name text PRIMARY KEY);\n"
        "ALTER TABLE public.secrets ENABLE ROW LEVEL SECURITY;\n"
    )
    cells = run(scratch_db.url, ddl, ["public.plans", "public.secrets"], public_read={"plans"})
    assert [c for c in cells if not c.ok] == []
    plans = {(c.actor, c.action): (c.expected, c.observed) for c in cells if c.table == "public.plans"}
    assert set(plans) == {(a, v) for a in ("anon", "authenticated:A", "authenticated:B", "service_role")
                          for v in ("select", "insert", "update", "delete")}  # fmt: skip
    assert plans[("anon", "select")] == ("allow", "allow")
    assert plans[("authenticated:B", "update")] == ("deny", "deny")
    secrets = {(c.actor, c.action): c.observed for c in cells if c.table == "public.secrets"}
    assert secrets[("anon", "select")] == "deny" and secrets[("service_role", "select")] == "allow"


@pytest.mark.postgres
@pytest.mark.usefixtures("no_scratch_left")
def test_a_table_no_row_can_be_made_for_gets_every_cell_as_an_error(scratch_db: ScratchDatabase) -> None:
    ddl = OWNED + "ALTER TABLE public.notes ADD CONSTRAINT long_body CHECK (length(body) > 500);\n"
    cells = run(scratch_db.url, ddl, ["public.notes"])
    assert len(cells) == 16 and {c.observed for c in cells} == {"error"} and {c.expected for c in cells} == {"deny"}
    assert "long_body" in cells[0].detail
    assert {(c.actor, c.action) for c in cells} == {
        (a, v) for a in ("anon", "authenticated:A", "authenticated:B", "service_role")
        for v in ("select", "insert", "update", "delete")
    }  # fmt: skip


@pytest.mark.postgres
@pytest.mark.usefixtures("no_scratch_left")
def test_an_error_that_is_not_a_denial_is_an_error_cell(scratch_db: ScratchDatabase) -> None:
    trigger = (
        "CREATE FUNCTION public.no_updates() RETURNS trigger LANGUAGE plpgsql AS"
        " $$BEGIN RAISE EXCEPTION 'notes are append-only'; END$$;\n"
        "CREATE TRIGGER notes_append_only BEFORE UPDATE ON public.notes FOR EACH ROW"
        " EXECUTE FUNCTION public.no_updates();\n"
    )
    cells = run(scratch_db.url, OWNED + trigger, ["public.notes"])
    update = next(c for c in cells if (c.actor, c.action) == ("authenticated:A", "update_own"))
    assert (update.observed, update.detail) == ("error", "notes are append-only")
    delete = next(c for c in cells if (c.actor, c.action) == ("authenticated:A", "delete_own"))
    assert delete.observed == "allow"  # the failed update was rolled back to its savepoint, the next cell goes on


@pytest.mark.postgres
@pytest.mark.usefixtures("no_scratch_left")
def test_becoming_an_actor_sets_the_claims_and_role_policies_read(scratch_db: ScratchDatabase) -> None:
    query = (
        "SELECT current_user, current_setting('request.jwt.claim.sub'), current_setting('request.jwt.claim.role'),"
        " current_setting('request.jwt.claims')::jsonb"
    )
    with psycopg.connect(scratch_db.url) as conn:
        matrix = RlsMatrix(conn, owner_columns=[])
        matrix._become(USER)
        role, sub, claim_role, claims = conn.execute(query).fetchone() or ()
        conn.rollback()
        matrix._become(ANON)
        anon = conn.execute(query).fetchone()
        conn.rollback()
    assert (role, sub, claim_role) == ("authenticated", USER.user, "authenticated")
    assert claims == {
        "role": "authenticated",
        "sub": USER.user,
        "aud": "authenticated",
        "email": "00000000@example.test",
    }
    assert anon == ("anon", "", "anon", {"role": "anon"})


@pytest.mark.postgres
@pytest.mark.usefixtures("no_scratch_left")
def test_the_other_user_is_the_other_one_whichever_id_sorts_first(
    scratch_db: ScratchDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uuid

    from orchestrator.verify import rows

    ids = iter([uuid.UUID(int=2**128 - 1), uuid.UUID(int=1)])  # user A's id sorts after user B's
    monkeypatch.setattr(rows.uuid, "uuid4", lambda: next(ids))
    cells = run(scratch_db.url, OWNED, ["public.notes"])
    assert [c for c in cells if not c.ok] == []
    seen = {(c.actor, c.action): c.observed for c in cells}
    assert seen[("authenticated:B", "update_other")] == "deny" and seen[("authenticated:B", "update_own")] == "allow"
