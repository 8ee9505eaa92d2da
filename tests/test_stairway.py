"""`delegate check --stairway` on small branched histories with planted faults, on a real PostgreSQL."""

from __future__ import annotations

import io
import json
import os
import sys
import textwrap
from contextlib import redirect_stdout
from pathlib import Path

import psycopg
import pytest

from orchestrator.check import CheckOptions
from orchestrator.config import DelegateConfig, config_from
from orchestrator.pg import PostgresServer, owned_databases
from orchestrator.pg.scratch import owned_name
from orchestrator.report import Finding, Severity
from orchestrator.verification import RevisionRun, Verification
from orchestrator.verify.alembic_env import AlembicProject
from orchestrator.verify.stairway import run_stairway
from orchestrator.verify.worker_client import AlembicWorker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the benchmarks folder sits beside the package

from benchmarks.synthetic_history import write_history, write_repo  # noqa: E402

pytestmark = pytest.mark.postgres

REVISION = '''\
"""{message}"""

import sqlalchemy as sa
from alembic import op

revision = {revision!r}
down_revision = {down!r}
branch_labels = None
depends_on = None

{extra}

def upgrade() -> None:
{upgrade}


def downgrade() -> None:
{downgrade}
'''


def _body(text: str) -> str:
    return textwrap.indent(textwrap.dedent(text).strip() or "pass", "    ")


def add_revision(
    repo: Path,
    revision: str,
    down: str | tuple[str, ...] | None,
    upgrade: str = "pass",
    downgrade: str = "pass",
    extra: str = "",
) -> None:
    folder = repo / "api" / "alembic" / "versions"
    (folder / f"{revision}.py").write_text(
        REVISION.format(
            message=f"revision {revision}",
            revision=revision,
            down=down,
            extra=textwrap.dedent(extra),
            upgrade=_body(upgrade),
            downgrade=_body(downgrade),
        ),
        encoding="utf-8",
    )


def branched_repo(root: Path, overrides: dict[str, tuple[str, str]] | None = None) -> Path:
    """A0 forks into B1 -> C1 and B2 -> C2; M1 merges them; H1 sits on top."""
    write_repo(root)
    steps: dict[str, tuple[str | tuple[str, ...] | None, str, str]] = {
        "a0": (
            None,
            "op.create_table('items', sa.Column('id', sa.Integer(), primary_key=True), sa.Column('name', sa.Text()))",
            "op.drop_table('items')",
        ),
        "b1": ("a0", "op.add_column('items', sa.Column('b1', sa.Text()))", "op.drop_column('items', 'b1')"),
        "c1": ("b1", "op.create_index('ix_items_b1', 'items', ['b1'])", "op.drop_index('ix_items_b1', 'items')"),
        "b2": (
            "a0",
            "op.create_table('tags', sa.Column('id', sa.Integer(), primary_key=True))",
            "op.drop_table('tags')",
        ),
        "c2": (
            "b2",
            """
            op.execute("CREATE TYPE tag_kind AS ENUM ('x', 'y')")
            op.execute("ALTER TABLE tags ADD COLUMN kind tag_kind")
            """,
            """
            op.execute("ALTER TABLE tags DROP COLUMN kind")
            op.execute("DROP TYPE tag_kind")
            """,
        ),
        "m1": (("c1", "c2"), "pass", "pass"),
        "h1": (
            "m1",
            "op.execute(\"CREATE FUNCTION tag_count() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM tags'\")",
            'op.execute("DROP FUNCTION tag_count()")',
        ),
    }
    for rev, (down, up, dn) in steps.items():
        up, dn = (overrides or {}).get(rev, (up, dn))
        add_revision(root, rev, down, up, dn)
    return root


def stairway(
    repo: Path, server: PostgresServer, since: str | None = None, **cfg: object
) -> tuple[Verification, list[Finding]]:
    config = config_from({"timeout_seconds": 30, **cfg})
    options = CheckOptions(repo=repo, stairway=True, since=since, database_url=server.admin_url)
    return run_stairway(repo, config, options)


def runs_by_id(verification: Verification) -> dict[str, RevisionRun]:
    return {run.revision: run for run in verification.revision_runs}


def our_databases(server: PostgresServer) -> list[str]:
    """Scratch databases this test process still has on the server (templates are a cache, left on purpose)."""
    return owned_databases(server)


