"""`delegate check`, live half: upgrade, fingerprint, downgrade, re-upgrade, seeds, RLS, tests, locks, models, EXPLAIN."""

from __future__ import annotations

import contextlib
import hashlib
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg

from orchestrator.checks.rules.live import LiveRule
from orchestrator.config import DelegateConfig
from orchestrator.errors import InputError
from orchestrator.feature import RevisionSelection
from orchestrator.irreversible import irreversible_downgrade
from orchestrator.pg import (
    SUPABASE_EMULATION_VERSION,
    PostgresServer,
    ScratchDatabase,
    ensure_template,
    open_server,
    private_template,
)
from orchestrator.report import Finding, Severity
from orchestrator.revisions import RevisionGraph
from orchestrator.verification import RevisionRun, StepStatus, Verification, VerificationStep
from orchestrator.verify import live_steps
from orchestrator.verify.alembic_env import AlembicProject, AlembicRun, sqlalchemy_form
from orchestrator.verify.fingerprint import SchemaDifference, SchemaFingerprint, trace_first
from orchestrator.verify.models_drift import models_module_file
from orchestrator.verify.reuse import LiveMemo
from orchestrator.verify.roundtrip import Phase, RoundTrip, round_trip
from orchestrator.verify.version_tables import stamped_revisions

if TYPE_CHECKING:
    from orchestrator.target import CheckOptions, Target

T = TypeVar("T")
TEMPLATE_FORMAT = "1"  # bump when what a base template holds changes


class BaseUpgradeFailed(Exception):
    """The history below the revisions under test does not upgrade: nothing above it can be judged."""

    def __init__(self, run: AlembicRun) -> None:
        super().__init__(run.error_tail())
        self.run = run


def template_key(project: AlembicProject, graph: RevisionGraph, base: list[str], platform: str = "supabase") -> str:
    """A hash of everything the base template depends on: the base's revision files, env.py, alembic.ini, python,
    and the target (a Supabase template holds the emulation, a plain PostgreSQL one does not)."""
    digest = hashlib.sha256()
    emulation = SUPABASE_EMULATION_VERSION if platform == "supabase" else "none"
    digest.update(f"format={TEMPLATE_FORMAT};target={platform};emulation={emulation};python={project.python}".encode())
    below: set[str] = set()
    for rev in base:
        below |= graph.ancestors(rev, include_self=True)
    for rev in sorted(below):
        rf = graph.by_id[rev]
        digest.update(f"\0{rf.rel}\0".encode() + rf.source.encode())
    for path in (project.env_py, project.ini):
        digest.update(b"\0" + (path.read_bytes() if path.is_file() else b""))
    digest.update(("\0" + ",".join(base)).encode())
    return digest.hexdigest()


