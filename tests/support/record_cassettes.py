"""Record the bundled cassettes: each scripted session of tests/support/agent_sessions.py, played by the local
Messages API server and recorded through the real SDK by `delegate migrations --record`, on a fresh git copy of
examples/cfi-app. The cassettes' metadata says they were scripted.

    python -m tests.support.record_cassettes                 # every session
    python -m tests.support.record_cassettes 042-lesson-progress

DATABASE_URL names the PostgreSQL the judge may use (default: a throwaway server).
"""

from __future__ import annotations

import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from orchestrator.pipeline import MigrationsOptions, MigrationsResult, run_migrations
from tests.support.agent_sessions import SESSIONS, prepare_repo
from tests.support.example_repo import FEATURE_SPEC, make_example_repo
from tests.support.messages_api import ScriptedMessagesAPI
from tests.support.sessions import FAKE_API_KEY, SERVER

ROOT = Path(__file__).resolve().parents[2]
CASSETTES = ROOT / "cassettes"


@contextmanager
def _environment(**values: str) -> Any:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def suggested_revision(repo: Path) -> str:
    from orchestrator.bundle import build_bundle

    return build_bundle(repo, repo / FEATURE_SPEC).suggested_revision_id


def record(name: str, folder: Path = CASSETTES, database_url: str | None = None) -> MigrationsResult:
    """Record one session into folder/NAME.yaml (replacing it) and return the run's result."""
    factory, run_options = SESSIONS[name]
    target = folder / f"{name}.yaml"
    target.unlink(missing_ok=True)
    keep = bool(os.environ.get("DELEGATE_KEEP"))  # keep the repo (and its .git/delegate/runs) to look at
    with tempfile.TemporaryDirectory(prefix="delegate-record-", ignore_cleanup_errors=True) as scratch:
        tmp = tempfile.mkdtemp(prefix="delegate-record-") if keep else scratch
        repo = make_example_repo(Path(tmp), with_solution=False)
        prepare_repo(name, repo)
        turns = factory(suggested_revision(repo))
        with (
            ScriptedMessagesAPI(turns, session=name) as api,
            _environment(ANTHROPIC_BASE_URL=api.base_url, ANTHROPIC_API_KEY=FAKE_API_KEY),
        ):
            options = MigrationsOptions(
                repo=repo,
                spec=Path(FEATURE_SPEC),
                record=target,
                database_url=database_url or os.environ.get("DATABASE_URL"),
                cassette_metadata={"scripted": True, "server": SERVER, "session": name},
                **run_options,
            )
            return run_migrations(options)


def main(names: list[str]) -> int:
    for name in names or list(SESSIONS):
        result = record(name)
        usage = result.progress.usage
        print(
            f"{name:<32} {result.status:<14} rounds {len(result.rounds)} turns {result.progress.turns:>2} "
            f"prompt {usage.prompt_tokens:>7} cached {usage.cache_read_share:>4.0%} ${result.progress.cost_usd:.4f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
