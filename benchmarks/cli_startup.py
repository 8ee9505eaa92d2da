"""Benchmark the start-up of `delegate check --static-only one.sql`: the hand-written fast path against typer.

    python benchmarks/cli_startup.py [--runs 30] [--no-write]

Each variant is a fresh interpreter running orchestrator.cli.main on the same command line in a folder holding
one small SQL file (one finding, exit code 1); "typer" is the same entry point with the fast path turned off, so
the command goes through orchestrator/commands.py as every other command does. Also timed: a bare interpreter
and the import of typer alone, to show where the difference comes from. Runs alternate between the variants so
that a busy machine slows them alike. Prints a table and writes benchmarks/results/cli_startup.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results" / "cli_startup.json"
ONE_SQL = "CREATE INDEX lessons_student_idx ON public.lessons (student_id);\n"

RUN_CLI = "import sys; from orchestrator import cli; sys.exit(cli.main(sys.argv[1:]))"
RUN_TYPER = (
    "import sys; from orchestrator import cli; cli.plain_check = lambda args: None; sys.exit(cli.main(sys.argv[1:]))"
)
VARIANTS = {
    "python -c pass": ["-c", "pass"],
    "import typer": ["-c", "import typer"],
    "fast path": ["-c", RUN_CLI, "check", "--static-only", "one.sql"],
    "typer": ["-c", RUN_TYPER, "check", "--static-only", "one.sql"],
}


def time_once(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Wall-clock seconds, CPU seconds (user + system: what a busy shared machine disturbs least), the result."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30, help="runs of each variant (default 30)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave the results file alone")
    args = parser.parse_args()

    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    env.pop("DATABASE_URL", None)
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    cpu_times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    outputs: dict[str, tuple[int, str]] = {}
    with tempfile.TemporaryDirectory(prefix="delegate_cli_startup_") as tmp:
        work = Path(tmp)
        (work / "one.sql").write_text(ONE_SQL, encoding="utf-8")
        for name, variant in VARIANTS.items():  # warm the disk cache and the bytecode caches once
            _, _, proc = time_once(variant, work, env)
            outputs[name] = (proc.returncode, proc.stdout)
        for _ in range(args.runs):
            for name, variant in VARIANTS.items():
                wall, cpu, _ = time_once(variant, work, env)
                times[name].append(wall)
                cpu_times[name].append(cpu)
    if outputs["fast path"] != outputs["typer"]:
        raise SystemExit(f"the two parsers disagree: {outputs['fast path']!r} != {outputs['typer']!r}")
    if outputs["fast path"][0] != 1:
        raise SystemExit(f"expected one finding (exit 1), got {outputs['fast path']!r}")

    rows = {
        name: {
            "median_ms": round(statistics.median(values) * 1000, 1),
            "min_ms": round(min(values) * 1000, 1),
            "max_ms": round(max(values) * 1000, 1),
            "cpu_median_ms": round(statistics.median(cpu_times[name]) * 1000, 1),
        }
        for name, values in times.items()
    }
    difference = rows["typer"]["median_ms"] - rows["fast path"]["median_ms"]
    cpu_difference = rows["typer"]["cpu_median_ms"] - rows["fast path"]["cpu_median_ms"]
    load = os.getloadavg()[0]
    print(f"delegate check --static-only one.sql, {args.runs} runs each ({platform.python_version()}, load {load:.1f})")
    print(f"{'variant':<16} {'median ms':>10} {'min ms':>8} {'max ms':>8} {'cpu ms':>8}")
    for name, row in rows.items():
        print(
            f"{name:<16} {row['median_ms']:>10.1f} {row['min_ms']:>8.1f} {row['max_ms']:>8.1f}"
            f" {row['cpu_median_ms']:>8.1f}"
        )
    print(f"typer costs {difference:+.1f} ms wall, {cpu_difference:+.1f} ms CPU per run over the fast path (medians)")
    if not args.no_write:
        result = {
            "benchmark": "cli_startup",
            "command": "delegate check --static-only one.sql",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores",
            "runs": args.runs,
            "variants": rows,
            "load_average": round(load, 1),
            "typer_minus_fast_path_ms": round(difference, 1),
            "typer_minus_fast_path_cpu_ms": round(cpu_difference, 1),
        }
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