class LiveRun:
    """One live verification: the base template, the round trip (verify/roundtrip.py, with this class as its
    side), then the steps of verify/live_steps.py; each step appends a VerificationStep and its findings here."""

    def __init__(self, target: Target, project: AlembicProject | None = None, memo: LiveMemo | None = None) -> None:
        self.target = target
        self.memo = memo  # a judge's outcomes of earlier checks, for steps whose inputs are unchanged
        self.repo = target.repo
        self.cfg = cfg = target.config
        self.options = target.options
        self.project = project or AlembicProject.for_repo(self.repo, cfg)
        self.graph: RevisionGraph = target.graph
        self.spec: Any = target.spec
        assert target.selection is not None, "the live half runs in repo mode, with the revisions under test chosen"
        self.selection: RevisionSelection = target.selection
        self.spec_folder: Path | None = target.spec_folder
        self.irreversible = self.graph.named_by(cfg.irreversible_revisions)
        self.verification = Verification(
            base_revision=", ".join(self.selection.base) or None,
            revisions=self.selection.under_test,
            notes=cfg.detection_notes()
            + [target.platform_note]
            + ([f"revisions under test: {self.selection.how}"] if self.selection.how else []),
        )
        self.findings: list[Finding] = []
        self.current_step = ""
        self.runs: dict[str, RevisionRun] = {
            rev: RevisionRun(revision=rev, file=self.graph.by_id[rev].rel, status="skipped")
            for rev in self.selection.under_test
        }
        self.base_fp: SchemaFingerprint | None = None
        self.upgraded_fp: SchemaFingerprint | None = None
        self.feature_tables: list[str] = []
        self.rendering: Future[list[AlembicRun]] | None = None
        self.upgraded_versions: list[str] = []
        self.left_behind: list[SchemaDifference] = []  # what the downgrade left, for the re-upgrade's fix
        self.reused: list[str] = []  # steps whose outcome came from the memo
        self.template = ""  # the base template's database name, once built
        self.url = ""  # the scratch database of the round trip
        self.record = VerificationStep(name="", status=StepStatus.PASSED)  # the step being recorded

    # ---- bookkeeping -------------------------------------------------------------------------------------------

    def finding(
        self,
        rule: LiveRule,
        message: str,
        fix: str,
        file: str | None = None,
        line: int | None = None,
        severity: Severity | None = None,
    ) -> None:
        """A finding with the catalogue's severity (or `severity`); check.py applies the configured ones."""
        self.findings.append(
            Finding(
                rule=rule.value,
                severity=severity or rule.severity,
                file=file,
                line=line,
                message=message,
                fix=fix,
            )
        )

    @contextlib.contextmanager
    def step(self, name: str, seconds: float | None = None) -> Iterator[VerificationStep]:
        """Record a step; `seconds` is its own duration when its work ran earlier, beside other steps."""
        record = VerificationStep(name=name, status=StepStatus.PASSED)
        before = len(self.findings)
        started = time.perf_counter()
        self.current_step = name
        try:
            yield record
        finally:
            record.seconds = round(time.perf_counter() - started if seconds is None else seconds, 3)
            # The step's status follows the severities the findings will have once configured ("off": none).
            new = [s for f in self.findings[before:] if (s := self.cfg.rule_severity(f.rule, f.severity)) is not None]
            if record.status is StepStatus.PASSED:
                if Severity.ERROR in new:
                    record.status = StepStatus.FAILED
                elif new:
                    record.status = StepStatus.WARNED
            self.verification.steps.append(record)

    def skip(self, name: str, why: str) -> None:
        self.verification.steps.append(VerificationStep(name=name, status=StepStatus.SKIPPED, detail=why))

    def locate(self, pattern: str, files: list[Path] | None = None) -> tuple[str | None, int | None]:
        """The first line of the revisions under test (or `files`) that matches `pattern` (a regex)."""
        regex = re.compile(pattern, re.IGNORECASE)
        sources = files or [self.graph.by_id[r].path for r in self.selection.under_test]
        for path in sources:
            try:
                lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                continue
            for number, line in enumerate(lines, start=1):
                if regex.search(line):
                    return self.project.rel(path), number
        return None, None

    def alembic(self, args: list[str], url: str) -> AlembicRun:
        return self.project.run(args, sqlalchemy_form(url), url)

    def report_alembic_failure(
        self, rule: LiveRule, run: AlembicRun, what: str, fix: str, severity: Severity | None = None
    ) -> None:
        revision = run.failed_revision()
        file, line = run.failure_location(self.project)
        if revision and revision in self.graph.by_id and file is None:
            file = self.graph.by_id[revision].rel
        named = f"revision {revision}" if revision else (file or "Alembic")
        self.finding(rule, f"{what} failed in {named}: {run.error_tail()}", fix, file, line, severity)
        if revision in self.runs and self.runs[revision].status in ("round-trips", "skipped"):
            self.runs[revision].status = rule.value  # the first problem of a revision is its status
            self.runs[revision].detail = run.error_tail(3)

    # ---- the run -----------------------------------------------------------------------------------------------

    @property
    def heads(self) -> list[str]:
        chosen = set(self.selection.under_test)
        return [r for r in self.selection.under_test if not set(self.graph.children[r]) & chosen]

    @property
    def below(self) -> set[str]:
        """Every revision under the revisions under test: what the base template holds."""
        chosen = set(self.selection.under_test)
        found: set[str] = set()
        for rev in chosen:
            found |= self.graph.ancestors(rev)
        return found - chosen

    def heads_of(self, revisions: set[str]) -> list[str]:
        """The revisions of `revisions` that no other one builds on: what the version table holds for them."""
        return sorted(r for r in revisions if not set(self.graph.children[r]) & revisions)

    def downgrade_commands(self) -> list[str]:
        """Alembic targets that take the revisions under test away and nothing below them, whatever the base's shape.

        `downgrade B` for a base head B drops every applied descendant of B (no other branch), which covers each
        feature root standing on a base head; a root standing on a revision that is not a base head (its parent has
        other descendants in the base) is dropped alone with Alembic's `downgrade ROOT@PARENT` (the branch of ROOT).
        """
        if not self.selection.base:
            return ["base"]
        chosen, base = set(self.selection.under_test), set(self.selection.base)
        targets: list[str] = []
        for root in self.selection.under_test:
            parents = self.graph.parents(root)
            if set(parents) & chosen:
                continue
            on_base = sorted(set(parents) & base)
            target = on_base[0] if on_base else f"{root}@{parents[0] if parents else 'base'}"
            if target not in targets:
                targets.append(target)
        return targets

    def execute(self, server: PostgresServer) -> None:
        private: list[ScratchDatabase] = []  # the base template of this run alone (--no-template-cache)
        try:
            self._execute(server, private)
        finally:
            for db in private:
                with contextlib.suppress(Exception):  # a server that went away has taken the database with it
                    db.drop()

    def _base_template(self, server: PostgresServer, private: list[ScratchDatabase]) -> str:
        """The cached template of the base (kept on the server), or with --no-template-cache one for this run."""
        if self.options.template_cache:
            return ensure_template(
                server,
                template_key(self.project, self.graph, self.selection.base, self.target.platform),
                self._build_base,
                supabase=self.target.supabase,
            )
        private.append(private_template(server, self._build_base, supabase=self.target.supabase))
        return private[-1].name

    def _execute(self, server: PostgresServer, private: list[ScratchDatabase]) -> None:
        with self.step("base template") as record:
            try:
                template = self._base_template(server, private)
            except BaseUpgradeFailed as exc:
                self.report_alembic_failure(
                    LiveRule.UPGRADE_FAILED,
                    exc.run,
                    "upgrading the history below the revisions under test",
                    "fix the base history first, or pass --since to start above it",
                )
                return
            record.detail = "the history up to " + (", ".join(self.selection.base) or "an empty database")
            if not self.target.supabase:
                record.detail += " (plain PostgreSQL: no Supabase emulation)"
        if not self.selection.under_test:
            self.skip("upgrade", "no revisions under test")
            return
        self.template = template
        scratch = ScratchDatabase(server, template=template)
        scratch.__enter__()
        # Offline rendering (for the locks step) connects to nothing: start it now, beside the live steps.
        pool = ThreadPoolExecutor(max_workers=1)
        self.rendering = pool.submit(self._render_offline, scratch.url)
        try:
            self._on_scratch(server, template, scratch.url)
            if not server.database_exists(scratch.name):
                raise InputError(
                    f"the scratch database {scratch.name} was dropped by someone else during the run",
                    "make sure nothing (a delivered test, a cleanup job) drops delegate's scratch databases",
                )
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            with contextlib.suppress(Exception):  # a server that went away has taken the database with it
                scratch.drop()

    def _render_offline(self, url: str) -> list[AlembicRun]:
        """The upgrade SQL of each head under test, as `alembic upgrade HEAD` runs it after the heads before it.

        Each rendering starts from the version table at that point (the base heads first: one or more, which our
        Alembic driver accepts as `A,B:HEAD`), so a merge feature on a branched base renders only its own steps.
        """
        applied = self.below
        runs: list[AlembicRun] = []
        for head in self.heads:
            start = ",".join(self.heads_of(applied))
            run = self.alembic(["upgrade", f"{start}:{head}" if start else head, "--sql"], url)
            runs.append(run)
            if not run.ok:
                break
            applied |= self.graph.ancestors(head, include_self=True)
        return runs

    def _build_base(self, url: str) -> None:
        for head in self.selection.base:
            run = self.alembic(["upgrade", head], url)
            if not run.ok:
                raise BaseUpgradeFailed(run)

    def _on_scratch(self, server: PostgresServer, template: str, url: str) -> None:
        self.url = url
        trip = round_trip(self)
        if trip.failed is Phase.UPGRADE:
            for name in ("fingerprint", "downgrade", "re-upgrade", "seeds", "rls matrix", "delivered tests"):
                self.skip(name, "the upgrade failed")
            self.verification.revision_runs = list(self.runs.values())
            return
        if trip.failed is Phase.DOWNGRADE:
            self.skip("re-upgrade", "the downgrade failed")  # after the downgrade step, so the report reads in order
        live_steps.seeds(self, url)
        live_steps.rls(self, url)
        # Three independent pieces of work, two of them subprocesses: run them side by side, report them in order.
        tests_dir = (self.repo / self.cfg.tests_dir).resolve()
        with ThreadPoolExecutor(max_workers=3) as pool:
            tests = pool.submit(_timed, live_steps.run_tests, self, tests_dir, url)
            locks = pool.submit(_timed, live_steps.trace_locks_of, self, server, template)
            models = (
                pool.submit(_timed, live_steps.compare_models_of, self, url)
                if self.cfg.models and models_module_file(self.project, self.cfg.models)
                else None
            )
            live_steps.delivered_tests(self, *tests.result())
            live_steps.locks(self, *locks.result())
            live_steps.models(self, *(models.result() if models else (None, 0.0)))
        for name in self.reused:
            self.verification.notes.append(
                f"{name}: the outcome of an earlier check was reused (its files and the migrated database are unchanged)"
            )
        live_steps.explain(self, url)
        self.verification.revision_runs = list(self.runs.values())

    # ---- the round trip (verify/roundtrip.py runs it; these say what the live check does and sees) ----------

    @contextlib.contextmanager
    def phase(self, phase: Phase) -> Iterator[VerificationStep]:
        with self.step(phase.value) as record:
            self.record = record
            yield record

    def fingerprint(self) -> SchemaFingerprint:
        return SchemaFingerprint.take(self.url)

    def run(self, phase: Phase, trip: RoundTrip) -> bool:
        if phase is Phase.UPGRADE:
            self.base_fp = trip.before
            ok = self._upgrade(self.url, first=True)
            self.record.detail = f"{len(self.selection.under_test)} revision(s) to {', '.join(self.heads)}"
            return ok
        if phase is Phase.DOWNGRADE:
            return self._downgrade(self.url)
        return self._upgrade(self.url, first=False)

    def upgraded(self, trip: RoundTrip) -> None:
        assert trip.after is not None and trip.before is not None
        self.upgraded_fp = trip.after
        self.upgraded_versions = stamped_revisions(self.url)
        self.feature_tables = [
            t for t in trip.after.touched_tables(trip.before) if t.split(".")[0] in self.cfg.exposed_schemas
        ]
        counts = {k: len(v) for k, v in trip.after.objects.items() if v}
        self.record.detail = ", ".join(f"{n} {k}" for k, n in counts.items())

    def _upgrade(self, url: str, first: bool) -> bool:
        for head in self.heads:
            run = self.alembic(["upgrade", head], url)
            if first:
                for rev, ms in run.step_ms().items():
                    if rev in self.runs:
                        self.runs[rev].upgrade_ms = round(ms, 1)
                        self.runs[rev].status = "round-trips"
            if not run.ok:
                rule = LiveRule.UPGRADE_FAILED if first else LiveRule.REUPGRADE_FAILED
                what = "upgrade" if first else "upgrading again after the downgrade"
                fix = "fix the revision's upgrade() so it runs on the base"
                if not first and self.left_behind:
                    fix = trace_first(self.left_behind)
                self.report_alembic_failure(rule, run, what, fix)
                return False
        return True

    def _downgrade(self, url: str) -> bool:
        """Take the revisions under test away (downgrade_commands); a refusal is reported, on purpose or not."""
        for command in self.downgrade_commands():
            run = self.alembic(["downgrade", command], url)
            for rev, ms in run.step_ms().items():
                if rev in self.runs:
                    self.runs[rev].downgrade_ms = round(ms, 1)
            if run.ok:
                continue
            failed = self.graph.by_id.get(run.failed_revision() or "")
            on_purpose = irreversible_downgrade(failed, self.irreversible)
            if on_purpose is None:
                self.report_alembic_failure(
                    LiveRule.DOWNGRADE_FAILED, run, "downgrade", "make downgrade() undo exactly what upgrade() did"
                )
            else:  # not a defect: the round trip stops there (the static rule reports a downgrade that only raises)
                self.record.status, self.record.detail = StepStatus.WARNED, on_purpose.stops_here()
                self.findings.extend(f for f in [on_purpose.live_finding(run.error_tail())] if f is not None)
                if on_purpose.revision in self.runs:
                    self.runs[on_purpose.revision].status = "irreversible"
            return False
        return True

    def downgraded(self, trip: RoundTrip) -> None:
        """After the downgrade: the version table and the schema must be the base's again, object for object."""
        target = ", ".join(self.selection.base) or "an empty database"
        versions = stamped_revisions(self.url)
        if versions != sorted(self.selection.base):
            left = sorted(set(versions) - set(self.selection.base))
            self.finding(
                LiveRule.DOWNGRADE_LEAVES_TRACE,
                f"after upgrade and downgrade to {target}, the version table holds {', '.join(versions) or 'nothing'}"
                f" instead of {', '.join(sorted(self.selection.base)) or 'nothing'}",
                "make downgrade() leave the version table to Alembic",
                self.graph.by_id[left[0]].rel if left and left[0] in self.graph.by_id else None,
            )
        self.left_behind = trip.trace  # for the re-upgrade's fix
        for difference in trip.trace:
            short = difference.name.split("(")[0].rsplit(".", 1)[-1]
            file, line = self.locate(rf"\b{re.escape(short)}\b")
            self.finding(
                LiveRule.DOWNGRADE_LEAVES_TRACE,
                f"after upgrade and downgrade to {target}, {difference.message}",
                f"drop or restore {difference.what} {difference.name} in downgrade()",
                file,
                line,
            )
            for revision_run in self.runs.values():
                if file == revision_run.file:
                    revision_run.status = "leaves-trace"
        self.record.detail = f"to {target}; {len(trip.trace)} difference(s) from the base"

    def reupgraded(self, trip: RoundTrip) -> None:
        """After the upgrade again: the version table and the schema must be the upgraded ones again."""
        versions = stamped_revisions(self.url)
        if versions != self.upgraded_versions:
            self.finding(
                LiveRule.REUPGRADE_FAILED,
                f"upgrading again after the downgrade reaches {', '.join(versions) or 'nothing'}"
                f" instead of {', '.join(self.upgraded_versions) or 'nothing'}",
                "make downgrade() and upgrade() leave the version table to Alembic",
            )
        self.record.detail = f"to {', '.join(versions) or 'nothing'}"
        for difference in trip.drift:
            self.finding(
                LiveRule.REUPGRADE_FAILED,
                f"upgrading again after the downgrade gives a different schema: {difference.message}",
                "make upgrade() independent of leftovers of an earlier run, and downgrade() complete",
                *self.locate(rf"\b{re.escape(difference.name.split('(')[0].rsplit('.', 1)[-1])}\b"),
            )


