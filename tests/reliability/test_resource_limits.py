"""SECURITY.md point 10: a revision that sleeps forever, allocates without end, or forks a child that sleeps is
stopped (the timeout, the memory limit, the kill of its process group), reported as a finding, and the run goes
on to report the rest."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from orchestrator.cli import main
from orchestrator.pg import PostgresServer
from orchestrator.runner.process import pid_alive
from tests.support.example_repo import make_example_repo

pytestmark = pytest.mark.postgres

REVISION = "api/alembic/versions/002_lesson_progress.py"
UPGRADE = "def upgrade() -> None:\n"


def hostile_repo(tmp_path: Path, body: str, settings: str) -> Path:
    """The example with feature 042 solved, its revision's upgrade() starting with `body`, and `settings` in
    [tool.delegate]."""
    repo = make_example_repo(tmp_path, with_solution=True)
    revision = repo / REVISION
    text = revision.read_text(encoding="utf-8")
    assert text.count(UPGRADE) == 1
    lines = "".join(f"    {line}\n" for line in body.splitlines())
    revision.write_text(text.replace(UPGRADE, UPGRADE + lines), encoding="utf-8")
    pyproject = repo / "pyproject.toml"
    config = pyproject.read_text(encoding="utf-8")
    assert "[tool.delegate]\n" in config
    pyproject.write_text(config.replace("[tool.delegate]\n", f"[tool.delegate]\n{settings}\n", 1), encoding="utf-8")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "commit", "-qam", "a hostile revision"], cwd=repo, check=True)
    return repo


def check_json(repo: Path, server: PostgresServer, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:  # type: ignore[type-arg]
    code = main(["check", "--repo", str(repo), "--format", "json", "--database-url", server.admin_url])
    return code, json.loads(capsys.readouterr().out)


def upgrade_failures(report: dict) -> list[dict]:  # type: ignore[type-arg]
    return [f for f in report["findings"] if f["rule"] == "upgrade-failed"]


def step_status(report: dict) -> dict[str, str]:  # type: ignore[type-arg]
    return {s["name"]: s["status"] for s in report["verification"]["steps"]}


def test_a_revision_that_sleeps_forever_is_stopped_by_the_timeout(
    tmp_path: Path, pg_server: PostgresServer, no_scratch_left: None, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = hostile_repo(tmp_path, "import time\nwhile True:\n    time.sleep(60)", "timeout_seconds = 3.0")
    code, report = check_json(repo, pg_server, capsys)
    assert code == 1
    failures = upgrade_failures(report)
    assert failures and failures[0]["file"] == REVISION
    assert "timed out after 3 s" in failures[0]["message"]
    steps = step_status(report)
    assert steps["upgrade"] == "failed"
    assert steps["downgrade"] == "skipped"  # the run went on: the rest is reported, not run on a broken database
    assert any(f["rule"] != "upgrade-failed" for f in report["findings"])  # the static findings are still there


def test_a_revision_that_allocates_without_end_is_stopped_by_the_memory_limit(
    tmp_path: Path, pg_server: PostgresServer, no_scratch_left: None, capsys: pytest.CaptureFixture[str]
) -> None:
    body = "hoard = []\nwhile True:\n    hoard.append(bytearray(64 * 1024 * 1024))"
    repo = hostile_repo(tmp_path, body, "timeout_seconds = 60.0\nmemory_limit_mb = 1024")
    code, report = check_json(repo, pg_server, capsys)
    assert code == 1
    failures = upgrade_failures(report)
    assert failures and failures[0]["file"] == REVISION
    assert "MemoryError" in failures[0]["message"] and "memory_limit_mb" in failures[0]["message"]
    assert "timed out" not in failures[0]["message"]
    assert step_status(report)["downgrade"] == "skipped"


def test_a_forked_child_that_sleeps_does_not_keep_the_run_alive(
    tmp_path: Path, pg_server: PostgresServer, no_scratch_left: None, capsys: pytest.CaptureFixture[str]
) -> None:
    pids = tmp_path / "children.txt"
    body = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        f"    open({str(pids)!r}, 'a').write(f'{{os.getpid()}}\\n')\n"
        "    while True:\n"
        "        time.sleep(60)"
    )
    repo = hostile_repo(tmp_path, body, "timeout_seconds = 60.0")
    code, report = check_json(repo, pg_server, capsys)
    assert upgrade_failures(report) == []
    assert step_status(report)["upgrade"] == "passed"
    assert all(not f["message"].count("timed out") for f in report["findings"])
    assert code in (0, 1)
    children = [int(line) for line in pids.read_text().split()]
    assert children  # the revision did fork (once per upgrade it ran)
    for _ in range(200):  # a killed child may take a moment to be reaped by init
        if not any(pid_alive(pid) for pid in children):
            break
        time.sleep(0.01)
    alive = [pid for pid in children if pid_alive(pid)]
    for pid in alive:  # do not leave them behind even when the test fails
        os.kill(pid, 9)
    assert alive == []
