"""The contract between the static engine and the rules: what a rule sees, and what it reports."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from orchestrator.report import Severity

if TYPE_CHECKING:
    from orchestrator.config import DelegateConfig
    from orchestrator.revisions import RevisionFile, RevisionGraph
    from orchestrator.spec import FeatureSpec

T = TypeVar("T")


class FileKind(StrEnum):
    REVISION = "revision"  # an Alembic revision .py file
    POLICY = "policy"  # a .sql file under the policies folder (sql/policies/)
    SEED = "seed"  # a .sql file under a seeds folder
    SQL = "sql"  # any other .sql file (read as a migration)


class Origin(StrEnum):
    SQL_FILE = "sql-file"  # a statement of a .sql file
    OP_EXECUTE = "op-execute"  # the string given to op.execute(...)
    OP_RENDERED = "op-rendered"  # SQL that an op.* call renders in Alembic's offline mode
    DO_BODY = "do-body"  # a statement inside a DO $$ ... $$ block
    FUNCTION_BODY = "function-body"  # a statement inside a plpgsql function body


@dataclass
class SqlStatement:
    """One parsed SQL statement, pinned to where a person wrote it."""

    sql: str  # the statement's own text
    node: Any  # the pglast tree of the statement (pglast.ast.Node: IndexStmt, AlterTableStmt, ...)
    file: str  # relative to the repo root
    line: int  # 1-based line in `file` (for op.* calls: the call's line)
    kind: FileKind
    origin: Origin
    # What "existing table" is judged against: "<file>" for .sql, "<file>::<revision>" for a revision's upgrade,
    # "<file>::<revision>::downgrade" for its downgrade.
    unit: str
    index: int  # position within its unit, in execution order
    revision: str | None = None
    direction: Literal["upgrade", "downgrade"] | None = None  # None for .sql files
    in_transaction: bool = True  # False inside autocommit_block() or after an explicit COMMIT
    suppressed: frozenset[str] = frozenset()  # rule ids suppressed on this statement's line(s)
    end_line: int | None = None  # last line the statement spans in `file` (None: same as `line`)


@dataclass
class Violation:
    """What a rule reports; the engine turns it into a Finding (severity from the rule and the config)."""

    file: str | None
    line: int | None
    message: str
    fix: str | None = None  # defaults to the rule's own fix text
    severity: Severity | None = None  # defaults to the rule's severity (e.g. info for a case the config accepts)


@dataclass
class CheckContext:
    """Everything a rule may look at, built once per run by the engine."""

    repo: Path
    config: DelegateConfig
    statements: list[SqlStatement]  # every statement of every file, in execution order per unit
    revision_files: list[RevisionFile]
    graph: RevisionGraph
    sql_files: dict[str, FileKind]  # rel path -> kind, for every .sql file checked
    texts: dict[str, str]  # rel path -> file text, for every file checked (for text-level rules such as secrets)
    spec: FeatureSpec | None = None  # with --spec
    unanalysable: list[Violation] = field(default_factory=list)  # f-strings / variables given to op.execute
    # Revision ids that make up the feature under check (--spec/--since in repo mode); None: everything counts.
    feature_revisions: set[str] | None = None
    _units: dict[str, list[SqlStatement]] | None = field(default=None, repr=False, compare=False)
    _memo: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def memo(self, key: str, build: Callable[[], T]) -> T:
        """`build()` once per context: facts several rules share are computed on first use, then reused."""
        if key not in self._memo:
            self._memo[key] = build()
        return self._memo[key]  # type: ignore[no-any-return]

    def in_feature(self, revision: str | None) -> bool:
        """True when a statement or file of `revision` belongs to the feature (non-revision files always do)."""
        return self.feature_revisions is None or revision is None or revision in self.feature_revisions

    def unit_statements(self, unit: str) -> list[SqlStatement]:
        # Indexed once: rules call this per statement, and a linear scan each time would be quadratic.
        if self._units is None:
            self._units = {}
            for s in self.statements:
                self._units.setdefault(s.unit, []).append(s)
        return self._units.get(unit, [])


class Rule:
    """One rule of the catalogue (shared/rules.md). Subclasses live in orchestrator/checks/rules/.

    `bad` and `good` are examples the test suite runs: a string is the content of `example_path`, a dict maps
    several paths (relative to a temporary repo laid out with the default config) to their contents.
    Live rules (`live = True`) are reported by the live verification; their examples are documentation.
    """

    id: ClassVar[str]
    severity: ClassVar[Severity]
    family: ClassVar[str]  # alembic | sql | rls | seeds | content | live
    summary: ClassVar[str]  # one line: what fires it
    why: ClassVar[str]  # a paragraph: why it matters
    fix: ClassVar[str]  # what to do instead
    bad: ClassVar[str | dict[str, str]]
    good: ClassVar[str | dict[str, str]]
    example_path: ClassVar[str] = "migration.sql"
    needs_spec: ClassVar[bool] = False  # examples run with --spec specs/001-example when True
    live: ClassVar[bool] = False
    # Only on Supabase (its API serves every exposed table to the anon key): off when the target is plain PostgreSQL.
    supabase_only: ClassVar[bool] = False

    def check(self, ctx: CheckContext) -> Iterable[Violation]:
        return ()
