"""The context bundle of one feature: its documents, the agent definition, the repo's layout, the head revision and
the reference migrations chosen under a token budget. A pydantic model: printed by `delegate bundle`, hashed by
`digest`, rendered into the agent's system and task prompts.

Nothing in a bundle is absolute, timed or random (paths are repo-relative, the suggested revision id is derived
from the feature and the head), so the same repo and feature give the same prompts, request for request.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from orchestrator.agent.definition import AgentDefinition, load_agent_definition
from orchestrator.config import DelegateConfig, load_config
from orchestrator.errors import InputError
from orchestrator.revisions import RevisionFile, RevisionGraph

if TYPE_CHECKING:
    from orchestrator.spec import FeatureSpec

VERSION = 1
DEFAULT_TOKEN_BUDGET = 30_000  # for the reference migrations (the head's file counts, and is never dropped)
MIN_HEAD_TOKENS = 2_000  # a head larger than the budget is cut, but never below this
NEWEST_COUNT = 3  # the newest revisions below the head offered as references
MAX_LISTED_FILES = 300  # of the layout's folders, in the system prompt
CHARS_PER_TOKEN = 4

# Settings of the target repo's config that the agent is told (the others are the tool's own business: which
# Python runs the repo, time limits).
_SETTINGS = (
    "models",
    "default_branch",
    "exposed_schemas",
    "expected_roles",
    "owner_columns",
    "public_read_tables",
    "irreversible_revisions",
    "runbook_paths",
    "rules",
)


def estimate_tokens(text: str) -> int:
    """Tokens of a text, estimated as one per 4 characters (rounded up). Anthropic's token counting is an API call
    and a bundle is built offline; for English prose and code the estimate is within about 20%."""
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


class Document(BaseModel):
    """One of the feature's documents, as written."""

    name: str  # spec.md, data-model.md, plan.md
    path: str  # repo-relative
    present: bool
    text: str = ""
    tokens: int = 0


class EntitySummary(BaseModel):
    """What the data model parser read: a table, whether it exists already, the fields the feature gives it."""

    table: str  # schema-qualified
    existing: bool
    fields: list[str] = Field(default_factory=list)


class Layout(BaseModel):
    """Where things live in the target repo, and the settings of its config that the agent must follow."""

    alembic_ini: str
    versions_dir: str
    policies_dir: str
    seeds_dirs: list[str]
    tests_dir: str
    specs_dir: str
    config_source: str | None = None  # repo-relative; None: every key at its default
    detected: list[str] = Field(default_factory=list)  # what the layout detection chose
    settings: dict[str, Any] = Field(default_factory=dict)
    files: list[str] = Field(default_factory=list)  # tracked files under the layout's folders and the spec folder
    files_left_out: int = 0  # beyond MAX_LISTED_FILES


class Migration(BaseModel):
    """A revision file offered to the agent as a reference, with every reason it was chosen."""

    revision: str
    path: str  # repo-relative
    message: str = ""  # the docstring's first line
    down_revisions: list[str] = Field(default_factory=list)
    reasons: list[str]
    tokens: int  # of the text sent
    text: str
    truncated: bool = False  # a head larger than the budget, cut (see reasons)


class DroppedMigration(BaseModel):
    """A revision the selection wanted but the token budget left out."""

    revision: str
    path: str
    reasons: list[str]
    tokens: int
    why: str


class TokenCounts(BaseModel):
    """Estimated tokens (estimate_tokens) of each part of the bundle."""

    documents: int
    agent: int
    layout: int
    references: int  # the head's file included
    total: int
    budget: int  # for the references
    dropped: int  # what the budget left out