def test_branched_history_round_trips_and_leaves_nothing(tmp_path: Path, pg_server: PostgresServer) -> None:
    # h1 also prints, at the Python level and straight to file descriptor 1: the worker's protocol must not care.
    noisy = """
        import os
        print('hello from a revision')
        os.write(1, b'raw bytes on fd 1\\n')
        op.execute("CREATE FUNCTION tag_count() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM tags'")
    """
    repo = branched_repo(tmp_path / "repo", {"h1": (noisy, 'op.execute("DROP FUNCTION tag_count()")')})
    before = our_databases(pg_server)
    verification, findings = stairway(repo, pg_server)
    runs = runs_by_id(verification)
    assert [r.revision for r in verification.revision_runs] == ["a0", "b1", "b2", "c1", "c2", "m1", "h1"]
    assert {rev: run.status for rev, run in runs.items()} == dict.fromkeys(runs, "round-trips")
    assert findings == []
    assert runs["c1"].file == "api/alembic/versions/c1.py"
    assert runs["c1"].upgrade_ms is not None and runs["c1"].downgrade_ms is not None
    assert "7 of 7 revisions round-trip" in verification.notes
    assert our_databases(pg_server) == before


def test_a_branch_revision_steps_down_only_its_own_branch(tmp_path: Path, pg_server: PostgresServer) -> None:
    # --since b2: c2's parent state holds the other branch (b1, c1) too; its downgrade must leave that branch alone,
    # and the merge's downgrade must return to both parents.
    repo = branched_repo(tmp_path / "repo")
    verification, findings = stairway(repo, pg_server, since="b2")
    assert verification.base_revision == "b2, c1"
    assert [(r.revision, r.status) for r in verification.revision_runs] == [
        ("c2", "round-trips"),
        ("m1", "round-trips"),
        ("h1", "round-trips"),
    ]
    assert findings == []

    # The same, seen in the version table: one step down from c2 (with c1 applied) and from the merge.
    project = AlembicProject.for_repo(repo, DelegateConfig())
    probe = owned_name("stairway_branch_probe")  # unique per run: other runs may share the server
    with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {probe}")
    url = pg_server.url_for(probe)
    sa_url = pg_server.sqlalchemy_url_for(probe)
    try:
        with AlembicWorker(project, timeout=30) as worker:
            assert worker.upgrade(url, sa_url, "c1").ok and worker.upgrade(url, sa_url, "c2").ok
            assert worker.downgrade(url, sa_url, "c2@-1").ok
            assert _heads(url) == ["b2", "c1"]
            assert worker.upgrade(url, sa_url, "m1").ok
            assert worker.downgrade(url, sa_url, "c1").ok  # a merge steps down to its parents
            assert _heads(url) == ["c1", "c2"]
    finally:
        with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {probe} WITH (FORCE)")


