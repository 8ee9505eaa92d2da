"""`delegate check` as a library: a Judge resolves the target once per call, then runs the static half and (unless
told not to) the live verification or the stairway; run_check is one call of a Judge."""

from __future__ import annotations

import contextlib
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from orchestrator.config import DelegateConfig, load_config
from orchestrator.errors import DelegateError, InputError
from orchestrator.report import CheckReport
from orchestrator.target import CheckOptions, Target, resolve_target

if TYPE_CHECKING:
    from orchestrator.checks.memo import StaticMemo
    from orchestrator.pg import PostgresServer
    from orchestrator.report import Finding
    from orchestrator.verification import Verification
    from orchestrator.verify.alembic_env import AlembicProject
    from orchestrator.verify.reuse import LiveMemo

__all__ = ["CheckOptions", "Judge", "run_check"]


def run_check(options: CheckOptions, config: DelegateConfig | None = None) -> CheckReport:
    """One check of the repo that `options` name: static rules, then the live half or the stairway."""
    with Judge(options, config) as judge:
        return judge.check()


class Judge:
    """`delegate check` that can run many times in one process on a repo whose files change between calls (the
    agent's loop calls it after every tool call on its worktree).

    Each check() reads the repo again (config, files, git, spec). What does not change is kept between calls: the
    PostgreSQL server (the one --database-url names, or the throwaway one started on first need), the base
    templates on it, the Alembic fork server, the parse of every unchanged SQL text and revision file, the
    offline rendering of every unchanged revision file (keyed by its content, env.py and delegate's version),
    and (unless reuse_outcomes is False) the outcome of the delivered tests and of the models comparison when
    everything they can see is unchanged (verify/reuse.py; the report's notes say when one was reused).
    """

    def __init__(
        self, options: CheckOptions, config: DelegateConfig | None = None, *, reuse_outcomes: bool = True
    ) -> None:
        from orchestrator.checks.memo import StaticMemo

        self.options = options
        self.config = config  # None: read from the repo at each check (the agent may edit it)
        self.memo: StaticMemo = StaticMemo()
        self.reuse_outcomes = reuse_outcomes
        self._live_memo: LiveMemo | None = None  # made on the first live check (it imports the live half)
        self._server: PostgresServer | None = None
        self._projects: dict[tuple[Path, str, str, str], AlembicProject] = {}
        self._forking = contextlib.ExitStack()
        self.checks = 0

    def __enter__(self) -> Judge:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the fork servers and the throwaway PostgreSQL server, if one was started."""
        self._forking.close()
        self._projects.clear()
        if self._server is not None:
            with contextlib.suppress(Exception):
                self._server.close()
            self._server = None

    def check(self) -> CheckReport:
        """Judge the repo as its files are now."""
        self.checks += 1
        target = resolve_target(self.options, self.config or load_config(self.options.repo.resolve()), self.memo)
        return self._judge(target)

    # ---- one check -----------------------------------------------------------------------------------------------

    def _judge(self, target: Target) -> CheckReport:
        from orchestrator.checks.engine import apply_rule_settings, finding_order, no_cyclic_gc, static_findings

        options, cfg = target.options, target.config
        live_wanted = target.wants_live or options.stairway
        if options.stairway and not target.has_alembic:
            raise InputError(
                f"{cfg.alembic_ini}: no Alembic config in {target.repo}",
                "set alembic_ini in [tool.delegate], or pass --static-only",
            )
        project = self._project(target) if live_wanted else None
        report = CheckReport(findings=static_findings(target, self.memo), notes=[target.platform_note])
        if live_wanted:
            report.verification, live = self._live_half(target, project)
            report.findings.extend(live)
        # [tool.delegate.rules] severities and "off" apply to every finding, static and live alike: here, once.
        with no_cyclic_gc():  # tens of thousands of findings: the collector's passes would cost more than the sort
            report.findings = apply_rule_settings(report.findings, cfg)
            report.findings.sort(key=finding_order)
        return report

    def _live_half(self, target: Target, project: AlembicProject | None) -> tuple[Verification, list[Finding]]:
        from orchestrator.verify.alembic_env import AlembicProject

        if project is None:
            project = AlembicProject.for_repo(target.repo, target.config)  # raises the project's own problem
        if target.options.stairway:
            from orchestrator.verify.stairway import walk_stairway

            return walk_stairway(target, project, self.server)
        from orchestrator.verify.live import verify_live

        return verify_live(target, project, self.server, self.live_memo())

    def _project(self, target: Target) -> AlembicProject | None:
        """The repo's Alembic project with its fork server (started on first use, then kept while its interpreter,
        alembic.ini and folders stay the same); None when the live half will report the project's problem itself."""
        from orchestrator.verify.alembic_env import AlembicProject

        try:
            project = AlembicProject.for_repo(target.repo, target.config)
        except DelegateError:
            return None
        key = (project.ini, str(project.script_location), str(project.versions_dir), project.python)
        kept = self._projects.get(key)
        if kept is not None and kept.timeout == project.timeout:
            return kept
        self._forking.enter_context(project.forking())
        self._projects[key] = project
        return project

    def live_memo(self) -> LiveMemo | None:
        """The outcomes of earlier live checks (None when told not to reuse them)."""
        if self.reuse_outcomes and self._live_memo is None:
            from orchestrator.verify.reuse import LiveMemo

            self._live_memo = LiveMemo()
        return self._live_memo

    def server(self) -> PostgresServer:
        """The server the live half works on: opened on first need, then kept for every later check."""
        if self._server is not None and self._server.is_throwaway and not _alive(self._server):
            self._server = None  # a throwaway server that died (killed from outside): start another
        if self._server is None:
            from orchestrator.pg import open_server

            self._server = open_server(self.options.database_url)
        return self._server


def _alive(server: PostgresServer) -> bool:
    try:
        with server.admin_connection() as conn:
            conn.execute("SELECT 1")
    except Exception:  # noqa: BLE001 - any failure means: not usable
        return False
    return True
