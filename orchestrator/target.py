"""What one check judges, worked out once: the repo, its config, the spec, the revision graph, the revisions under test.

`check.py` resolves the options into a Target and hands it to the static half (checks/engine.py), the live half
(verify/live.py) and the stairway (verify/stairway.py); none of them reads the spec, the revision files or git
again, so all three judge the same revisions against the same spec.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.config import DelegateConfig, load_config
from orchestrator.errors import DelegateError, InputError

if TYPE_CHECKING:
    from orchestrator.checks.inputs import CheckInputs
    from orchestrator.checks.memo import StaticMemo
    from orchestrator.feature import RevisionSelection
    from orchestrator.revisions import RevisionFile, RevisionGraph
    from orchestrator.spec import FeatureSpec


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
    template_cache: bool = True  # False (--no-template-cache): the base template is built for this run and dropped


@dataclass(frozen=True)
class BranchChanges:
    """The files (resolved) that the branch and the working tree add or change over the default branch."""

    files: frozenset[Path]
    label: str  # "branch feature/x", "HEAD", "the working tree"

    def under(self, folder: Path) -> set[Path]:
        folder = folder.resolve()
        return {p for p in self.files if p.is_relative_to(folder)}


@dataclass
class Target:
    """One check's resolved inputs. `graph` is the history of the versions folder (the live half's and the
    selection's); `inputs` and `revision_files` are what the static half reads (the same files in repo mode)."""

    repo: Path
    config: DelegateConfig
    options: CheckOptions
    inputs: CheckInputs | None  # None: the static half has nothing to read (only the stairway runs)
    revision_files: list[RevisionFile]  # the static half's revision files, read once
    graph: RevisionGraph
    spec: FeatureSpec | None
    spec_folder: Path | None  # --spec's folder, or the one feature folder the branch touches
    selection: RevisionSelection | None  # None: explicit paths (every file counts) or no versions folder
    changes: BranchChanges | None  # None: git cannot tell
    spec_guessed: bool = False  # the spec folder was the branch's, not --spec's
    # What the app runs on, "supabase" or "postgres" (resolve_platform), and why: the config, or what was found.
    platform: str = "supabase"
    platform_reason: str = ""

    @property
    def supabase(self) -> bool:
        """The Supabase emulation, the RLS matrix and the Supabase-only rules apply."""
        return self.platform == "supabase"

    @property
    def platform_note(self) -> str:
        """The report's note on the target: which one, and why."""
        return f"target: {self.platform} ({self.platform_reason})"

    @property
    def feature_revisions(self) -> set[str] | None:
        """The revisions under test, when they are not the whole history (None: everything counts)."""
        selection = self.selection
        if selection is None or self.options.paths:
            return None
        if not selection.base and set(selection.under_test) >= set(self.graph.by_id):
            return None
        return set(selection.under_test)

    @property
    def wants_live(self) -> bool:
        """The live half runs: repo mode, not --static-only, and an Alembic config to run."""
        return not self.options.static_only and not self.options.paths and self.has_alembic

    @property
    def has_alembic(self) -> bool:
        return (self.repo / self.config.alembic_ini).is_file()

    def changed(self, folder: Path | None = None) -> set[Path] | None:
        """Files the branch changes (below `folder` if given); None when git cannot tell."""
        if self.changes is None:
            return None
        return set(self.changes.files) if folder is None else self.changes.under(folder)


def spec_folder(repo: Path, spec: Path | None) -> Path | None:
    """Where --spec points: as given when it exists from here (or is absolute), else relative to the repo."""
    if spec is None:
        return None
    return spec if spec.is_absolute() or spec.exists() else repo / spec


def resolve_target(
    options: CheckOptions, config: DelegateConfig | None = None, memo: StaticMemo | None = None
) -> Target:
    """Read everything a check judges once: config, inputs, revision files and graph, git changes, spec, selection.
    `memo`: a judge's revision files of earlier runs, reused when a file's text is unchanged."""
    repo = options.repo.resolve()
    if not repo.is_dir():
        raise InputError(f"--repo {options.repo}: no such folder", "pass the root of the target repository")
    cfg = config or load_config(repo)
    folder = spec_folder(repo, options.spec)
    if folder is not None and not folder.is_dir():
        raise InputError(f"--spec {options.spec}: no such folder", "pass a feature folder such as specs/042-feature")
    if options.stairway and options.static_only:
        raise InputError("--stairway and --static-only exclude each other", "drop one of them")
    from orchestrator.checks.inputs import collect_inputs
    from orchestrator.revisions import RevisionGraph

    inputs = collect_inputs(repo, cfg, list(options.paths))
    revision_files = [_read_revision(path, repo, rel, memo) for rel, path in inputs.revision_files.items()]
    if options.paths:
        # Explicit files: the static half judges exactly those; the stairway still walks the versions folder.
        versions = repo / cfg.versions_dir
        graph = RevisionGraph.from_folder(versions, repo) if options.stairway and versions.is_dir() else None
        static_graph = RevisionGraph(revision_files)
        target = Target(
            repo=repo,
            config=cfg,
            options=options,
            inputs=inputs,
            revision_files=revision_files,
            graph=graph or static_graph,
            spec=_load_spec(folder),
            spec_folder=folder,
            selection=None,
            changes=None,
        )
        if graph is not None:
            target.changes = branch_changes(repo, cfg)
            target.selection = _select(target)
        target.platform, target.platform_reason = resolve_platform(target)
        return target
    target = Target(
        repo=repo,
        config=cfg,
        options=options,
        inputs=inputs,
        revision_files=revision_files,
        graph=RevisionGraph(revision_files),
        spec=_load_spec(folder),
        spec_folder=folder,
        selection=None,
        changes=branch_changes(repo, cfg),
    )
    target.selection = _select(target)
    if target.spec is None:
        # No --spec: the one feature folder the branch touches is the feature's (its data model, public-read
        # tables, query patterns), for both halves alike.
        guessed = _touched_spec_folder(target)
        if guessed is not None:
            # A folder we guessed at is no reason to stop; --spec would make it one.
            with contextlib.suppress(DelegateError):
                target.spec, target.spec_folder, target.spec_guessed = _load_spec(guessed), guessed, True
    target.platform, target.platform_reason = resolve_platform(target)
    return target


