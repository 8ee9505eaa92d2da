"""`delegate migrations`: bundle -> agent loop <-> judge and repair -> commit on a new branch.

The orchestrator never trusts the agent's word: after every `submit` it runs every check itself on the
workspace, sends what is blocking back for repair, and commits only a green workspace. The user's own working
tree, index and branch are never touched; a failed run leaves no commit.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from orchestrator.agent.loop import AgentFailure, AgentLoop, Observer
from orchestrator.agent.protocols import Limits, Progress
from orchestrator.agent.trajectory import Trajectory
from orchestrator.errors import AgentError, InputError
from orchestrator.report import CheckReport

STATUS_COMMITTED = "committed"
STATUS_CHECKS_FAILED = "checks-failed"
STATUS_AGENT_FAILED = "agent-failed"
STATUS_NO_CHANGE = "no-change"


@dataclass
class MigrationsOptions:
    repo: Path
    spec: Path
    model: str | None = None
    max_rounds: int = 3  # repair rounds after the first submission
    max_turns: int | None = None  # default: the agent definition's maxTurns, else Limits' default
    budget_usd: float | None = None
    record: Path | None = None
    replay: Path | None = None
    database_url: str | None = None
    branch: str | None = None
    wall_seconds: float | None = 3600.0
    # Stored in a recorded cassette beside the interactions (the recording script says it was scripted).
    cassette_metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class RoundResult:
    round: int
    summary: str  # what the agent said it did (never trusted)
    errors: int
    warnings: int
    infos: int
    blocking_rules: list[str] = field(default_factory=list)  # the rule ids of its errors, sorted, each once


@dataclass
class Timings:
    """Where a run's wall time went: the model's answers, the judge's checks, and the rest (the orchestrator)."""

    total_s: float = 0.0
    setup_s: float = 0.0  # worktree, judge and server start, up to the first request
    loop_s: float = 0.0  # the rounds: the agent's turns, its tools, the checks, the repairs, the publishing
    model_s: float = 0.0
    model_calls: int = 0
    judge_s: float = 0.0
    judge_calls: int = 0
    publish_s: float = 0.0  # the plan, the runbook and the commit of a green run

    @property
    def own_s(self) -> float:
        """The orchestrator's own time in the rounds: without the model, the checks and the publishing."""
        return max(self.loop_s - self.model_s - self.judge_s - self.publish_s, 0.0)

    def to_dict(self) -> dict[str, float | int]:
        return {
            "total_s": round(self.total_s, 3),
            "setup_s": round(self.setup_s, 3),
            "loop_s": round(self.loop_s, 3),
            "model_s": round(self.model_s, 3),
            "model_calls": self.model_calls,
            "judge_s": round(self.judge_s, 3),
            "judge_calls": self.judge_calls,
            "publish_s": round(self.publish_s, 3),
            "own_s": round(self.own_s, 3),
        }