def _heads(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return sorted(row[0] for row in conn.execute("SELECT version_num FROM alembic_version"))


def test_planted_faults_are_each_found_with_rule_and_object(tmp_path: Path, pg_server: PostgresServer) -> None:
    repo = tmp_path / "repo"
    versions = write_repo(repo)
    info = write_history(
        versions,
        12,
        feature=0,
        faults={3: "downgrade-raises", 5: "index-left", 7: "enum-left", 9: "policy-left"},
        repo=repo,
    )
    verification, findings = stairway(repo, pg_server)
    runs = runs_by_id(verification)
    assert len(info.faults) == 4
    for fault in info.faults:
        hits = [f for f in findings if f.rule == fault.rule and f.file == fault.file]
        assert hits, f"{fault.kind} in {fault.file} not found: {findings}"
        assert fault.revision in hits[0].message
        for name in fault.objects:
            assert name in hits[0].message
        if fault.message:
            assert fault.message in hits[0].message
            assert "in a fresh process it fails too" in hits[0].message
        assert runs[fault.revision].status != "round-trips"
    faulty = {f.revision for f in info.faults}
    assert all(run.status == "round-trips" for rev, run in runs.items() if rev not in faulty)
    assert {f.file for f in findings} == {f.file for f in info.faults}
    assert f"{12 - 4} of 12 revisions round-trip" in verification.notes
    # A re-upgrade that trips over what its downgrade left points back at that trace.
    for again in (f for f in findings if f.rule == "reupgrade-failed"):
        assert again.fix.startswith("most likely a consequence of what the downgrade left behind (")
    enum = next(f for f in info.faults if f.kind == "enum-left")
    assert any(f.rule == "reupgrade-failed" and f.file == enum.file for f in findings)


def test_failed_upgrade_skips_descendants_but_walks_the_sibling_branch(
    tmp_path: Path, pg_server: PostgresServer
) -> None:
    repo = branched_repo(tmp_path / "repo", {"b1": ("op.execute('SELECT no_such_function()')", "pass")})
    before = our_databases(pg_server)
    verification, findings = stairway(repo, pg_server)
    runs = runs_by_id(verification)
    assert runs["b1"].status == "upgrade-failed"
    assert runs["c1"].status == "skipped" and runs["c1"].detail == "parent b1 failed to upgrade"
    assert runs["m1"].status == "skipped"
    assert runs["h1"].status == "skipped" and "b1" in runs["h1"].detail
    assert [runs[r].status for r in ("a0", "b2", "c2")] == ["round-trips"] * 3
    (failure,) = findings
    assert failure.rule == "upgrade-failed" and failure.file == "api/alembic/versions/b1.py"
    assert "no_such_function" in failure.message and failure.line == 14
    assert "found in worker mode; in a fresh process it fails too" in failure.message
    assert "3 of 7 revisions round-trip" in verification.notes
    assert our_databases(pg_server) == before


def test_irreversible_on_purpose_is_not_downgrade_failed_and_children_still_walk(
    tmp_path: Path, pg_server: PostgresServer
) -> None:
    # warehouse: downgrades that only raise, on purpose. The static rule irreversible-downgrade reports them;
    # the stairway adds no downgrade-failed, marks the revision irreversible and walks its children.
    refusal = "raise RuntimeError('Order No. 227 - no step back')"
    trying = "op.execute('DROP TABLE c2_only')\nop.execute(\"DO $$ BEGIN RAISE EXCEPTION 'data loss'; END $$\")"
    repo = branched_repo(
        tmp_path / "repo",
        {
            "c1": ("op.create_index('ix_items_b1', 'items', ['b1'])", refusal),
            "c2": ("op.execute('CREATE TABLE c2_only (id int)')", trying),
        },
    )
    verification, findings = stairway(repo, pg_server, irreversible_revisions=["c2"])
    runs = runs_by_id(verification)
    assert runs["c1"].status == "irreversible" and "only raises" in runs["c1"].detail
    assert runs["c2"].status == "irreversible"
    # c2 is listed and its downgrade tried and refused: an info of its own rule, no error.
    (finding,) = findings
    assert finding.rule == "irreversible-downgrade" and finding.severity is Severity.INFO
    assert finding.file == "api/alembic/versions/c2.py" and "data loss" in finding.message
    assert runs["m1"].status == "round-trips" and runs["h1"].status == "round-trips"


def test_a_downgrade_that_tries_and_fails_is_still_downgrade_failed(tmp_path: Path, pg_server: PostgresServer) -> None:
    failing = "op.drop_index('ix_items_b1', 'items')\nop.execute('DROP TABLE no_such_table')"
    repo = branched_repo(tmp_path / "repo", {"c1": ("op.create_index('ix_items_b1', 'items', ['b1'])", failing)})
    verification, findings = stairway(repo, pg_server)
    assert runs_by_id(verification)["c1"].status == "downgrade-failed"
    assert [f.rule for f in findings] == ["downgrade-failed"] and findings[0].severity is Severity.ERROR


def test_a_revision_that_fails_only_in_the_worker_says_so(tmp_path: Path, pg_server: PostgresServer) -> None:
    # Module state survives between commands in the worker: the second upgrade of this revision raises there only.
    write_repo(tmp_path / "repo")
    repo = tmp_path / "repo"
    add_revision(
        repo, "p0", None, "op.create_table('t', sa.Column('id', sa.Integer(), primary_key=True))", "op.drop_table('t')"
    )
    add_revision(
        repo,
        "p1",
        "p0",
        """
        CALLS.append(1)
        if len(CALLS) > 1:
            raise RuntimeError('ran twice in one process')
        op.add_column('t', sa.Column('x', sa.Text()))
        """,
        "op.drop_column('t', 'x')",
        extra="CALLS: list[int] = []\n",
    )
    verification, findings = stairway(repo, pg_server)
    (finding,) = findings
    assert finding.rule == "reupgrade-failed" and "ran twice in one process" in finding.message
    assert "found in worker mode; in a fresh process it passes" in finding.message


def test_a_hanging_revision_times_out_and_the_walk_goes_on(tmp_path: Path, pg_server: PostgresServer) -> None:
    repo = branched_repo(tmp_path / "repo", {"b1": ("op.execute('SELECT pg_sleep(60)')", "pass")})
    before = our_databases(pg_server)
    verification, findings = stairway(repo, pg_server, timeout_seconds=3)
    runs = runs_by_id(verification)
    assert runs["b1"].status == "upgrade-failed" and "timed out after 3 s" in runs["b1"].detail
    assert runs["c1"].status == "skipped"
    assert runs["b2"].status == "round-trips" and runs["c2"].status == "round-trips"
    assert any(f.rule == "upgrade-failed" and "timed out" in f.message for f in findings)
    assert "1 restarts" in " ".join(verification.notes)
    assert our_databases(pg_server) == before


def test_cli_prints_the_stairway_as_json(tmp_path: Path, pg_server: PostgresServer) -> None:
    from orchestrator.cli import main

    failing = "op.execute('DROP TABLE no_such_table')"
    repo = branched_repo(tmp_path / "repo", {"c2": ("op.execute('CREATE TABLE c2_only (id int)')", failing)})
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(
            ["check", "--repo", str(repo), "--stairway", "--format", "json", "--database-url", pg_server.admin_url]
        )
    assert code == 1
    report = json.loads(out.getvalue())
    runs = {run["revision"]: run for run in report["verification"]["revision_runs"]}
    assert runs["c2"]["status"] == "downgrade-failed" and runs["h1"]["status"] == "round-trips"
    stair = [f for f in report["findings"] if f["rule"] == "downgrade-failed"]
    assert stair and stair[0]["file"] == "api/alembic/versions/c2.py" and stair[0]["line"]
    assert "6 of 7 revisions round-trip" in report["verification"]["notes"]


def test_lanes_walk_side_by_side_with_the_same_verdicts(tmp_path: Path, pg_server: PostgresServer) -> None:
    # Three lanes over [a0 b1 b2] [c1 c2 m1] [h1]: the later lanes replay their first parents, a failure in one
    # lane still skips its descendants in the others, and the merge still starts from both branches.
    from orchestrator.feature import RevisionSelection
    from orchestrator.revisions import RevisionGraph
    from orchestrator.verify.stairway import StairwayWalk

    repo = branched_repo(tmp_path / "repo", {"b1": ("op.execute('SELECT no_such_function()')", "pass")})
    cfg = DelegateConfig(timeout_seconds=30)
    project = AlembicProject.for_repo(repo, cfg)
    graph = RevisionGraph.from_folder(project.versions_dir, project.repo)
    selection = RevisionSelection(under_test=graph.topological(), base=[], how="the whole history")
    before = our_databases(pg_server)
    verification, findings = StairwayWalk(pg_server, project, graph, selection, cfg, progress=False, lanes=3).run()
    statuses = {run.revision: (run.status, run.detail.split(" (found")[0]) for run in verification.revision_runs}
    assert statuses["b1"][0] == "upgrade-failed"
    assert statuses["c1"] == ("skipped", "parent b1 failed to upgrade")
    assert statuses["m1"][0] == "skipped" and statuses["h1"] == ("skipped", "b1 (an ancestor) failed to upgrade")
    assert [statuses[r][0] for r in ("a0", "b2", "c2")] == ["round-trips"] * 3
    assert [f.rule for f in findings] == ["upgrade-failed"]
    assert "3 lane(s)" in " ".join(verification.notes)
    assert our_databases(pg_server) == before


def test_ctrl_c_stops_the_walk_and_drops_everything(tmp_path: Path, pg_server: PostgresServer) -> None:
    import signal
    import subprocess
    import time

    repo = branched_repo(tmp_path / "repo", {"c2": ("op.execute('SELECT pg_sleep(60)')", "pass")})
    script = "import sys\nfrom orchestrator.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    argv = ["check", "--repo", str(repo), "--stairway", "--format", "json", "--database-url", pg_server.admin_url]
    proc = subprocess.Popen([sys.executable, "-c", script, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    # Wait until the walk hangs in c2 (its scratch database exists), then interrupt it as a terminal would.
    while time.monotonic() < deadline and not _databases_of(pg_server, proc.pid):
        time.sleep(0.2)
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert b"stairway interrupted after" in err
    assert _databases_of(pg_server, proc.pid) == []
    workers = subprocess.run(["pgrep", "-f", "verify/worker.py"], capture_output=True, text=True).stdout.split()
    assert not [pid for pid in workers if _cwd_of(pid) == repo / "api"]  # the walk's workers ran in api/


def _databases_of(server: PostgresServer, pid: int) -> list[str]:
    return owned_databases(server, pid)


def _cwd_of(pid: str) -> Path | None:
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return None


def test_a_plain_postgres_history_that_creates_uuid_ossp_walks_without_the_emulation(
    tmp_path: Path, pg_server: PostgresServer
) -> None:
    # polar's first revision creates uuid-ossp itself; under the Supabase emulation it is already there.
    first = (
        """op.execute('CREATE EXTENSION "uuid-ossp"')\n"""
        'op.execute("CREATE TABLE items (id uuid PRIMARY KEY DEFAULT uuid_generate_v4(), name text)")',
        """op.execute("DROP TABLE items")\nop.execute('DROP EXTENSION "uuid-ossp"')""",
    )
    repo = branched_repo(tmp_path / "repo", {"a0": first})
    verification, findings = stairway(repo, pg_server)
    assert findings == [], findings
    assert any(n.startswith("target: postgres (detected: ") for n in verification.notes)
    # The same history on target supabase fails its first revision: what the stairway did before.
    verification, findings = stairway(repo, pg_server, target="supabase")
    assert "already exists" in " ".join(f.message for f in findings if f.rule == "upgrade-failed")
