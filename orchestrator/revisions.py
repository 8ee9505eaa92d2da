"""Alembic revision files read with Python's ast (never imported), and the revision graph they form."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

REVISION_KEYS = ("revision", "down_revision", "branch_labels", "depends_on")


@dataclass
class RevisionFile:
    """One revision file as written: its identifiers, its functions and where each sits."""

    path: Path
    rel: str  # relative to the repo root, for findings
    source: str
    tree: ast.Module | None = None
    syntax_error: tuple[int, str] | None = None  # (line, message)
    revision: str | None = None
    down_revisions: tuple[str, ...] = ()
    branch_labels: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    lines: dict[str, int] = field(default_factory=dict)  # key -> line of its assignment
    unresolved: list[str] = field(default_factory=list)  # keys whose value is not a literal
    upgrade: ast.FunctionDef | None = None
    downgrade: ast.FunctionDef | None = None
    message: str = ""  # the docstring's first line

    @property
    def label(self) -> str:
        return self.revision or self.path.stem


def _literal_ids(node: ast.expr) -> tuple[str, ...] | None:
    """A str, None, or a tuple/list of str as a tuple of ids; None when the value is not a literal."""
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (tuple, list, set, frozenset)) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def read_revision_file(path: Path, repo: Path | None = None) -> RevisionFile:
    rel = _relative(path, repo)
    try:
        source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return RevisionFile(path=path, rel=rel, source="", syntax_error=(1, f"not UTF-8 text: {exc}"))
    return parse_revision_source(source, path=path, rel=rel)


def parse_revision_source(source: str, path: Path, rel: str) -> RevisionFile:
    rf = RevisionFile(path=path, rel=rel, source=source)
    try:
        tree = ast.parse(source, filename=rel)
    except SyntaxError as exc:
        rf.syntax_error = (exc.lineno or 1, exc.msg)
        return rf
    rf.tree = tree
    doc = ast.get_docstring(tree)
    if doc:
        rf.message = doc.strip().splitlines()[0]
    for node in tree.body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        elif isinstance(node, ast.FunctionDef) and node.name in ("upgrade", "downgrade"):
            setattr(rf, node.name, node)
            continue
        for target in targets:
            if isinstance(target, ast.Name) and target.id in REVISION_KEYS and value is not None:
                rf.lines[target.id] = node.lineno
                ids = _literal_ids(value)
                if ids is None:
                    rf.unresolved.append(target.id)
                    continue
                if target.id == "revision":
                    rf.revision = ids[0] if ids else None
                elif target.id == "down_revision":
                    rf.down_revisions = ids
                else:
                    setattr(rf, target.id, ids)
    return rf


def _relative(path: Path, repo: Path | None) -> str:
    if repo is not None:
        try:
            return path.resolve().relative_to(repo.resolve()).as_posix()
        except ValueError:
            pass
    return path.as_posix()


def revision_files_in(folder: Path) -> list[Path]:
    """Every revision file Alembic would load from a versions folder (recursively, as version_locations do)."""
    return sorted(p for p in folder.rglob("*.py") if p.name != "__init__.py" and "__pycache__" not in p.parts)


class RevisionGraph:
    """The revision graph of a set of files: parents, children, heads, bases and the files behind each id."""

    def __init__(self, files: Iterable[RevisionFile]) -> None:
        self.files: list[RevisionFile] = list(files)
        self.by_id: dict[str, RevisionFile] = {}
        self.duplicates: dict[str, list[RevisionFile]] = {}
        for rf in self.files:
            if rf.revision is None:
                continue
            if rf.revision in self.by_id:
                self.duplicates.setdefault(rf.revision, [self.by_id[rf.revision]]).append(rf)
            else:
                self.by_id[rf.revision] = rf
        self.children: dict[str, list[str]] = {rev: [] for rev in self.by_id}
        self.missing_parents: list[tuple[RevisionFile, str]] = []
        for rev, rf in self.by_id.items():
            for parent in rf.down_revisions:
                if parent in self.by_id:
                    self.children[parent].append(rev)
                else:
                    self.missing_parents.append((rf, parent))

    @classmethod
    def from_folder(cls, folder: Path, repo: Path | None = None) -> RevisionGraph:
        return cls(read_revision_file(p, repo) for p in revision_files_in(folder))

    def parents(self, rev: str) -> tuple[str, ...]:
        return tuple(p for p in self.by_id[rev].down_revisions if p in self.by_id)

    @property
    def heads(self) -> list[str]:
        return sorted(rev for rev, kids in self.children.items() if not kids)

    @property
    def bases(self) -> list[str]:
        return sorted(rev for rev, rf in self.by_id.items() if not rf.down_revisions)

    def ancestors(self, rev: str, include_self: bool = False) -> set[str]:
        seen: set[str] = set()
        stack = [rev] if include_self else list(self.parents(rev))
        while stack:
            cur = stack.pop()
            if cur in seen or cur not in self.by_id:
                continue
            seen.add(cur)
            stack.extend(self.parents(cur))
        return seen

    def descendants(self, rev: str) -> set[str]:
        seen: set[str] = set()
        stack = list(self.children.get(rev, []))
        while stack:
            cur = stack.pop()
            if cur not in seen:
                seen.add(cur)
                stack.extend(self.children[cur])
        return seen

    def named_by(self, marks: Iterable[str]) -> set[str]:
        """The revisions that config entries such as irreversible_revisions name: each entry is a full id, or a
        prefix (4 characters or more, as a short hash is) that exactly one revision of the graph starts with."""
        found: set[str] = set()
        for mark in marks:
            if mark in self.by_id:
                found.add(mark)
            elif len(mark) >= 4:
                matches = [rev for rev in self.by_id if rev.startswith(mark)]
                if len(matches) == 1:
                    found.add(matches[0])
        return found

    def topological(self, revisions: Iterable[str] | None = None) -> list[str]:
        """Revisions ordered parents first (Kahn's algorithm, ties broken by id for a stable order)."""
        wanted = set(self.by_id) if revisions is None else set(revisions) & set(self.by_id)
        indegree = {r: sum(1 for p in self.parents(r) if p in wanted) for r in wanted}
        ready = sorted(r for r, d in indegree.items() if d == 0)
        order: list[str] = []
        while ready:
            cur = ready.pop(0)
            order.append(cur)
            for kid in sorted(self.children[cur]):
                if kid in indegree:
                    indegree[kid] -= 1
                    if indegree[kid] == 0:
                        ready.append(kid)
            ready.sort()
        return order  # a cycle leaves its members out
