"""`delegate check --stairway`: every revision under test round-trips on its own, starting from its parent's state."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from orchestrator.checks.rules.live import LiveRule
from orchestrator.config import DelegateConfig
from orchestrator.errors import InputError
from orchestrator.feature import RevisionSelection
from orchestrator.irreversible import irreversible_downgrade
from orchestrator.pg import PostgresServer, ScratchDatabase, ensure_template, private_template
from orchestrator.report import Finding, Severity
from orchestrator.revisions import RevisionFile, RevisionGraph
from orchestrator.verification import RevisionRun, StepStatus, Verification, VerificationStep
from orchestrator.verify.alembic_env import AlembicProject, sqlalchemy_form
from orchestrator.verify.fingerprint import SchemaDifference, SchemaFingerprint, trace_first
from orchestrator.verify.live import template_key
from orchestrator.verify.roundtrip import Phase, RoundTrip, round_trip
from orchestrator.verify.worker_client import AlembicWorker, WorkerAnswer

if TYPE_CHECKING:
    from orchestrator.target import CheckOptions, Target

# A revision's status in the report: "round-trips", a rule id (its first problem), or one of these.
ROUND_TRIPS = "round-trips"
UPGRADE_FAILED = LiveRule.UPGRADE_FAILED.value
DOWNGRADE_FAILED = LiveRule.DOWNGRADE_FAILED.value
LEAVES_TRACE = "leaves-trace"
REUPGRADE_FAILED = LiveRule.REUPGRADE_FAILED.value
IRREVERSIBLE = "irreversible"
SKIPPED = "skipped"
MAX_NAMED_DIFFERENCES = 8
MAX_LANES = 4
MIN_LANE = 40  # revisions; a shorter lane spends too much of its time starting up


def run_stairway(
    repo: Path, cfg: DelegateConfig, options: CheckOptions, project: AlembicProject | None = None
) -> tuple[Verification, list[Finding]]:
    """The stairway alone, on a server of its own (check.py's Judge calls walk_stairway with the server it keeps)."""
    from dataclasses import replace

    from orchestrator.checks.engine import apply_rule_settings
    from orchestrator.target import resolve_target
    from orchestrator.verify.live import one_server

    target = resolve_target(replace(options, repo=repo), cfg)
    project = project or AlembicProject.for_repo(target.repo, target.config)
    with project.forking(), one_server(options.database_url) as server:
        verification, findings = walk_stairway(target, project, server)
    return verification, apply_rule_settings(findings, target.config)


def walk_stairway(
    target: Target, project: AlembicProject, server: Callable[[], PostgresServer]
) -> tuple[Verification, list[Finding]]:
    """Walk the revisions under test parents first; each one upgrades, downgrades and upgrades again on its own.
    The base template and the rechecks in a fresh process run as forks of the project's fork server."""
    cfg = target.config
    if not project.versions_dir.is_dir():
        raise InputError(f"{cfg.versions_dir}: no such folder in {target.repo}", "set versions_dir in [tool.delegate]")
    if not target.graph.by_id:
        raise InputError(f"{cfg.versions_dir}: no revision files", "add an Alembic revision, or drop --stairway")
    assert target.selection is not None
    walk = StairwayWalk(
        server(),
        project,
        target.graph,
        target.selection,
        cfg,
        platform=target.platform,
        template_cache=target.options.template_cache,
    )
    walk.platform_note = target.platform_note
    return walk.run()


class _BaseFailed(Exception):
    def __init__(self, target: str, answer: WorkerAnswer) -> None:
        super().__init__(answer.error or "failed")
        self.target = target
        self.answer = answer


class _Fingerprints:
    """Fingerprints taken in the tool's process, over one kept connection (closed before its database is cloned)."""

    def __init__(self, server: PostgresServer) -> None:
        self.server = server
        self._conn: psycopg.Connection | None = None
        self._dbname: str | None = None
        self.taken = 0

    def take(self, dbname: str) -> SchemaFingerprint:
        if self._dbname != dbname or self._conn is None or self._conn.closed:
            self.close()
            self._conn = psycopg.connect(self.server.url_for(dbname), autocommit=True)
            self._dbname = dbname
        self.taken += 1
        return SchemaFingerprint.take(self._conn)

    def release(self, dbname: str) -> None:
        if self._dbname == dbname:
            self.close()

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
        self._conn, self._dbname = None, None


class StairwayWalk:
    """One walk: the proven state after each revision is the starting point of its children (clone, don't replay)."""

    def __init__(
        self,
        server: PostgresServer,
        project: AlembicProject,
        graph: RevisionGraph,
        selection: RevisionSelection,
        cfg: DelegateConfig,
        progress: bool | None = None,
        lanes: int | None = None,
        lane_of: StairwayWalk | None = None,
        lane_order: list[str] | None = None,
        platform: str = "supabase",
        template_cache: bool = True,
    ) -> None:
        self.server = server
        self.platform = platform  # "postgres": the base template has no Supabase emulation
        self.platform_note = ""
        self.template_cache = template_cache  # False: the base template is this walk's own, dropped at the end
        self.project = project
        self.graph = graph
        self.selection = selection
        self.cfg = cfg
        self.order = [rev for rev in selection.under_test if rev in graph.by_id]
        self.under_test = set(self.order)
        self.irreversible = graph.named_by(cfg.irreversible_revisions)
        if lane_order is not None:
            self.order = lane_order  # a lane walks its own stretch of the order
        self.show_progress = sys.stderr.isatty() if progress is None else progress
        self.lane_count = lanes if lanes is not None else _lanes_for(len(self.order))
        self.lanes: list[StairwayWalk] = []
        self.stop: threading.Event = lane_of.stop if lane_of is not None else threading.Event()
        # The first lane adopts the worker that built the base template (it is started already).
        self.worker: AlembicWorker = (
            lane_of.worker
            if lane_of is not None and not lane_of.lanes
            else AlembicWorker(project, timeout=cfg.timeout_seconds)
        )
        self.fingerprints = _Fingerprints(server)
        self.runs: dict[str, RevisionRun] = {}
        self.findings: list[Finding] = []
        self.databases: dict[str, ScratchDatabase] = {}  # every scratch database of the walk, by name
        self.state_db: dict[str, str] = {}  # revision -> database holding its proven state, for children to come
        self.state_fp: dict[str, SchemaFingerprint] = {}
        in_order = set(self.order)
        # How many children (walked by this walk) will still start from each revision's proven state.
        self.waiting = {rev: sum(1 for kid in graph.children[rev] if kid in in_order) for rev in self.order}
        self.blocked_by: dict[str, str] = {}  # revision -> the revision whose failed upgrade keeps it from running
        self.merge_failures: dict[str, tuple[str, Finding]] = {}  # merge -> (the revision that failed, finding)
        self.base_template: str | None = None
        self.private_template: ScratchDatabase | None = None  # with --no-template-cache: this walk's own base
        self.base_fp: SchemaFingerprint | None = None
        self.clones = 0
        self.rebuilds = 0
        self.rechecks = 0
        # Fresh-process rechecks of failures run beside the walk, on their own copy of the database.
        self.owns_background = lane_of is None
        self.background: ThreadPoolExecutor = (
            lane_of.background
            if lane_of is not None
            else ThreadPoolExecutor(max_workers=1, thread_name_prefix="delegate-recheck")
        )
        self.pending: list[tuple[Future[str], Finding, RevisionRun | None]] = (
            lane_of.pending if lane_of is not None else []
        )
        if lane_of is not None:
            self.base_template, self.base_fp = lane_of.base_template, lane_of.base_fp

    # ---- the walk --------------------------------------------------------------------------------------------
    def run(self) -> tuple[Verification, list[Finding]]:
        started = time.perf_counter()
        interrupted = False
        try:
            self.worker.start()
            try:
                self.base_template = self._base_template()
            except _BaseFailed as failed:
                self._base_failed(failed)
            else:
                with self._progress() as advance:
                    if self.lane_count > 1:
                        self._walk_in_lanes(advance)
                    else:
                        self.walk_all(advance)
            self._settle_rechecks()
        except KeyboardInterrupt:
            interrupted = True
            self.stop.set()
            self._say_interrupted()
            raise
        finally:
            self._cleanup(force=interrupted)
        return self._verification(time.perf_counter() - started), self.findings

    def walk_all(self, advance: Callable[[str], None]) -> None:
        for rev in self.order:
            if self.stop.is_set():
                return
            self._walk(rev)
            advance(rev)

    def _walk_in_lanes(self, advance: Callable[[str], None]) -> None:
        """Walk stretches of the order side by side, one worker each; a lane starts from its first parent's state,
        replayed from the base in one command (the few replayed revisions are cheap next to the round trips)."""
        if self.base_fp is None:
            probe = self._clone(self._base())
            self.base_fp = self.fingerprints.take(probe)
            self._drop(probe)
        size = -(-len(self.order) // self.lane_count)
        stretches = [self.order[i : i + size] for i in range(0, len(self.order), size)]
        for stretch in stretches:
            self.lanes.append(
                StairwayWalk(
                    self.server,
                    self.project,
                    self.graph,
                    self.selection,
                    self.cfg,
                    progress=False,
                    lanes=1,
                    lane_of=self,
                    lane_order=stretch,
                    platform=self.platform,
                    template_cache=self.template_cache,
                )
            )
        lock = threading.Lock()

        def advance_locked(rev: str) -> None:
            with lock:
                advance(rev)

        def walk(lane: StairwayWalk) -> None:
            try:
                lane.walk_all(advance_locked)
            finally:
                lane._cleanup(force=self.stop.is_set())

        with ThreadPoolExecutor(max_workers=len(self.lanes), thread_name_prefix="delegate-lane") as pool:
            futures = [pool.submit(walk, lane) for lane in self.lanes]
            try:
                for future in futures:
                    future.result()
            except BaseException:
                self.stop.set()  # Ctrl-C: every lane stops at its next revision; stopping the workers ends a hang
                for lane in self.lanes:
                    lane.worker.stop()
                raise
        for lane in self.lanes:
            self.runs.update(lane.runs)
            self.findings.extend(lane.findings)
            self.merge_failures.update(lane.merge_failures)
        # A merge whose parent failed in another lane could only see that failure again: it is skipped, not failed.
        for merge, (cause, finding) in self.merge_failures.items():
            own = self.runs.get(cause)
            if own is not None and own.status in (UPGRADE_FAILED, SKIPPED) and cause != merge:
                self.runs[merge].status = SKIPPED
                self.runs[merge].detail = f"{cause} (an ancestor) failed to upgrade"
                self.findings.remove(finding)

    def _walk(self, rev: str) -> None:
        rf = self.graph.by_id[rev]
        tested_parents = [p for p in self.graph.parents(rev) if p in self.under_test]
        causes = [self.blocked_by[p] for p in tested_parents if p in self.blocked_by]
        if causes:
            cause = causes[0]
            self.blocked_by[rev] = cause
            detail = (
                f"parent {cause} failed to upgrade"
                if cause in tested_parents
                else f"{cause} (an ancestor) failed to upgrade"
            )
            self.runs[rev] = RevisionRun(revision=rev, file=rf.rel, status=SKIPPED, detail=detail)
            for parent in tested_parents:
                self._release(parent)
            return
        prepared = self._parent_state(rev, rf, tested_parents)
        if prepared is None:
            return
        work, before = prepared
        self._round_trip(rev, rf, work, before)

    def _parent_state(
        self, rev: str, rf: RevisionFile, tested_parents: list[str]
    ) -> tuple[str, SchemaFingerprint] | None:
        """A database holding exactly what `rev` builds on, and its fingerprint; None when that cannot be built."""
        own_parents = [p for p in tested_parents if p in self.waiting]  # walked by this walk (not another lane)
        donor = next((p for p in own_parents if p in self.state_db), None)
        if donor is None:
            assert self.base_template is not None
            work = self._clone(self.base_template)
            if self.base_fp is None:
                self.base_fp = self.fingerprints.take(work)
            before = self.base_fp
        elif self.waiting[donor] == 1:
            work = self.state_db.pop(donor)  # the last child to start from it takes the database over
            before = self.state_fp.pop(donor)
        else:
            work = self._clone(self.state_db[donor])
            before = self.state_fp[donor]
        for parent in own_parents:
            self._release(parent)
        # A merge starts from all its parents: bring in the branches the donor's database does not hold. The first
        # revision of a lane brings in its parent, which another lane walks.
        if len(rf.down_revisions) > 1:
            bring = [p for p in rf.down_revisions if p != donor]
        else:
            bring = [p for p in rf.down_revisions if p in self.under_test and p not in self.waiting]
        if bring:
            for parent in bring:
                answer = self._command("upgrade", work, parent)
                if not answer.ok and len(rf.down_revisions) == 1:
                    # The other lane reports that failure itself; here it only keeps this revision from running.
                    cause = answer.revision or parent
                    self.blocked_by[rev] = cause
                    self.runs[rev] = RevisionRun(
                        revision=rev,
                        file=rf.rel,
                        status=SKIPPED,
                        detail=f"parent {cause} failed to upgrade"
                        if cause == parent
                        else f"{cause} (an ancestor) failed to upgrade",
                    )
                    self._drop(work)
                    return None
                if not answer.ok:
                    # Both branches passed on their own, yet not together (or one failed in another lane: the
                    # lanes' results are reconciled once all are done).
                    self.blocked_by[rev] = rev
                    message = f"bringing in its parent {parent} failed: {_first_line(answer.error)}"
                    self.runs[rev] = RevisionRun(revision=rev, file=rf.rel, status=UPGRADE_FAILED, detail=message)
                    self._fail(rev, rf, LiveRule.UPGRADE_FAILED, message, answer, phase="upgrade")
                    self.merge_failures[rev] = (answer.revision or parent, self.findings[-1])
                    self._drop(work)
                    return None
            before = self.fingerprints.take(work)
        return work, before

    def _round_trip(self, rev: str, rf: RevisionFile, work: str, before: SchemaFingerprint) -> None:
        round_trip(_RevisionTrip(self, rev, rf, work), before)

    def _downgrade_failed(
        self,
        rev: str,
        rf: RevisionFile,
        run: RevisionRun,
        work: str,
        after: SchemaFingerprint,
        down: WorkerAnswer,
        target: str,
    ) -> None:
        on_purpose = irreversible_downgrade(rf, self.irreversible)
        # Transactional DDL rolled the failed downgrade back, so children can start from here; prove it first.
        reusable = (
            self.waiting.get(rev, 0) > 0
            and not down.timed_out
            and not down.crashed
            and not self.fingerprints.take(work).diff(after)
        )
        run.status = IRREVERSIBLE if on_purpose else DOWNGRADE_FAILED
        run.detail = _first_line(down.error)
        if on_purpose:
            run.detail = f"{on_purpose.why}: {run.detail}"
            self.findings.extend(f for f in [on_purpose.live_finding(down.error or "")] if f is not None)
        else:
            recheck = self._recheck(["downgrade", target], work, down, in_place=not reusable)
            self._fail(
                rev,
                rf,
                LiveRule.DOWNGRADE_FAILED,
                f"downgrade failed: {down.error}",
                down,
                "downgrade",
                recheck=recheck,
                run=run,
            )
        if reusable:
            self._keep(rev, work, after)
        else:
            self._rebuild(rev, work)  # a recheck that took `work` drops it itself

    # ---- databases -------------------------------------------------------------------------------------------
    def _keep(self, rev: str, work: str, fingerprint: SchemaFingerprint) -> None:
        if self.waiting.get(rev, 0) > 0:
            self.state_db[rev] = work
            self.state_fp[rev] = fingerprint
        else:
            self._drop(work)

    def _release(self, parent: str) -> None:
        """One child of `parent` has started (or was skipped); the last one frees the parent's database."""
        if parent not in self.waiting:
            return  # another lane's revision
        self.waiting[parent] -= 1
        if self.waiting[parent] <= 0 and parent in self.state_db:
            self._drop(self.state_db.pop(parent))
            self.state_fp.pop(parent, None)

    def _rebuild(self, rev: str, work: str) -> None:
        """A proven state for the children of `rev` after its round trip left `work` unusable: upgrade a clean copy."""
        self._drop(work)
        if self.waiting.get(rev, 0) <= 0:
            return
        self.rebuilds += 1
        donor = self._nearest_state(rev)
        fresh = self._clone(self.state_db[donor] if donor else self._base())
        answer = self._command("upgrade", fresh, rev)
        if not answer.ok:
            self._drop(fresh)
            self.blocked_by[rev] = rev
            run = self.runs[rev]
            run.detail = (run.detail + "; " if run.detail else "") + "its state could not be rebuilt for its children"
            return
        self._keep(rev, fresh, self.fingerprints.take(fresh))

    def _nearest_state(self, rev: str) -> str | None:
        """The closest ancestor whose proven state is still held (fewest revisions to replay), if any."""
        held = [p for p in self.graph.ancestors(rev) if p in self.state_db]
        if not held:
            return None
        return max(held, key=lambda p: len(self.graph.ancestors(p)))

    def _base(self) -> str:
        assert self.base_template is not None
        return self.base_template

    def _clone(self, template: str) -> str:
        self.fingerprints.release(template)
        self.clones += 1
        for attempt in range(2):
            db = ScratchDatabase(self.server, template=template)
            try:
                db.__enter__()
            except psycopg.errors.ObjectInUse:
                if attempt:
                    raise
                self._end_sessions(template)  # a session env.py left open would block the clone
                continue
            self.databases[db.name] = db
            return db.name
        raise AssertionError("unreachable")

    def _end_sessions(self, dbname: str) -> None:
        with self.server.admin_connection() as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (dbname,),
            )

    def _drop(self, name: str) -> None:
        self.fingerprints.release(name)
        db = self.databases.pop(name, None)
        if db is not None:
            db.drop()

    def _cleanup(self, force: bool) -> None:
        self.fingerprints.close()
        if force:
            self.worker.stop()
        self.worker.close()
        if self.owns_background:
            self.background.shutdown(wait=not force, cancel_futures=force)
        for name in list(self.databases):
            with contextlib.suppress(Exception):
                self._drop(name)
        if self.private_template is not None:
            with contextlib.suppress(Exception):
                self.private_template.drop()
        self.state_db.clear()
        self.state_fp.clear()

    # ---- the base --------------------------------------------------------------------------------------------
    def _base_template(self) -> str:
        """A cached template holding the history below the revisions under test (keyed by those files' content)."""
        base = self.selection.base
        key = template_key(self.project, self.graph, base, self.platform)  # the live check's: they share one

        def build(url: str) -> None:
            for rev in base:
                answer = self.worker.upgrade(url, sqlalchemy_form(url), rev)
                if not answer.ok:
                    raise _BaseFailed(rev, answer)

        supabase = self.platform == "supabase"
        if self.template_cache:
            return ensure_template(self.server, key, build, supabase=supabase)
        self.private_template = private_template(self.server, build, supabase=supabase)
        return self.private_template.name

    def _base_failed(self, failed: _BaseFailed) -> None:
        culprit = failed.answer.revision or failed.target
        rf = self.graph.by_id.get(culprit)
        self.findings.append(
            Finding(
                rule=UPGRADE_FAILED,
                severity=Severity.ERROR,
                file=rf.rel if rf else None,
                line=self._line(rf, failed.answer, "upgrade") if rf else None,
                message=f"{culprit}: upgrading the history below the revisions under test failed: {failed.answer.error}",
                fix="fix this revision first: every revision under test builds on it",
            )
        )
        for rev in self.order:
            self.runs[rev] = RevisionRun(
                revision=rev,
                file=self.graph.by_id[rev].rel,
                status=SKIPPED,
                detail=f"the base failed to build ({culprit} failed to upgrade)",
            )

    # ---- commands, rechecks, findings ------------------------------------------------------------------------
    def _command(self, op: str, dbname: str, target: str) -> WorkerAnswer:
        # The kept fingerprint connection is idle outside a transaction: it holds no lock the migration waits on.
        url = self.server.url_for(dbname)
        return self.worker.run(op, url, self.server.sqlalchemy_url_for(dbname), target)

    def _recheck(self, args: list[str], work: str, answer: WorkerAnswer, in_place: bool) -> Future[str] | None:
        """Run a step that failed in the worker again in a fresh one-shot process, beside the walk.

        The fresh process runs on a clone of `work` (or on `work` itself when the walk is done with it, which the
        recheck then drops). The answer says which mode found the failure.
        """
        if answer.timed_out:
            if in_place:
                self._drop(work)
            return None
        self.rechecks += 1
        self.fingerprints.release(work)
        target = work if in_place else self._clone(work)
        db = self.databases.pop(target)  # the recheck owns it now; only it drops it

        def recheck() -> str:
            try:
                run = self.project.run(args, self.server.sqlalchemy_url_for(target), self.server.url_for(target))
            finally:
                with contextlib.suppress(Exception):
                    db.drop()
            if run.ok:
                return (
                    " (found in worker mode; in a fresh process it passes: the revision depends on state that"
                    " earlier revisions left in the Python process)"
                )
            return " (found in worker mode; in a fresh process it fails too)"

        return self.background.submit(recheck)

    def _settle_rechecks(self) -> None:
        for future, finding, run in self.pending:
            try:
                note = future.result()
            except Exception as exc:  # noqa: BLE001 - the recheck is a hint; its own failure must not hide the finding
                note = f" (found in worker mode; the recheck in a fresh process could not run: {exc})"
            finding.message += note
            if run is not None:
                run.detail += note
        self.pending.clear()

    def _fail(
        self,
        rev: str,
        rf: RevisionFile,
        rule: LiveRule,
        message: str,
        answer: WorkerAnswer | None,
        phase: str,
        fix: str = "",
        severity: Severity | None = None,
        recheck: Future[str] | None = None,
        run: RevisionRun | None = None,
    ) -> None:
        default_fix = {
            UPGRADE_FAILED: "fix upgrade() so it runs on the database its parent leaves",
            DOWNGRADE_FAILED: "make downgrade() undo upgrade(), or list the revision in irreversible_revisions "
            "in [tool.delegate] when it is irreversible on purpose",
            REUPGRADE_FAILED: "make downgrade() undo everything, so upgrade() runs again on a clean parent state",
        }
        severity = severity or rule.severity
        finding = Finding(
            rule=rule.value,
            severity=severity,
            file=rf.rel,
            line=self._line(rf, answer, phase),
            message=f"{rev}: {message}",
            fix=fix or ("" if severity is Severity.INFO else default_fix.get(rule, "")),
        )
        self.findings.append(finding)
        if recheck is not None:
            self.pending.append((recheck, finding, run))

    def _line(self, rf: RevisionFile, answer: WorkerAnswer | None, phase: str) -> int | None:
        if answer is not None and answer.where is not None:
            with contextlib.suppress(OSError):
                if Path(answer.where[0]).resolve() == rf.path.resolve():
                    return answer.where[1]
        function = rf.upgrade if phase == "upgrade" else rf.downgrade
        return function.lineno if function is not None else None

    # ---- reporting -------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _progress(self) -> Iterator[Callable[[str], None]]:
        if not self.show_progress:
            yield lambda rev: None
            return
        progress = Progress(
            TextColumn("stairway"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
            console=Console(stderr=True),
            transient=True,
        )
        with progress:
            task = progress.add_task("", total=len(self.order))
            first = True

            def advance(rev: str) -> None:
                nonlocal first
                if not first:
                    progress.advance(task)
                first = False
                progress.update(task, description=rev)

            yield advance

    def _say_interrupted(self) -> None:
        walked = [r for w in [self, *self.lanes] for r in w.runs.values() if r.status != SKIPPED]
        good = sum(1 for r in walked if r.status == ROUND_TRIPS)
        Console(stderr=True).print(
            f"delegate: stairway interrupted after {len(walked)} of {len(self.order)} revisions "
            f"({good} round-trip); scratch databases dropped, worker stopped",
            highlight=False,
        )

    def _count(self, value: Callable[[StairwayWalk], int]) -> int:
        return sum(value(w) for w in [self, *self.lanes])

    def _workers(self) -> list[AlembicWorker]:
        return list({id(w.worker): w.worker for w in [self, *self.lanes]}.values())

    def _verification(self, seconds: float) -> Verification:
        runs = [self.runs[rev] for rev in self.order if rev in self.runs]
        good = sum(1 for r in runs if r.status == ROUND_TRIPS)
        status = StepStatus.PASSED
        if any(r.status not in (ROUND_TRIPS, IRREVERSIBLE) for r in runs):
            status = StepStatus.FAILED
        summary = f"{good} of {len(self.order)} revisions round-trip"
        return Verification(
            database=self.server.description,
            base_revision=", ".join(self.selection.base) or None,
            revisions=list(self.order),
            steps=[VerificationStep(name="stairway", status=status, seconds=round(seconds, 3), detail=summary)],
            revision_runs=runs,
            notes=self.cfg.detection_notes()
            + ([self.platform_note] if self.platform_note else [])
            + [
                n
                for n in (
                    f"stairway over {self.selection.how}" if self.selection.how else "",
                    summary,
                    f"walked in {seconds:.1f} s: {len(self.lanes) or 1} lane(s), one Alembic worker each "
                    f"({sum(w.commands for w in self._workers())} commands, "
                    f"{sum(w.restarts for w in self._workers())} restarts), {self._count(lambda w: w.clones)} clones, "
                    f"{self._count(lambda w: w.rebuilds)} rebuilds, {self._count(lambda w: w.fingerprints.taken)} "
                    f"fingerprints, {self._count(lambda w: w.rechecks)} rechecks in a fresh process",
                )
                if n
            ],
        )


class _RevisionTrip:
    """The stairway's side of one revision's round trip (verify/roundtrip.py): commands through the walk's worker
    on `work`, one finding per problem, and the state it leaves for the revision's children."""

    def __init__(self, walk: StairwayWalk, rev: str, rf: RevisionFile, work: str) -> None:
        self.walk, self.rev, self.rf, self.work = walk, rev, rf, work
        self.run_record = walk.runs[rev] = RevisionRun(revision=rev, file=rf.rel, status=ROUND_TRIPS)

    def phase(self, phase: Phase) -> contextlib.AbstractContextManager[object]:
        return contextlib.nullcontext()

    def fingerprint(self) -> SchemaFingerprint:
        return self.walk.fingerprints.take(self.work)

    def run(self, phase: Phase, trip: RoundTrip) -> bool:
        walk, rev, rf, work, run = self.walk, self.rev, self.rf, self.work, self.run_record
        if phase is Phase.DOWNGRADE:
            target = rf.down_revisions[0] if len(rf.down_revisions) > 1 else f"{rev}@-1"
            down = walk._command("downgrade", work, target)
            run.downgrade_ms = _round(down.step_ms(rev) or down.ms)
            if not down.ok:
                assert trip.after is not None
                walk._downgrade_failed(rev, rf, run, work, trip.after, down, target)
            return down.ok
        answer = walk._command("upgrade", work, rev)
        if phase is Phase.UPGRADE:
            run.upgrade_ms = _round(answer.step_ms(rev) or answer.ms)
            if not answer.ok:
                walk.blocked_by[rev] = rev
                run.status, run.detail = UPGRADE_FAILED, _first_line(answer.error)
                recheck = walk._recheck(["upgrade", rev], work, answer, in_place=True)  # drops `work` when done
                walk._fail(
                    rev,
                    rf,
                    LiveRule.UPGRADE_FAILED,
                    f"upgrade failed: {answer.error}",
                    answer,
                    "upgrade",
                    recheck=recheck,
                    run=run,
                )
            return answer.ok
        if not answer.ok:
            # The walk is done with `work` (children get a rebuilt state), so the recheck may have it.
            recheck = walk._recheck(["upgrade", rev], work, answer, in_place=True)
            first = run.status == ROUND_TRIPS
            if first:
                run.status, run.detail = REUPGRADE_FAILED, _first_line(answer.error)
            walk._fail(
                rev,
                rf,
                LiveRule.REUPGRADE_FAILED,
                f"upgrading again after the downgrade failed: {answer.error}",
                answer,
                "upgrade",
                fix=trace_first(trip.trace) if trip.trace else "",
                recheck=recheck,
                run=run if first else None,
            )
            walk._rebuild(rev, work)
        return answer.ok

    def upgraded(self, trip: RoundTrip) -> None:
        pass

    def downgraded(self, trip: RoundTrip) -> None:
        if not trip.trace:
            return
        self.run_record.status = LEAVES_TRACE
        self.run_record.detail = _differences(trip.trace)
        self.walk._fail(
            self.rev,
            self.rf,
            LiveRule.DOWNGRADE_LEAVES_TRACE,
            f"downgrade leaves a trace: {_differences(trip.trace)}",
            None,
            phase="downgrade",
            fix="make downgrade() undo every object upgrade() creates or changes",
        )

    def reupgraded(self, trip: RoundTrip) -> None:
        walk, run = self.walk, self.run_record
        assert trip.redone is not None
        if not trip.drift:
            walk._keep(self.rev, self.work, trip.redone)
            return
        if run.status == ROUND_TRIPS:
            run.status, run.detail = REUPGRADE_FAILED, _differences(trip.drift)
        walk._fail(
            self.rev,
            self.rf,
            LiveRule.REUPGRADE_FAILED,
            f"upgrading again after the downgrade gives a different schema: {_differences(trip.drift)}",
            None,
            phase="upgrade",
        )
        walk._rebuild(self.rev, self.work)


def _lanes_for(revisions: int) -> int:
    """Side-by-side lanes for a walk: one per core, each long enough that its starting replay is worth it."""
    return max(1, min(os.cpu_count() or 1, MAX_LANES, revisions // MIN_LANE))


def _differences(found: list[SchemaDifference]) -> str:
    named = "; ".join(d.message for d in found[:MAX_NAMED_DIFFERENCES])
    more = len(found) - MAX_NAMED_DIFFERENCES
    return named + (f"; and {more} more" if more > 0 else "")


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else "failed"


def _round(ms: float | None) -> float | None:
    return round(ms, 1) if ms is not None else None
