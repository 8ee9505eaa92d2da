"""RLS, seed and content rules: the feature's tables and policies, seeds run twice, secrets, PII, the data model."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from orchestrator.checks.rules.pii_undocumented import pii_kind
from orchestrator.config import DelegateConfig
from orchestrator.spec import parse_data_model
from tests.support.rules import run_rule

POLICIES = "api/sql/policies/lesson_notes.sql"
MIGRATION = "api/sql/migration.sql"
SEED = "seeds/dev/notes.sql"

TABLE = "CREATE TABLE public.notes (id bigint PRIMARY KEY, owner uuid NOT NULL, body text);\n"
ENABLE = "ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;\n"
OWN = "(select auth.uid()) = owner"


def test_rls_not_enabled_sees_the_policy_file() -> None:
    [v] = run_rule("rls-not-enabled", {MIGRATION: TABLE})
    assert v.file == MIGRATION and v.line == 1 and "public.notes" in v.message
    assert run_rule("rls-not-enabled", {MIGRATION: TABLE, POLICIES: ENABLE}) == []
    assert run_rule("rls-not-enabled", {MIGRATION: TABLE.replace("public.notes", "private.notes")}) == []
    assert run_rule("rls-not-enabled", {MIGRATION: "CREATE TEMP TABLE scratch (a int);"}) == []


def test_rls_no_policy() -> None:
    [v] = run_rule("rls-no-policy", {MIGRATION: TABLE + ENABLE})
    assert v.line == 2
    policy = f"CREATE POLICY p ON public.notes FOR SELECT TO authenticated USING ({OWN});\n"
    assert run_rule("rls-no-policy", {MIGRATION: TABLE + ENABLE, POLICIES: policy}) == []


def test_rls_role_coverage_public_covers_every_role() -> None:
    only_service = "CREATE POLICY p ON public.notes FOR ALL TO service_role USING (true);\n"
    cfg = DelegateConfig(expected_roles=["anon", "authenticated", "service_role"])
    found = run_rule("rls-role-coverage", {MIGRATION: TABLE + ENABLE + only_service}, config=cfg)
    # service_role bypasses RLS: it needs no policy, even when listed.
    assert [v.message.split(" should")[0] for v in found] == ["anon", "authenticated"]
    assert all("(expected_roles in [tool.delegate])" in v.message for v in found)
    to_public = f"CREATE POLICY p ON public.notes FOR SELECT USING ({OWN});\n"
    assert run_rule("rls-role-coverage", {MIGRATION: TABLE + ENABLE + to_public}, config=cfg) == []


# pscweb3-like: owner-scoped tables with RLS on and policies for authenticated only.
OWNED = (
    "CREATE TABLE public.profiles (id uuid PRIMARY KEY REFERENCES auth.users (id), display_name text);\n"
    "ALTER TABLE public.profiles ENABLE ROW LEVEL SECURITY;\n"
)


def test_deny_by_default_is_not_a_finding() -> None:
    # RLS on, owner policies for authenticated, nothing for anon: anon is denied, as it should be.
    own = "CREATE POLICY profiles_own ON public.profiles FOR ALL TO authenticated USING (id = auth.uid());\n"
    assert run_rule("rls-role-coverage", {MIGRATION: OWNED + own}) == []


def test_the_owner_who_cannot_reach_their_rows_is_reported_naming_the_table() -> None:
    service = "CREATE POLICY profiles_service ON public.profiles FOR ALL TO service_role USING (true);\n"
    [v] = run_rule("rls-role-coverage", {MIGRATION: OWNED + service})
    assert v.message.startswith("authenticated should reach public.profiles (owners sign in as authenticated (id))")
    assert v.fix and "ON public.profiles" in v.fix and "lesson_notes" not in v.fix and "= id" in v.fix


def test_a_public_read_table_needs_a_policy_for_anon() -> None:
    catalogue = (
        "CREATE TABLE public.courses (id bigint PRIMARY KEY, title text);\n"
        "ALTER TABLE public.courses ENABLE ROW LEVEL SECURITY;\n"
        "CREATE POLICY courses_read ON public.courses FOR SELECT TO authenticated USING (true);\n"
    )
    assert run_rule("rls-role-coverage", {MIGRATION: catalogue}) == []  # not declared public: nothing expected
    cfg = DelegateConfig(public_read_tables=["courses"])
    [v] = run_rule("rls-role-coverage", {MIGRATION: catalogue}, config=cfg)
    assert v.message.startswith("anon should reach public.courses (the table is declared public-read)")
    assert v.fix and "CREATE POLICY courses_anon_select ON public.courses FOR SELECT TO anon USING (true)" in v.fix
    anon_none = "CREATE POLICY courses_anon ON public.courses FOR SELECT TO anon USING (false);\n"
    assert len(run_rule("rls-role-coverage", {MIGRATION: catalogue + anon_none}, config=cfg)) == 1


def test_a_select_policy_granting_more_than_the_owner_model_is_reported() -> None:
    leak = "CREATE POLICY profiles_read ON public.profiles FOR SELECT TO authenticated USING (true);\n"
    [v] = run_rule("rls-role-coverage", {MIGRATION: OWNED + leak})
    assert (
        v.line == 3
        and 'SELECT policy "profiles_read" on public.profiles lets authenticated read every row' in v.message
    )
    assert v.fix and "USING ((select auth.uid()) = id)" in v.fix
    # Declared public-read, the same policy is the plan (anon is then expected to read too).
    public = DelegateConfig(public_read_tables=["profiles"])
    found = run_rule("rls-role-coverage", {MIGRATION: OWNED + leak}, config=public)
    assert [v.message.split(" should")[0] for v in found] == ["anon"]


@pytest.mark.parametrize(
    ("policy", "fires"),
    [
        ("FOR INSERT TO anon WITH CHECK (true)", True),
        ("FOR UPDATE TO authenticated USING (1 = 1)", True),
        (f"FOR UPDATE TO authenticated USING ({OWN}) WITH CHECK (true)", True),
        ("FOR DELETE USING (true)", True),
        ("FOR ALL TO authenticated, service_role USING ('t'::boolean)", True),
        ("FOR ALL TO service_role USING (true) WITH CHECK (true)", False),
        ("FOR SELECT TO anon USING (true)", False),
        (f"FOR ALL TO authenticated USING ({OWN}) WITH CHECK ({OWN})", False),
        ("AS RESTRICTIVE FOR ALL TO authenticated USING (true)", False),
    ],
)
def test_permissive_write_policy(policy: str, fires: bool) -> None:
    sql = f"CREATE POLICY p ON public.notes {policy};\n"
    assert bool(run_rule("permissive-write-policy", {POLICIES: sql})) is fires


def test_update_without_select_policy() -> None:
    update = f"CREATE POLICY u ON public.notes FOR UPDATE TO authenticated, anon USING ({OWN});\n"
    [v] = run_rule("update-without-select-policy", {POLICIES: update})
    assert "anon, authenticated" in v.message
    select_auth = f"CREATE POLICY s ON public.notes FOR SELECT TO authenticated USING ({OWN});\n"
    [v] = run_rule("update-without-select-policy", {POLICIES: update + select_auth})
    assert "for anon:" in v.message
    select_all = f"CREATE POLICY s ON public.notes FOR ALL USING ({OWN});\n"
    assert run_rule("update-without-select-policy", {POLICIES: update + select_all}) == []


def test_grant_to_public() -> None:
    assert len(run_rule("grant-to-public", "GRANT EXECUTE ON FUNCTION public.f() TO PUBLIC;")) == 1
    assert len(run_rule("grant-to-public", "ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO PUBLIC;")) == 1
    assert run_rule("grant-to-public", "REVOKE ALL ON public.notes FROM PUBLIC;") == []
    assert run_rule("grant-to-public", "GRANT SELECT ON public.notes TO authenticated;") == []


def test_security_definer_search_path() -> None:
    fn = "CREATE FUNCTION public.f() RETURNS int LANGUAGE sql SECURITY DEFINER {opt} AS $$ SELECT 1 $$;\n"
    assert len(run_rule("security-definer-search-path", fn.format(opt=""))) == 1
    assert run_rule("security-definer-search-path", fn.format(opt="SET search_path = ''")) == []
    assert run_rule("security-definer-search-path", fn.format(opt="").replace("SECURITY DEFINER", "")) == []
    later = fn.format(opt="") + "ALTER FUNCTION public.f() SET search_path = pg_catalog, public;\n"
    assert run_rule("security-definer-search-path", later) == []


def test_seed_rules() -> None:
    assert len(run_rule("seed-not-idempotent", "INSERT INTO notes VALUES (1);", path=SEED)) == 1
    assert run_rule("seed-not-idempotent", "INSERT INTO notes VALUES (1);", path=MIGRATION) == []
    cleared = "DELETE FROM notes WHERE id = 1;\nINSERT INTO notes VALUES (1);"
    assert run_rule("seed-not-idempotent", cleared, path=SEED) == []
    truncated = "TRUNCATE notes;\nINSERT INTO notes VALUES (1);"
    assert run_rule("seed-not-idempotent", truncated, path=SEED) == []
    other_table = "DELETE FROM tags;\nINSERT INTO notes VALUES (1);"
    assert len(run_rule("seed-not-idempotent", other_table, path=SEED)) == 1
    upsert = "INSERT INTO notes VALUES (1) ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body;"
    assert run_rule("seed-not-idempotent", upsert, path=SEED) == []
    assert len(run_rule("seed-overwrites", upsert, path=SEED)) == 1
    ddl = "CREATE TEMP TABLE t (a int);\nDROP TABLE t;\nCREATE INDEX ix ON notes (a);\n"
    [v] = run_rule("seed-has-ddl", ddl, path=SEED)
    assert v.line == 3 and "CREATE INDEX" in v.message


@pytest.mark.parametrize(
    ("text", "fires"),
    [
        ("-- key sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWx\n", True),
        ("SELECT 'AKIAIOSFODNN7EXAMPLE';\n", True),
        ("-- ghp_0123456789abcdefghijABCDEFGHIJ012345\n", True),
        ("-----BEGIN RSA PRIVATE KEY-----\n", True),
        ("-- postgres://app:s3cr3t-Pa55@db.internal:5432/app\n", True),
        ("CREATE ROLE app LOGIN PASSWORD 'hunter2-prod';\n", True),
        ("-- eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2lnbmF0dXJlX3BhcnQ\n", True),
        ("CREATE ROLE app LOGIN PASSWORD '${APP_PASSWORD}';\n", False),
        ("-- postgres://app:<password>@db:5432/app\n", False),
        ("-- postgres://postgres:postgres@localhost:5432/postgres\n", False),
        ("-- https://docs.example.com/a:b@c is not a credential? no password part\n", False),
        ("SELECT 'task-manager';\n", False),
    ],
)
def test_secret_in_migration(text: str, fires: bool) -> None:
    found = run_rule("secret-in-migration", {POLICIES: "SELECT 1;\n" + text})
    assert bool(found) is fires
    for v in found:
        assert v.line == 2
        assert "hunter2" not in v.message and "s3cr3t" not in v.message and "sk-ant" not in v.message


@pytest.mark.parametrize(
    ("column", "kind"),
    [
        ("email", "email"),
        ("contact_email", "email"),
        ("home_phone", "phone number"),
        ("date_of_birth", "birth date"),
        ("street_address", "postal address"),
        ("ip_address", "IP address"),
        ("ssn", "national id"),
        ("last_name", "person's name"),
        ("email_verified", None),
        ("phone_count", None),
        ("title", None),
        ("zipline", None),
    ],
)
def test_pii_names(column: str, kind: str | None) -> None:
    assert pii_kind(column) == kind


DATA_MODEL = """# Data Model