class Bundle(BaseModel):
    """Everything the agent is given about one feature (see the module docstring)."""

    version: int = VERSION
    feature: str  # the spec folder's name, e.g. 042-lesson-progress
    number: str
    slug: str
    title: str
    spec_folder: str  # repo-relative
    documents: list[Document]
    entities: list[EntitySummary] = Field(default_factory=list)
    tables: dict[str, str] = Field(default_factory=dict)  # bare table name -> "new", "changed" or "referenced"
    agent: AgentDefinition
    layout: Layout
    heads: list[str] = Field(default_factory=list)
    head: str | None = None  # the single head; None for an empty history or several heads (see heads)
    references: list[Migration] = Field(default_factory=list)  # parents first; the heads among them
    dropped: list[DroppedMigration] = Field(default_factory=list)
    tokens: TokenCounts
    allowed_folders: list[str]
    # The SQLAlchemy models module (a package folder or one .py file), repo-relative, when the config names one: the
    # live check compares it with the migrated schema, so the agent must be able to declare the new tables there.
    models_path: str | None = None
    suggested_revision_id: str
    runbook_path: str
    needs_database_change: bool = True
    no_change_reason: str | None = None
    notes: list[str] = Field(default_factory=list)  # for the person running delegate; never in a prompt

    @property
    def digest(self) -> str:
        """sha256 hex of the bundle's canonical JSON (sorted keys, no whitespace)."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def __hash__(self) -> int:
        return hash(self.digest)

    def document(self, name: str) -> Document:
        return next(d for d in self.documents if d.name == name)

    @property
    def head_files(self) -> list[Migration]:
        return [m for m in self.references if m.revision in self.heads]

    @property
    def down_revision(self) -> str:
        """The new revision's down_revision as Python source: the head, a tuple of heads (a merge), or None."""
        if not self.heads:
            return "None"
        quoted = [json.dumps(h) for h in self.heads]
        return quoted[0] if len(quoted) == 1 else "(" + ", ".join(quoted) + ")"


# --- building it -------------------------------------------------------------------------------------------------


def build_bundle(
    repo: Path, spec: Path, config: DelegateConfig | None = None, token_budget: int = DEFAULT_TOKEN_BUDGET
) -> Bundle:
    """The bundle of the feature at `spec` (a folder relative to the repo if it is there, else as given from here)
    in the git repository at `repo`. InputError (exit 2) for a missing repo, spec folder or document, a folder
    outside the repo, or a repo that is not a git work tree."""
    root = _repo_root(repo)
    cfg = config or load_config(root)
    folder = _spec_folder(root, spec)
    spec_rel = folder.relative_to(root).as_posix()
    notes: list[str] = []

    documents = [_document(root, folder, name) for name in ("spec.md", "data-model.md", "plan.md")]
    spec_doc, model_doc, plan_doc = documents
    if not spec_doc.present:
        raise InputError(
            f"{spec_doc.path}: missing; the agent works from the feature's specification",
            "write spec.md in the feature folder (spec-kit's /specify), or pass the right folder",
        )
    needs_change, no_change_reason = _needs_database_change(model_doc, plan_doc)

    from orchestrator.spec import FeatureSpec, load_feature

    if model_doc.present or needs_change:
        feature = load_feature(folder)  # without data-model.md it says what is missing
    else:
        number, slug = _number_and_slug(folder.name)
        feature = FeatureSpec(
            path=Path(spec_rel),
            number=number,
            slug=slug,
            title=slug.replace("-", " ").replace("_", " ").capitalize(),
            spec_md=spec_doc.text,
            plan_md=plan_doc.text,
        )
    if needs_change and not feature.entities:
        notes.append(
            f"{model_doc.path}: no entities were read from it (tables, bullets or an erDiagram); "
            "the agent gets its text as written"
        )

    entities = [
        EntitySummary(table=e.qualified_table, existing=e.existing, fields=[f.name for f in e.fields])
        for e in feature.entities
    ]
    tables = _feature_tables(feature)
    layout = _layout(root, cfg, spec_rel)
    allowed = _allowed_folders(root, cfg, spec_rel, notes)
    models_path = _models_path(root, cfg)
    if models_path is not None and models_path not in allowed:
        allowed.append(models_path)

    versions = root / cfg.versions_dir
    graph = RevisionGraph.from_folder(versions, root) if versions.is_dir() else RevisionGraph([])
    if not versions.is_dir():
        notes.append(f"{cfg.versions_dir}: no such folder; the history is empty, the new revision is the first")
    unreadable = [rf.rel for rf in graph.files if rf.revision is None]
    if unreadable:
        notes.append(f"revision files with no readable revision id, left out: {', '.join(unreadable)}")
    heads = graph.heads
    if len(heads) > 1:
        notes.append(f"the history has {len(heads)} heads ({', '.join(heads)}): the new revision merges them")
    references, dropped = select_references(graph, tables, token_budget)
    if feature.entities:
        from orchestrator.feature import feature_revisions

        existing = sorted(feature_revisions(graph, feature))
        if existing:
            notes.append(
                f"the history already holds revisions of this feature ({', '.join(existing)}); "
                "the agent adds a new one on top of the head"
            )

    agent = load_agent_definition(root)
    notes += _uncommitted(root, [spec_rel, cfg.versions_dir])

    counts = TokenCounts(
        documents=sum(d.tokens for d in documents),
        agent=estimate_tokens(agent.instructions),
        layout=estimate_tokens(layout.model_dump_json()),
        references=sum(m.tokens for m in references),
        total=0,
        budget=token_budget,
        dropped=sum(m.tokens for m in dropped),
    )
    counts.total = counts.documents + counts.agent + counts.layout + counts.references
    runbook = _runbook_path(cfg, spec_rel, feature.number, feature.slug, allowed)
    return Bundle(
        feature=folder.name,
        number=feature.number,
        slug=feature.slug,
        title=feature.title,
        spec_folder=spec_rel,
        documents=documents,
        entities=entities,
        tables=dict(sorted(tables.items())),
        agent=agent,
        layout=layout,
        heads=heads,
        head=heads[0] if len(heads) == 1 else None,
        references=references,
        dropped=dropped,
        tokens=counts,
        allowed_folders=allowed,
        models_path=models_path,
        suggested_revision_id=suggest_revision_id(folder.name, heads, set(graph.by_id)),
        runbook_path=runbook,
        needs_database_change=needs_change,
        no_change_reason=no_change_reason,
        notes=notes,
    )


