"""Benchmark `delegate check --stairway` against the naive stairway on synthetic histories of 50 and 300 revisions.

    python benchmarks/stairway.py [--sizes 50 300] [--database-url URL] [--naive-budget 600] [--sample 12]

The naive stairway, per revision: a fresh database, `alembic upgrade R`, `pg_dump --schema-only`,
`alembic downgrade` one step, dump, `alembic upgrade R` again, dump, and text diffs (each command a new alembic
process). Where its full run would take longer than --naive-budget seconds, it runs on an even sample of revisions
and the total is extrapolated (the output says so). Prints a table and writes benchmarks/results/stairway.json.
Targets: every planted fault found; 300 revisions under 60 s; at least 4x faster than the naive stairway.
Without --database-url, both run on a throwaway server, as `delegate check` does without one.
"""

from __future__ import annotations

import argparse
import difflib
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from benchmarks.synthetic_history import HistoryInfo, write_synthetic_repo  # noqa: E402
from orchestrator.config import DelegateConfig  # noqa: E402
from orchestrator.feature import RevisionSelection  # noqa: E402
from orchestrator.pg import PostgresServer, ScratchDatabase, ensure_template, open_server  # noqa: E402
from orchestrator.revisions import RevisionGraph  # noqa: E402
from orchestrator.verify.alembic_env import AlembicProject  # noqa: E402
from orchestrator.verify.stairway import StairwayWalk  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "stairway.json"
TARGET_300_S = 60.0
TARGET_SPEEDUP = 4.0


class NaiveResult(BaseModel):
    mode: str  # "full" or "sampled k of n, extrapolated"
    revisions_run: int
    seconds_measured: float
    seconds_total: float  # measured, or extrapolated to every revision
    faults_found: list[str] = Field(default_factory=list)  # revisions (of those run) whose round trip differed


class SizeResult(BaseModel):
    revisions: int
    merges: int
    faults_planted: dict[str, str]  # revision -> kind
    stairway_seconds: float
    stairway_faults_found: list[str]
    stairway_all_found: bool
    stairway_notes: list[str]
    naive: NaiveResult
    speedup: float


class BenchmarkResult(BaseModel):
    benchmark: str = "stairway"
    when: str
    machine: str
    python: str
    server: str
    load_average_before: list[float]
    sizes: list[SizeResult]
    targets: dict[str, bool]


def run_delegate(server: PostgresServer, repo: Path, timeout: float) -> tuple[float, list[str], list[str], list[str]]:
    """Our stairway over the whole history: seconds, revisions with findings, the planted faults' files, notes."""
    cfg = DelegateConfig(timeout_seconds=timeout)
    project = AlembicProject.for_repo(repo, cfg)
    graph = RevisionGraph.from_folder(project.versions_dir, project.repo)
    selection = RevisionSelection(under_test=graph.topological(), base=[], how="the whole history")
    started = time.perf_counter()
    verification, findings = StairwayWalk(server, project, graph, selection, cfg, progress=False).run()
    seconds = time.perf_counter() - started
    flagged = sorted({run.revision for run in verification.revision_runs if run.status != "round-trips"})
    return seconds, flagged, sorted({f.file or "" for f in findings}), verification.notes