### Note (new)

Table: `notes`.

| Field | Type | Constraints | Notes |
|-------|------|-------------|-------|
| id | bigint | PK | |
| owner | uuid | NOT NULL | |
| body | text | | |
| contact_email | text | nullable | PII |

### Lesson (existing)

Table: `lessons`.

| Field | Type | Constraints | Notes |
|-------|------|-------------|-------|
| debrief_notes | text | nullable | |
"""


def spec(data_model: str = DATA_MODEL, plan: str = "") -> SimpleNamespace:
    entities = parse_data_model(data_model)
    return SimpleNamespace(
        path=Path("/nonexistent/specs/001-notes"),
        number="001",
        slug="notes",
        entities=entities,
        pii_columns={f"{e.table}.{f.name}" for e in entities for f in e.fields if f.pii},
        data_model_md=data_model,
        plan_md=plan,
    )


def test_pii_undocumented() -> None:
    sql = "CREATE TABLE notes (id bigint, owner uuid, body text, contact_email text, phone text);"
    [v] = run_rule("pii-undocumented", {MIGRATION: sql}, spec=spec())
    assert "public.notes.phone" in v.message
    plan = "The `phone` column is personal data: kept 30 days."
    assert run_rule("pii-undocumented", {MIGRATION: sql}, spec=spec(plan=plan)) == []
    assert run_rule("pii-undocumented", {MIGRATION: sql}) == []  # no spec: nothing to compare with


def test_data_model_drift_both_ways() -> None:
    sql = (
        "CREATE TABLE notes (id bigint, owner uuid, contact_email text, created_at timestamptz, color text);\n"
        "ALTER TABLE lessons ADD COLUMN debrief_notes text;\n"
        "CREATE TABLE tags (id bigint);\n"
    )
    found = run_rule("data-model-drift", {MIGRATION: sql}, spec=spec())
    messages = sorted(v.message for v in found)
    assert len(found) == 3, messages
    assert any("field notes.body" in m for m in messages)
    assert any("public.notes.color" in m for m in messages)
    assert any("table public.tags" in m for m in messages)
    body = next(v for v in found if "notes.body" in v.message)
    assert body.file == "specs/001-notes/data-model.md" and body.line == 11


def test_data_model_drift_existing_entity_fields_may_exist_already() -> None:
    files = {
        "api/sql/000_base.sql": "CREATE TABLE lessons (id bigint, debrief_notes text);\n",
        MIGRATION: "CREATE TABLE notes (id bigint, owner uuid, body text, contact_email text);\n",
    }
    assert run_rule("data-model-drift", files, spec=spec()) == []


def test_policies_of_earlier_features_are_context_not_findings() -> None:
    old_policies = (
        "ALTER TABLE public.lessons ENABLE ROW LEVEL SECURITY;\n"
        "CREATE POLICY lessons_select ON public.lessons FOR SELECT TO authenticated USING (true);\n"
        "CREATE POLICY lessons_write ON public.lessons FOR INSERT TO authenticated WITH CHECK (true);\n"
    )
    new_policies = (
        "ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;\n"
        f"CREATE POLICY notes_select ON public.notes FOR SELECT TO authenticated USING ({OWN});\n"
        "CREATE POLICY lessons_update ON public.lessons FOR UPDATE TO authenticated USING (instructor = auth.uid());\n"
    )
    files = {
        "api/alembic/versions/e6a1c0f4b2d9_002_notes.py": (
            '"""002 notes"""\nfrom alembic import op\nrevision = "e6a1c0f4b2d9"\ndown_revision = None\n\n'
            f'def upgrade():\n    op.execute("{TABLE.strip()}")\n\ndef downgrade():\n    op.drop_table("notes")\n'
        ),
        "api/sql/policies/001_lessons.sql": old_policies,
        "api/sql/policies/002_notes.sql": new_policies,
    }
    feature = {"e6a1c0f4b2d9"}
    # The old file's blanket INSERT policy was judged with its own feature.
    assert run_rule("permissive-write-policy", files, feature_revisions=feature) == []
    # The new UPDATE policy on lessons sees the old file's SELECT policy.
    assert run_rule("update-without-select-policy", files, feature_revisions=feature) == []
    assert len(run_rule("permissive-write-policy", files)) == 1  # no feature: every file is judged
