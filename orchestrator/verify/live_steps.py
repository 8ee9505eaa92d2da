"""The live check's steps after the round trip: seeds, the RLS matrix, the delivered tests, locks, models, EXPLAIN.

Each step records itself on the LiveRun (verify/live.py) it is given: a VerificationStep and its findings.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from orchestrator.checks.rules.live import LiveRule
from orchestrator.pg import PostgresServer, ScratchDatabase
from orchestrator.verify.alembic_env import sqlalchemy_form
from orchestrator.verify.delivered import DeliveredTests, run_delivered_tests
from orchestrator.verify.explain import explain_patterns
from orchestrator.verify.locks import BLOCKING_MODES, LockTrace, mode_words, split_offline_sql, trace_locks
from orchestrator.verify.models_drift import ModelsComparison, compare_models, models_module_file
from orchestrator.verify.reuse import models_key, tests_key
from orchestrator.verify.rls import RlsMatrix, table_has_rls
from orchestrator.verify.rows import RowError, RowSynthesizer
from orchestrator.verify.seeds import run_seeds_twice, seed_files

if TYPE_CHECKING:
    from orchestrator.verify.live import LiveRun


def seeds(live: LiveRun, url: str) -> None:
    every = seed_files(live.repo, live.cfg)
    if not every:
        live.skip("seeds", f"no seed files under {', '.join(live.cfg.seeds_dirs)}")
        return
    changed = live.target.changed() or None
    feature = [p for p in every if changed is None or p.resolve() in changed] or every
    context = [p for p in every if p not in feature and p < feature[0]]
    with live.step("seeds") as record, psycopg.connect(url, autocommit=True) as conn:
        outcome = run_seeds_twice(
            conn,
            [(p, live.project.rel(p)) for p in feature],
            [(p, live.project.rel(p)) for p in context],
            live.cfg.exposed_schemas,
        )
        for failure in outcome.failures:
            live.finding(
                LiveRule.SEED_FAILED,
                f"seed {failure.file} raised: {failure.message}",
                "make the seed run on the migrated schema",
                failure.file,
                failure.line,
            )
        for change in outcome.changed:
            file, line = live.locate(
                rf"insert\s+into\s+(\w+\.)?\"?{re.escape(change.table.split('.')[-1])}\b", [live.repo / change.file]
            )
            live.finding(
                LiveRule.SEED_NOT_IDEMPOTENT_LIVE,
                f"running {change.file} a second time changed the row count of {change.table}"
                f" from {change.before} to {change.after}",
                "use ON CONFLICT on a unique key (ON CONFLICT DO NOTHING needs a unique constraint to hit),"
                " or WHERE NOT EXISTS",
                change.file,
                line,
            )
        record.detail = f"{len(feature)} file(s) run twice" + (
            f" after {len(context)} earlier one(s)" if context else ""
        )


def rls(live: LiveRun, url: str) -> None:
    if not live.target.supabase:
        live.skip("rls matrix", "target postgres: no Supabase roles (anon, authenticated, service_role) to try")
        return
    public = set(live.cfg.public_read_tables) | set(getattr(live.spec, "public_read_tables", None) or [])
    with psycopg.connect(url) as conn:
        tables = [t for t in live.feature_tables if table_has_rls(conn, t)]
        conn.rollback()
        if not tables:
            live.skip("rls matrix", "no table of the feature has row level security enabled")
            return
        with live.step("rls matrix") as record:
            cells = RlsMatrix(conn, live.cfg.owner_columns).run(tables, public)
            live.verification.rls_matrix = cells
            grouped: dict[tuple[LiveRule, str, str], list[str]] = {}
            for cell in cells:
                if cell.observed == "allow" and cell.expected == "deny":
                    grouped.setdefault((LiveRule.RLS_LEAK, cell.table, cell.actor), []).append(cell.action)
                elif cell.observed == "deny" and cell.expected == "allow":
                    grouped.setdefault((LiveRule.RLS_OVERBLOCK, cell.table, cell.actor), []).append(cell.action)
            policy_files = sorted((live.repo / live.cfg.policies_dir).rglob("*.sql"))
            for (rule, table, actor), actions in grouped.items():
                short = table.split(".")[-1]
                file, line = live.locate(rf"policy.*\bon\s+(\w+\.)?\"?{re.escape(short)}\b")
                if file is None:
                    file, line = live.locate(rf"policy.*\bon\s+(\w+\.)?\"?{re.escape(short)}\b", policy_files)
                if rule is LiveRule.RLS_LEAK:
                    live.finding(
                        rule,
                        f"{actor} can {', '.join(actions)} on {table}, which its policies should forbid",
                        "scope the policy to the row's owner (auth.uid() = owner column) and drop USING (true)"
                        " for writes; declare the table in public_read_tables if everyone may read it",
                        file,
                        line,
                    )
                else:
                    live.finding(
                        rule,
                        f"{actor} cannot {', '.join(actions)} on {table}, which it should reach",
                        "add a policy (and GRANT) that lets the owner reach its own rows",
                        file,
                        line,
                    )
            errors = [c for c in cells if c.observed == "error"]
            if errors:
                live.verification.notes.append(
                    f"rls matrix: {len(errors)} cell(s) could not be tried, e.g. {errors[0].table}"
                    f" {errors[0].actor} {errors[0].action}: {errors[0].detail}"
                )
            record.detail = f"{len(tables)} table(s), {len(cells)} cells"


def run_tests(live: LiveRun, tests_dir: Path, url: str) -> DeliveredTests:
    if live.memo is None:
        return run_delivered_tests(live.project, tests_dir, url)
    made_by = how_made(live)
    if made_by is None:
        return run_delivered_tests(live.project, tests_dir, url)
    key = tests_key(live.repo, live.project.versions_dir, tests_dir, live.project.python, url, made_by)
    outcome, reused = live.memo.outcome(
        "delivered tests", key, lambda: run_delivered_tests(live.project, tests_dir, url)
    )
    if reused:
        live.reused.append("delivered tests")
    return outcome


def how_made(live: LiveRun) -> str | None:
    """A digest of what made the scratch database the tests find (None when the upgrade SQL is not known)."""
    renders = live.rendering.result() if live.rendering is not None else []
    if not renders or not all(r.ok for r in renders):
        return None
    digest = hashlib.sha256(live.template.encode())
    for run in renders:
        digest.update(b"\0" + run.process.stdout.encode())
    for path in seed_files(live.repo, live.cfg):
        digest.update(f"\0{live.project.rel(path)}\0".encode() + path.read_bytes())
    for f in live.findings:  # what the round trip found decides the state it left
        digest.update(f"\0{f.rule}\0{f.message}".encode())
    return digest.hexdigest()


def compare_models_of(live: LiveRun, url: str) -> ModelsComparison:
    models, form = live.cfg.models, sqlalchemy_form(url)
    made_by = how_made(live) if live.memo is not None else None
    if live.memo is None or not models or made_by is None:
        return compare_models(live.project, models, form)
    key = models_key(live.repo, live.project.versions_dir, models, live.project.python, url, made_by)
    comparison, reused = live.memo.outcome("models", key, lambda: compare_models(live.project, models, form))
    if reused:
        live.reused.append("models")
    return comparison


def delivered_tests(live: LiveRun, outcome: DeliveredTests, seconds: float) -> None:
    tests_dir = (live.repo / live.cfg.tests_dir).resolve()
    if not outcome.ran:
        live.skip("delivered tests", outcome.note)
        return
    with live.step("delivered tests", seconds) as record:
        assert outcome.process is not None
        if outcome.failures:
            names = ", ".join(f.name for f in outcome.failures[:10])
            more = f" and {len(outcome.failures) - 10} more" if len(outcome.failures) > 10 else ""
            first = outcome.failures[0]
            live.finding(
                LiveRule.DELIVERED_TESTS_FAILED,
                f"{len(outcome.failures)} delivered test(s) failed against the migrated database: {names}{more}"
                f" (first: {first.message})",
                "fix the migration or the test; run them with DATABASE_URL set to a migrated database",
                live.project.rel(tests_dir),
            )
        elif outcome.missing_pytest:
            live.finding(
                LiveRule.DELIVERED_TESTS_FAILED,
                f"the delivered tests could not run: pytest is not installed for {live.project.python}",
                "install pytest into that interpreter, or set `python` in [tool.delegate] to the interpreter of "
                "the app's test environment",
                live.project.rel(tests_dir),
            )
        elif not outcome.process.ok:
            live.finding(
                LiveRule.DELIVERED_TESTS_FAILED,
                f"the delivered tests did not run cleanly: {outcome.process.tail(6)}",
                "make the test suite importable and runnable with pytest",
                live.project.rel(tests_dir),
            )
        record.detail = f"{outcome.passed} passed, {len(outcome.failures)} failed"


def trace_locks_of(live: LiveRun, server: PostgresServer, template: str) -> LockTrace | str:
    """The lock trace of the offline upgrade SQL on a fresh clone of the base, or why there is none."""
    renders = live.rendering.result() if live.rendering is not None else []
    if not renders:
        return "nothing was rendered offline"
    failed = next((r for r in renders if not r.ok), None)
    if failed is not None:
        return f"offline rendering ({failed.command}) failed: {failed.error_tail(2)}"
    statements = [s for r in renders for s in split_offline_sql(r.process.stdout)]
    with ScratchDatabase(server, template=template) as db, psycopg.connect(db.url, autocommit=True) as conn:
        notes = _fill_base(live, conn, live.options.rows) if live.options.rows else []
        trace = trace_locks(conn, statements)
    trace.notes = notes + trace.notes
    return trace


def locks(live: LiveRun, trace: LockTrace | str, seconds: float) -> None:
    if isinstance(trace, str):
        live.skip("locks", trace)
        return
    with live.step("locks", seconds) as record:
        live.verification.locks = trace.locks
        live.verification.notes += trace.notes
        if trace.failed:
            live.verification.notes.append(f"locks: the offline SQL stopped at {trace.failed}")
        for rev, ms in trace.revision_ms.items():
            if rev in live.runs:
                live.runs[rev].estimated_ms = round(ms, 1)
        for lock in trace.locks:
            rf = live.graph.by_id.get(lock.revision or "")
            if rf is not None:
                lock.file = rf.rel
                lock.line = rf.upgrade.lineno if rf.upgrade else None
            if lock.mode not in {mode_words(m) for m in BLOCKING_MODES}:
                continue
            live.finding(
                LiveRule.LOCK_ON_EXISTING_TABLE,
                f"{lock.statement} holds {lock.mode} on existing table {lock.relation}"
                f" ({lock.seconds * 1000:.0f} ms here{', with ' + str(live.options.rows) + ' rows' if live.options.rows else ''})",
                "use a lock-friendly form (CONCURRENTLY, NOT VALID then VALIDATE, a default without rewrite)"
                " and SET lock_timeout first",
                lock.file,
                lock.line,
            )
        record.detail = f"{len(trace.locks)} lock(s) on existing tables" + (
            f", base filled with {live.options.rows} rows per table" if live.options.rows else ""
        )


def _fill_base(live: LiveRun, conn: psycopg.Connection[Any], rows: int) -> list[str]:
    synth = RowSynthesizer(conn, live.cfg.owner_columns)
    assert live.base_fp is not None
    pending = [t for t in live.base_fp.tables() if t.split(".")[0] in live.cfg.exposed_schemas]
    if live.target.supabase:
        pending.append("auth.users")
    done: set[str] = set()
    notes: list[str] = []
    while pending:
        ready = [
            t for t in pending if all(fk.table in done or fk.table == t for fk in synth.describe(t).foreign_keys)
        ] or pending[:1]
        for table in ready:
            pending.remove(table)
            done.add(table)
            try:
                synth.fill(table, rows)
            except RowError as exc:
                notes.append(f"--rows: {exc}")
    return notes


def models(live: LiveRun, comparison: ModelsComparison | None, seconds: float) -> None:
    target = live.cfg.models
    if comparison is None or not target:
        live.skip("models", "no SQLAlchemy models module" + (f" {target.partition(':')[0]}" if target else ""))
        return
    with live.step("models", seconds) as record:
        module_file = models_module_file(live.project, target)
        rel = live.project.rel(module_file) if module_file else None
        if comparison.import_error:
            live.finding(
                LiveRule.MODELS_DRIFT,
                f"the models {target} could not be loaded: {comparison.import_error.splitlines()[-1]}",
                "make the models module importable with the alembic folder's parent on sys.path",
                rel,
            )
        for difference in comparison.differences:
            live.finding(
                LiveRule.MODELS_DRIFT,
                difference.message,
                "change the models or the migration so they declare the same schema",
                rel,
            )
        record.detail = f"{len(comparison.differences)} difference(s) between {target} and the database"


def explain(live: LiveRun, url: str) -> None:
    patterns = [(p.name, p.sql) for p in (getattr(live.spec, "query_patterns", None) or [])]
    if not patterns:
        live.skip("explain", "no query patterns (pass --spec with a plan.md that lists them)")
        return
    with live.step("explain") as record, psycopg.connect(url) as conn:
        summaries, notes = explain_patterns(conn, patterns, set(live.feature_tables))
        live.verification.explains = summaries
        live.verification.notes += notes
        plan = _plan_path(live.spec_folder)
        for summary in summaries:
            name = summary.query.split(":", 1)[0]
            file, line = live.locate(re.escape(name), [plan]) if plan else (None, None)
            for table in summary.seq_scans:
                live.finding(
                    LiveRule.SEQ_SCAN_ON_TARGET_QUERY,
                    f"query pattern {name!r} reads {table} with a sequential scan even with enable_seqscan off",
                    f"add an index on {table} that serves the pattern's WHERE/JOIN/ORDER BY columns",
                    file,
                    line,
                )
            for walked in summary.whole_index_scans:
                table = walked.split(" ", 1)[0]
                live.finding(
                    LiveRule.SEQ_SCAN_ON_TARGET_QUERY,
                    f"query pattern {name!r} reads {walked} end to end and filters every row: no index serves "
                    "its conditions, so it costs a scan of the whole table",
                    f"add an index on {table} whose leading columns are the pattern's WHERE columns (then its "
                    "ORDER BY columns)",
                    file,
                    line,
                )
        record.detail = f"{len(summaries)} query pattern(s) explained"


def _plan_path(folder: Path | None) -> Path | None:
    plan = folder / "plan.md" if folder else None
    return plan if plan is not None and plan.is_file() else None
