"""`delegate demo` as a new user runs it: a fresh process, no key, no database named (delegate starts its own
throwaway PostgreSQL), the bundled session replayed through the whole pipeline and the branch reviewed.

    python benchmarks/demo.py [RUNS]         # default 1

Target (issue 11): under a minute on this machine. Writes benchmarks/results/demo.json.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "demo.json"
TARGET_S = 60.0


def run_once() -> tuple[float, int]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ANTHROPIC_API_KEY")}
    with tempfile.TemporaryDirectory(prefix="delegate-bench-demo-") as tmp:
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "orchestrator.cli", "demo", "--dir", tmp],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        return time.perf_counter() - started, done.returncode


def main(runs: int) -> int:
    results = [run_once() for _ in range(runs)]
    seconds = [s for s, _ in results]
    codes = [c for _, c in results]
    median = statistics.median(seconds)
    print(f"{'run':>4} {'seconds':>8} {'exit':>5}")
    for i, (s, c) in enumerate(results, 1):
        print(f"{i:>4} {s:>8.1f} {c:>5}")
    print(f"median {median:.1f} s (target < {TARGET_S:.0f} s: {'met' if median < TARGET_S else 'not met'})")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "seconds": [round(s, 2) for s in seconds],
                "exit_codes": codes,
                "median_s": round(median, 2),
                "target_s": TARGET_S,
                "load_average": os.getloadavg()[0],
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"written: {RESULTS.relative_to(ROOT)}")
    return 0 if all(c == 0 for c in codes) else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1))