def _alembic(project: AlembicProject, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = project.env(url)
    return subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(project.ini), *args],
        cwd=project.cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def _dump(server: PostgresServer, dbname: str) -> list[str]:
    done = subprocess.run(
        ["pg_dump", "--schema-only", "--no-owner", "--no-privileges", server.url_for(dbname)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"pg_dump failed: {done.stderr.strip()}")
    # Comments, and the random \restrict key that pg_dump 15.14+ writes into every dump, are not schema.
    return [line for line in done.stdout.splitlines() if not line.startswith(("--", "\\restrict", "\\unrestrict"))]


def naive_one(
    server: PostgresServer,
    template: str,
    project: AlembicProject,
    info: HistoryInfo,
    rev: str,
    dumps: dict[str, list[str]],
) -> bool:
    """One revision the naive way; True when its round trip shows a problem (a failed command or a dump diff).

    The state before the revision is the dump its parent's own turn made (in `dumps`), as a naive loop in
    topological order has it for free; sampled revisions without it are judged on the re-upgrade alone.
    """
    parents = info.parents[rev]
    down_target = parents[0] if len(parents) > 1 else f"{rev}@-1"
    with ScratchDatabase(server, template=template) as db:
        if _alembic(project, db.url, "upgrade", rev).returncode != 0:
            return True
        after = dumps[rev] = _dump(server, db.name)
        if _alembic(project, db.url, "downgrade", down_target).returncode != 0:
            return True
        undone = _dump(server, db.name)
        problem = False
        if len(parents) == 1 and parents[0] in dumps:
            problem |= bool(list(difflib.unified_diff(dumps[parents[0]], undone, lineterm="")))
        if _alembic(project, db.url, "upgrade", rev).returncode != 0:
            return True
        problem |= bool(list(difflib.unified_diff(after, _dump(server, db.name), lineterm="")))
    return problem


def run_naive(
    server: PostgresServer, template: str, repo: Path, info: HistoryInfo, budget: float, sample: int
) -> NaiveResult:
    project = AlembicProject.for_repo(repo, DelegateConfig())
    order = info.revisions
    # Time the first and the last revision (the cheapest and the dearest: the cost grows about linearly with the
    # position, as each replays its ancestors) to decide between a full run and a sample.
    dumps: dict[str, list[str]] = {}
    probes = []
    for rev in (order[0], order[-1]):
        started = time.perf_counter()
        naive_one(server, template, project, info, rev, {})
        probes.append(time.perf_counter() - started)
    full = sum(probes) / 2 * len(order) <= budget
    chosen = order if full else [order[round(i * (len(order) - 1) / (sample - 1))] for i in range(sample)]
    found: list[str] = []
    started = time.perf_counter()
    for rev in chosen:
        if naive_one(server, template, project, info, rev, dumps):
            found.append(rev)
    measured = time.perf_counter() - started
    total = measured if full else measured / len(chosen) * len(order)
    mode = "full" if full else f"sampled {len(chosen)} of {len(order)} evenly, extrapolated"
    return NaiveResult(
        mode=mode, revisions_run=len(chosen), seconds_measured=measured, seconds_total=total, faults_found=found
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 300])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--naive-budget", type=float, default=600.0, help="seconds the naive run may take per size")
    parser.add_argument("--sample", type=int, default=12, help="revisions the naive run samples when it must")
    parser.add_argument("--no-write", action="store_true", help="print only; leave the results file alone")
    args = parser.parse_args()

    load = list(os.getloadavg())
    sizes: list[SizeResult] = []
    with open_server(args.database_url) as server, tempfile.TemporaryDirectory(prefix="delegate_bench_") as tmp:
        template = ensure_template(server, "supabase-only", lambda url: None)
        for n in args.sizes:
            repo = Path(tmp) / f"h{n}"
            info = write_synthetic_repo(repo, n, branches=max(1, n // 100), seed=n)
            planted: dict[str, str] = {f.revision: f.kind for f in info.faults}
            seconds, flagged, files, notes = run_delegate(server, repo, timeout=120)
            all_found = all(f.file in files for f in info.faults) and set(planted) <= set(flagged)
            print(f"[{n}] stairway {seconds:.1f} s, flagged {len(flagged)}, all planted faults found: {all_found}")
            naive = run_naive(server, template, repo, info, args.naive_budget, args.sample)
            print(f"[{n}] naive {naive.seconds_total:.1f} s ({naive.mode})")
            sizes.append(
                SizeResult(
                    revisions=n,
                    merges=len(info.merges),
                    faults_planted=planted,
                    stairway_seconds=round(seconds, 2),
                    stairway_faults_found=flagged,
                    stairway_all_found=all_found,
                    stairway_notes=notes,
                    naive=naive,
                    speedup=round(naive.seconds_total / seconds, 1),
                )
            )
        description = server.description

    by_n = {s.revisions: s for s in sizes}
    targets = {"every planted fault found": all(s.stairway_all_found for s in sizes)}
    if 300 in by_n:
        targets["300 revisions under 60 s"] = by_n[300].stairway_seconds < TARGET_300_S
    targets["at least 4x faster than naive"] = all(s.speedup >= TARGET_SPEEDUP for s in sizes)
    result = BenchmarkResult(
        when=datetime.now(UTC).isoformat(timespec="seconds"),
        machine=f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        python=platform.python_version(),
        server=description,
        load_average_before=[round(x, 2) for x in load],
        sizes=sizes,
        targets=targets,
    )
    print()
    print(f"{'revisions':>9} {'stairway s':>11} {'naive s':>9} {'speedup':>8} {'faults':>7}  naive mode")
    for s in sizes:
        found = f"{len(set(s.faults_planted) & set(s.stairway_faults_found))}/{len(s.faults_planted)}"
        print(
            f"{s.revisions:>9} {s.stairway_seconds:>11.1f} {s.naive.seconds_total:>9.1f} {s.speedup:>7.1f}x"
            f" {found:>7}  {s.naive.mode}"
        )
    for name, ok in targets.items():
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    print(f"  server: {description}; load average before: {load[0]:.2f}")
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(result.model_dump_json(indent=2) + "\n", encoding="utf-8")
        print(f"  wrote {RESULTS}")


if __name__ == "__main__":
    main()
