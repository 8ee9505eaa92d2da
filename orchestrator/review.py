"""`delegate review BRANCH`: a generated branch read back, its content checked again in a throwaway worktree.

What the branch adds over its base (the merge-base with the default branch), the static and live checks re-run on
the branch's own files (a detached `git worktree` under `<git common dir>/delegate/worktrees/`, removed after; the
user's tree, index and branch are never touched), the statuses its migration-plan.md records, and the agent
session's usage from the commit trailers.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.errors import ExitCode, InputError
from orchestrator.repo_state import git_root, state_dir
from orchestrator.report import CheckReport

TRAILERS = ("Delegated-to", "Model", "Tokens", "Cost-USD", "Checks", "Cassette")
FEATURE_SUBJECT = re.compile(r"\bmigrations for (\S+)")


@dataclass
class ReviewOptions:
    branch: str
    repo: Path = Path(".")
    database_url: str | None = None
    static_only: bool = False


@dataclass
class PlanRow:
    entity: str
    operation: str
    file: str
    status: str
    dependencies: str


@dataclass
class PlanStatuses:
    """What the branch's migration-plan.md says (as committed; the re-run checks may say otherwise)."""

    file: str
    revisions: dict[str, str] = field(default_factory=dict)  # revision -> status
    rows: list[PlanRow] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "revisions": self.revisions, "rows": [r.__dict__ for r in self.rows]}


@dataclass
class BranchReview:
    branch: str
    commit: str
    base_ref: str
    base: str  # the merge-base commit
    files: list[str]
    feature_folder: str | None
    report: CheckReport
    plan: PlanStatuses | None
    usage: dict[str, str] | None
    commits: list[str] = field(default_factory=list)  # subjects, newest first

    @property
    def exit_code(self) -> int:
        return int(ExitCode.FINDINGS if self.report.blocking else ExitCode.OK)

    def to_dict(self) -> dict[str, Any]:
        """The check report's JSON contract (version, findings, verification, summary) plus the branch's facts."""
        return {
            **self.report.to_dict(),
            "branch": self.branch,
            "commit": self.commit,
            "base": {"ref": self.base_ref, "commit": self.base},
            "feature": self.feature_folder,
            "files": self.files,
            "plan": self.plan.to_dict() if self.plan else None,
            "usage": self.usage,
        }


def _git(repo: Path, *args: str, check: bool = True) -> str:
    proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise InputError(f"git {' '.join(args)}: {proc.stderr.strip() or 'failed'}", "check the repository and branch")
    return proc.stdout


