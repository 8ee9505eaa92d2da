"""Benchmark the re-entrant judge: the example feature judged, one revision file edited, judged again.

    python benchmarks/judge_reentrant.py [--database-url URL] [--edit downgrade|upgrade|both]

The repo is examples/cfi-app with examples/solutions/042-lesson-progress copied over it, in a temporary git repo
(the solution on a feature branch, as an agent's worktree holds it). For each edit, two ways to judge twice:
`run_check` twice (one-shot calls, as before the Judge: each starts its own fork server and, without
--database-url, its own throwaway PostgreSQL), and one `Judge` whose check() is called twice. The edits are the
ones an agent's repair makes: `downgrade` adds a statement to the downgrade of 002_lesson_progress.py (the
migrated database stays the same), `upgrade` adds a column comment to its upgrade (the schema changes).
Prints a table and writes benchmarks/results/judge_reentrant.json. Target: the judge's second call under half of
its first (for the downgrade edit; an upgrade edit must run the delivered tests again).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from orchestrator.check import CheckOptions, Judge, run_check  # noqa: E402
from orchestrator.report import CheckReport  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results" / "judge_reentrant.json"
REVISION = "api/alembic/versions/002_lesson_progress.py"
GIT = ["git", "-c", "user.name=Bench", "-c", "user.email=bench@example.test", "-c", "commit.gpgsign=false"]
TARGET_RATIO = 0.5

EDITS = {
    # (old, new) in the solution's revision file
    "downgrade": (
        '    op.drop_table("student_progress")\n',
        '    op.execute("SELECT 1")  # edited\n    op.drop_table("student_progress")\n',
    ),
    "upgrade": (
        "def upgrade() -> None:\n",
        "def upgrade() -> None:\n    op.execute(\"COMMENT ON TABLE public.lessons IS 'edited'\")\n",
    ),
}


def example_repo(folder: Path) -> Path:
    repo = folder / "cfi-app"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    shutil.copytree(ROOT / "examples" / "cfi-app", repo, ignore=ignore)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "cfi-app"]):
        subprocess.run([*GIT, *args], cwd=repo, check=True)
    subprocess.run([*GIT, "checkout", "-qb", "feature/042-lesson-progress"], cwd=repo, check=True)
    shutil.copytree(ROOT / "examples" / "solutions" / "042-lesson-progress", repo, dirs_exist_ok=True, ignore=ignore)
    for args in (["add", "-A"], ["commit", "-qm", "042"]):
        subprocess.run([*GIT, *args], cwd=repo, check=True)
    return repo


def edit(repo: Path, which: str) -> None:
    path = repo / REVISION
    old, new = EDITS[which]
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} is not in {path} exactly once"
    path.write_text(text.replace(old, new), encoding="utf-8")


def summary(report: CheckReport) -> dict[str, object]:
    verification = report.verification
    return {
        "findings": [f"{f.rule} {f.file}:{f.line}" for f in report.findings],
        "steps": {s.name: s.seconds for s in verification.steps} if verification else {},
    }


def timed(call: object) -> tuple[float, CheckReport]:
    started = time.perf_counter()
    report = call()  # type: ignore[operator]
    return time.perf_counter() - started, report


def measure(which: str, database_url: str | None) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="delegate-bench-judge-") as tmp:
        repo = example_repo(Path(tmp) / "one-shot")
        options = CheckOptions(repo=repo, database_url=database_url)
        before_first, r1 = timed(lambda: run_check(options))
        edit(repo, which)
        before_second, r2 = timed(lambda: run_check(options))

        repo = example_repo(Path(tmp) / "judge")
        options = CheckOptions(repo=repo, database_url=database_url)
        with Judge(options) as judge:
            first, j1 = timed(judge.check)
            edit(repo, which)
            second, j2 = timed(judge.check)
        same = [summary(r)["findings"] for r in (r1, r2)] == [summary(r)["findings"] for r in (j1, j2)]
        return {
            "edit": which,
            "one_shot_first_s": round(before_first, 2),
            "one_shot_second_s": round(before_second, 2),
            "judge_first_s": round(first, 2),
            "judge_second_s": round(second, 2),
            "ratio": round(second / first, 3),
            "target_met": second < TARGET_RATIO * first,
            "same_findings_as_one_shot": same,
            "judge_second_steps": summary(j2)["steps"],
            "judge_second_notes": j2.verification.notes if j2.verification else [],
            "findings_after_edit": summary(j2)["findings"],
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=None, help="a server for scratch databases (default: throwaway)")
    parser.add_argument("--edit", choices=["downgrade", "upgrade", "both"], default="both")
    args = parser.parse_args()
    load_before = list(os.getloadavg())
    edits = ["downgrade", "upgrade"] if args.edit == "both" else [args.edit]
    rows = [measure(which, args.database_url) for which in edits]
    print(
        f"{'edit':<10} {'run_check 1st':>13} {'run_check 2nd':>13} {'Judge 1st':>10} {'Judge 2nd':>10} {'2nd/1st':>8}"
    )
    for row in rows:
        print(
            f"{row['edit']:<10} {row['one_shot_first_s']:>12.2f}s {row['one_shot_second_s']:>12.2f}s "
            f"{row['judge_first_s']:>9.2f}s {row['judge_second_s']:>9.2f}s {row['ratio']:>8.2f}"
            + ("" if row["same_findings_as_one_shot"] else "  (findings differ from run_check!)")
        )
    print(f"target: the judge's second call under {TARGET_RATIO:.0%} of its first")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "judge_reentrant",
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
                "python": platform.python_version(),
                "server": args.database_url or "throwaway (started by delegate)",
                "load_average_before": [round(x, 2) for x in load_before],
                "target_ratio": TARGET_RATIO,
                "runs": rows,
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
