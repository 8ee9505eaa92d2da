"""An env.py that connects to a database of its own (app settings, a .env file) is stopped before Alembic touches
it: delegate only ever migrates its scratch databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from orchestrator.check import CheckOptions
from orchestrator.cli import main
from orchestrator.config import DelegateConfig, load_config
from orchestrator.errors import InputError
from orchestrator.pg import PostgresServer, ScratchDatabase
from orchestrator.pg.scratch import owned_name
from orchestrator.verify.alembic_env import AlembicProject
from orchestrator.verify.live import run_live
from orchestrator.verify.worker_client import AlembicWorker
from tests.support.example_repo import ENV_PY_URL_LINE, edit_env_py, make_example_repo

VICTIM = owned_name("delegate_guard_victim")  # unique per run: other runs may share the server


@pytest.fixture()
def victim(pg_server: PostgresServer) -> Iterator[str]:
    """A database that stands for a developer's own: it must stay empty."""
    with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {VICTIM} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {VICTIM}")
    try:
        yield pg_server.sqlalchemy_url_for(VICTIM)
    finally:
        with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {VICTIM} WITH (FORCE)")


def victim_tables(server: PostgresServer) -> list[str]:
    with psycopg.connect(server.url_for(VICTIM)) as conn:
        rows = conn.execute(
            "SELECT schemaname || '.' || tablename FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', "
            "'information_schema')"
        ).fetchall()
    return [str(r[0]) for r in rows]


def repo_with_its_own_url(tmp_path: Path, url: str) -> Path:
    repo = make_example_repo(tmp_path, with_solution=True)
    edit_env_py(repo, ENV_PY_URL_LINE, f"url = {url!r}  # from the app's settings", "env.py reads the app's settings")
    return repo


def test_the_live_check_refuses_and_leaves_the_other_database_untouched(
    tmp_path: Path, pg_server: PostgresServer, victim: str
) -> None:
    repo = repo_with_its_own_url(tmp_path, victim)
    options = CheckOptions(repo=repo, database_url=pg_server.admin_url)
    with pytest.raises(InputError) as caught:
        run_live(repo, load_config(repo), options)
    assert VICTIM in caught.value.message and "api/alembic/env.py" in caught.value.message
    assert "DATABASE_URL" in (caught.value.hint or "")
    assert victim_tables(pg_server) == []


def test_the_cli_exits_2_for_the_stairway_too(
    tmp_path: Path, pg_server: PostgresServer, victim: str, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = repo_with_its_own_url(tmp_path, victim)
    code = main(["check", "--repo", str(repo), "--stairway", "--database-url", pg_server.admin_url])
    assert code == 2
    assert "nothing was run there" in capsys.readouterr().err
    assert victim_tables(pg_server) == []


def test_the_stairway_worker_refuses_a_command_that_lands_elsewhere(
    tmp_path: Path, pg_server: PostgresServer, victim: str
) -> None:
    repo = repo_with_its_own_url(tmp_path, victim)
    project = AlembicProject.for_repo(repo, DelegateConfig())
    with (
        ScratchDatabase(pg_server) as db,
        AlembicWorker(project, timeout=60) as worker,
        pytest.raises(InputError, match="nothing was run there"),
    ):
        worker.upgrade(db.url, pg_server.sqlalchemy_url_for(db.name), "heads")
    assert victim_tables(pg_server) == []


def test_an_env_py_that_uses_the_url_it_is_given_passes(tmp_path: Path, scratch_db: ScratchDatabase) -> None:
    repo = make_example_repo(tmp_path, with_solution=False)
    project = AlembicProject.for_repo(repo, DelegateConfig())
    with AlembicWorker(project, timeout=60) as worker:
        answer = worker.upgrade(scratch_db.url, scratch_db.server.sqlalchemy_url_for(scratch_db.name), "heads")
        assert answer.ok, answer.error
        assert [s.revision for s in answer.steps] != []


SETTINGS_URL = (
    "f\"postgresql+psycopg://{os.environ['POSTGRES_USER']}:{os.environ.get('POSTGRES_PASSWORD', '')}@\""
    " f\"{os.environ['POSTGRES_SERVER']}:{os.environ['POSTGRES_PORT']}/{os.environ['POSTGRES_DB']}\""
)


def test_an_env_py_built_from_postgres_settings_is_pointed_at_the_scratch_database(
    tmp_path: Path, pg_server: PostgresServer, victim: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Apps build their URL from POSTGRES_SERVER/USER/DB (the FastAPI template's settings): delegate sets those
    to the scratch database too, so such an env.py works unchanged, while the shell's values (here: the victim)
    never reach it."""
    repo = make_example_repo(tmp_path, with_solution=True)
    edit_env_py(repo, ENV_PY_URL_LINE, f"url = {SETTINGS_URL}  # the app's settings", "env.py reads POSTGRES_*")
    for name, value in {"POSTGRES_SERVER": "127.0.0.1", "POSTGRES_PORT": "5432", "POSTGRES_USER": "postgres"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("POSTGRES_DB", VICTIM)
    verification, findings = run_live(
        repo, load_config(repo), CheckOptions(repo=repo, database_url=pg_server.admin_url)
    )
    assert [f for f in findings if f.severity == "error"] == []
    assert {s.name: s.status.value for s in verification.steps}["downgrade"] == "passed"
    assert victim_tables(pg_server) == []
