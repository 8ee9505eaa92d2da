"""The SQL that an Alembic revision file runs, read from its AST: op.execute strings, op.* calls, autocommit blocks."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Literal

from orchestrator.checks.dialects import runs_on_postgresql
from orchestrator.revisions import RevisionFile

Direction = Literal["upgrade", "downgrade"]

# op.* attributes that run no SQL of their own, or whose SQL the AST already gives (execute). get_bind() is not
# among them: SQL run through the connection it returns (conn.execute(sa.text(...))) is seen only when rendered.
_NOT_RENDERED = {
    "execute",
    "get_context",
    "f",
    "inline_literal",
    "implementation_for",
    "register_operation",
}
_TEXT_WRAPPERS = {"text", "dedent"}  # sa.text(...), sqlalchemy.text(...), text(...), textwrap.dedent(...)


@dataclass
class Segment:
    """A piece of a Python string literal: its value and the source lines it spans."""

    text: str
    lineno: int
    end_lineno: int


@dataclass
class ExecutedSql:
    """The string given to one op.execute(...) call, with enough to map its offsets back to file lines."""

    segments: list[Segment]
    call_line: int
    call_end_line: int
    direction: Direction
    autocommit: bool

    @property
    def text(self) -> str:
        return "".join(s.text for s in self.segments)

    def line_at(self, offset: int) -> int:
        """The file line of a character offset in `text`."""
        for seg in self.segments:
            if offset < len(seg.text) or seg is self.segments[-1]:
                return min(seg.lineno + seg.text.count("\n", 0, max(offset, 0)), seg.end_lineno)
            offset -= len(seg.text)
        return self.call_line


@dataclass
class UnanalysableSql:
    line: int
    reason: str


@dataclass
class OpCall:
    """One op.<name>(...) call (or batch_op.<name>), with its line span and whether it runs outside a transaction."""

    name: str
    line: int
    end_line: int
    direction: Direction | None  # None for a call outside upgrade()/downgrade() (a helper function)
    autocommit: bool


@dataclass
class RevisionSql:
    """Everything the AST tells about a revision's SQL."""

    executed: list[ExecutedSql] = field(default_factory=list)
    unanalysable: list[UnanalysableSql] = field(default_factory=list)
    calls: list[OpCall] = field(default_factory=list)
    autocommit_ranges: list[tuple[int, int]] = field(default_factory=list)  # (first, last) lines of the blocks
    execute_lines: set[int] = field(default_factory=set)  # every op.execute call line (handled from the AST)

    @property
    def needs_rendering(self) -> bool:
        """True when an op.* call other than execute (or an op.execute of a non-string) needs Alembic to render it."""
        return any(c.name not in _NOT_RENDERED for c in self.calls) or any(
            c.name == "execute" and c.line not in self.execute_lines for c in self.calls
        )

    def call_at(self, line: int) -> OpCall | None:
        """The innermost op call whose span holds `line` (a frame's line may be any line of a multi-line call)."""
        best: OpCall | None = None
        for c in self.calls:
            if c.line <= line <= c.end_line and (best is None or c.line >= best.line):
                best = c
        return best


class _Unresolvable(Exception):
    """A value given to op.execute that is not a constant string (an f-string, a parameter, a call)."""


