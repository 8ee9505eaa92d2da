"""Benchmark the PostgreSQL harness: throwaway server cold start, scratch clone from a template, and drop.

    python benchmarks/postgres_harness.py [--starts 5] [--clones 20] [--database-url URL]

Prints a table and writes benchmarks/results/postgres_harness.json. Targets (on the throwaway server, what
delegate uses without a URL): cold start (initdb + start) <= 1.5 s median, clone <= 60 ms median. Starts
after the first copy a cached initdb instead (measured too). Clones are
also measured, without a target, on the server at --database-url / DATABASE_URL / the local 127.0.0.1:5432.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from pydantic import BaseModel

from orchestrator.errors import InputError
from orchestrator.pg import PostgresServer, ScratchDatabase, ensure_template, open_server
from orchestrator.pg.pytest_plugin import LOCAL_URL
from orchestrator.pg.server import NO_SKELETON_ENV

RESULTS = Path(__file__).parent / "results" / "postgres_harness.json"
TARGET_COLD_START_S = 1.5
TARGET_CLONE_S = 0.060

# A template as the verifier builds one: the Supabase emulation plus an app's history (a few tables, RLS).
_HISTORY = """
CREATE TABLE student (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), user_id uuid REFERENCES auth.users(id),
                      name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE aircraft (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tail text UNIQUE NOT NULL);
CREATE TABLE lesson (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), student_id uuid NOT NULL REFERENCES student(id),
                     aircraft_id bigint REFERENCES aircraft(id), starts_at timestamptz NOT NULL, notes text);
CREATE INDEX lesson_student_idx ON lesson (student_id, starts_at);
ALTER TABLE student ENABLE ROW LEVEL SECURITY;
ALTER TABLE lesson ENABLE ROW LEVEL SECURITY;
CREATE POLICY student_own ON student FOR SELECT TO authenticated USING (user_id = auth.uid());
CREATE POLICY lesson_own ON lesson FOR SELECT TO authenticated
  USING (student_id IN (SELECT id FROM student WHERE user_id = auth.uid()));
"""


class Stat(BaseModel):
    name: str
    server: str
    samples: int
    median_ms: float
    p90_ms: float
    min_ms: float
    max_ms: float
    target_ms: float | None = None

    @property
    def ok(self) -> bool | None:
        return None if self.target_ms is None else self.median_ms <= self.target_ms


class BenchmarkResult(BaseModel):
    benchmark: str = "postgres_harness"
    when: str
    machine: str
    load_average_1m: float  # other work on the machine slows every number; read them with this
    python: str
    results: list[Stat]


def _stat(name: str, server: str, seconds: list[float], target_s: float | None = None) -> Stat:
    ms = sorted(s * 1000 for s in seconds)
    p90 = ms[min(len(ms) - 1, int(round(0.9 * (len(ms) - 1))))]
    return Stat(
        name=name,
        server=server,
        samples=len(ms),
        median_ms=round(statistics.median(ms), 1),
        p90_ms=round(p90, 1),
        min_ms=round(ms[0], 1),
        max_ms=round(ms[-1], 1),
        target_ms=None if target_s is None else target_s * 1000,
    )


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def bench_start(runs: int, cached: bool) -> tuple[list[float], list[float]]:
    """Start a throwaway server (initdb, or a copy of the cached initdb) until it answers; then stop + remove it."""
    os.environ[NO_SKELETON_ENV] = "0" if cached else "1"
    starts: list[float] = []
    stops: list[float] = []
    try:
        for _ in range(runs):
            begin = time.perf_counter()
            server = open_server(None)
            starts.append(time.perf_counter() - begin)
            stops.append(_timed(server.close))
    finally:
        os.environ.pop(NO_SKELETON_ENV, None)
    return starts, stops


def _build_history(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(_HISTORY.encode())


def bench_clones(server: PostgresServer, runs: int, label: str, target_s: float | None) -> list[Stat]:
    """Clone a scratch database from a template `runs` times; time the clone and the drop separately."""
    template = ensure_template(server, f"benchmark-history-{hash(_HISTORY)}", _build_history)
    clones: list[float] = []
    drops: list[float] = []
    for _ in range(runs):
        scratch = ScratchDatabase(server, template=template)
        clones.append(_timed(scratch.__enter__))
        drops.append(_timed(scratch.drop))
    ensure = _timed(lambda: ensure_template(server, f"benchmark-history-{hash(_HISTORY)}", _build_history))
    return [
        _stat("scratch clone from template", label, clones, target_s),
        _stat("scratch drop", label, drops),
        _stat("ensure_template (cached)", label, [ensure]),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--clones", type=int, default=20)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or LOCAL_URL)
    args = parser.parse_args()

    load_before = round(os.getloadavg()[0], 2)
    stats: list[Stat] = []
    starts, stops = bench_start(args.starts, cached=False)
    stats.append(_stat("cold start (initdb + start)", "throwaway", starts, TARGET_COLD_START_S))
    stats.append(_stat("stop + remove folder", "throwaway", stops))
    open_server(None).close()  # makes sure the cached initdb exists before it is measured
    starts, _ = bench_start(args.starts, cached=True)
    stats.append(_stat("start (cached initdb copy)", "throwaway", starts, TARGET_COLD_START_S))

    with open_server(None) as throwaway:
        stats += bench_clones(throwaway, args.clones, "throwaway", TARGET_CLONE_S)
    try:
        with open_server(args.database_url) as named:
            # Informational: its clone time is that server's disk, not the harness's doing.
            stats += bench_clones(named, args.clones, f"url ({named.description})", None)
    except InputError as exc:
        print(f"skipping the server at the URL: {exc.message}")

    result = BenchmarkResult(
        when=datetime.now(UTC).isoformat(timespec="seconds"),
        machine=f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        load_average_1m=load_before,
        python=platform.python_version(),
        results=stats,
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(result.model_dump_json(indent=2) + "\n")

    header = f"{'measure':30} {'server':52} {'n':>3} {'median ms':>10} {'p90 ms':>8} {'target ms':>10}  ok"
    print(header)
    print("-" * len(header))
    for stat in stats:
        target = "" if stat.target_ms is None else f"{stat.target_ms:.0f}"
        ok = "" if stat.ok is None else ("yes" if stat.ok else "NO")
        print(
            f"{stat.name:30} {stat.server[:52]:52} {stat.samples:>3} {stat.median_ms:>10.1f} {stat.p90_ms:>8.1f} "
            f"{target:>10}  {ok}"
        )
    print(f"\nload average (1 min) at the start: {load_before}; written to {RESULTS}")
    return 0 if all(stat.ok is not False for stat in stats) else 1


if __name__ == "__main__":
    raise SystemExit(main())
