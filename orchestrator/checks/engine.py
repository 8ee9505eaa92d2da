"""The static half of `delegate check`: read every input into SqlStatements, run the rules, return sorted findings."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from orchestrator.checks.bodies import body_of
from orchestrator.checks.model import CheckContext, FileKind, Origin, Rule, SqlStatement, Violation
from orchestrator.checks.sqltext import LineIndex, parse_sql, psql_meta_commands, skip_trivia
from orchestrator.checks.suppress import SuppressionIndex, find_suppressions
from orchestrator.config import DelegateConfig
from orchestrator.errors import InputError
from orchestrator.report import Finding, Severity

if TYPE_CHECKING:
    from orchestrator.checks.memo import StaticMemo
    from orchestrator.checks.offline import RenderedRevision
    from orchestrator.checks.revision_sql import RevisionSql
    from orchestrator.revisions import RevisionFile
    from orchestrator.target import CheckOptions, Target

Direction = Literal["upgrade", "downgrade"]

# Rules that the engine itself reports while reading inputs: their severity and fix are the catalogue's (their
# classes in checks/rules/content.py and alembic.py); their check() is not called.
ENGINE_REPORTED = frozenset(
    {
        "sql-syntax-error",
        "python-syntax-error",
        "unanalysable-sql",
        "suppression-without-reason",
        "suppression-unknown-rule",
    }
)
# The engine's own id for a rule that crashed: a bug in delegate, not a rule of the catalogue.
INTERNAL_ERROR = "internal-error"
INTERNAL_ERROR_FIX = (
    'This is a bug in delegate: report it; meanwhile turn the rule off with [tool.delegate.rules] ID = "off".'
)

_RANK = {severity: rank for rank, severity in enumerate(Severity)}

# Alembic's error for op.drop_constraint(None, ...), which the unnamed-constraint-drop rule reports from the AST.
_UNNAMED_DROP = "Can't emit DROP CONSTRAINT"


def _drops_unnamed(rf: RevisionFile, direction: str | None) -> bool:
    from orchestrator.checks.rules.alembic import unnamed_constraint_drops

    fn = rf.upgrade if direction == "upgrade" else rf.downgrade if direction == "downgrade" else None
    return fn is not None and any(unnamed_constraint_drops(fn))


def finding_order(f: Finding) -> tuple[str, int, int, str]:
    """By file, line, severity (errors first), rule: with a precomputed rank, since runs can have tens of
    thousands of findings."""
    return (f.file or "", f.line or 0, _RANK[f.severity], f.rule)


_PSQL_INCLUDES = frozenset({"i", "ir", "include", "include_relative"})
_TXN_OPEN = {"TRANS_STMT_BEGIN", "TRANS_STMT_START"}
_TXN_CLOSE = {"TRANS_STMT_COMMIT", "TRANS_STMT_ROLLBACK", "TRANS_STMT_PREPARE", "TRANS_STMT_COMMIT_PREPARED"}


def load_rules() -> list[Rule]:
    """Every rule of the catalogue (imported on first use: the rule modules are the slow part of start-up)."""
    from orchestrator.checks.rules import all_rules

    return all_rules()


def known_rule_ids(rules: list[Rule]) -> set[str]:
    """Every id a finding can carry: the catalogue's, and the engine's own internal-error."""
    return {r.id for r in rules} | {INTERNAL_ERROR}


def validate_rule_settings(cfg: DelegateConfig, rules: list[Rule]) -> None:
    """An unknown id in [tool.delegate.rules] is an input error naming it (and the closest real ids)."""
    known = known_rule_ids(rules)
    if not rules:
        return  # the catalogue is not loaded: nothing to judge the ids against
    for rule_id in cfg.rules:
        if rule_id not in known:
            import difflib

            close = difflib.get_close_matches(rule_id, sorted(known), n=3)
            where = cfg.source or "[tool.delegate.rules]"
            hint = f"did you mean {', '.join(close)}?" if close else "run `delegate rules` for the list of ids"
            raise InputError(f"{where}: unknown rule id `{rule_id}` in [tool.delegate.rules]", hint)


def apply_rule_settings(findings: list[Finding], cfg: DelegateConfig) -> list[Finding]:
    """Severities from [tool.delegate.rules]; "off" drops the rule's findings. check.py applies them once, to
    every finding, static and live alike."""
    if not cfg.rules:
        return findings
    kept: list[Finding] = []
    for f in findings:
        severity = cfg.rule_severity(f.rule, f.severity)
        if severity is None:
            continue
        if severity is not f.severity:
            f = replace(f, severity=severity)
        kept.append(f)
    return kept


@dataclass
class _Entry:
    """A statement of a revision unit waiting for its place in execution order."""

    key: tuple[float, int]
    stmt: SqlStatement
    first: int
    last: int
    autocommit: bool = False


@dataclass
class StatementBuilder:
    """Turns files into SqlStatements (with their lines, units, order and transaction state) and engine findings."""

    repo: Path
    cfg: DelegateConfig
    memo: StaticMemo | None = None  # a judge's content-keyed parses, kept between its runs
    statements: list[SqlStatement] = field(default_factory=list)
    spans: list[tuple[SqlStatement, int, int]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)  # engine-reported (syntax errors, unanalysable SQL)
    unanalysable: list[Violation] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)
    catalogue: dict[str, Rule] = field(default_factory=dict)  # the engine-reported rules, once use_rules() ran

    def report(self, rule: str, file: str | None, line: int | None, message: str) -> None:
        """An engine-reported finding; its severity and fix are the catalogue's, filled in by use_rules() when the
        finding is made before the rule modules are imported."""
        known = self.catalogue.get(rule)
        severity, fix = (known.severity, known.fix) if known is not None else (Severity.ERROR, "")
        self.findings.append(Finding(rule=rule, severity=severity, file=file, line=line, message=message, fix=fix))

    def use_rules(self, rules: list[Rule]) -> None:
        """Severities and fixes of the engine's own rules from the catalogue, also for findings made before."""
        self.catalogue = {rule.id: rule for rule in rules if rule.id in ENGINE_REPORTED}
        if len(self.catalogue) < len(ENGINE_REPORTED):  # a run with a partial catalogue (tests pass rules=[])
            from orchestrator.checks.rules import get_rule

            self.catalogue |= {rule_id: get_rule(rule_id) for rule_id in ENGINE_REPORTED - set(self.catalogue)}
        for f in self.findings:
            f.severity, f.fix = self.catalogue[f.rule].severity, self.catalogue[f.rule].fix

    # -- SQL text to statements ------------------------------------------------------------------------------------

    def parse_text(
        self,
        text: str,
        line_of: Callable[[int], int],
        *,
        file: str,
        kind: FileKind,
        origin: Origin,
        unit: str,
        revision: str | None = None,
        direction: Direction | None = None,
    ) -> list[tuple[SqlStatement, int, int]]:
        """Statements of one text (and of the DO/function bodies inside them), each with its first/last line."""
        memo = self.memo
        parsed, errors = parse_sql(text) if memo is None else memo.get(memo.parsed, text, lambda: parse_sql(text))
        for err in errors:
            self.report(
                "sql-syntax-error", file, line_of(err.offset), f"PostgreSQL cannot parse this SQL: {err.message}"
            )
        out: list[tuple[SqlStatement, int, int]] = []
        for p in parsed:
            line = line_of(p.offset)
            end = line_of(p.offset + max(len(p.sql) - 1, 0))
            # The statement's text stops before its semicolon; a `;` on a later line still closes it there, and a
            # suppression comment on that line speaks about the statement.
            close = skip_trivia(text, p.offset + len(p.sql))
            if close < len(text) and text[close] == ";":
                end = line_of(close)
            stmt = SqlStatement(
                sql=p.sql,
                node=p.node,
                file=file,
                line=line,
                kind=kind,
                origin=origin,
                unit=unit,
                index=0,
                revision=revision,
                direction=direction,
                end_line=end,
            )
            out.append((stmt, line, end))
            name = type(p.node).__name__
            if name == "DoStmt" or name == "CreateFunctionStmt":
                body = (
                    body_of(p.node, p.sql)
                    if memo is None
                    else memo.get(memo.bodies, p.sql, lambda p=p: body_of(p.node, p.sql))  # type: ignore[misc]
                )
                if body is None:
                    continue
                base = line_of(p.offset + body.start) if body.start >= 0 else line
                for b in body.statements:
                    # Offsets only map to lines where the text's newlines are the file's (not rendered SQL).
                    at = min(base + b.body_line - 1, end) if origin is not Origin.OP_RENDERED else line
                    inner = SqlStatement(
                        sql=b.sql,
                        node=b.node,
                        file=file,
                        line=at,
                        kind=kind,
                        origin=body.origin,
                        unit=unit,
                        index=0,
                        revision=revision,
                        direction=direction,
                        end_line=at,
                    )
                    out.append((inner, at, at))
        return out

    def finish_unit(self, items: list[tuple[SqlStatement, int, int]], start_in_transaction: bool) -> None:
        """Number a unit's statements in order and follow explicit BEGIN/COMMIT to fill in_transaction."""
        state = start_in_transaction
        for index, (stmt, first, last) in enumerate(items):
            stmt.index = index
            name = type(stmt.node).__name__
            if name == "TransactionStmt":
                kind = getattr(stmt.node.kind, "name", str(stmt.node.kind))
                if kind in _TXN_OPEN:
                    stmt.in_transaction = state
                    state = True
                    self._add(stmt, first, last)
                    continue
                if kind in _TXN_CLOSE:
                    stmt.in_transaction = state
                    state = False
                    self._add(stmt, first, last)
                    continue
            stmt.in_transaction = state and stmt.in_transaction
            self._add(stmt, first, last)

    def _add(self, stmt: SqlStatement, first: int, last: int) -> None:
        self.statements.append(stmt)
        self.spans.append((stmt, first, last))

    # -- files -----------------------------------------------------------------------------------------------------

    def add_sql_file(self, rel: str, path: Path, kind: FileKind) -> None:
        text = self._read(rel, path)
        if text is None:
            return
        index = LineIndex(text)
        items = self.parse_text(text, index.line, file=rel, kind=kind, origin=Origin.SQL_FILE, unit=rel)
        if "\\" in text:
            for meta in psql_meta_commands(text):
                name, _, argument = meta.command.partition(" ")
                if name in _PSQL_INCLUDES and argument.strip():
                    self.report(
                        "unanalysable-sql",
                        rel,
                        meta.line,
                        f"psql includes {argument.strip()} here: its SQL is not checked as part of this file "
                        "(pass that file to delegate too)",
                    )
        # A .sql file runs in autocommit mode (psql, supabase db push) unless it opens a transaction itself.
        self.finish_unit(items, start_in_transaction=False)

    def _read(self, rel: str, path: Path) -> str | None:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            self.report("sql-syntax-error", rel, 1, f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})")
            return None
        except OSError as exc:
            raise InputError(f"{rel}: cannot read ({exc.strerror})", "check the file's permissions") from None
        self.texts[rel] = text
        return text

    def add_revision_units(self, rf: RevisionFile, rsql: RevisionSql, rendered: RenderedRevision | None) -> None:
        from orchestrator.checks.revision_sql import ExecutedSql

        directions: tuple[Direction, Direction] = ("upgrade", "downgrade")
        for direction in directions:
            unit = f"{rf.rel}::{rf.label}" + ("::downgrade" if direction == "downgrade" else "")
            events = getattr(rendered, direction) if rendered is not None else []
            call_lines = [_call_line(rsql, e.line) for e in events]
            entries: list[_Entry] = []
            sub = 0

            executed: list[ExecutedSql] = [e for e in rsql.executed if e.direction == direction]
            for ex in executed:
                key = _place(call_lines, ex.call_line)
                for stmt, first, last in self.parse_text(
                    ex.text,
                    ex.line_at,
                    file=rf.rel,
                    kind=FileKind.REVISION,
                    origin=Origin.OP_EXECUTE,
                    unit=unit,
                    revision=rf.revision,
                    direction=direction,
                ):
                    sub += 1
                    span = (min(first, ex.call_line), max(last, ex.call_end_line))
                    entries.append(_Entry((key, sub), stmt, span[0], span[1], ex.autocommit))
            state_marks: list[tuple[float, str]] = []
            for i, event in enumerate(events):
                if event.marker is not None:
                    state_marks.append((float(i), event.marker))
                    continue
                line = call_lines[i]
                if line is not None and line in rsql.execute_lines:
                    continue  # op.execute's own string: read from the AST with exact lines
                at = line or (rf.upgrade.lineno if direction == "upgrade" and rf.upgrade else 1)
                call = rsql.call_at(at)
                for stmt, _first, _last in self.parse_text(
                    event.sql,
                    _constant_line(at),
                    file=rf.rel,
                    kind=FileKind.REVISION,
                    origin=Origin.OP_RENDERED,
                    unit=unit,
                    revision=rf.revision,
                    direction=direction,
                ):
                    sub += 1
                    end = call.end_line if call is not None else at
                    entries.append(_Entry((float(i), sub), stmt, at, end, bool(call and call.autocommit)))
            entries.sort(key=lambda e: e.key)
            # Alembic runs each migration in a transaction; autocommit_block() leaves it (the AST says where,
            # and the rendering marks its COMMIT/BEGIN for calls made through helper functions).
            marks = sorted(state_marks)
            for entry in entries:
                outside = entry.autocommit or _outside_by_marks(marks, entry.key[0])
                entry.stmt.in_transaction = not outside
            self.finish_unit([(e.stmt, e.first, e.last) for e in entries], start_in_transaction=True)


