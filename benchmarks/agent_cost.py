"""What a delegated session costs: the bundled cassettes replayed through the whole pipeline (real SDK, workspace,
judge on PostgreSQL), per session: turns, rounds, tokens, the share of the prompt read from the cache, dollars,
the orchestrator's own time per turn (without the model and the checks) and the judge's time per check.

    python benchmarks/agent_cost.py [SESSION ...]       # default: every cassette in cassettes/

Targets (issue 10): >= 70% of input tokens read from cache over a multi-turn session; <= 50 ms of the
orchestrator's own time per turn. Writes benchmarks/results/agent_cost.json. DATABASE_URL names the server the
judge may use (default: a throwaway one, started once per session).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orchestrator.agent.recording import read_metadata  # noqa: E402
from orchestrator.pipeline import MigrationsOptions, run_migrations  # noqa: E402
from tests.support.agent_sessions import SESSIONS, prepare_repo  # noqa: E402
from tests.support.example_repo import FEATURE_SPEC, make_example_repo  # noqa: E402

CASSETTES = ROOT / "cassettes"
RESULTS = ROOT / "benchmarks" / "results" / "agent_cost.json"
CACHE_TARGET = 0.70
OWN_MS_TARGET = 50.0


def measure(name: str, database_url: str | None) -> dict[str, object]:
    cassette = CASSETTES / f"{name}.yaml"
    _, run_options = SESSIONS.get(name, (None, {}))
    with tempfile.TemporaryDirectory(prefix="delegate-bench-") as tmp:
        repo = make_example_repo(Path(tmp), with_solution=False)
        prepare_repo(name, repo)
        started = time.perf_counter()
        result = run_migrations(
            MigrationsOptions(
                repo=repo, spec=Path(FEATURE_SPEC), replay=cassette, database_url=database_url, **run_options
            )
        )
        wall = time.perf_counter() - started
    usage, timings, turns = result.progress.usage, result.timings, max(result.progress.turns, 1)
    return {
        "session": name,
        "scripted": bool(read_metadata(cassette).get("scripted")),
        "status": result.status,
        "rounds": len(result.rounds),
        "turns": result.progress.turns,
        "input_tokens": usage.input_tokens,
        "cache_read_input_tokens": usage.cache_read_input_tokens,
        "cache_creation_input_tokens": usage.cache_creation_input_tokens,
        "output_tokens": usage.output_tokens,
        "prompt_tokens": usage.prompt_tokens,
        "cache_read_share": round(usage.cache_read_share, 4),
        "cost_usd": round(result.progress.cost_usd, 4),
        "wall_s": round(wall, 2),
        "setup_s": round(timings.setup_s, 2),
        "model_s": round(timings.model_s, 3),
        "publish_s": round(timings.publish_s, 2),
        "teardown_s": round(max(timings.total_s - timings.setup_s - timings.loop_s, 0.0), 2),
        "own_ms_per_turn": round(1000 * timings.own_s / turns, 1),
        "judge_calls": timings.judge_calls,
        "judge_s_per_check": round(timings.judge_s / timings.judge_calls, 2) if timings.judge_calls else None,
    }


def main(names: list[str]) -> int:
    names = names or sorted(p.stem for p in CASSETTES.glob("*.yaml"))
    database_url = os.environ.get("DATABASE_URL")
    rows = [measure(name, database_url) for name in names]
    header = (
        f"{'session':<31} {'status':<13} {'rnd':>3} {'turn':>4} {'prompt':>8} {'cached':>6} {'out':>6} "
        f"{'cost $':>7} {'own ms/turn':>11} {'judge s/check':>13}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        judge = "-" if r["judge_s_per_check"] is None else f"{r['judge_s_per_check']:.2f}"
        print(
            f"{r['session']:<31} {r['status']:<13} {r['rounds']:>3} {r['turns']:>4} {r['prompt_tokens']:>8} "
            f"{r['cache_read_share']:>6.0%} {r['output_tokens']:>6} {r['cost_usd']:>7.4f} "
            f"{r['own_ms_per_turn']:>11.1f} {judge:>13}"
        )
    multi = [r for r in rows if int(r["turns"]) >= 3]  # type: ignore[call-overload]
    summary = {
        "cache_target": CACHE_TARGET,
        "own_ms_target": OWN_MS_TARGET,
        "multi_turn_sessions_meeting_cache_target": [
            r["session"] for r in multi if float(r["cache_read_share"]) >= CACHE_TARGET
        ],  # type: ignore[arg-type]
        "worst_own_ms_per_turn": max(float(r["own_ms_per_turn"]) for r in rows) if rows else None,  # type: ignore[arg-type]
    }
    print()
    print(
        f"cache target >= {CACHE_TARGET:.0%} on multi-turn sessions: met by {summary['multi_turn_sessions_meeting_cache_target']}"
    )
    print(
        f"orchestrator's own time per turn (target <= {OWN_MS_TARGET:.0f} ms): worst {summary['worst_own_ms_per_turn']} ms"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"sessions": rows, "summary": summary}, indent=2) + "\n", encoding="utf-8")
    print(f"written: {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
