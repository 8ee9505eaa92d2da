"""What a judge keeps between its live checks: the outcome of a step whose every input is unchanged.

The agent's loop judges its worktree after each repair, and a repair mostly touches one revision file. The
delivered tests and the models comparison are the slow steps (each runs the repo's Python), and their outcome
is a function of what they can see: the files of the repo and the migrated database. Each outcome is kept under
a digest of exactly those inputs, and reused when the digest comes out the same:

- the delivered tests: every file under the tests folder, the repo's Python and config files outside the versions
  folder (the app code the tests import), the interpreter, and the database as the tests find it: what made it
  (the base template, the upgrade SQL rendered offline, the seed files, the findings of the steps before) and
  what it holds (its schema fingerprint, the row count of every table, the state of every sequence; row contents
  differ from run to run by now() and random ids alone). A revision whose upgrade cannot be rendered offline is
  never reused. The revision files join the digest when a test module could reach them other than through the
  database (it imports alembic, pytest_alembic, subprocess, importlib or runpy, or calls os.system/os.popen);
- the models comparison: the repo's Python and config files outside the versions folder, the models setting,
  the interpreter, what made the database (as above: the fingerprint alone misses what Alembic's comparison
  sees, such as comments) and its schema fingerprint.

A reused step says so in the report's notes. One-shot checks keep nothing.
"""

from __future__ import annotations

import ast
import hashlib
import threading
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from psycopg import sql

from orchestrator.pg import SUPABASE_EMULATION_VERSION
from orchestrator.verify.fingerprint import SchemaFingerprint

T = TypeVar("T")

CODE_SUFFIXES = frozenset({".py", ".toml", ".ini", ".cfg", ".json", ".yaml", ".yml", ".sql", ".txt"})
SKIPPED_FOLDERS = frozenset({".git", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", "node_modules"})
SKIPPED_FOLDER_PREFIXES = (".venv", "venv", ".tox")
# What lets a test see a revision file other than through the migrated database.
REACHES_REVISIONS = frozenset({"alembic", "pytest_alembic", "subprocess", "importlib", "runpy"})
MAX_KEPT = 64


class LiveMemo:
    """Step outcomes of earlier live checks, by the digest of their inputs (thread-safe: steps run side by side)."""

    def __init__(self) -> None:
        self._outcomes: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self.reused: list[str] = []

    def outcome(self, step: str, key: str, run: Callable[[], T]) -> tuple[T, bool]:
        """The kept outcome of `step` under `key`, or run() (and keep its result); True when it was reused."""
        with self._lock:
            if (step, key) in self._outcomes:
                return self._outcomes[(step, key)], True  # type: ignore[no-any-return]
        value = run()
        with self._lock:
            if len(self._outcomes) >= MAX_KEPT:
                self._outcomes.clear()
            self._outcomes[(step, key)] = value
        return value, False


def tests_key(repo: Path, versions_dir: Path, tests_dir: Path, python: str, url: str, made_by: str) -> str:
    """The digest of everything the delivered tests can see (see the module's docstring); `made_by` says what
    made the database (the caller's digest of the template, the offline upgrade SQL, seeds, earlier findings)."""
    digest = hashlib.sha256(f"tests;emulation={SUPABASE_EMULATION_VERSION};python={python};{made_by}".encode())
    test_files = _files(tests_dir, suffixes=None)
    _add_files(digest, tests_dir, test_files)
    _add_files(digest, repo, _files(repo, CODE_SUFFIXES, skip=versions_dir))
    if any(_reaches_revisions(path) for path in test_files if path.suffix == ".py"):
        _add_files(digest, repo, _files(versions_dir, suffixes=None))
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            digest.update(SchemaFingerprint.take(conn).model_dump_json().encode())
            digest.update(_data_digest(conn).encode())
    except psycopg.Error:
        return f"unknown-{uuid.uuid4().hex}"  # the database could not be read whole: never reuse
    return digest.hexdigest()


def models_key(repo: Path, versions_dir: Path, models: str, python: str, url: str, made_by: str) -> str:
    """The digest of what the models comparison sees: the app's code and config, and the database's schema."""
    digest = hashlib.sha256(f"models;{models};python={python};{made_by}".encode())
    _add_files(digest, repo, _files(repo, CODE_SUFFIXES, skip=versions_dir))
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            digest.update(SchemaFingerprint.take(conn).model_dump_json().encode())
    except psycopg.Error:
        return f"unknown-{uuid.uuid4().hex}"
    return digest.hexdigest()


def _files(folder: Path, suffixes: Iterable[str] | None, skip: Path | None = None) -> list[Path]:
    if not folder.is_dir():
        return []
    wanted = set(suffixes) if suffixes is not None else None
    found: list[Path] = []
    for path in folder.rglob("*"):
        parts = path.relative_to(folder).parts
        if any(p in SKIPPED_FOLDERS or p.startswith(SKIPPED_FOLDER_PREFIXES) for p in parts[:-1]):
            continue
        if skip is not None and path.is_relative_to(skip):
            continue
        if path.is_file() and (wanted is None or path.suffix in wanted):
            found.append(path)
    return sorted(found)


def _add_files(digest: Any, root: Path, files: list[Path]) -> None:
    for path in files:
        try:
            content = path.read_bytes()
        except OSError:
            content = b"\0unreadable"
        digest.update(f"\0{path.relative_to(root).as_posix()}\0{len(content)}\0".encode() + content)


def _reaches_revisions(path: Path) -> bool:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except (SyntaxError, ValueError, OSError):
        return True  # cannot tell: assume it can
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] in REACHES_REVISIONS for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in REACHES_REVISIONS:
            return True
        if isinstance(node, ast.Attribute) and node.attr in ("system", "popen", "execv", "spawnv"):
            return True
    return False


_TABLES = """
SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1, 2
"""


def _data_digest(conn: psycopg.Connection[Any]) -> str:
    """The row count of every table and every sequence's state."""
    digest = hashlib.sha256()
    for schema, table in conn.execute(_TABLES).fetchall():
        query = sql.SQL("SELECT count(*) FROM {}")
        row = conn.execute(query.format(sql.Identifier(schema, table))).fetchone()
        digest.update(f"\0{schema}.{table}\0{row}".encode())
    for row in conn.execute("SELECT schemaname, sequencename, last_value FROM pg_sequences ORDER BY 1, 2").fetchall():
        digest.update(f"\0{row}".encode())
    return digest.hexdigest()
