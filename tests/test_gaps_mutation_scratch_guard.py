"""The scratch guard on stand-in connections, branch by branch (tests that kill mutants benchmarks/mutation.py found)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from orchestrator.verify import _scratch_guard as guard


def sqlalchemy_connection(dbname: object = None, url_database: object = None, *, info: bool = True) -> Any:
    """What the guard reads of a SQLAlchemy Connection: the DBAPI connection's info.dbname, else the engine's URL."""
    raw = SimpleNamespace(info=SimpleNamespace(dbname=dbname)) if info else SimpleNamespace()
    return SimpleNamespace(
        connection=SimpleNamespace(dbapi_connection=raw),
        engine=SimpleNamespace(url=SimpleNamespace(database=url_database)),
    )


class Broken:
    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"no {name} here")


def test_the_database_is_read_from_the_driver_first() -> None:
    assert guard.connected_database(sqlalchemy_connection("scratch", "from_url")) == "scratch"


@pytest.mark.parametrize("dbname", [None, "", 5])
def test_without_a_driver_name_the_engine_url_says_it(dbname: object) -> None:
    assert guard.connected_database(sqlalchemy_connection(dbname, "from_url")) == "from_url"
    assert guard.connected_database(sqlalchemy_connection(dbname, "from_url", info=False)) == "from_url"


@pytest.mark.parametrize("url_database", [None, "", 7])
def test_no_name_anywhere_is_none(url_database: object) -> None:
    assert guard.connected_database(sqlalchemy_connection(None, url_database)) is None


def test_a_connection_that_answers_nothing_is_none() -> None:
    assert guard.connected_database(Broken()) is None
    odd = SimpleNamespace(connection=Broken(), engine=SimpleNamespace(url=SimpleNamespace(database="from_url")))
    assert guard.connected_database(odd) == "from_url"


def test_check_refuses_another_database_and_names_both(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(guard.ENV_NAME, "delegate_scratch_1")
    with pytest.raises(guard.WrongDatabase) as caught:
        guard.check(sqlalchemy_connection("app_dev"))
    assert str(caught.value) == (
        "env.py connected to database 'app_dev', not to the scratch database 'delegate_scratch_1' that delegate "
        "gave it as sqlalchemy.url and DATABASE_URL; nothing was run there"
    )


def test_check_lets_the_scratch_database_an_unknown_one_and_no_connection_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(guard.ENV_NAME, "delegate_scratch_1")
    for connection in (sqlalchemy_connection("delegate_scratch_1"), sqlalchemy_connection(None, None), None):
        assert guard.check(connection) is None  # no WrongDatabase


@pytest.mark.parametrize("armed", [None, ""])
def test_check_is_off_unless_delegate_armed_it(monkeypatch: pytest.MonkeyPatch, armed: str | None) -> None:
    if armed is None:
        monkeypatch.delenv(guard.ENV_NAME, raising=False)
    else:
        monkeypatch.setenv(guard.ENV_NAME, armed)
    assert guard.check(sqlalchemy_connection("app_dev")) is None  # no WrongDatabase


def test_install_checks_online_contexts_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from alembic.runtime import migration

    class Context:
        def __init__(self, connection: Any, as_sql: bool = False) -> None:
            self.connection, self.as_sql = connection, as_sql

    monkeypatch.setattr(migration, "MigrationContext", Context)
    monkeypatch.setenv(guard.ENV_NAME, "delegate_scratch_1")
    guard.install()
    offline = migration.MigrationContext(sqlalchemy_connection("app_dev"), as_sql=True)
    assert offline.as_sql  # the original __init__ ran; offline SQL touches no database
    ok = migration.MigrationContext(sqlalchemy_connection("delegate_scratch_1"))
    assert ok.connection is not None
    with pytest.raises(guard.WrongDatabase):
        migration.MigrationContext(sqlalchemy_connection("app_dev"))


@pytest.mark.parametrize("other", ["app_dev", "zz_production"])  # sorting before and after the scratch name
def test_check_refuses_any_other_name(monkeypatch: pytest.MonkeyPatch, other: str) -> None:
    monkeypatch.setenv(guard.ENV_NAME, "delegate_scratch_1")
    with pytest.raises(guard.WrongDatabase, match=other):
        guard.check(sqlalchemy_connection(other))