def _constant_line(line: int) -> Callable[[int], int]:
    """Rendered SQL has no lines of its own: every offset maps to the op.* call's line."""
    return lambda _offset: line


def _place(call_lines: list[int | None], call_line: int) -> float:
    """Where an op.execute call falls among the rendered statements (with its own line, else just before the
    first later call); with no rendering, the AST's order (by line) is the order."""
    if not call_lines:
        return float(call_line)
    for i, line in enumerate(call_lines):
        if line == call_line:
            return float(i)
    for i, line in enumerate(call_lines):
        if line is not None and line > call_line:
            return i - 0.5
    return float(len(call_lines))


def _call_line(rsql: RevisionSql, line: int | None) -> int | None:
    if line is None:
        return None
    call = rsql.call_at(line)
    return call.line if call is not None else line


def _outside_by_marks(marks: list[tuple[float, str]], position: float) -> bool:
    state = "begin"
    for at, mark in marks:
        if at > position:
            break
        state = mark
    return state == "commit"


@dataclass
class PreparedCheck:
    """What the rules run on: the context, the engine's own findings, and the suppressions of the inputs."""

    context: CheckContext
    findings: list[Finding]
    suppressions: SuppressionIndex


def prepare(repo: Path, cfg: DelegateConfig, options: CheckOptions, rules: list[Rule] | None = None) -> PreparedCheck:
    """Read every input into a CheckContext (statements, revision files, graph, texts, spec, feature)."""
    return prepare_target(_resolve(repo, cfg, options), rules)


