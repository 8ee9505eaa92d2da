"""The one way to run the target repo's Python: the secret-free environment, and every process started through it."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import pytest

from orchestrator.check import CheckOptions, run_check
from orchestrator.config import DelegateConfig
from orchestrator.pg import PostgresServer
from orchestrator.runner.env import clean_env, repo_env
from orchestrator.runner.process import PlainRunner, StartedProcess
from orchestrator.verify.alembic_env import SCRATCH_DATABASE_ENV, scratch_env
from tests.support.live_repo import make_repo

# Credentials of the tool's own environment, as a CI job or a developer's shell holds them.
SECRETS = {
    "ANTHROPIC_API_KEY": "sk-ant-api03-planted-secret-0001",
    "OPENAI_API_KEY": "sk-planted-secret-0002",
    "GITHUB_TOKEN": "ghp_plantedsecret0003",
    "AWS_ACCESS_KEY_ID": "AKIAPLANTEDSECRET0004",
    "AWS_SECRET_ACCESS_KEY": "planted-secret-0005",
    "STRIPE_KEY": "sk_live_planted_secret_0006",
    "SENTRY_AUTH_TOKEN": "planted-secret-0007",
    "DJANGO_SECRET": "planted-secret-0008",
    "SMTP_PASSWORD": "planted-secret-0009",
    "DATABASE_URL": "postgresql://app:planted-secret-0010@db.internal/production",
    "PGPASSWORD": "planted-secret-0011",
}


def test_the_environment_has_none_of_our_secrets_and_keeps_the_rest() -> None:
    base = {**SECRETS, "PATH": "/usr/bin", "HOME": "/home/dev", "LANG": "C.UTF-8", "KEYBOARD_LAYOUT": "us"}
    env = clean_env({"PYTHONPATH": "/repo"}, base=base)
    assert not set(SECRETS) & set(env)
    assert {k: env[k] for k in ("PATH", "HOME", "LANG", "KEYBOARD_LAYOUT", "PYTHONPATH")} == {
        "PATH": "/usr/bin",
        "HOME": "/home/dev",
        "LANG": "C.UTF-8",
        "KEYBOARD_LAYOUT": "us",
        "PYTHONPATH": "/repo",
    }


def test_the_scratch_database_is_in_every_database_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    scratch = scratch_env("postgresql://u:pw@127.0.0.1:5433/scratch_1")
    env = repo_env([Path("/repo/api"), Path("/repo"), Path("/repo/api")], scratch)
    assert env["PYTHONPATH"] == "/repo/api:/repo"
    assert env["DATABASE_URL"] == "postgresql://u:pw@127.0.0.1:5433/scratch_1"
    assert env["PGDATABASE"] == env["POSTGRES_DB"] == env["DB_NAME"] == env[SCRATCH_DATABASE_ENV] == "scratch_1"
    assert env["PGPASSWORD"] == "pw"  # the scratch server's, not ours
    assert not any(value in env.values() for value in SECRETS.values())


def test_a_plain_run_and_a_started_process_answer_alike(tmp_path: Path) -> None:
    argv = [sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"]
    env = clean_env()
    plain = PlainRunner().run(argv, env, tmp_path, timeout=30)
    started = StartedProcess(argv, env, tmp_path).wait(timeout=30)
    for result in (plain, started):
        assert (result.returncode, result.stdout, result.stderr, result.timed_out) == (3, "out\n", "err\n", False)
    slow = StartedProcess([sys.executable, "-c", "import time; time.sleep(60)"], env, tmp_path).wait(timeout=0.5)
    assert slow.timed_out and slow.returncode is None


# Every time the repo's code runs (the revision module loaded, upgrade(), downgrade(), env.py, a delivered test),
# it writes its whole environment to a file of its own in DUMPS.
DUMP = """
import json as _json, os as _os, uuid as _uuid
with open(_os.path.join({dumps!r}, _uuid.uuid4().hex + ".json"), "w") as _f:
    _json.dump({{"where": {where!r}, "pid": _os.getpid(), "env": dict(_os.environ)}}, _f)
"""

UP = """
    {dump}
    op.create_table("notes", sa.Column("id", sa.Integer, primary_key=True), sa.Column("title", sa.Text))
"""
DOWN = """
    {dump}
    op.drop_table("notes")
"""


def _indent(code: str) -> str:
    return code.strip().replace("\n", "\n    ")


@pytest.mark.postgres
@pytest.mark.usefixtures("no_scratch_left")
def test_code_of_the_repo_never_sees_our_secrets(
    tmp_path: Path, pg_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    up = UP.format(dump=_indent(DUMP.format(dumps=str(dumps), where="upgrade")))
    down = DOWN.format(dump=_indent(DUMP.format(dumps=str(dumps), where="downgrade")))
    tests = DUMP.format(dumps=str(dumps), where="delivered test") + "\n\ndef test_runs():\n    pass\n"
    repo = make_repo(tmp_path / "repo", up=up, down=down, tests=tests)
    feature = repo / "api" / "alembic" / "versions" / "0002_notes.py"
    text = feature.read_text()
    feature.write_text(
        text.replace("from alembic import op\n", "from alembic import op\nimport sqlalchemy as sa\n", 1)
        + DUMP.format(dumps=str(dumps), where="revision module")
    )
    env_py = repo / "api" / "alembic" / "env.py"
    env_py.write_text(DUMP.format(dumps=str(dumps), where="env.py") + env_py.read_text())
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)

    for stairway in (False, True):
        options = CheckOptions(repo=repo, since="0001base", database_url=pg_server.admin_url, stairway=stairway)
        report = run_check(options, DelegateConfig(timeout_seconds=60))
        assert report.verification is not None

    records = [json.loads(path.read_text()) for path in dumps.iterdir()]
    places = {record["where"] for record in records}
    assert {"revision module", "upgrade", "downgrade", "env.py", "delivered test"} <= places, places
    assert len({record["pid"] for record in records}) >= 4  # the render, the forks, the worker, pytest
    for record in records:
        env = record["env"]
        leaked = {name for name in SECRETS if name in env and env[name] == SECRETS[name]}
        leaked |= {name for name, value in env.items() if any(secret in value for secret in SECRETS.values())}
        assert not leaked, f"{record['where']} saw {sorted(leaked)}"
        if "DATABASE_URL" in env:  # when set, it names the scratch database
            assert env[SCRATCH_DATABASE_ENV] in env["DATABASE_URL"]


def test_the_checks_start_the_repo_s_code_only_through_the_runner() -> None:
    """The halves that run the repo's code (the static half's offline render, the live steps) start no process
    themselves; orchestrator/runner does (pg/ starts PostgreSQL's own binaries, git tools start git)."""
    root = Path(__file__).resolve().parents[1]
    starters = {"Popen", "run", "call", "check_call", "check_output", "system", "execv", "execve", "spawnv"}
    found = set()
    for path in [*(root / "orchestrator" / "checks").rglob("*.py"), *(root / "orchestrator" / "verify").rglob("*.py")]:
        rel = path.relative_to(root).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in starters
                and isinstance(node.value, ast.Name)
                and node.value.id in {"subprocess", "os"}
            ):
                found.add(f"{rel}:{node.lineno} {node.value.id}.{node.attr}")
    assert not found, "start the target repo's code through orchestrator/runner: " + ", ".join(sorted(found))