# What makes a history Supabase's: auth.users, auth.uid()/jwt()/role(), or the API roles granted, named in a
# policy or switched to. A column called `authenticated` or a word in a comment is not enough.
_SUPABASE_ROLE = r"(?:anon|authenticated|service_role)\b"
SUPABASE_MARKERS = re.compile(
    r"\bauth\.users\b|\bauth\.(?:uid|jwt|role)\s*\("
    rf"|\bTO\s+(?:[\"']?\w+[\"']?\s*,\s*)*[\"']?{_SUPABASE_ROLE}"
    rf"|\bSET\s+(?:LOCAL\s+|SESSION\s+)?ROLE\s+(?:TO\s+)?[\"']?{_SUPABASE_ROLE}",
    re.IGNORECASE,
)


def resolve_platform(target: Target) -> tuple[str, str]:
    """("supabase" | "postgres", why): `target` of [tool.delegate] when set, else detected once from the text of
    the revision files (the whole history) and the policy SQL: Supabase when one names auth.users, auth.uid(),
    auth.jwt(), auth.role() or grants/switches to anon, authenticated or service_role; plain PostgreSQL otherwise."""
    cfg = target.config
    if cfg.target is not None:
        return cfg.target, f"target = {cfg.target!r} in {_config_name(cfg)}"
    sources: dict[str, str] = {}
    for rf in [*target.revision_files, *target.graph.by_id.values()]:
        sources.setdefault(rf.rel, rf.source)
    policies = target.repo / cfg.policies_dir
    if policies.is_dir():
        for path in sorted(policies.rglob("*.sql")):
            with contextlib.suppress(OSError, UnicodeDecodeError):
                sources.setdefault(path.relative_to(target.repo).as_posix(), path.read_text(encoding="utf-8"))
    for rel, text in sources.items():
        match = SUPABASE_MARKERS.search(text or "")
        if match is not None:
            named = " ".join(match.group(0).split())
            if named.endswith("("):
                named = named[:-1].rstrip() + "()"
            return "supabase", f"detected: {rel} names {named} (set target in [tool.delegate] to choose)"
    return "postgres", (
        "detected: no revision or policy names auth.users, auth.uid(), auth.jwt(), auth.role() or the roles anon, "
        "authenticated, service_role; no Supabase emulation and no Supabase-only rules "
        "(set target in [tool.delegate] to choose)"
    )


def _config_name(cfg: DelegateConfig) -> str:
    if cfg.source is None:
        return "the config"
    return "delegate.toml" if cfg.source.endswith("delegate.toml") else "[tool.delegate]"


def _read_revision(path: Path, repo: Path, rel: str, memo: StaticMemo | None) -> RevisionFile:
    from orchestrator.revisions import parse_revision_source, read_revision_file

    source: str | None = None
    if memo is not None:
        try:
            source = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            source = None
    if source is None or memo is None:
        rf = read_revision_file(path, repo)
        rf.rel = rel
        return rf
    text = source
    return memo.get(memo.revision_files, (path, rel, text), lambda: parse_revision_source(text, path=path, rel=rel))


def _load_spec(folder: Path | None) -> FeatureSpec | None:
    if folder is None:
        return None
    from orchestrator.spec import load_feature

    return load_feature(folder)


def _select(target: Target) -> RevisionSelection:
    from orchestrator.feature import select_revisions

    # --spec selects the feature's revisions; a guessed spec does not (the branch's changes already say which).
    explicit = target.spec if not target.spec_guessed else None
    return select_revisions(
        target.repo, target.config, target.graph, since=target.options.since, spec=explicit, changes=target.changes
    )


def branch_changes(repo: Path, cfg: DelegateConfig) -> BranchChanges | None:
    """The branch's changes over the default branch (git asked once per check); None when git cannot tell."""
    from orchestrator.feature import branch_changes as git_changes

    found = git_changes(repo, cfg)
    if found is None:
        return None
    return BranchChanges(frozenset(found[0]), found[1])


def _touched_spec_folder(target: Target) -> Path | None:
    """The single folder under specs/ that the branch changes, if git can tell and there is exactly one."""
    changed = target.changed()
    specs = (target.repo / target.config.specs_dir).resolve()
    if not changed or not specs.is_dir():
        return None
    folders = {p.relative_to(specs).parts[0] for p in changed if p.is_relative_to(specs) and p != specs}
    folders = {f for f in folders if (specs / f).is_dir()}
    return specs / folders.pop() if len(folders) == 1 else None