def prepare_target(target: Target, rules: list[Rule] | None = None) -> PreparedCheck:
    reading = InputReading(target)
    try:
        return reading.finish(load_rules() if rules is None else rules)
    finally:
        reading.cancel()


def _resolve(repo: Path, cfg: DelegateConfig, options: CheckOptions) -> Target:
    from dataclasses import replace as with_repo

    from orchestrator.target import resolve_target

    return resolve_target(with_repo(options, repo=repo), cfg)


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector: a run allocates a million small acyclic objects (trees, statements,
    findings), and the collector's passes over them cost more than the parse itself. Refcounting still frees
    them; the collector resumes (and catches up) when the run ends."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def run_static(repo: Path, cfg: DelegateConfig, options: CheckOptions) -> list[Finding]:
    """Every static finding for the inputs of `options` (the repo's layout, or the given paths), with the
    configured severities, sorted: the static half alone (check.py resolves the target and applies them itself)."""
    findings = static_findings(_resolve(repo, cfg, options))
    findings = apply_rule_settings(findings, cfg)
    findings.sort(key=finding_order)
    return findings


def static_findings(target: Target, memo: StaticMemo | None = None) -> list[Finding]:
    """Every static finding for a resolved target, as the rules report them (severities not yet configured).
    `memo`: a judge's parses of earlier runs, reused for unchanged texts."""
    with no_cyclic_gc():
        return _static_findings(target, memo)


