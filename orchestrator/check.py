"""`delegate check` as a library function: static rules, then (unless told not to) the live verification."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.config import DelegateConfig, load_config
from orchestrator.errors import InputError
from orchestrator.report import CheckReport

if TYPE_CHECKING:
    from orchestrator.spec import FeatureSpec
    from orchestrator.verify.alembic_env import AlembicProject


@dataclass
class CheckOptions:
    repo: Path = Path(".")
    paths: list[Path] = field(default_factory=list)  # explicit files/folders; empty = the repo's layout
    spec: Path | None = None
    static_only: bool = False
    stairway: bool = False
    since: str | None = None
    rows: int = 0
    database_url: str | None = None


def run_check(options: CheckOptions, config: DelegateConfig | None = None) -> CheckReport:
    repo = options.repo.resolve()
    if not repo.is_dir():
        raise InputError(f"--repo {options.repo}: no such folder", "pass the root of the target repository")
    cfg = config or load_config(repo)
    folder = spec_folder(repo, options.spec)
    if folder is not None and not folder.is_dir():
        raise InputError(f"--spec {options.spec}: no such folder", "pass a feature folder such as specs/042-feature")

    from orchestrator.checks.engine import apply_rule_settings, finding_order, run_static

    wants_live = not options.static_only and not options.paths and (repo / cfg.alembic_ini).is_file()
    with _warm_alembic(repo, cfg, (wants_live or options.stairway) and not options.static_only) as project:
        report = CheckReport(findings=run_static(repo, cfg, options))
        _run_live_half(repo, cfg, options, report, wants_live, project)
    # [tool.delegate.rules] severities and "off" apply to every finding, static and live alike.
    report.findings = apply_rule_settings(report.findings, cfg)
    report.findings.sort(key=finding_order)
    return report


@contextmanager
def _warm_alembic(repo: Path, cfg: DelegateConfig, wanted: bool) -> Iterator[AlembicProject | None]:
    """The repo's Alembic project with its fork server warming up beside the static half (None when the live
    half will not run, or will report the project's problem itself)."""
    if not wanted:
        yield None
        return
    from orchestrator.errors import DelegateError
    from orchestrator.verify.alembic_env import AlembicProject

    try:
        project = AlembicProject.for_repo(repo, cfg)
    except DelegateError:
        yield None
        return
    with project.forking():
        yield project


def _run_live_half(
    repo: Path,
    cfg: DelegateConfig,
    options: CheckOptions,
    report: CheckReport,
    wants_live: bool,
    project: AlembicProject | None,
) -> None:
    if wants_live or options.stairway:
        if options.static_only:
            raise InputError("--stairway and --static-only exclude each other", "drop one of them")
        if not (repo / cfg.alembic_ini).is_file():
            raise InputError(
                f"{cfg.alembic_ini}: no Alembic config in {repo}",
                "set alembic_ini in [tool.delegate], or pass --static-only",
            )
        if options.stairway:
            from orchestrator.verify.stairway import run_stairway

            verification, live = run_stairway(repo, cfg, options, project)
        else:
            from orchestrator.verify.live import run_live

            verification, live = run_live(repo, cfg, options, project)
        report.verification = verification
        report.findings.extend(live)


def spec_folder(repo: Path, spec: Path | None) -> Path | None:
    """Where --spec points: as given when it exists from here (or is absolute), else relative to the repo."""
    if spec is None:
        return None
    return spec if spec.is_absolute() or spec.exists() else repo / spec


def load_spec(repo: Path, spec: Path | None) -> FeatureSpec | None:
    """The feature that --spec names, parsed (None without --spec)."""
    folder = spec_folder(repo, spec)
    if folder is None:
        return None
    from orchestrator.spec import load_feature

    return load_feature(folder)