class _TimedModel:
    """The model, with the time spent waiting for it counted."""

    def __init__(self, model: Any, timings: Timings) -> None:
        self.model, self.timings, self.name = model, timings, model.name

    def send(self, system: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Any:
        started = time.perf_counter()
        try:
            return self.model.send(system, messages, tools)
        finally:
            self.timings.model_s += time.perf_counter() - started
            self.timings.model_calls += 1


def _timed_judge(check: Any, timings: Timings) -> Any:
    def judged() -> CheckReport:
        started = time.perf_counter()
        try:
            report: CheckReport = check()
            return report
        finally:
            timings.judge_s += time.perf_counter() - started
            timings.judge_calls += 1

    return judged


@dataclass
class MigrationsResult:
    status: str
    feature: str
    branch: str | None = None
    commit: str | None = None
    files: list[str] = field(default_factory=list)
    rounds: list[RoundResult] = field(default_factory=list)
    progress: Progress = field(default_factory=Progress)
    report: CheckReport | None = None
    run_dir: str | None = None
    worktree: str | None = None  # kept for a person to look at (checks failed)
    message: str = ""
    failure: str | None = None  # the AgentFailure's kind, or "api"
    timings: Timings = field(default_factory=lambda: Timings())

    @property
    def exit_code(self) -> int:
        from orchestrator.errors import ExitCode

        if self.status in (STATUS_COMMITTED, STATUS_NO_CHANGE):
            return int(ExitCode.OK)
        if self.status == STATUS_CHECKS_FAILED:
            return int(ExitCode.FINDINGS)
        return int(ExitCode.AGENT_FAILED)

    def to_dict(self) -> dict[str, Any]:
        usage = self.progress.usage
        return {
            "version": 1,
            "status": self.status,
            "feature": self.feature,
            "branch": self.branch,
            "commit": self.commit,
            "files": self.files,
            "rounds": len(self.rounds),
            "turns": self.progress.turns,
            "usage": {**usage.to_dict(), "cost_usd": round(self.progress.cost_usd, 6)},
            "findings": [] if self.report is None else [f.to_dict() for f in self.report.findings],
            "run_dir": self.run_dir,
            "worktree": self.worktree,
            "message": self.message,
            "failure": self.failure,
            "round_results": [r.__dict__ for r in self.rounds],
            "timings": self.timings.to_dict(),
        }


def run_migrations(options: MigrationsOptions, observe: Observer | None = None) -> MigrationsResult:
    """Delegate the feature's database work; see the module's docstring. Raises DelegateError for bad input."""
    from orchestrator.bundle import build_bundle
    from orchestrator.config import load_config
    from orchestrator.repo_state import git_root

    say = observe or (lambda kind, data: None)
    repo = git_root(options.repo)  # build_bundle refuses a repository with no commit (the worktree needs HEAD)
    spec = options.spec if options.spec.is_absolute() or options.spec.exists() else repo / options.spec
    if not spec.is_dir():
        raise InputError(f"{options.spec}: no such feature folder", "pass a folder such as specs/042-feature")
    if options.record and options.replay:
        raise InputError("--record and --replay exclude each other", "pass one of them")
    if options.replay is not None and not options.replay.is_file():
        raise InputError(f"--replay {options.replay}: no such cassette", "pass a cassette file (cassettes/*.yaml)")
    if options.max_rounds < 0:
        raise InputError(f"--max-rounds {options.max_rounds}: must be 0 or more")
    cfg = load_config(repo)
    bundle = build_bundle(repo, spec.resolve(), cfg)
    feature = bundle.feature
    say("bundle", bundle)
    if not bundle.needs_database_change:
        return MigrationsResult(status=STATUS_NO_CHANGE, feature=feature, message=bundle.no_change_reason or "")
    api_key = _api_key(options)
    model_id = options.model or bundle.agent.model
    state = _state_dir(repo)
    run_dir = state / "runs" / f"{feature}-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{os.getpid()}"
    with _feature_lock(state, feature):
        return _delegate(options, repo, cfg, bundle, model_id, api_key, run_dir, state, say)


def _delegate(
    options: MigrationsOptions,
    repo: Path,
    cfg: Any,
    bundle: Any,
    model_id: str,
    api_key: str | None,
    run_dir: Path,
    state: Path,
    say: Observer,
) -> MigrationsResult:
    from orchestrator.agent.anthropic_model import AnthropicModel
    from orchestrator.agent.pricing import PriceTable
    from orchestrator.agent.tools import TOOL_SCHEMAS, WorkspaceToolbox
    from orchestrator.bundle import render_system_prompt, render_task_prompt
    from orchestrator.check import CheckOptions, Judge
    from orchestrator.repair import repair_message
    from orchestrator.workspace import Workspace, free_branch_name

    started = time.perf_counter()
    feature = bundle.feature
    branch = options.branch or f"{feature}-migrations"
    branch = free_branch_name(repo, branch)
    result = MigrationsResult(status=STATUS_AGENT_FAILED, feature=feature, branch=branch, run_dir=str(run_dir))
    run_dir.mkdir(parents=True, exist_ok=True)
    trajectory = Trajectory(run_dir / "trajectory.jsonl")
    workspace = Workspace.create(repo, branch=branch, allowed=bundle.allowed_folders, worktrees_dir=state / "worktrees")
    keep_worktree = False
    try:
        carried = workspace.carry(bundle.spec_folder)
        if carried:
            say("note", f"{bundle.spec_folder} is not committed yet: {len(carried)} file(s) carried into the branch")
        prices = PriceTable.load(cfg.prices, source=f"{cfg.source or 'pyproject.toml'}: [tool.delegate.prices]")
        limits = Limits(
            max_turns=options.max_turns or bundle.agent.max_turns or Limits.max_turns,
            budget_usd=options.budget_usd,
            wall_seconds=options.wall_seconds,
        )
        check_options = CheckOptions(
            repo=workspace.root, spec=workspace.root / bundle.spec_folder, database_url=options.database_url
        )
        with _cassette(options, model_id, bundle), Judge(check_options) as judge:
            model = _TimedModel(
                AnthropicModel(
                    model_id,
                    prices=prices,
                    api_key=api_key,
                    base_url=None if options.replay else os.environ.get("ANTHROPIC_BASE_URL"),
                    wait=options.replay is None,
                ),
                result.timings,
            )
            check = _timed_judge(judge.check, result.timings)
            toolbox = WorkspaceToolbox(workspace, check)
            loop = AgentLoop(
                model, toolbox, TOOL_SCHEMAS, render_system_prompt(bundle), limits, trajectory, observe=say
            )
            result.progress = loop.progress
            content: list[dict[str, Any]] = [{"type": "text", "text": render_task_prompt(bundle)}]
            result.timings.setup_s = time.perf_counter() - started
            loop_started = time.perf_counter()
            try:
                for round_no in range(1, options.max_rounds + 2):
                    say("round", round_no)
                    done = loop.run(content)
                    say("judging", round_no)
                    report = check()
                    summary = report.summary
                    blocking = sorted({f.rule for f in report.findings if f.severity.value == "error"})
                    result.rounds.append(
                        RoundResult(round_no, done.summary, summary.errors, summary.warnings, summary.infos, blocking)
                    )
                    result.report = report
                    trajectory.event(
                        "judged",
                        round=round_no,
                        errors=summary.errors,
                        warnings=summary.warnings,
                        infos=summary.infos,
                        blocking_rules=blocking,
                    )
                    say("judged", (round_no, report))
                    if not report.blocking:
                        publishing = time.perf_counter()
                        body = _publish(workspace, cfg, report, bundle, model_id, branch, result)
                        result.files = workspace.written()
                        result.commit = workspace.commit(_commit_message(bundle, result, model_id, options, body))
                        result.timings.publish_s = time.perf_counter() - publishing
                        result.status = STATUS_COMMITTED
                        result.message = f"committed {result.commit[:12]} on {branch}"
                        return result
                    if round_no > options.max_rounds:
                        break
                    repair = repair_message(
                        report, round_no, options.max_rounds, root=workspace.root, writable=workspace.allowed
                    )
                    content = [*done.pending, {"type": "text", "text": repair}]
            finally:
                result.timings.loop_s = time.perf_counter() - loop_started
        result.status = STATUS_CHECKS_FAILED
        result.files = workspace.written()
        result.worktree = str(workspace.root)
        keep_worktree = True
        result.message = (
            f"checks still fail after {len(result.rounds)} round(s); nothing committed. "
            f"The agent's work is kept in {workspace.root} and the session in {run_dir}"
        )
        return result
    except AgentFailure as failure:
        result.failure = failure.kind
        result.message = f"the agent stopped: {failure.message}; nothing committed (session in {run_dir})"
        return result
    except AgentError as error:  # the API's refusal (InputErrors, a cassette mismatch among them, propagate)
        result.failure = "api"
        result.message = f"{error.message}; nothing committed (session in {run_dir})"
        if error.hint:
            result.message += f"\n  fix: {error.hint}"
        result.report = None
        return result
    finally:
        result.timings.total_s = time.perf_counter() - started
        trajectory.event("end", status=result.status, failure=result.failure, turns=result.progress.turns)
        trajectory.close()
        if result.status == STATUS_COMMITTED:
            workspace.remove(keep_branch=True)
        elif not keep_worktree:
            workspace.remove(keep_branch=False)


def _publish(
    workspace: Any, cfg: Any, report: CheckReport, bundle: Any, model_id: str, branch: str, result: MigrationsResult
) -> str:
    """Fill the migration plan and the runbook from what was measured, in the workspace; the commit body."""
    from orchestrator.publish import commit_body, plan_facts, plan_files, sent_files

    usage = {**result.progress.usage.to_dict(), "cost_usd": round(result.progress.cost_usd, 6)}
    facts = plan_facts(
        workspace.root,
        cfg,
        report,
        bundle.spec_folder,
        agent=bundle.agent.name,
        agent_source=bundle.agent.source,
        model=model_id,
        bundle_files=sent_files(bundle),
        usage=usage,
        files=workspace.written(),
        branch=branch,
    )
    for rel, text in plan_files(facts).items():
        workspace.write_file(rel, text)  # through the workspace: its commit stages what it wrote
    return commit_body(facts)


def _commit_message(bundle: Any, result: MigrationsResult, model_id: str, options: MigrationsOptions, body: str) -> str:
    usage = result.progress.usage
    report = result.report
    checks = "green" if report is None else f"{report.summary.errors} errors, {report.summary.warnings} warnings"
    lines = [
        f"feat(db): migrations for {result.feature}",
        "",
        f"Written by the {bundle.agent.name} agent and proven by `delegate check` in {len(result.rounds)} round(s).",
        "",
        body.rstrip(),
        "",
        f"Delegated-to: {bundle.agent.name}",
        f"Model: {model_id}",
        f"Tokens: {usage.total_tokens}",
        f"Cost-USD: {result.progress.cost_usd:.4f}",
        f"Checks: {checks}",
    ]
    cassette = options.replay or options.record
    if cassette is not None:
        lines.append(f"Cassette: {cassette.name}")
    return "\n".join(lines) + "\n"


def _state_dir(repo: Path) -> Path:
    from orchestrator.repo_state import state_dir

    folder = state_dir(repo)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _api_key(options: MigrationsOptions) -> str | None:
    if options.replay is not None:
        return "sk-ant-replay-no-key"  # replay never reaches the network; the SDK still wants a key
    key = os.environ.get("ANTHROPIC_API_KEY")
    if not key and not os.environ.get("ANTHROPIC_AUTH_TOKEN"):
        raise InputError(
            "no ANTHROPIC_API_KEY in the environment",
            "export ANTHROPIC_API_KEY=... to run the agent, or pass --replay cassettes/FILE.yaml to replay a session",
        )
    return key


@contextlib.contextmanager
def _cassette(options: MigrationsOptions, model_id: str, bundle: Any) -> Iterator[None]:
    if options.replay is None and options.record is None:
        yield
        return
    from orchestrator.agent.recording import cassette

    if options.replay is not None:
        with cassette(options.replay, "replay"):
            yield
        return
    assert options.record is not None
    metadata = {
        "feature": bundle.spec_folder,
        "model": model_id,
        "bundle_digest": bundle.digest,
        "scripted": False,
        **options.cassette_metadata,
    }
    with cassette(options.record, "record", metadata=metadata):
        yield


@contextlib.contextmanager
def _feature_lock(state: Path, feature: str) -> Iterator[None]:
    """One run per feature at a time: a second one is refused at once, naming the first."""
    locks = state / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    path = locks / f"{re.sub(r'[^A-Za-z0-9._-]', '_', feature)}.lock"
    handle: IO[str] = path.open("a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise InputError(
                f"another `delegate migrations` run on {feature} is in progress ({holder})",
                "wait for it to finish, or pass another feature",
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        yield
    finally:
        handle.close()
