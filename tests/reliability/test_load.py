"""SECURITY.md point 9: live `delegate check` runs at once against one named server (as CI jobs sharing a
database server do) each give the findings one run alone gives, and leave no scratch database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from orchestrator.pg import PostgresServer
from orchestrator.pg.names import host_tag
from tests.support.example_repo import make_example_repo

ROOT = Path(__file__).resolve().parents[2]
RUNS = 4  # at once; the CI machine has two cores, and each run is several processes

pytestmark = pytest.mark.postgres


def start_check(repo: Path, url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "orchestrator.cli", "check", "--repo", str(repo), "--format", "json"]
        + ["--database-url", url],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def findings_of(process: subprocess.Popen[str]) -> tuple[int, list[tuple[str, str | None, int | None]]]:
    out, err = process.communicate(timeout=240)
    assert process.returncode in (0, 1), err
    report = json.loads(out)
    return process.returncode, sorted((f["rule"], f["file"], f["line"]) for f in report["findings"])


def left_by(server: PostgresServer, pids: list[int]) -> list[str]:
    """Databases (scratch, template builds) that the processes `pids` of this host named on the server."""
    with psycopg.connect(server.admin_url, autocommit=True) as conn:
        names = [str(r[0]) for r in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'delegate%'")]
    return sorted(n for n in names for pid in pids if f"_{host_tag()}_{pid}_" in n)


def test_concurrent_live_checks_agree_with_one_run_alone(tmp_path: Path, pg_server: PostgresServer) -> None:
    repos = [make_example_repo(tmp_path / f"copy{i}", with_solution=True) for i in range(RUNS + 1)]
    alone = start_check(repos[0], pg_server.admin_url)
    expected = findings_of(alone)
    assert expected[1], "the example's solution has findings to compare"
    together = [start_check(repo, pg_server.admin_url) for repo in repos[1:]]
    results = [findings_of(process) for process in together]
    assert results == [expected] * RUNS
    assert left_by(pg_server, [alone.pid] + [p.pid for p in together]) == []