def _static_findings(target: Target, memo: StaticMemo | None) -> list[Finding]:
    cfg = target.config
    # Start reading (and the offline rendering subprocess) before the rule modules are imported: they overlap.
    reading = InputReading(target, memo)
    try:
        rules = load_rules()
        validate_rule_settings(cfg, rules)
        prepared = reading.finish(rules)
    finally:
        reading.cancel()
    findings = list(prepared.findings)
    for rule in rules:
        if rule.live or rule.id in ENGINE_REPORTED or cfg.rules.get(rule.id) == "off":
            continue
        if rule.supabase_only and not target.supabase:
            continue  # plain PostgreSQL: no API serves its tables to the anon key
        findings.extend(_run_rule(rule, prepared.context, prepared.suppressions))
    return _feature_scope(findings, prepared.context)


# Rules about the revision graph as a whole: a broken history breaks the feature too, wherever the fault sits.
GRAPH_RULES = frozenset({"duplicate-revision", "multiple-heads", "broken-down-revision", "python-syntax-error"})


def _feature_scope(findings: list[Finding], ctx: CheckContext) -> list[Finding]:
    """With revisions under test, the history below them is context, not judged: a hazard in a revision that
    shipped long ago would otherwise fail every later change (the live half tests the same revisions)."""
    if ctx.feature_revisions is None:
        return findings
    history = {rf.rel for rf in ctx.revision_files if rf.revision is not None and not ctx.in_feature(rf.revision)}
    return [f for f in findings if f.rule in GRAPH_RULES or f.file not in history]


