"""Does the live check's cost grow with the history? Naive full cycles vs `delegate check` (live), cold and cached.

    python benchmarks/verify_scaling.py [--database-url URL] [--sizes 10,100,300]

For each synthetic history (N revisions, the last 3 the feature), prints side by side: the naive cycle from an
empty database (`alembic upgrade head`, `downgrade base`, `upgrade head`), and the live half of `delegate check
--since <base>` on its first run (the base template is built) and its second (the template is reused). Then the
example repo with the 042 solution. Results go to benchmarks/results/verify_scaling.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from synthetic_history import write_synthetic_repo  # noqa: E402

from orchestrator.check import CheckOptions  # noqa: E402
from orchestrator.config import DelegateConfig, load_config  # noqa: E402
from orchestrator.pg import PostgresServer, ScratchDatabase, ensure_template, open_server, template_name  # noqa: E402
from orchestrator.report import Finding, Severity  # noqa: E402
from orchestrator.revisions import RevisionGraph  # noqa: E402
from orchestrator.verification import Verification  # noqa: E402
from orchestrator.verify.alembic_env import AlembicProject, sqlalchemy_form  # noqa: E402
from orchestrator.verify.live import run_live, template_key  # noqa: E402
from tests.support.example_repo import make_example_repo  # noqa: E402


def naive_cycle(server: PostgresServer, repo: Path, cfg: DelegateConfig) -> float:
    """upgrade head, downgrade base, upgrade head on an empty (Supabase-emulated) database: what CI usually does."""
    project = AlembicProject.for_repo(repo, cfg)
    emulated = ensure_template(server, "supabase-only", lambda url: None)
    with ScratchDatabase(server, template=emulated) as db:
        started = time.perf_counter()
        for args in (["upgrade", "head"], ["downgrade", "base"], ["upgrade", "head"]):
            run = project.run(args, sqlalchemy_form(db.url), db.url)
            if not run.ok:
                raise SystemExit(f"naive {' '.join(args)} failed on {repo}: {run.error_tail()}")
        return time.perf_counter() - started


def drop_cached_template(server: PostgresServer, repo: Path, cfg: DelegateConfig, base: list[str]) -> None:
    """So that the "first run" really builds its template, even when an earlier benchmark left one."""
    project = AlembicProject.for_repo(repo, cfg)
    graph = RevisionGraph.from_folder(project.versions_dir, repo)
    name = template_name(template_key(project, graph, base))
    if server.database_exists(name):
        server.drop_database(name)


def live(repo: Path, cfg: DelegateConfig, url: str, since: str | None) -> tuple[float, Verification, list[Finding]]:
    started = time.perf_counter()
    verification, findings = run_live(repo, cfg, CheckOptions(repo=repo, since=since, database_url=url))
    return time.perf_counter() - started, verification, findings


def errors(findings: list[Finding]) -> list[str]:
    return [f"{f.rule}: {f.message}" for f in findings if f.severity is Severity.ERROR]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--sizes", default="10,100,300")
    args = parser.parse_args()
    server = open_server(args.database_url)
    url = server.admin_url
    rows: list[dict[str, object]] = []
    print(f"{'history':>8} {'naive cycle':>12} {'check, 1st run':>15} {'check, cached':>14}  errors")
    with tempfile.TemporaryDirectory(prefix="delegate_bench_") as tmp:
        for size in [int(s) for s in args.sizes.split(",")]:
            repo = Path(tmp) / f"history-{size}"
            info = write_synthetic_repo(repo, size, feature=3, faults=())
            cfg = DelegateConfig(models=None)
            naive = naive_cycle(server, repo, cfg)
            base = [info.base_revision] if info.base_revision else []
            drop_cached_template(server, repo, cfg, base)
            first, _, _ = live(repo, cfg, url, info.base_revision)
            cached, verification, findings = live(repo, cfg, url, info.base_revision)
            problems = errors(findings)
            print(f"{size:>8} {naive:>11.2f}s {first:>14.2f}s {cached:>13.2f}s  {len(problems)}")
            rows.append(
                {
                    "revisions": size,
                    "feature_revisions": 3,
                    "naive_cycle_s": round(naive, 3),
                    "check_first_run_s": round(first, 3),
                    "check_cached_s": round(cached, 3),
                    "steps_cached": {s.name: s.seconds for s in verification.steps},
                    "errors": problems,
                }
            )
        example = make_example_repo(Path(tmp) / "example", with_solution=True)
        cfg = load_config(example)
        example_first, _, _ = live(example, cfg, url, None)
        example_cached, verification, findings = live(example, cfg, url, None)
        print(
            f"example 042 (solution): 1st run {example_first:.2f}s, cached {example_cached:.2f}s,"
            f" {len(errors(findings))} errors"
        )
        for step in verification.steps:
            print(f"    {step.name:<16} {step.status.value:<8} {step.seconds:6.2f}s")
    ratio = rows[-1]["check_cached_s"] / rows[0]["check_cached_s"] if len(rows) > 1 else 1.0  # type: ignore[operator]
    print(f"cached check, largest vs smallest history: {ratio:.2f}x (target <= 1.5x)")
    result = {
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "server": server.description},
        "histories": rows,
        "cached_ratio_largest_vs_smallest": round(ratio, 3),
        "example_042": {
            "first_run_s": round(example_first, 3),
            "cached_s": round(example_cached, 3),
            "steps_cached": {s.name: s.seconds for s in verification.steps},
            "errors": errors(findings),
        },
    }
    out = ROOT / "benchmarks" / "results" / "verify_scaling.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out.relative_to(ROOT)}")
    server.close()


if __name__ == "__main__":
    main()
