"""Gaps a planted bug slipped through (issue 15), on a real PostgreSQL: the RLS matrix, the seeds step, a fingerprint."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from orchestrator.pg import ScratchDatabase
from orchestrator.verify.fingerprint import SchemaFingerprint
from orchestrator.verify.rls import RlsMatrix
from orchestrator.verify.seeds import CountChange, run_seeds_twice

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("no_scratch_left")]

# Readable by everyone (a public feed), owned through user_id, and (the leak) updatable and deletable by anyone.
POSTS = """
CREATE TABLE public.posts (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                           user_id uuid NOT NULL REFERENCES auth.users (id), body text NOT NULL);
ALTER TABLE public.posts ENABLE ROW LEVEL SECURITY;
CREATE POLICY posts_read ON public.posts FOR SELECT USING (true);
CREATE POLICY posts_write ON public.posts FOR INSERT TO authenticated WITH CHECK (user_id = auth.uid());
CREATE POLICY posts_own ON public.posts FOR DELETE TO authenticated USING (user_id = auth.uid());
"""


def matrix(url: str, ddl: str) -> dict[tuple[str, str], tuple[str, str]]:
    """(actor, action) -> (expected, observed) for public.posts, declared public-read."""
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(ddl.encode())
    with psycopg.connect(url) as conn:
        cells = RlsMatrix(conn, owner_columns=["user_id"]).run(["public.posts"], public_read={"public.posts"})
    return {(c.actor, c.action): (c.expected, c.observed) for c in cells}


def test_a_public_read_table_that_anyone_signed_in_may_update_is_a_leak(scratch_db: ScratchDatabase) -> None:
    leak = POSTS + "CREATE POLICY posts_edit ON public.posts FOR UPDATE TO authenticated USING (true);\n"
    cells = matrix(scratch_db.url, leak)
    assert cells[("authenticated:A", "update_other")] == ("deny", "allow")
    assert cells[("authenticated:B", "update_other")] == ("deny", "allow")
    assert cells[("authenticated:A", "update_own")] == ("allow", "allow")
    assert cells[("authenticated:A", "select_other")] == ("allow", "allow")  # public read: expected
    assert cells[("authenticated:A", "delete_other")] == ("deny", "deny")


def test_a_public_read_table_that_anyone_signed_in_may_delete_from_is_a_leak(scratch_db: ScratchDatabase) -> None:
    leak = POSTS + "CREATE POLICY posts_purge ON public.posts FOR DELETE TO authenticated USING (true);\n"
    cells = matrix(scratch_db.url, leak)
    assert cells[("authenticated:A", "delete_other")] == ("deny", "allow")
    assert cells[("authenticated:B", "delete_other")] == ("deny", "allow")
    assert cells[("authenticated:A", "update_other")] == ("deny", "deny")


def test_every_signed_in_actor_gets_all_eight_cells_on_an_owned_table(scratch_db: ScratchDatabase) -> None:
    cells = matrix(scratch_db.url, POSTS)
    verbs = ("select", "insert", "update", "delete")
    for actor in ("authenticated:A", "authenticated:B"):
        assert {a for (who, a) in cells if who == actor} == {f"{v}_{w}" for v in verbs for w in ("own", "other")}
    for actor in ("anon", "service_role"):
        assert {a for (who, a) in cells if who == actor} == set(verbs)


# -- the seeds step ------------------------------------------------------------------------------------------------


def seeds(tmp_path: Path, url: str, files: dict[str, str]) -> list[CountChange]:
    paths = []
    for name, text in files.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        paths.append((path, f"seeds/{name}"))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.tags (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text)")
        outcome = run_seeds_twice(conn, paths, [], ["public"])
    assert outcome.failures == []
    return outcome.changed


def test_a_seed_that_adds_users_twice_is_reported(tmp_path: Path, scratch_db: ScratchDatabase) -> None:
    users = (
        "INSERT INTO auth.users (id, email) SELECT id, 'demo-' || id || '@example.test' FROM gen_random_uuid() id;\n"
    )
    changed = seeds(tmp_path, scratch_db.url, {"010_users.sql": users})
    assert [(c.file, c.table, c.after - c.before) for c in changed] == [("seeds/010_users.sql", "auth.users", 1)]


def test_an_idempotent_second_file_is_not_blamed_for_the_first(tmp_path: Path, scratch_db: ScratchDatabase) -> None:
    files = {
        "010_tags.sql": "INSERT INTO public.tags (name) VALUES ('new');\n",
        "020_users.sql": (
            "INSERT INTO auth.users (id, email) VALUES ('00000000-0000-0000-0000-0000000000a1', 'a@example.test')"
            " ON CONFLICT DO NOTHING;\n"
        ),
        "030_tags.sql": "INSERT INTO public.tags (name) VALUES ('again');\n",
    }
    changed = seeds(tmp_path, scratch_db.url, files)
    assert [(c.file, c.table, c.before, c.after) for c in changed] == [
        ("seeds/010_tags.sql", "public.tags", 2, 3),
        ("seeds/030_tags.sql", "public.tags", 3, 4),
    ]


# -- the fingerprint: the attributes a careless downgrade changes are read from the catalog -------------------------


def test_the_fingerprint_sees_a_dropped_not_null_a_changed_default_and_type_and_rls(
    scratch_db: ScratchDatabase,
) -> None:
    with psycopg.connect(scratch_db.url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE public.profiles (id bigint PRIMARY KEY, name text NOT NULL DEFAULT 'anon');"
            "ALTER TABLE public.profiles ENABLE ROW LEVEL SECURITY"
        )
        expected = SchemaFingerprint.take(conn)
        conn.execute(
            "ALTER TABLE public.profiles ALTER COLUMN name DROP NOT NULL, ALTER COLUMN name SET DEFAULT 'nobody',"
            " ALTER COLUMN name TYPE varchar(40), DISABLE ROW LEVEL SECURITY"
        )
        actual = SchemaFingerprint.take(conn)
    assert sorted(d.message for d in actual.diff(expected)) == [
        "column public.profiles.name differs: default was 'anon'::text, is 'nobody'::character varying",
        "column public.profiles.name differs: not null was true, is false",
        "column public.profiles.name differs: type was text, is character varying(40)",
        "table public.profiles differs: row level security was true, is false",
    ]


def test_the_fingerprint_leaves_no_transaction_open_on_a_connection_it_is_given(scratch_db: ScratchDatabase) -> None:
    with psycopg.connect(scratch_db.url) as conn:
        SchemaFingerprint.take(conn)
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
