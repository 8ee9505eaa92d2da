"""The live half on branched histories: a feature on several base heads downgrades to all of them and traces locks."""

from __future__ import annotations

from pathlib import Path

import git
import pytest

from orchestrator.check import CheckOptions
from orchestrator.config import DelegateConfig
from orchestrator.feature import close_upwards
from orchestrator.pg import PostgresServer, ScratchDatabase
from orchestrator.report import Finding
from orchestrator.target import resolve_target
from orchestrator.verification import StepStatus, Verification
from orchestrator.verify.fingerprint import SchemaFingerprint
from orchestrator.verify.live import LiveRun, run_live
from orchestrator.verify.locks import split_offline_sql
from orchestrator.verify.version_tables import stamped_revisions
from tests.support.live_repo import ENV_PY, INI, revision

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("no_scratch_left")]

# The shared history: a root, two branches off it (the base heads of the features below), and an unrelated head
# that nothing merges (`alembic upgrade heads` would apply it; the verification must not).
HISTORY = {
    "r1root": (None, "CREATE TABLE public.items (id int PRIMARY KEY, name text)", "DROP TABLE public.items"),
    "r2alpha": ("r1root", "CREATE TABLE public.a_things (id int PRIMARY KEY)", "DROP TABLE public.a_things"),
    "r2beta": ("r1root", "CREATE TABLE public.b_things (id int PRIMARY KEY)", "DROP TABLE public.b_things"),
    "rzother": ("r1root", "CREATE TABLE public.unrelated (id int PRIMARY KEY)", "DROP TABLE public.unrelated"),
}
# (a) the feature is the merge of both branches plus a revision above it; both lock the existing table items.
MERGE_FEATURE = {
    "r3merge": (
        ("r2alpha", "r2beta"),
        "ALTER TABLE public.items ADD COLUMN note text",
        "ALTER TABLE public.items DROP COLUMN note",
    ),
    "r4above": (
        "r3merge",
        "CREATE INDEX items_name_idx ON public.items (name); CREATE TABLE public.c_things (id int PRIMARY KEY)",
        "DROP TABLE public.c_things; DROP INDEX public.items_name_idx",
    ),
}
# (b) the feature adds one revision on each branch and merges them; the beta one forgets its function.
TRACE_FEATURE = {
    "r3alpha": ("r2alpha", "CREATE TABLE public.a_more (id int PRIMARY KEY)", "DROP TABLE public.a_more"),
    "r3beta": (
        "r2beta",
        "CREATE TABLE public.b_more (id int PRIMARY KEY);"
        " CREATE FUNCTION public.b_more_count() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM public.b_more'",
        "DROP TABLE public.b_more CASCADE",
    ),
    "r4join": (("r3alpha", "r3beta"), "CREATE TABLE public.joined (id int PRIMARY KEY)", "DROP TABLE public.joined"),
}
# A feature whose root stands on a revision that is not a base head: r5side forks from r1root, r5join merges it
# with r2alpha; the base is r2alpha alone, and `downgrade r2alpha` would leave r5side applied.
SIDE_FEATURE = {
    "r5side": ("r1root", "CREATE TABLE public.side (id int PRIMARY KEY)", "DROP TABLE public.side"),
    "r5join": (("r5side", "r2alpha"), "CREATE TABLE public.side_join (id int)", "DROP TABLE public.side_join"),
}

Revisions = dict[str, tuple[str | tuple[str, ...] | None, str, str]]


def write_revisions(root: Path, revisions: Revisions) -> None:
    versions = root / "api" / "alembic" / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    for rev, (down, up, down_sql) in revisions.items():
        up_body = "\n".join(f"op.execute({s.strip()!r})" for s in up.split(";"))
        down_body = "\n".join(f"op.execute({s.strip()!r})" for s in down_sql.split(";"))
        (versions / f"{rev}.py").write_text(revision(rev, down, up_body, down_body))  # type: ignore[arg-type]


def make_repo(root: Path, feature: Revisions, committed: bool = False) -> Path:
    """The history committed on main; the feature's revisions untracked (the working tree's) unless `committed`."""
    (root / "api" / "alembic").mkdir(parents=True)
    (root / "api" / "alembic.ini").write_text(INI)
    (root / "api" / "alembic" / "env.py").write_text(ENV_PY)
    write_revisions(root, HISTORY)
    repo = git.Repo.init(root, initial_branch="main")
    repo.index.add(["api"])
    repo.index.commit("history")
    write_revisions(root, feature)
    if committed:
        repo.index.add(["api"])
        repo.index.commit("feature")
    return root


def check(repo: Path, server: PostgresServer, since: str | None = None) -> tuple[Verification, list[Finding]]:
    options = CheckOptions(repo=repo, since=since, database_url=server.admin_url)
    return run_live(repo, DelegateConfig(timeout_seconds=60), options)


def step(verification: Verification, name: str) -> StepStatus:
    return next(s.status for s in verification.steps if s.name == name)


