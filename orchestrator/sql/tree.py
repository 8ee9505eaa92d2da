"""Pure helpers over pglast trees: qualified names, a fast walk, type references, constants, what a statement
creates or alters. No CheckContext: the spec's data-model reader and the rules both use them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pglast import ast
from pglast.enums import A_Expr_Kind, AlterTableType, BoolExprType, ObjectType, VariableSetKind


def qualify(schema: str | None, name: str | None) -> str:
    """`schema.name` with PostgreSQL's default schema; pglast already folded unquoted names to lower case."""
    return f"{schema or 'public'}.{name or ''}"


def table_of(rv: Any) -> str:
    """`schema.table` of a RangeVar (pglast types it Optional everywhere; callers pass a present one)."""
    return qualify(rv.schemaname, rv.relname)


def is_temp(rv: Any) -> bool:
    return rv is not None and rv.relpersistence == "t"


def dotted_name(names: Iterable[Any]) -> str:
    """A DropStmt object (a sequence of String nodes) as `schema.name`."""
    parts = [n.sval for n in names if isinstance(n, ast.String)]
    if not parts:
        return ""
    if len(parts) == 1:
        return qualify(None, parts[0])
    return qualify(parts[-2], parts[-1])


_CHILD_SLOTS: dict[type, tuple[str, ...]] = {}
_SCALARS = (str, int, float, bool, Decimal)  # enums are ints; a dict only arrives when a person builds a node


def _child_slots(cls: type) -> tuple[str, ...]:
    """The attributes of a node class that may hold a node or a sequence of them: its str, int, bool and enum
    slots never do, and skipping them halves a walk."""
    slots = getattr(cls, "__slots__", None)
    names: tuple[str, ...]
    if not isinstance(slots, dict):
        names = tuple(slots or ())
    else:
        names = tuple(name for name, info in slots.items() if _may_hold_nodes(getattr(info, "py_type", None)))
    _CHILD_SLOTS[cls] = names
    return names


def _may_hold_nodes(py_type: Any) -> bool:
    types = [t for t in (py_type if isinstance(py_type, tuple) else (py_type,)) if t is not dict]
    return not types or not all(isinstance(t, type) and issubclass(t, _SCALARS) for t in types)


def walk(node: Any) -> Iterator[Any]:
    """Every pglast node under `node` (itself included), depth first."""
    stack = [node]
    child_slots = _CHILD_SLOTS
    while stack:
        cur = stack.pop()
        if isinstance(cur, ast.Node):
            yield cur
            cls = cur.__class__
            slots = child_slots.get(cls)
            if slots is None:  # (an empty tuple is a known class without child slots)
                slots = _child_slots(cls)
            for attr in slots:
                value = getattr(cur, attr, None)
                if isinstance(value, (ast.Node, tuple, list)):
                    stack.append(value)
        elif isinstance(cur, (tuple, list)):
            stack.extend(reversed(cur))


def func_name(call: ast.FuncCall) -> str:
    """The unqualified, lower-case name of a function call (`pg_catalog.now` -> `now`)."""
    names = [n.sval or "" for n in call.funcname or () if isinstance(n, ast.String)]
    return names[-1].lower() if names else ""


@dataclass(frozen=True)
class TypeRef:
    """A column type as written: base name (pg_catalog-normalised), integer modifiers, array or not."""

    name: str
    mods: tuple[int | None, ...] = ()
    array: bool = False

    def __str__(self) -> str:
        mods = f"({','.join('?' if m is None else str(m) for m in self.mods)})" if self.mods else ""
        return f"{self.name}{mods}{'[]' if self.array else ''}"


def type_ref(tn: ast.TypeName | None) -> TypeRef | None:
    if tn is None or not tn.names:
        return None
    names = [n.sval or "" for n in tn.names if isinstance(n, ast.String)]
    mods: list[int | None] = []
    for m in tn.typmods or ():
        val = getattr(m, "val", None)
        mods.append(val.ival if isinstance(val, ast.Integer) else None)
    return TypeRef(names[-1].lower(), tuple(mods), bool(tn.arrayBounds))


def const_value(node: Any) -> Any:
    """The Python value of a constant expression (through casts), or a sentinel when it is not constant."""
    if isinstance(node, ast.TypeCast):
        return const_value(node.arg)
    if isinstance(node, ast.A_Const):
        if node.isnull:
            return None
        val = node.val
        if isinstance(val, ast.Boolean):
            return bool(val.boolval)  # the engine's fast parse leaves 0/1 here
        for attr in ("boolval", "ival", "fval", "sval", "bsval"):
            if hasattr(val, attr):
                return getattr(val, attr)
    return _NOT_CONST


_NOT_CONST = object()