def _run_rule(rule: Rule, ctx: CheckContext, index: SuppressionIndex) -> list[Finding]:
    try:
        violations = list(rule.check(ctx))
    except Exception as exc:
        if os.environ.get("DELEGATE_DEBUG"):
            raise
        fix = INTERNAL_ERROR_FIX.replace("ID", rule.id)
        return [
            Finding(
                rule=INTERNAL_ERROR,
                severity=Severity.ERROR,
                message=f"rule {rule.id} crashed: {type(exc).__name__}: {exc}",
                fix=fix,
            )
        ]
    out = []
    for v in violations:
        if index.silences(rule.id, v.file, v.line):
            continue
        out.append(
            Finding(
                rule=rule.id,
                severity=v.severity or rule.severity,
                file=v.file,
                line=v.line,
                message=v.message,
                fix=v.fix or rule.fix,
            )
        )
    return out


class InputReading:
    """Reads a run's inputs in two stages: the revision files' ASTs at once (starting the offline rendering
    subprocess when an op.* call needs it), then, in finish(), the SQL files and the rendered statements."""

    def __init__(self, target: Target, memo: StaticMemo | None = None) -> None:
        from orchestrator.checks.revision_sql import extract_revision_sql

        self.repo, self.cfg, self.options = target.repo, target.config, target.options
        assert target.inputs is not None
        self.inputs = target.inputs
        self.builder = StatementBuilder(self.repo, self.cfg, memo)
        self.files: list[RevisionFile] = target.revision_files
        self.sqls: list[RevisionSql] = []
        for rf in self.files:
            rel = rf.rel
            self.builder.texts[rel] = rf.source
            if rf.syntax_error is not None:
                line, msg = rf.syntax_error
                self.builder.report("python-syntax-error", rel, line, f"not valid Python: {msg}")
            rsql = (
                extract_revision_sql(rf)
                if memo is None
                else memo.get(memo.revision_sql, (rf.path, rf.source), lambda rf=rf: extract_revision_sql(rf))  # type: ignore[misc]
            )
            self.sqls.append(rsql)
            for u in rsql.unanalysable:
                message = f"op.execute() is given SQL that cannot be checked statically: {u.reason}"
                self.builder.unanalysable.append(Violation(rel, u.line, message))
                self.builder.report("unanalysable-sql", rel, u.line, message)
        # In paths mode the static graph is the given files'; in repo mode the target's (the same files).
        from orchestrator.revisions import RevisionGraph

        self.graph = target.graph if not target.options.paths else RevisionGraph(self.files)
        self.spec = target.spec
        self.feature = target.feature_revisions
        # Every revision is rendered, the feature's and the history's alike: a rule judging a feature statement
        # may need to know what the history created (and the cache makes an unchanged history cheap).
        self.to_render = [
            (rf, rsql)
            for rf, rsql in zip(self.files, self.sqls, strict=True)
            if rf.tree is not None and rsql.needs_rendering
        ]
        env_py = (self.repo / self.cfg.versions_dir).parent / "env.py"  # the alembic folder's, as laid out
        self.env_py: Path | None = env_py if env_py.is_file() else None
        self.job: Any = None
        self.cached: dict[Path, RenderedRevision] = {}
        self.render_error: str | None = None
        if self.to_render:
            self._start_render()

    def _start_render(self) -> None:
        from orchestrator.checks.offline import RenderFailed, RenderJob, cached_rendering

        repo, cfg = self.repo, self.cfg
        for rf, _ in self.to_render:
            hit = cached_rendering(rf.path, cfg.python, self.env_py)
            if hit is not None:
                self.cached[rf.path.resolve()] = hit
        missing = [rf for rf, _ in self.to_render if rf.path.resolve() not in self.cached]
        if not missing:
            return
        sys_path = [repo, (repo / cfg.alembic_ini).parent, (repo / cfg.versions_dir).parent.parent]
        sys_path += sorted({rf.path.parent for rf in missing})
        try:
            self.job = RenderJob(
                [rf.path for rf in missing],
                sys_path,
                cfg.python,
                timeout=min(cfg.timeout_seconds, 120.0),
                memory_limit_mb=cfg.memory_limit_mb,
            )
        except RenderFailed as exc:
            self.render_error = str(exc)

    def cancel(self) -> None:
        """Stop the rendering subprocess if finish() did not collect it (an error on the way)."""
        if self.job is not None:
            self.job.cancel()
            self.job = None

    def finish(self, rules: list[Rule]) -> PreparedCheck:
        builder = self.builder
        builder.use_rules(rules)
        for rel, kind in self.inputs.sql_files.items():
            builder.add_sql_file(rel, self.inputs.sql_paths[rel], kind)
        rendered = self._collect_render()
        for rf, rsql in zip(self.files, self.sqls, strict=True):
            if rf.tree is not None:
                builder.add_revision_units(rf, rsql, rendered.get(rf.path.resolve()))
        ctx = CheckContext(
            repo=self.repo,
            config=self.cfg,
            statements=builder.statements,
            revision_files=self.files,
            graph=self.graph,
            sql_files=dict(self.inputs.sql_files),
            texts=builder.texts,
            spec=self.spec,
            unanalysable=builder.unanalysable,
            feature_revisions=self.feature,
        )
        suppressions = [s for rel, text in builder.texts.items() for s in find_suppressions(rel, text)]
        index = SuppressionIndex(suppressions)
        index.attach(builder.spans)
        findings = [f for f in builder.findings if not index.silences(f.rule, f.file, f.line)]
        if self.feature is not None:
            # With a known feature, SQL that cannot be analysed only matters in the feature's own revisions.
            history = {rf.rel for rf in self.files if rf.revision is not None and rf.revision not in self.feature}
            findings = [f for f in findings if not (f.rule == "unanalysable-sql" and f.file in history)]
        known = known_rule_ids(rules) if rules else set()
        for s in suppressions:
            for unknown in sorted(s.rules - known) if known else ():
                import difflib

                close = difflib.get_close_matches(unknown, sorted(known), n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                builder.report(
                    "suppression-unknown-rule",
                    s.file,
                    s.line,
                    f"`delegate: ignore {unknown}` names no rule{hint}; it suppresses nothing",
                )
                findings.append(builder.findings[-1])
            if s.reason is None:
                builder.report(
                    "suppression-without-reason",
                    s.file,
                    s.line,
                    f"`delegate: ignore {', '.join(sorted(s.rules))}` gives no reason (it still suppresses)",
                )
                findings.append(builder.findings[-1])
        return PreparedCheck(ctx, findings, index)

    def _collect_render(self) -> dict[Path, RenderedRevision]:
        from orchestrator.checks.offline import RenderFailed, remember_rendering

        rendered: dict[Path, RenderedRevision] = dict(self.cached)
        if self.job is not None:
            try:
                fresh = self.job.result()
            except RenderFailed as exc:
                self.render_error = str(exc)
            else:
                for path, result in fresh.items():
                    remember_rendering(path, self.cfg.python, result, self.env_py)
                rendered.update(fresh)
            self.job = None
        if self.render_error is not None:
            for rf, rsql in self.to_render:
                if rf.path.resolve() in self.cached:
                    continue
                first = next((c.line for c in rsql.calls if c.name != "execute"), 1)
                self.builder.report(
                    "unanalysable-sql",
                    rf.rel,
                    first,
                    f"the op.* calls of this revision could not be rendered to SQL ({self.render_error}); only "
                    "op.execute() strings were checked",
                )
            return {}
        for rf, _ in self.to_render:
            result = rendered.get(rf.path.resolve())
            for direction, line, error in result.errors if result is not None else ():
                if _UNNAMED_DROP in error and _drops_unnamed(rf, direction):
                    continue  # unnamed-constraint-drop reports the call (one cause, one finding)
                where = f"{direction}()" if direction else "importing the module"
                self.builder.report(
                    "unanalysable-sql",
                    rf.rel,
                    line or 1,
                    f"rendering {where} in Alembic's offline mode failed ({error}); the statements after this "
                    "point were not checked, op.execute() strings were",
                )
        return rendered
