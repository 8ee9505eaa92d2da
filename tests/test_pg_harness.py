"""The PostgreSQL harness on a real server: URLs, errors, throwaway servers, scratch databases, templates, Supabase."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest
import sqlalchemy
from psycopg import sql

from orchestrator.errors import ExitCode, InputError
from orchestrator.pg import (
    PostgresServer,
    ScratchDatabase,
    ServerAddress,
    apply_supabase_emulation,
    drop_templates,
    ensure_template,
    open_server,
    sweep_stale,
    template_name,
)
from orchestrator.pg.binaries import BINDIR_ENV, NO_WHEEL_ENV
from orchestrator.pg.names import host_tag
from orchestrator.pg.server import NO_SKELETON_ENV, sweep_orphan_clusters

USER_A = "11111111-1111-1111-1111-111111111111"


# ---- addresses (no server needed) -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://app:s3cr%40t@db.example:6543/app",
        "postgres://app:s3cr%40t@db.example:6543/app",
        "postgresql://app:s3cr%40t@db.example:6543/app",
        "host=db.example port=6543 user=app password=s3cr@t dbname=app",
    ],
)
def test_url_forms_normalize_to_libpq_and_sqlalchemy(url: str) -> None:
    address = ServerAddress.parse(url)
    assert address.url() == "postgresql://app:s3cr%40t@db.example:6543/app"
    assert (
        address.url("other", scheme="postgresql+psycopg") == "postgresql+psycopg://app:s3cr%40t@db.example:6543/other"
    )
    assert "s3cr" not in address.description
    assert "***" in address.description


def test_description_hides_every_secret() -> None:
    address = ServerAddress.parse("postgresql://app:pw1@db.example/app?sslpassword=pw2&sslmode=require")
    assert "pw1" not in address.description and "pw2" not in address.description
    assert "sslmode=require" in address.description
    assert "sslpassword=pw2" in address.url()


def test_unix_socket_host_goes_to_the_query() -> None:
    address = ServerAddress.parse("postgresql:///app?host=/var/run/postgresql&port=5433")
    assert address.url("x") == "postgresql:///x?host=%2Fvar%2Frun%2Fpostgresql&port=5433"
    assert ServerAddress.parse(address.url("x")).host == "/var/run/postgresql"


def test_not_a_postgres_url_is_input_error() -> None:
    with pytest.raises(InputError, match="mysql"):
        ServerAddress.parse("mysql://root@localhost/app")


# ---- servers ----------------------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.postgres
def test_open_server_with_url(pg_server: PostgresServer) -> None:
    sqlalchemy_form = pg_server.address.url(scheme="postgresql+psycopg")
    with open_server(sqlalchemy_form) as server:
        assert server.version_num >= 130000
        assert server.admin_url.startswith("postgresql://")
        assert server.sqlalchemy_url_for("x").startswith("postgresql+psycopg://")
        assert server.url_for("x").endswith("/x")
        assert server.database_exists(server.address.dbname)
        assert not server.database_exists(f"delegate_missing_{secrets.token_hex(4)}")
    # Closing a server named by URL leaves it running.
    assert pg_server.database_exists(pg_server.address.dbname)


@pytest.mark.postgres
def test_url_naming_a_missing_database_uses_the_maintenance_database(pg_server: PostgresServer) -> None:
    missing = f"delegate_missing_{secrets.token_hex(4)}"
    with open_server(pg_server.url_for(missing)) as server:
        assert server.address.dbname == "postgres"
        assert not server.database_exists(missing)


def test_unreachable_url_is_input_error() -> None:
    port = _closed_port()
    with pytest.raises(InputError) as caught:
        open_server(f"postgresql://postgres:hunter2@127.0.0.1:{port}/postgres")
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message
    assert "refused" in message.lower()
    assert "hunter2" not in message
    assert caught.value.exit_code == ExitCode.BAD_INPUT


@pytest.mark.postgres
def test_role_without_createdb_is_input_error(pg_server: PostgresServer) -> None:
    role = f"delegate_test_nocreatedb_{os.getpid()}"
    password = secrets.token_hex(8)
    with pg_server.admin_connection() as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN NOCREATEDB PASSWORD {}").format(sql.Identifier(role), sql.Literal(password))
        )
    try:
        address = pg_server.address.model_copy(update={"user": role, "password": None})
        url = address.url().replace(f"{role}@", f"{role}:{password}@")
        with pytest.raises(InputError) as caught:
            open_server(url)
        assert role in str(caught.value)
        assert "CREATEDB" in str(caught.value)
        assert password not in str(caught.value)
    finally:
        with pg_server.admin_connection() as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


@pytest.mark.postgres
def test_role_that_cannot_switch_to_api_roles_is_input_error(pg_server: PostgresServer, supabase_template: str) -> None:
    # supabase_template made sure the cluster-wide API roles exist; the new login is not a member of them.
    role = f"delegate_test_noswitch_{os.getpid()}"
    with pg_server.admin_connection() as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEDB").format(sql.Identifier(role)))
    if pg_server.address.password is not None:  # pragma: no cover - only on servers that demand passwords
        pytest.skip("needs a server that trusts local logins")
    key = f"test-noswitch-{secrets.token_hex(6)}"
    try:
        address = pg_server.address.model_copy(update={"user": role})
        with open_server(address.url()) as server:
            with pytest.raises(InputError) as caught:
                ensure_template(server, key, lambda url: None)
            assert "SET ROLE" in str(caught.value)
            assert f"TO {role}" in str(caught.value)
            assert not server.database_exists(template_name(key))
    finally:
        with pg_server.admin_connection() as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.postgres
@pytest.mark.parametrize("skeleton", ["cached initdb", "initdb"])
def test_throwaway_server_leaves_no_folder_and_no_process(skeleton: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(NO_SKELETON_ENV, "1" if skeleton == "initdb" else "0")
    server = open_server(None)
    try:
        assert server.is_throwaway
        cluster = server._cluster
        assert cluster is not None
        root = cluster.root
        assert root.is_dir()
        assert _processes_mentioning(str(root)), "the postmaster should be running from the temp folder"
        with ScratchDatabase(server) as db, psycopg.connect(db.url) as conn:
            assert conn.execute("SELECT current_setting('fsync')").fetchone() == ("off",)
    finally:
        server.close()
    assert not root.exists()
    assert _processes_mentioning(str(root)) == []
    server.close()  # twice is fine


def test_no_binaries_is_input_error_saying_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BINDIR_ENV, "/nonexistent")
    monkeypatch.setenv(NO_WHEEL_ENV, "1")
    with pytest.raises(InputError) as caught:
        open_server(None)
    message = str(caught.value)
    assert "/nonexistent" in message
    assert "apt-get install postgresql" in message
    assert "delegate-migrations[embedded-pg]" in message
    assert "--database-url" in message


_CHILD = """
import sys, time
from orchestrator.pg import open_server, ScratchDatabase
with open_server(None) as throwaway, open_server(sys.argv[1]) as named, ScratchDatabase(named) as db:
    print(throwaway._cluster.root, db.name, flush=True)
    time.sleep(60)