def test_a_merge_feature_round_trips_to_both_base_heads_and_its_locks_are_traced(
    tmp_path: Path, pg_server: PostgresServer
) -> None:
    # --since names one branch; the feature merges both, so the base is both branch heads.
    verification, findings = check(make_repo(tmp_path, MERGE_FEATURE), pg_server, since="r2alpha")
    assert verification.revisions == ["r3merge", "r4above"]
    assert verification.base_revision == "r2alpha, r2beta"
    assert [f for f in findings if f.severity == "error"] == [], findings
    for name in ("upgrade", "downgrade", "re-upgrade"):
        assert step(verification, name) is StepStatus.PASSED, (name, verification.steps)
    assert step(verification, "locks") is StepStatus.WARNED, verification.steps
    downgrade = next(s for s in verification.steps if s.name == "downgrade")
    assert downgrade.detail == "to r2alpha, r2beta; 0 difference(s) from the base"
    reupgrade = next(s for s in verification.steps if s.name == "re-upgrade")
    assert reupgrade.detail == "to r4above"  # the unrelated head rzother is never applied
    runs = {r.revision: r for r in verification.revision_runs}
    assert {r.status for r in runs.values()} == {"round-trips"}
    assert all(r.downgrade_ms is not None for r in runs.values())
    locks = {(lock.revision, lock.relation, lock.mode) for lock in verification.locks}
    assert ("r3merge", "public.items", "ACCESS EXCLUSIVE") in locks
    assert ("r4above", "public.items", "SHARE") in locks
    assert {f.file for f in findings if f.rule == "lock-on-existing-table"} == {
        "api/alembic/versions/r3merge.py",
        "api/alembic/versions/r4above.py",
    }


def test_the_downgrade_leaves_exactly_the_base_heads_and_the_base_schema(
    tmp_path: Path, pg_server: PostgresServer
) -> None:
    """Drive the round trip by hand and look at the database: the merge feature, then a root off a non-base head."""
    repo = make_repo(tmp_path, {**MERGE_FEATURE, **SIDE_FEATURE}, committed=True)
    live = LiveRun(
        resolve_target(CheckOptions(repo=repo, database_url=pg_server.admin_url), DelegateConfig(timeout_seconds=60))
    )
    cases = [({"r3merge"}, ["r2alpha", "r2beta"], ["r2alpha"]), ({"r5side"}, ["r2alpha"], ["r5side@r1root"])]
    for chosen, base, commands in cases:
        live.selection = close_upwards(live.graph, chosen)
        assert live.selection.base == base
        assert live.downgrade_commands() == commands
        with ScratchDatabase(pg_server) as db:
            for head in base:
                assert live.alembic(["upgrade", head], db.url).ok
            base_fp = SchemaFingerprint.take(db.url)
            assert live._upgrade(db.url, first=True)
            upgraded = stamped_revisions(db.url)
            assert "rzother" not in upgraded and upgraded == live.heads
            for command in live.downgrade_commands():
                assert live.alembic(["downgrade", command], db.url).ok
            assert stamped_revisions(db.url) == base
            assert SchemaFingerprint.take(db.url).diff(base_fp) == []
            assert live._upgrade(db.url, first=False)
            assert stamped_revisions(db.url) == upgraded


def test_a_trace_left_on_one_branch_is_found_and_named(tmp_path: Path, pg_server: PostgresServer) -> None:
    # No --since: the working tree's revisions (one per branch and their merge) are under test.
    verification, findings = check(make_repo(tmp_path, TRACE_FEATURE), pg_server)
    assert verification.revisions == ["r3alpha", "r3beta", "r4join"]
    assert verification.base_revision == "r2alpha, r2beta"
    traces = [f for f in findings if f.rule == "downgrade-leaves-trace"]
    assert len(traces) == 1, findings
    assert "b_more_count" in traces[0].message
    assert traces[0].file == "api/alembic/versions/r3beta.py"
    assert step(verification, "downgrade") is StepStatus.FAILED
    runs = {r.revision: r.status for r in verification.revision_runs}
    assert runs == {"r3alpha": "round-trips", "r3beta": "leaves-trace", "r4join": "round-trips"}
    assert step(verification, "locks") is not StepStatus.SKIPPED, verification.steps


def test_offline_rendering_starts_each_head_from_the_version_table_before_it(tmp_path: Path) -> None:
    """Two heads under test on a two-headed base: the second renders from the first, one step per revision."""
    repo = make_repo(tmp_path, {**MERGE_FEATURE, **SIDE_FEATURE}, committed=True)
    live = LiveRun(resolve_target(CheckOptions(repo=repo), DelegateConfig(timeout_seconds=60)))
    live.selection = close_upwards(live.graph, {"r3merge", "r5side"})
    assert live.heads == ["r4above", "r5join"]
    runs = live._render_offline("postgresql://nobody@invalid/none")
    assert [r.command for r in runs] == ["upgrade r2alpha,r2beta:r4above --sql", "upgrade r4above:r5join --sql"]
    assert all(r.ok for r in runs), [r.error_tail() for r in runs]
    rendered = [s.revision for r in runs for s in split_offline_sql(r.process.stdout) if s.revision]
    assert list(dict.fromkeys(rendered)) == ["r3merge", "r4above", "r5side", "r5join"]