def extract_revision_sql(rf: RevisionFile) -> RevisionSql:
    """Read op calls and op.execute strings from a parsed revision file (never imports it)."""
    out = RevisionSql()
    if rf.tree is None:
        return out
    constants = _module_constants(rf.tree)
    functions = [n for n in rf.tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    for fn in functions:
        direction: Direction | None = fn.name if fn.name in ("upgrade", "downgrade") else None  # type: ignore[assignment]
        _FunctionWalker(out, direction, constants, _single_assignments(fn)).visit_body(fn.body)
    return out


def _module_constants(tree: ast.Module) -> dict[str, ast.expr]:
    found: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            found[node.targets[0].id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            found[node.target.id] = node.value
    return found


def _single_assignments(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[str, ast.expr]:
    """Local names bound exactly once in a function (a name bound twice cannot be resolved statically)."""
    counts: dict[str, int] = {}
    values: dict[str, ast.expr] = {}
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            counts[node.id] = counts.get(node.id, 0) + 1
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            values[node.targets[0].id] = node.value
    return {name: values[name] for name, n in counts.items() if n == 1 and name in values}


def _is_autocommit_block(item: ast.withitem) -> bool:
    expr = item.context_expr
    return isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr == "autocommit_block"


def _op_name(call: ast.Call) -> str | None:
    """`execute` for op.execute(...) or batch_op.execute(...); None for any other call."""
    func = call.func
    if (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and (func.value.id == "op" or func.value.id.startswith("batch"))
    ):
        return func.attr
    return None


class _FunctionWalker(ast.NodeVisitor):
    def __init__(
        self, out: RevisionSql, direction: Direction | None, constants: dict[str, ast.expr], local: dict[str, ast.expr]
    ) -> None:
        self.out = out
        self.direction = direction
        self.constants = constants
        self.local = local
        self.autocommit = 0

    def visit_body(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            self.visit(stmt)

    def visit_With(self, node: ast.With) -> None:
        block = any(_is_autocommit_block(i) for i in node.items)
        for item in node.items:
            self.visit(item.context_expr)
        if block:
            self.out.autocommit_ranges.append((node.lineno, node.end_lineno or node.lineno))
            self.autocommit += 1
        self.visit_body(node.body)
        if block:
            self.autocommit -= 1

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        # A nested function runs wherever it is called; read its calls as part of this function.
        self.visit_body(node.body)

    def visit_If(self, node: ast.If) -> None:
        # A branch that only runs on another database (`if bind.dialect.name == "mysql":`) is not PostgreSQL's:
        # its SQL is neither parsed nor judged. The offline rendering takes the same branches (its dialect is
        # PostgreSQL's), so the op.* calls it renders agree.
        verdict = runs_on_postgresql(node.test, self._bound_value)
        self.visit(node.test)
        if verdict is not False:
            self.visit_body(node.body)
        if verdict is not True:
            self.visit_body(node.orelse)

    def _bound_value(self, name: str) -> ast.expr | None:
        return self.local.get(name) or self.constants.get(name)

    def visit_Call(self, node: ast.Call) -> None:
        name = _op_name(node)
        if name is not None:
            end = node.end_lineno or node.lineno
            self.out.calls.append(OpCall(name, node.lineno, end, self.direction, self.autocommit > 0))
            if name == "execute" and self.direction is not None:
                self._execute(node)
        self.generic_visit(node)

    def _execute(self, node: ast.Call) -> None:
        arg = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "sqltext"), None)
        if arg is None:
            return
        if _is_construct(arg):
            return  # a SQLAlchemy construct (table.insert(), sa.update(...)): the offline rendering gives its SQL
        self.out.execute_lines.add(node.lineno)
        try:
            segments = self._resolve(arg, depth=0)
        except _Unresolvable as exc:
            self.out.unanalysable.append(UnanalysableSql(node.lineno, str(exc)))
            return
        assert self.direction is not None
        self.out.executed.append(
            ExecutedSql(segments, node.lineno, node.end_lineno or node.lineno, self.direction, self.autocommit > 0)
        )

    def _resolve(self, expr: ast.expr, depth: int) -> list[Segment]:
        if depth > 20:
            raise _Unresolvable("the string is built through too many names")
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            return [Segment(expr.value, expr.lineno, expr.end_lineno or expr.lineno)]
        if isinstance(expr, ast.JoinedStr):
            raise _Unresolvable("an f-string: its SQL is only known when the migration runs")
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
            return self._resolve(expr.left, depth + 1) + self._resolve(expr.right, depth + 1)
        if isinstance(expr, ast.Call) and _callee(expr) in _TEXT_WRAPPERS and len(expr.args) == 1:
            segments = self._resolve(expr.args[0], depth + 1)
            if _callee(expr) == "dedent":
                import textwrap

                # dedent keeps every newline, so lines still map; applied per literal (one literal in practice)
                segments = [Segment(textwrap.dedent(s.text), s.lineno, s.end_lineno) for s in segments]
            return segments
        if isinstance(expr, ast.Name):
            value = self.local.get(expr.id) or self.constants.get(expr.id)
            if value is None:
                raise _Unresolvable(f"`{expr.id}` is not a constant string of this file")
            return self._resolve(value, depth + 1)
        raise _Unresolvable(f"`{_unparse(expr)}` is not a constant string")


def _callee(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _is_construct(expr: ast.expr) -> bool:
    """A call that builds a SQLAlchemy statement (not text()/dedent() of a string, not str.format)."""
    if not isinstance(expr, ast.Call):
        return False
    name = _callee(expr)
    return name not in _TEXT_WRAPPERS and name not in ("format", "join", "replace", "strip", "str")


def _unparse(expr: ast.expr) -> str:
    text = ast.unparse(expr)
    return text if len(text) <= 60 else text[:57] + "..."