def is_constant_true(expr: Any) -> bool:
    """`true`, `'t'::boolean`, `1 = 1`, `true OR x`, `NOT false`: an expression that holds for every row."""
    if isinstance(expr, (ast.TypeCast, ast.A_Const)):
        value = const_value(expr)
        return value is True or (isinstance(value, str) and value.lower() in {"t", "true", "on", "yes", "y", "1"})
    if isinstance(expr, ast.BoolExpr):
        args = list(expr.args or ())
        if expr.boolop == BoolExprType.OR_EXPR:
            return any(is_constant_true(a) for a in args)
        if expr.boolop == BoolExprType.AND_EXPR:
            return bool(args) and all(is_constant_true(a) for a in args)
        if expr.boolop == BoolExprType.NOT_EXPR and args:
            value = const_value(args[0])
            return value is False or (isinstance(value, str) and value.lower() in {"f", "false"})
    if isinstance(expr, ast.A_Expr) and expr.kind == A_Expr_Kind.AEXPR_OP:
        op = [n.sval for n in expr.name or () if isinstance(n, ast.String)]
        left, right = const_value(expr.lexpr), const_value(expr.rexpr)
        if op == ["="] and left is not _NOT_CONST and left is not None and left == right:
            return True
        # `x = x` on the same column reference holds for every non-null row: still a blanket grant.
        if op == ["="] and isinstance(expr.lexpr, ast.ColumnRef) and expr.lexpr == expr.rexpr:
            return True
    return False


def column_refs(node: Any) -> set[str]:
    """The (last component of the) column names referenced anywhere under `node`."""
    out: set[str] = set()
    for n in walk(node):
        if isinstance(n, ast.ColumnRef):
            fields = [f.sval for f in n.fields or () if isinstance(f, ast.String)]
            if fields and fields[-1]:
                out.add(fields[-1])
    return out


def relations(node: Any) -> set[str]:
    """Every table named by a RangeVar under `node`, qualified."""
    return {table_of(n) for n in walk(node) if isinstance(n, ast.RangeVar)}


def column_defs(stmt: Any) -> Iterator[tuple[str, ast.ColumnDef, bool]]:
    """(table, column definition, via ADD COLUMN) for CREATE TABLE columns and ALTER TABLE ... ADD COLUMN."""
    if isinstance(stmt, ast.CreateStmt):
        table = table_of(stmt.relation)
        for elt in stmt.tableElts or ():
            if isinstance(elt, ast.ColumnDef):
                yield table, elt, False
    elif isinstance(stmt, ast.AlterTableStmt) and stmt.relation is not None:
        table = table_of(stmt.relation)
        for cmd in stmt.cmds or ():
            if cmd.subtype == AlterTableType.AT_AddColumn and isinstance(cmd.def_, ast.ColumnDef):
                yield table, cmd.def_, True


def alter_cmds(stmt: Any) -> Iterator[tuple[str, ast.AlterTableCmd]]:
    """(table, subcommand) for ALTER TABLE on a table (not an index, view or sequence)."""
    if (
        isinstance(stmt, ast.AlterTableStmt)
        and stmt.relation is not None
        and stmt.objtype in (ObjectType.OBJECT_TABLE, ObjectType.OBJECT_FOREIGN_TABLE)
    ):
        table = table_of(stmt.relation)
        for cmd in stmt.cmds or ():
            yield table, cmd


def created_table(stmt: Any) -> str | None:
    """The table a statement creates, if it creates one (temporary tables do not count)."""
    if isinstance(stmt, ast.CreateStmt) and stmt.relation is not None and not is_temp(stmt.relation):
        return table_of(stmt.relation)
    if isinstance(stmt, ast.CreateTableAsStmt) and stmt.into is not None and stmt.objtype == ObjectType.OBJECT_TABLE:
        rel = stmt.into.rel
        return table_of(rel) if rel is not None and not is_temp(rel) else None
    return None


def sets_lock_timeout(stmt: Any) -> bool:
    """`SET [LOCAL] lock_timeout = '5s'` or `SELECT set_config('lock_timeout', '5s', ...)`; 0 means no timeout."""
    if isinstance(stmt, ast.VariableSetStmt):
        if stmt.name != "lock_timeout" or stmt.kind != VariableSetKind.VAR_SET_VALUE:
            return False
        values = [const_value(a) for a in stmt.args or ()]
        return not any(v in (0, "0") for v in values)
    if isinstance(stmt, ast.SelectStmt):
        for n in walk(stmt.targetList):
            if (
                isinstance(n, ast.FuncCall)
                and func_name(n) == "set_config"
                and n.args
                and const_value(n.args[0]) == "lock_timeout"
            ):
                value = const_value(n.args[1]) if len(n.args) > 1 else None
                return value not in (0, "0")
    return False