def default_branch(repo: Path, configured: str | None) -> str | None:
    names = [configured] if configured else ["main", "master"]
    for name in names:
        if name and _git(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{name}^{{commit}}", check=False):
            return name
    ref = _git(repo, "symbolic-ref", "--quiet", "refs/remotes/origin/HEAD", check=False).strip()
    return ref.removeprefix("refs/remotes/") or None


def creation_point(repo: Path, branch: str) -> str | None:
    """What the branch was made from, by its reflog (`branch: Created from X`: the workspace makes its branch from
    the commit it started on), when that is a branch or a commit and not a moving HEAD; None otherwise."""
    entries = _git(repo, "reflog", "show", "--format=%gs", f"refs/heads/{branch}", "--", check=False).splitlines()
    created = entries[-1] if entries else ""
    point = created.removeprefix("branch: Created from ").strip() if created.startswith("branch: Created") else ""
    if not point or point == "HEAD" or point.startswith("HEAD"):
        return None
    resolved = _git(repo, "rev-parse", "--verify", "--quiet", f"{point}^{{commit}}", check=False).strip()
    return point if resolved else None


def review_branch(options: ReviewOptions) -> BranchReview:
    """Read `options.branch` back and check its content again; see the module's docstring."""
    from orchestrator.config import load_config

    repo = git_root(options.repo)
    commit = _git(repo, "rev-parse", "--verify", "--quiet", f"{options.branch}^{{commit}}", check=False).strip()
    if not commit:
        raise InputError(
            f"{options.branch}: no such branch in {repo}",
            "pass a branch that `delegate migrations` created (`git branch --list '*-migrations'`)",
        )
    head_cfg = load_config(repo)
    base_ref = creation_point(repo, options.branch) or default_branch(repo, head_cfg.default_branch)
    if base_ref is None:
        raise InputError(
            f"{repo}: no default branch to compare {options.branch} with (no main, master or origin/HEAD)",
            "set default_branch in [tool.delegate]",
        )
    base = _git(repo, "merge-base", base_ref, commit, check=False).strip()
    if not base:
        raise InputError(f"{options.branch} shares no history with {base_ref}", "pass a branch made from this repo")
    if base == commit:
        raise InputError(
            f"{options.branch} adds nothing over {base_ref}",
            "pass the branch that `delegate migrations` committed to",
        )
    files = sorted(_git(repo, "diff", "--name-only", base, commit).split())
    subjects = _git(repo, "log", "--format=%s", f"{base}..{commit}").splitlines()
    usage = session_usage(repo, base, commit)
    worktrees = state_dir(repo) / "worktrees"
    worktrees.mkdir(parents=True, exist_ok=True)
    tree = worktrees / f"review-{secrets.token_hex(4)}"
    _git(repo, "worktree", "add", "--detach", "--quiet", str(tree), commit)
    try:
        cfg = load_config(tree)
        feature = feature_of(tree, cfg.specs_dir, subjects, files, options.branch)
        plan = None
        if feature is not None and (tree / feature / "migration-plan.md").is_file():
            plan = parse_plan((tree / feature / "migration-plan.md").read_text(encoding="utf-8"))
            plan.file = f"{feature}/migration-plan.md"
        report = _check(tree, feature, options)
    finally:
        _git(repo, "worktree", "remove", "--force", str(tree), check=False)
        _git(repo, "worktree", "prune", check=False)
        with contextlib.suppress(OSError):
            worktrees.rmdir()  # only when empty: the pipeline's kept worktrees stay
    return BranchReview(
        branch=options.branch,
        commit=commit,
        base_ref=base_ref,
        base=base,
        files=files,
        feature_folder=feature,
        report=report,
        plan=plan,
        usage=usage,
        commits=subjects,
    )


def _check(tree: Path, feature: str | None, options: ReviewOptions) -> CheckReport:
    from orchestrator.check import CheckOptions, run_check

    # The spec as an absolute path inside the worktree: a relative one is read from the current folder when it
    # exists there (the user's own tree, on another branch).
    return run_check(
        CheckOptions(
            repo=tree,
            spec=tree / feature if feature else None,
            database_url=options.database_url,
            static_only=options.static_only,
        )
    )


def feature_of(tree: Path, specs_dir: str, subjects: list[str], files: list[str], branch: str) -> str | None:
    """The feature folder (repo-relative) the branch is about: the commit subject's `migrations for NAME`, else the
    one spec folder its files touch, else the branch's name without `-migrations`."""
    specs = specs_dir.strip("/")
    candidates: list[str] = []
    for subject in subjects:
        match = FEATURE_SUBJECT.search(subject)
        if match:
            candidates.append(f"{specs}/{match.group(1)}")
    touched = sorted({"/".join(f.split("/")[:2]) for f in files if f.startswith(specs + "/") and f.count("/") >= 2})
    if len(touched) == 1:
        candidates.append(touched[0])
    candidates.append(f"{specs}/{branch.rsplit('/', 1)[-1].removesuffix('-migrations')}")
    return next((c for c in candidates if (tree / c).is_dir()), None)


def session_usage(repo: Path, base: str, commit: str) -> dict[str, str] | None:
    """The trailers (Delegated-to, Model, Tokens, Cost-USD, Checks, Cassette) of the newest commit that has them."""
    log = _git(repo, "log", "--format=%H%x00%(trailers:only,unfold)%x00", f"{base}..{commit}")
    parts = log.split("\x00")
    for sha, trailers in zip(parts[0::2], parts[1::2], strict=False):
        found: dict[str, str] = {}
        for line in trailers.splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip() in TRAILERS:
                found[key.strip().lower().replace("-", "_")] = value.strip()
        if "delegated_to" in found:
            return {"commit": sha.strip(), **found}
    return None


def _cells(line: str) -> list[str]:
    """The cells of a Markdown table row (an escaped \\| stays inside its cell)."""
    inner = line.strip().removeprefix("|").removesuffix("|")
    return [c.strip().replace("\\|", "|").strip("`") for c in re.split(r"(?<!\\)\|", inner)]


def parse_plan(text: str) -> PlanStatuses:
    """The statuses a migration-plan.md records: its Schema Changes table and each revision's **Status**."""
    plan = PlanStatuses(file="migration-plan.md")
    section = ""
    revision: str | None = None
    for line in text.splitlines():
        if line.startswith("## "):
            section = line[3:].strip().lower()
            continue
        if section == "schema changes" and line.startswith("|") and not re.match(r"^\|\s*-", line):
            cells = _cells(line)
            if len(cells) >= 4 and cells[0].lower() != "entity":
                deps = cells[4] if len(cells) > 4 else ""
                plan.rows.append(PlanRow(cells[0], cells[1], cells[2], cells[3], deps))
        elif section == "migration details":
            heading = re.match(r"^### `([^`]+)`", line)
            if heading:
                revision = heading.group(1)
            status = re.search(r"\*\*Status\*\*: ([^|(]+?)(?: \(|$)", line)
            if status and revision:
                plan.revisions[revision] = status.group(1).strip()
    return plan