"""


@pytest.mark.postgres
def test_sigterm_and_ctrl_c_stop_the_server_and_drop_the_scratch_database(pg_server: PostgresServer) -> None:
    cases = {signal.SIGTERM: (128 + signal.SIGTERM,), signal.SIGINT: (-signal.SIGINT, 130)}
    children = {
        sig: subprocess.Popen([sys.executable, "-c", _CHILD, pg_server.admin_url], stdout=subprocess.PIPE, text=True)
        for sig in cases
    }
    seen: dict[signal.Signals, tuple[Path, str]] = {}
    try:
        for sig, child in children.items():
            assert child.stdout is not None
            root, name = child.stdout.readline().split()
            seen[sig] = (Path(root), name)
            child.send_signal(sig)
        for sig, child in children.items():
            assert child.wait(timeout=30) in cases[sig], f"exit status after {sig.name}"
    finally:
        for child in children.values():
            if child.poll() is None:
                child.kill()
    for sig, (root, name) in seen.items():
        assert not root.exists(), f"{sig.name} left {root}"
        assert _processes_mentioning(str(root)) == []
        assert not pg_server.database_exists(name)


@pytest.mark.postgres
def test_orphaned_throwaway_server_is_swept() -> None:
    server = open_server(None)
    cluster = server._cluster
    assert cluster is not None
    try:
        # As if the owner had been SIGKILLed: its pid is gone, its server still runs.
        (cluster.root / "owner.pid").write_text(f"{_dead_pid()}\n")
        assert cluster.root in sweep_orphan_clusters()
        assert not cluster.root.exists()
        assert _processes_mentioning(str(cluster.root)) == []
    finally:
        server.close()


# ---- scratch databases ------------------------------------------------------------------------------------


@pytest.mark.postgres
def test_scratch_database_is_created_and_dropped(pg_server: PostgresServer) -> None:
    with ScratchDatabase(pg_server) as db:
        assert db.name.startswith(f"delegate_scratch_{host_tag()}_{os.getpid()}_")
        assert pg_server.database_exists(db.name)
        engine = sqlalchemy.create_engine(db.sqlalchemy_url)
        try:
            with engine.connect() as sa_conn:
                assert sa_conn.execute(sqlalchemy.text("SELECT current_database()")).scalar() == db.name
        finally:
            engine.dispose()
        with psycopg.connect(db.url) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == (db.name,)
            # An open session does not stop the drop.
            with pytest.raises(RuntimeError), ScratchDatabase(pg_server) as failing:
                failing_name = failing.name
                raise RuntimeError("boom")
    assert not pg_server.database_exists(db.name)
    assert not pg_server.database_exists(failing_name)


def _dead_pid() -> int:
    pid = 4_000_000
    while Path(f"/proc/{pid}").exists():
        pid += 1
    return pid


@pytest.mark.postgres
def test_sweep_drops_only_leftovers_of_dead_processes(pg_server: PostgresServer) -> None:
    prefix = "delegate_sweeptest"
    dead = f"{prefix}_{host_tag()}_{_dead_pid()}_{secrets.token_hex(4)}"
    mine = f"{prefix}_{host_tag()}_{os.getpid()}_{secrets.token_hex(4)}"
    other_host = f"{prefix}_ffffff_{_dead_pid()}_{secrets.token_hex(4)}"
    if other_host.split("_")[2] == host_tag():  # pragma: no cover - one chance in 16 million
        other_host = other_host.replace("_ffffff_", "_fffffe_")
    for name in (dead, mine, other_host):
        pg_server.create_database(name)
    try:
        assert sweep_stale(pg_server, prefix) == [dead]
        assert not pg_server.database_exists(dead)
        assert pg_server.database_exists(mine)
        assert pg_server.database_exists(other_host)
    finally:
        for name in (dead, mine, other_host):
            pg_server.drop_database(name)


# ---- templates --------------------------------------------------------------------------------------------


@pytest.mark.postgres
def test_template_is_built_once_and_cloned(pg_server: PostgresServer) -> None:
    key = f"test-template-{secrets.token_hex(6)}"
    calls: list[str] = []

    def build(url: str) -> None:
        calls.append(url)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE lesson (id int PRIMARY KEY)")

    name = ensure_template(pg_server, key, build)
    try:
        assert name == template_name(key)
        assert ensure_template(pg_server, key, build) == name
        assert len(calls) == 1, "the second call must reuse the cached template"
        with ScratchDatabase(pg_server, template=name) as db, psycopg.connect(db.url) as conn:
            assert conn.execute("SELECT to_regclass('public.lesson') IS NOT NULL").fetchone() == (True,)
            assert conn.execute("SELECT to_regclass('auth.users') IS NOT NULL").fetchone() == (True,)
        with pg_server.admin_connection() as conn:
            # Nothing stays connected to a template (cloning would fail otherwise).
            assert conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,)).fetchone() == (0,)
    finally:
        pg_server.drop_database(name)


@pytest.mark.postgres
def test_drop_templates_removes_only_that_prefix(pg_server: PostgresServer) -> None:
    prefix = f"delegate_tpltest{secrets.token_hex(3)}"
    name = ensure_template(pg_server, "k", lambda url: None, prefix=prefix)
    assert drop_templates(pg_server, prefix) == [name]
    assert not pg_server.database_exists(name)
    assert drop_templates(pg_server, prefix) == []


@pytest.mark.postgres
def test_concurrent_runs_build_a_template_once(pg_server: PostgresServer) -> None:
    key = f"test-concurrent-{secrets.token_hex(6)}"
    calls: list[str] = []
    results: list[str] = []
    errors: list[BaseException] = []

    def build(url: str) -> None:
        calls.append(url)

    def run() -> None:
        try:
            results.append(ensure_template(pg_server, key, build))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert len(calls) == 1
        assert len(set(results)) == 1
    finally:
        pg_server.drop_database(template_name(key))


@pytest.mark.postgres
def test_failed_template_build_leaves_nothing(pg_server: PostgresServer) -> None:
    key = f"test-failing-{secrets.token_hex(6)}"

    def build(url: str) -> None:
        raise ValueError("the history does not migrate")

    with pytest.raises(ValueError, match="does not migrate"):
        ensure_template(pg_server, key, build)
    assert not pg_server.database_exists(template_name(key))
    with pg_server.admin_connection() as conn:
        leftovers = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s",
            (f"delegate\\_tpl\\_build\\_%\\_{os.getpid()}\\_%",),
        ).fetchall()
    assert leftovers == []


# ---- Supabase emulation -----------------------------------------------------------------------------------


def _as_authenticated(url: str, claims: str | None, query: str) -> tuple[object, ...] | None:
    with psycopg.connect(url) as conn, conn.transaction():
        if claims is not None:
            conn.execute("SELECT set_config('request.jwt.claims', %s, true)", (claims,))
        conn.execute("SET LOCAL ROLE authenticated")
        return conn.execute(query).fetchone()


@pytest.mark.postgres
def test_auth_uid_reads_the_claims_under_set_local_role(scratch_db: ScratchDatabase) -> None:
    claims = f'{{"sub": "{USER_A}", "role": "authenticated", "email": "a@example.com"}}'
    row = _as_authenticated(
        scratch_db.url, claims, "SELECT auth.uid()::text, auth.role(), auth.email(), auth.jwt() ->> 'sub', current_user"
    )
    assert row == (USER_A, "authenticated", "a@example.com", USER_A, "authenticated")
    assert _as_authenticated(scratch_db.url, None, "SELECT auth.uid(), auth.jwt()") == (None, None)


@pytest.mark.postgres
def test_auth_uid_legacy_claim_setting(scratch_db: ScratchDatabase) -> None:
    with psycopg.connect(scratch_db.url) as conn, conn.transaction():
        conn.execute("SELECT set_config('request.jwt.claim.sub', %s, true)", (USER_A,))
        assert conn.execute("SELECT auth.uid()::text").fetchone() == (USER_A,)


@pytest.mark.postgres
def test_supabase_roles_grants_and_idempotence(scratch_db: ScratchDatabase) -> None:
    apply_supabase_emulation(scratch_db.url)  # a second application changes nothing and does not fail
    with psycopg.connect(scratch_db.url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT rolname, rolcanlogin, rolbypassrls FROM pg_roles "
            "WHERE rolname IN ('anon', 'authenticated', 'service_role', 'authenticator')"
        ).fetchall()
        roles = {name: (login, bypass) for name, login, bypass in rows}
        assert roles == {
            "anon": (False, False),
            "authenticated": (False, False),
            "service_role": (False, True),
            "authenticator": (True, False),
        }
        conn.execute("CREATE TABLE note (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), body text)")
        granted = conn.execute(
            "SELECT has_table_privilege('anon', 'note', 'SELECT'), has_table_privilege('authenticated', 'note', 'INSERT'),"
            " has_schema_privilege('authenticated', 'auth', 'USAGE'), has_table_privilege('anon', 'auth.users', 'SELECT')"
        ).fetchone()
        assert granted == (True, True, True, False)
        assert conn.execute("SELECT pg_has_role('authenticator', 'authenticated', 'MEMBER')").fetchone() == (True,)
