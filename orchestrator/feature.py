"""Which revisions are under test: --since, the feature's own revisions, the branch's, or the whole history."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from orchestrator.config import DelegateConfig
from orchestrator.errors import InputError
from orchestrator.revisions import RevisionGraph

if TYPE_CHECKING:
    from orchestrator.spec import FeatureSpec
    from orchestrator.target import BranchChanges


class RevisionSelection(BaseModel):
    """The revisions under test (parents first) and the heads of the history below them (the base)."""

    under_test: list[str] = Field(default_factory=list)
    base: list[str] = Field(default_factory=list)  # empty: the base is an empty database
    how: str = ""  # in words, for the report: why these revisions


def resolve_revision(graph: RevisionGraph, ref: str, what: str = "--since") -> str:
    """A full revision id for `ref` (an id, a unique prefix, or a branch label)."""
    if ref in graph.by_id:
        return ref
    labelled = [rev for rev, rf in graph.by_id.items() if ref in rf.branch_labels]
    matches = labelled or [rev for rev in graph.by_id if rev.startswith(ref)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        known = ", ".join(graph.heads[:3]) or "none"
        raise InputError(
            f"{what} {ref}: no such revision in the versions folder",
            f"pass a revision id that exists (current heads: {known})",
        )
    raise InputError(
        f"{what} {ref}: ambiguous, it matches {', '.join(sorted(matches)[:5])}",
        "pass more characters of the revision id",
    )


def close_upwards(graph: RevisionGraph, revisions: Iterable[str]) -> RevisionSelection:
    """The given revisions plus everything built on them, and the heads of what lies below."""
    chosen = set(revisions)
    for rev in list(chosen):
        chosen |= graph.descendants(rev)
    below: set[str] = set()
    for rev in chosen:
        below |= graph.ancestors(rev)
    below -= chosen
    base = sorted(rev for rev in below if not (set(graph.children[rev]) & below))
    return RevisionSelection(under_test=graph.topological(chosen), base=base)


def select_revisions(
    repo: Path,
    cfg: DelegateConfig,
    graph: RevisionGraph,
    since: str | None = None,
    spec: FeatureSpec | None = None,
    changes: BranchChanges | None | Literal["ask git"] = "ask git",
) -> RevisionSelection:
    """Implements the order of the contract: --since, then --spec, then the branch's changes, then everything.
    `changes`: the branch's changes when the caller has asked git already (None: git cannot tell)."""
    if since is not None:
        rev = resolve_revision(graph, since)
        selection = close_upwards(graph, graph.descendants(rev))
        selection.base = selection.base or [rev]  # nothing after it: the base is the revision itself
        selection.how = f"the revisions after {rev} (--since)"
        return selection
    if spec is not None:
        own = feature_revisions(graph, spec)
        if own:
            selection = close_upwards(graph, own)
            selection.how = f"the revisions of feature {spec.number or spec.slug}"
            return selection
    changed = branch_revisions(repo, cfg, graph, changes)
    if changed:
        revs, branch = changed
        selection = close_upwards(graph, revs)
        selection.how = f"the revisions that {branch} changes"
        return selection
    return RevisionSelection(under_test=graph.topological(), base=[], how="the whole history")


def feature_revisions(graph: RevisionGraph, spec: FeatureSpec) -> set[str]:
    """Revisions the plan names, else those whose file name or message carries the feature's number or slug."""
    named = {rev for rev in spec.revision_ids if rev in graph.by_id}
    if named:
        return named
    marks = [m for m in (spec.slug, spec.number) if m]
    if not marks:
        return set()
    found: set[str] = set()
    for rev, rf in graph.by_id.items():
        haystack = _words(f"{rf.path.name}\n{rf.message}")
        if any(re.search(rf"(?<![0-9a-z]){re.escape(_words(mark))}(?![0-9a-z])", haystack) for mark in marks):
            found.add(rev)
    return found


def _words(text: str) -> str:
    """Lower case with '-', '_' and runs of spaces made one space, so lesson-progress matches 002_lesson_progress."""
    return re.sub(r"[\s_\-]+", " ", text.lower())


def branch_revisions(
    repo: Path,
    cfg: DelegateConfig,
    graph: RevisionGraph,
    changes: BranchChanges | None | Literal["ask git"] = "ask git",
) -> tuple[set[str], str] | None:
    """Revisions whose files the current branch (and the working tree) adds or changes over the default branch."""
    if changes == "ask git":
        asked = branch_changes(repo, cfg, under=repo / cfg.versions_dir)
        if asked is None:
            return None
        paths, branch_name = asked
    elif changes is None:
        return None
    else:
        paths, branch_name = changes.under(repo / cfg.versions_dir), changes.label
    revs = {rev for rev, rf in graph.by_id.items() if rf.path.resolve() in paths}
    if not revs or set(graph.by_id) <= revs:
        return None
    return revs, branch_name


def branch_changes(repo: Path, cfg: DelegateConfig, under: Path | None = None) -> tuple[set[Path], str] | None:
    """Files (resolved, below `under` if given) that the current branch and the working tree add or change over
    the default branch, and the branch's name in words; None when git cannot tell."""
    try:
        import git
    except ImportError:  # gitpython is a dependency; a broken install falls back to the whole history
        return None
    try:
        repository = git.Repo(repo, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    root = Path(repository.working_tree_dir or repo).resolve()
    try:
        scope = (under or root).resolve().relative_to(root).as_posix()
    except ValueError:
        return None
    changed: set[str] = set()
    branch_name = "the working tree"
    try:
        if repository.head.is_valid():
            base_ref = _default_branch(repository, cfg)
            merge_base = repository.merge_base(base_ref, "HEAD") if base_ref is not None else []
            if merge_base:
                changed |= set(repository.git.diff("--name-only", merge_base[0].hexsha, "--", scope).splitlines())
                branch_name = _branch_label(repository)
            changed |= set(repository.git.diff("--name-only", "HEAD", "--", scope).splitlines())
        changed |= {p for p in repository.untracked_files if scope == "." or p.startswith(scope + "/")}
    except (git.GitCommandError, ValueError):
        return None
    return {(root / p).resolve() for p in changed if p}, branch_name


def _default_branch(repository: object, cfg: DelegateConfig) -> str | None:
    import git

    assert isinstance(repository, git.Repo)
    candidates = [cfg.default_branch] if cfg.default_branch else ["main", "master"]
    for name in candidates:
        if name and name in repository.heads:
            return name
    try:
        ref = repository.git.symbolic_ref("refs/remotes/origin/HEAD")
        return ref.removeprefix("refs/remotes/")
    except git.GitCommandError:
        return None


def _branch_label(repository: object) -> str:
    import git

    assert isinstance(repository, git.Repo)
    try:
        return f"branch {repository.active_branch.name}"
    except TypeError:  # detached HEAD
        return "HEAD"