def _repo_root(repo: Path) -> Path:
    if not repo.is_dir():
        raise InputError(f"--repo {repo}: no such folder", "pass the root of the target repository")
    import git

    try:
        repository = git.Repo(repo, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise InputError(
            f"{repo}: not a git repository; the agent works in a git worktree on a new branch of it",
            "run delegate inside the target repository (git init and commit first), or pass --repo",
        ) from None
    if not repository.head.is_valid():
        raise InputError(
            f"{repo}: the git repository has no commit yet; the agent's worktree is made from HEAD",
            "commit the repository (its migrations and the feature's spec folder) first",
        )
    return repo.resolve()


def _spec_folder(root: Path, spec: Path) -> Path:
    """The feature folder: `spec` inside the repo, else as given from here (a file in it means the folder)."""
    folder = spec if spec.is_absolute() or not (root / spec).exists() else root / spec
    if folder.is_file() and folder.suffix == ".md":
        folder = folder.parent
    if not folder.is_dir():
        raise InputError(
            f"{spec}: no such feature folder",
            "pass the feature's folder, e.g. specs/042-lesson-progress (it holds spec.md, data-model.md, plan.md)",
        )
    folder = folder.resolve()
    if not folder.is_relative_to(root):
        raise InputError(f"{spec}: outside the repository {root.name}", "pass a feature folder inside --repo")
    return folder


def _document(root: Path, folder: Path, name: str) -> Document:
    path = folder / name
    rel = path.relative_to(root).as_posix()
    if not path.is_file():
        return Document(name=name, path=rel, present=False)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{rel}: not UTF-8 text", "save the file as UTF-8") from None
    except OSError as exc:
        raise InputError(f"{rel}: cannot be read ({exc.strerror})", "check the file's permissions") from None
    return Document(name=name, path=rel, present=True, text=text, tokens=estimate_tokens(text))


def _number_and_slug(folder_name: str) -> tuple[str, str]:
    match = re.match(r"^(\d+)[-_ .]+(.+)$", folder_name)
    return (match.group(1), match.group(2)) if match else ("", folder_name)


# --- does the feature change the database? ------------------------------------------------------------------------

_COMMENT = re.compile(r"<!--.*?-->", re.S)  # template instructions, never content
_NO_CHANGE = re.compile(
    r"\bno\s+(?:new\s+)?(?:database|db|schema|data[- ]?model|migrations?|tables?)\s+(?:changes?|work|needed|required)\b"
    r"|\bno\s+(?:changes?|modifications?)\s+(?:to|in)\s+the\s+(?:database|schema|data\s*model)\b"
    r"|\b(?:needs|requires)\s+no\s+(?:database|db|schema|migrations?)\b"
    r"|\bno\s+(?:database\s+)?migrations?\s+(?:is\s+|are\s+)?(?:needed|required|necessary)\b"
    r"|\bdoes\s+not\s+(?:change|touch|need|alter)\s+the\s+(?:database|schema)\b"
    r"|\bno\s+(?:new\s+)?(?:entities|tables)\b",
    re.I,
)
_DATABASE_WORK = re.compile(
    r"\balembic\b|\bmigrations?\b|\bdown_revision\b|\b(?:create|alter|drop)\s+(?:table|index|type|policy)\b"
    r"|\bnew\s+(?:tables?|columns?|enums?|index(?:es)?)\b"
    r"|\badd(?:s|ing)?\s+(?:an?\s+|the\s+)?(?:new\s+)?(?:tables?|columns?|index(?:es)?|enum)\b"
    r"|\brow[- ]level\s+security\b|\bRLS\b",
    re.I,
)


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?;])\s+|\n\s*\n|\n(?=\s*(?:[-*+]|\d+[.)]|#|\|))", text) if s.strip()]


def _says_no_change(text: str) -> str | None:
    """The sentence of a document that says the feature needs no database change."""
    for sentence in _sentences(_COMMENT.sub("", text)):
        if _NO_CHANGE.search(sentence):
            return " ".join(sentence.split()).lstrip("#-*+> ").strip()
    stripped = _COMMENT.sub("", text).strip()
    body = [line for line in stripped.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if body and all(re.fullmatch(r"\s*[*_]*(?:n/?a|none|not applicable)[*_.]*\s*", line, re.I) for line in body):
        return body[0].strip()
    return None


def _plans_database_work(text: str) -> str | None:
    """The first sentence of plan.md that plans database work (sentences that say there is none do not count)."""
    for sentence in _sentences(_COMMENT.sub("", text)):
        if not _NO_CHANGE.search(sentence) and _DATABASE_WORK.search(sentence):
            return " ".join(sentence.split())
    return None


def _needs_database_change(model_doc: Document, plan_doc: Document) -> tuple[bool, str | None]:
    """False (with the reason) when there is no data model, or one that says there is no change, and the plan
    plans no database work either."""
    if plan_doc.present and _plans_database_work(plan_doc.text):
        return True, None
    plan_words = f"{plan_doc.path} plans no database work" if plan_doc.present else "there is no plan.md"
    if not model_doc.present:
        return False, f"the feature has no data-model.md and {plan_words}"
    said = _says_no_change(model_doc.text)
    if said is not None:
        from orchestrator.spec import parse_data_model

        if not parse_data_model(model_doc.text):
            return False, f"{model_doc.path} says so ({said!r}) and {plan_words}"
    return True, None


# --- what the feature names ---------------------------------------------------------------------------------------


def _feature_tables(feature: FeatureSpec) -> dict[str, str]:
    """table (bare name) -> how the feature names it: "new", "changed" or "referenced"."""
    tables: dict[str, str] = {}
    for entity in feature.entities:
        tables[entity.table] = "changed" if entity.existing else "new"
    for entity in feature.entities:
        for spec_field in entity.fields:
            if spec_field.references:
                parts = spec_field.references.split(".")
                table = parts[-2] if len(parts) >= 2 else parts[0]
                tables.setdefault(table, "referenced")
    return tables


# --- the layout -------------------------------------------------------------------------------------------------


def _relative(root: Path, value: str) -> str | None:
    """`value` (a config path) relative to the repo root, or None when it lies outside."""
    path = (root / value).resolve()
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else None


def _layout(root: Path, cfg: DelegateConfig, spec_rel: str) -> Layout:
    settings = {k: v for k, v in asdict(cfg).items() if k in _SETTINGS}
    source = None
    if cfg.source is not None:
        source = _relative(root, cfg.source) or Path(cfg.source).name
    folders = [cfg.versions_dir, cfg.policies_dir, *cfg.seeds_dirs, cfg.tests_dir, spec_rel]
    files = _tracked_files(root, [f for f in (_relative(root, f) for f in folders) if f])

    def rel(value: str) -> str:  # a path outside the repo stays as configured (the allowed folders leave it out)
        return _relative(root, value) or value

    return Layout(
        alembic_ini=rel(cfg.alembic_ini),
        versions_dir=rel(cfg.versions_dir),
        policies_dir=rel(cfg.policies_dir),
        seeds_dirs=[rel(s) for s in cfg.seeds_dirs],
        tests_dir=rel(cfg.tests_dir),
        specs_dir=rel(cfg.specs_dir),
        config_source=source,
        detected=list(cfg.detected),
        settings=settings,
        files=files[:MAX_LISTED_FILES],
        files_left_out=max(0, len(files) - MAX_LISTED_FILES),
    )


def _allowed_folders(root: Path, cfg: DelegateConfig, spec_rel: str, notes: list[str]) -> list[str]:
    """The versions, policies, seeds and tests folders and the spec folder, repo-relative, each once."""
    allowed: list[str] = []
    for key, value in [
        ("versions_dir", cfg.versions_dir),
        ("policies_dir", cfg.policies_dir),
        *(("seeds_dirs", s) for s in cfg.seeds_dirs),
        ("tests_dir", cfg.tests_dir),
    ]:
        rel = _relative(root, value)
        if rel is None or rel == ".":
            notes.append(f"{key} = {value!r} is not a folder inside the repository; the agent may not write there")
        elif rel not in allowed:
            allowed.append(rel)
    if spec_rel not in allowed:
        allowed.append(spec_rel)
    return allowed


def _models_path(root: Path, cfg: DelegateConfig) -> str | None:
    """Where the `models` module of the config lives (imported with the Alembic folder's parent on sys.path, as the
    live models step does): its package folder, or its .py file; None when there is none in the repo."""
    if not cfg.models:
        return None
    module = cfg.models.partition(":")[0]
    base = (root / cfg.alembic_ini).parent.joinpath(*module.split("."))
    for candidate in (base, base.with_suffix(".py")):
        found = candidate if candidate.suffix == ".py" else candidate / "__init__.py"
        if found.is_file() and not found.is_symlink():
            try:
                return candidate.resolve().relative_to(root.resolve()).as_posix()
            except ValueError:
                return None
    return None


def _runbook_path(cfg: DelegateConfig, spec_rel: str, number: str, slug: str, allowed: list[str]) -> str:
    """The first of the config's runbook_paths that the agent may write (inside an allowed folder); else the
    spec folder's runbook.md."""
    values = {"spec": spec_rel, "slug": slug, "number": number, "name": Path(spec_rel).name}
    for template in cfg.runbook_paths:
        try:
            path = template.format(**values)
        except (KeyError, IndexError, ValueError):
            continue  # the deliverables rule reports a template it cannot fill
        if any(path.startswith(f"{folder}/") for folder in allowed):
            return path
    return f"{spec_rel}/runbook.md"


def _tracked_files(root: Path, folders: list[str]) -> list[str]:
    """Files git tracks under `folders` (repo-relative), sorted: what the agent's worktree will hold."""
    import git

    if not folders:
        return []
    repository = git.Repo(root, search_parent_directories=True)
    top = Path(repository.working_tree_dir or root).resolve()
    prefix = root.relative_to(top).as_posix() if root != top else ""
    try:
        out = repository.git.ls_files("--", *[f"{prefix}/{f}" if prefix else f for f in folders])
    except git.GitCommandError:
        return []
    names = [line.removeprefix(f"{prefix}/") if prefix else line for line in out.splitlines() if line]
    return sorted(n for n in names if "__pycache__" not in n)


def _uncommitted(root: Path, folders: list[str]) -> list[str]:
    """A note per folder whose files differ from HEAD: the agent's worktree is made from HEAD and will not see them."""
    import git

    repository = git.Repo(root, search_parent_directories=True)
    notes = []
    for folder in folders:
        try:
            status = repository.git.status("--porcelain", "--untracked-files=all", "--", str(root / folder))
        except git.GitCommandError:
            continue
        if status.strip():
            notes.append(
                f"{folder}: uncommitted changes; the agent's worktree is made from HEAD and will not see them "
                "(commit them first)"
            )
    return notes


# --- the reference migrations -------------------------------------------------------------------------------------


def _names_table(source: str, table: str) -> bool:
    return re.search(rf"(?<![\w$]){re.escape(table)}(?![\w$])", source) is not None


def select_references(
    graph: RevisionGraph, tables: dict[str, str], token_budget: int
) -> tuple[list[Migration], list[DroppedMigration]]:
    """The reference migrations, parents first, and what the budget dropped. Wanted, in this priority: the heads
    (always kept: the new revision builds on them), the first revision(s), every revision whose file names a table
    the feature creates, changes or references (newest first), the newest others. Each is taken while it fits in
    what is left of the budget; a head that does not fit is cut to what is left (at least MIN_HEAD_TOKENS)."""
    order = graph.topological()
    position = {rev: index for index, rev in enumerate(order)}
    wanted: dict[str, list[str]] = {}
    rank: dict[str, int] = {}

    def want(rev: str, reason: str, priority: int) -> None:
        wanted.setdefault(rev, []).append(reason)
        rank[rev] = min(rank.get(rev, priority), priority)

    heads = graph.heads
    for rev in heads:
        want(rev, "the current head: the new revision's down_revision", 0)
    for rev in graph.bases:
        want(rev, "the first revision: the schema the history starts from", 1)
    for rev in reversed(order):
        source = graph.by_id[rev].source
        for kind, priority in (("changed", 2), ("new", 2), ("referenced", 3)):
            named = sorted(t for t, k in tables.items() if k == kind and _names_table(source, t))
            if named:
                verb = {"changed": "changes", "new": "creates", "referenced": "references"}[kind]
                want(rev, f"names {', '.join(named)}, which the feature {verb}", priority)
    for rev in [r for r in reversed(order) if r not in heads][:NEWEST_COUNT]:
        want(rev, "one of the newest revisions: the repo's current conventions", 4)

    chosen: list[Migration] = []
    dropped: list[DroppedMigration] = []
    left = token_budget
    for rev in sorted(wanted, key=lambda r: (rank[r], -position.get(r, 0))):
        rf = graph.by_id[rev]
        tokens = estimate_tokens(rf.source)
        keep = max(left, MIN_HEAD_TOKENS) if rank[rev] == 0 else left  # a head is always sent
        if tokens <= keep:
            chosen.append(_migration(rf, wanted[rev], rf.source))
            left -= tokens
        elif rank[rev] == 0:
            # A head larger than the budget (a squashed history, say) is cut at a line end.
            keep *= CHARS_PER_TOKEN
            cut = rf.source[: rf.source.rfind("\n", 0, keep) + 1 or keep]
            reasons = [
                *wanted[rev],
                f"cut to its first {estimate_tokens(cut)} of {tokens} tokens: read_file for the rest",
            ]
            chosen.append(_migration(rf, reasons, cut, truncated=True))
            left -= estimate_tokens(cut)
        else:
            dropped.append(
                DroppedMigration(
                    revision=rev,
                    path=rf.rel,
                    reasons=wanted[rev],
                    tokens=tokens,
                    why=f"needs {tokens} tokens, {max(left, 0)} of the {token_budget}-token budget left",
                )
            )
    chosen.sort(key=lambda m: position.get(m.revision, 0))
    dropped.sort(key=lambda m: position.get(m.revision, 0))
    return chosen, dropped


def _migration(rf: RevisionFile, reasons: list[str], text: str, truncated: bool = False) -> Migration:
    return Migration(
        revision=rf.revision or rf.path.stem,
        path=rf.rel,
        message=rf.message,
        down_revisions=list(rf.down_revisions),
        reasons=reasons,
        tokens=estimate_tokens(text),
        text=text,
        truncated=truncated,
    )


# --- the suggested revision id ------------------------------------------------------------------------------------


def suggest_revision_id(feature: str, heads: list[str], taken: set[str] | frozenset[str] = frozenset()) -> str:
    """12 hex characters from sha256 of the feature and the head(s): the same inputs give the same id. Candidates
    that the placeholder-revision-id rule would report (a hex word, a run, a repeated pattern), that hold no
    letter or no digit, or that the history already uses are skipped for the next counter value."""
    from orchestrator.checks.rules.alembic import placeholder_reason

    counter = 0
    while True:
        seed = f"delegate/{feature}/{','.join(sorted(heads)) or '-'}/{counter}"
        candidate = hashlib.sha256(seed.encode("utf-8")).hexdigest()[:12]
        if (
            candidate not in taken
            and placeholder_reason(candidate) is None
            and re.search(r"[a-f]", candidate)
            and re.search(r"[0-9]", candidate)
        ):
            return candidate
        counter += 1


# --- the prompts --------------------------------------------------------------------------------------------------


def render_system_prompt(bundle: Bundle) -> str:
    """The cached system prompt: the agent's instructions, the sandbox's rules and the bundle's documents."""
    from orchestrator.prompts import render_prompt

    return render_prompt("system.md.j2", bundle=bundle)


def render_task_prompt(bundle: Bundle) -> str:
    """The first user message: the feature, the head, the revision id to use, the allowed folders, deliverables."""
    from orchestrator.prompts import render_prompt

    return render_prompt("task.md.j2", bundle=bundle)