def _timed(function: Callable[..., T], *args: Any) -> tuple[T, float]:
    started = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - started


def run_live(
    repo: Path, cfg: DelegateConfig, options: CheckOptions, project: AlembicProject | None = None
) -> tuple[Verification, list[Finding]]:
    """The live half alone, on a server of its own, with the configured severities (check.py's Judge resolves
    the target itself and calls verify_live with the server it keeps)."""
    from dataclasses import replace

    from orchestrator.checks.engine import apply_rule_settings
    from orchestrator.target import resolve_target

    target = resolve_target(replace(options, repo=repo), cfg)
    project = project or AlembicProject.for_repo(target.repo, target.config)
    with project.forking(), one_server(options.database_url) as server:  # the zygote warms up as the server starts
        verification, findings = verify_live(target, project, server)
    return verification, apply_rule_settings(findings, target.config)


@contextlib.contextmanager
def one_server(database_url: str | None) -> Iterator[Callable[[], PostgresServer]]:
    """A server opened on first use (a run with nothing to upgrade needs none) and closed at the end."""
    opened: list[PostgresServer] = []

    def get() -> PostgresServer:
        if not opened:
            opened.append(open_server(database_url))
        return opened[0]

    try:
        yield get
    finally:
        for server in opened:
            with contextlib.suppress(Exception):
                server.close()


def verify_live(
    target: Target, project: AlembicProject, server: Callable[[], PostgresServer], memo: LiveMemo | None = None
) -> tuple[Verification, list[Finding]]:
    """The live half of `delegate check` on a resolved target; `server` gives the server to work on (opened on
    first use). A server that goes away mid-run is an InputError naming the step. Findings carry the catalogue's
    severities: the caller applies the configured ones. `memo`: a judge's step outcomes of earlier checks."""
    live = LiveRun(target, project, memo)
    if not live.graph.by_id:
        live.skip("upgrade", f"no revisions in {target.config.versions_dir}")
        return live.verification, live.findings
    on = server()
    try:
        live.verification.database = on.description
        live.execute(on)
    except (psycopg.OperationalError, psycopg.errors.AdminShutdown, psycopg.errors.InvalidCatalogName) as exc:
        cause = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InputError(
            f"the PostgreSQL server {on.description} went away during the {live.current_step} step: {cause}",
            "check that the server is up and that nothing else drops or terminates delegate's scratch databases",
        ) from None
    return live.verification, live.findings
