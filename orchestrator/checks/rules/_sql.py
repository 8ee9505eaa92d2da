"""Shared facts over pglast trees: table names, "existing table", lock timeouts and the feature's statements."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from pglast import ast
from pglast.enums import A_Expr_Kind, AlterTableType, BoolExprType, ConstrType, ObjectType, VariableSetKind

from orchestrator.checks.model import CheckContext, FileKind, Origin, SqlStatement

# Kinds whose statements are migrations (hazard rules judge them); seeds have their own family.
MIGRATION_KINDS = frozenset({FileKind.REVISION, FileKind.SQL, FileKind.POLICY})

N = TypeVar("N")

_CMDS_ATTR = "_delegate_alter_cmds"


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


def statement_alter_cmds(stmt: SqlStatement) -> list[tuple[str, ast.AlterTableCmd]]:
    """alter_cmds() of a statement's tree, computed once per statement: a dozen rules read them."""
    cached: list[tuple[str, ast.AlterTableCmd]] | None = stmt.__dict__.get(_CMDS_ATTR)
    if cached is None:
        cached = stmt.__dict__[_CMDS_ATTR] = list(alter_cmds(stmt.node))
    return cached


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


@dataclass
class Facts:
    """Facts computed once per context, so every rule stays one pass over the statements."""

    # (unit, direction) -> table -> index of the statement that created it
    created: dict[tuple[str, str | None], dict[str, int]] = field(default_factory=dict)
    # (unit, direction) -> index of the first statement that sets lock_timeout
    lock_timeout_at: dict[tuple[str, str | None], int] = field(default_factory=dict)
    # tables created by the feature's migrations (upgrade direction)
    feature_created: set[str] = field(default_factory=set)
    # statements by pglast node class
    by_type: dict[type, list[SqlStatement]] = field(default_factory=dict)
    # upgrade statements of the feature, in context order
    feature: list[SqlStatement] = field(default_factory=list)
    # policy files that belong to other features (see foreign_policy_files)
    foreign_files: set[str] = field(default_factory=set)
    # id(statement) -> its position in ctx.statements
    position: dict[int, int] = field(default_factory=dict)
    # ALTER TABLE subcommands of the upgrade migrations by subtype: (sequence number, statement, table, command)
    alter_by_subtype: dict[AlterTableType | None, list[tuple[int, SqlStatement, str, ast.AlterTableCmd]]] | None = None
    # columns that ALTER TABLE ... ADD COLUMN adds in the upgrade migrations: (statement, table, definition)
    added_columns: list[tuple[SqlStatement, str, ast.ColumnDef]] | None = None


def runs_in_migration(stmt: SqlStatement) -> bool:
    """False for statements inside a function body: they run when the function is called, not when migrating."""
    return stmt.origin is not Origin.FUNCTION_BODY


def facts(ctx: CheckContext) -> Facts:
    return ctx.memo("facts", lambda: _facts(ctx))


def _facts(ctx: CheckContext) -> Facts:
    result = Facts()
    by_type: dict[type, list[SqlStatement]] = defaultdict(list)
    for position, stmt in enumerate(ctx.statements):
        result.position[id(stmt)] = position
        if not runs_in_migration(stmt):
            continue
        by_type[type(stmt.node)].append(stmt)
        key = (stmt.unit, stmt.direction)
        table = created_table(stmt.node)
        if (
            table is None
            and isinstance(stmt.node, ast.RenameStmt)
            and stmt.node.renameType == ObjectType.OBJECT_TABLE
            and stmt.node.relation is not None
        ):
            # A table created and then renamed in the same unit is still new under its new name.
            old = table_of(stmt.node.relation)
            unit_created = result.created.get(key, {})
            if old in unit_created:
                table = qualify(stmt.node.relation.schemaname, stmt.node.newname)
        if table is not None:
            result.created.setdefault(key, {}).setdefault(table, stmt.index)
            if stmt.direction != "downgrade" and stmt.kind in MIGRATION_KINDS and ctx.in_feature(stmt.revision):
                result.feature_created.add(table)
        if sets_lock_timeout(stmt.node):
            result.lock_timeout_at.setdefault(key, stmt.index)
        if stmt.direction != "downgrade" and ctx.in_feature(stmt.revision):
            result.feature.append(stmt)
    result.by_type = dict(by_type)
    if ctx.feature_revisions is not None:
        result.foreign_files = foreign_policy_files(ctx, result.feature_created)
        result.feature = [s for s in result.feature if s.file not in result.foreign_files]
    return result


def feature_ids(ctx: CheckContext) -> set[int]:
    """id() of every statement in facts(ctx).feature (built once: several rules ask "is this the feature's?")."""
    return ctx.memo("feature_ids", lambda: {id(s) for s in facts(ctx).feature})


def foreign_policy_files(ctx: CheckContext, feature_tables: set[str]) -> set[str]:
    """Policy files of earlier features: they name none of the feature's new tables, nor its number or slug.

    Policy SQL mirrors what each feature's revision executed; judging an old file against the tables of a later
    feature would report the same (long deployed) statements again in every feature's check.
    """
    spec = ctx.spec
    marks = [m.lower() for m in (getattr(spec, "number", ""), getattr(spec, "slug", "")) if m]
    touching: dict[str, bool] = {}
    for stmt in ctx.statements:
        if stmt.kind is not FileKind.POLICY or touching.get(stmt.file):
            continue
        touching[stmt.file] = bool(relations(stmt.node) & feature_tables)
    foreign = set()
    for file, touches in touching.items():
        name = file.rsplit("/", 1)[-1].lower()
        if not touches and not any(re.search(rf"(?<![0-9a-z]){re.escape(m)}(?![0-9a-z])", name) for m in marks):
            foreign.add(file)
    return foreign


def statements_of(ctx: CheckContext, *types: type) -> list[SqlStatement]:
    """The statements whose tree is one of `types`, in context order."""
    f = facts(ctx)
    if len(types) == 1:
        return f.by_type.get(types[0], [])
    out = [s for t in types for s in f.by_type.get(t, [])]
    out.sort(key=lambda s: f.position[id(s)])
    return out


def upgrade_migrations(ctx: CheckContext, *types: type) -> Iterator[SqlStatement]:
    """Upgrade statements of migrations (revisions, .sql, policies; not seeds) of the given node types."""
    foreign = facts(ctx).foreign_files
    for stmt in statements_of(ctx, *types):
        if stmt.direction != "downgrade" and stmt.kind in MIGRATION_KINDS and stmt.file not in foreign:
            yield stmt


def upgrade_alter_cmds(
    ctx: CheckContext, *subtypes: AlterTableType
) -> list[tuple[SqlStatement, str, ast.AlterTableCmd]]:
    """(statement, table, subcommand) for the ALTER TABLE subcommands of the given subtypes in upgrade migrations,
    in the order that upgrade_migrations(ctx, AlterTableStmt) and alter_cmds() give them. Grouped once per
    context, so that a rule visits only the subcommands it judges."""
    f = facts(ctx)
    if f.alter_by_subtype is None:
        index: dict[AlterTableType | None, list[tuple[int, SqlStatement, str, ast.AlterTableCmd]]] = defaultdict(list)
        seq = 0
        for stmt in upgrade_migrations(ctx, ast.AlterTableStmt):
            for table, cmd in statement_alter_cmds(stmt):
                index[cmd.subtype].append((seq, stmt, table, cmd))
                seq += 1
        f.alter_by_subtype = dict(index)
    groups = [f.alter_by_subtype.get(t, []) for t in subtypes]
    entries = groups[0] if len(groups) == 1 else sorted((e for g in groups for e in g), key=lambda e: e[0])
    return [(stmt, table, cmd) for _, stmt, table, cmd in entries]


def upgrade_added_columns(ctx: CheckContext) -> list[tuple[SqlStatement, str, ast.ColumnDef]]:
    """(statement, table, column) for every ADD COLUMN of an ALTER TABLE in upgrade migrations, in the order that
    upgrade_migrations(ctx, AlterTableStmt) and column_defs() give them (computed once per context)."""
    f = facts(ctx)
    if f.added_columns is None:
        f.added_columns = [
            (stmt, table, col)
            for stmt in upgrade_migrations(ctx, ast.AlterTableStmt)
            for table, col, added in column_defs(stmt.node)
            if added
        ]
    return f.added_columns


def constraints_added_to_existing(
    ctx: CheckContext, *contypes: ConstrType
) -> Iterator[tuple[SqlStatement, str, ast.Constraint, str]]:
    """(statement, table, constraint, its name in messages) for each `ADD CONSTRAINT` of the given kinds that an
    upgrade adds to an existing table."""
    for stmt, table, cmd in upgrade_alter_cmds(ctx, AlterTableType.AT_AddConstraint):
        c = cmd.def_
        if isinstance(c, ast.Constraint) and c.contype in contypes and is_existing(ctx, stmt, table):
            yield stmt, table, c, f'"{c.conname}"' if c.conname else "(unnamed)"


def is_existing(ctx: CheckContext, stmt: SqlStatement, table: str) -> bool:
    """True when `table` was not created earlier by the statement's own unit (squawk's semantics).

    Policy and seed files run right after the feature's migrations, so for them a table that the feature's
    migrations create is new as well: enabling RLS on it or indexing it locks nothing anybody uses yet.
    """
    f = facts(ctx)
    at = f.created.get((stmt.unit, stmt.direction), {}).get(table)
    if at is not None and at <= stmt.index:
        return False
    return not (stmt.kind in (FileKind.POLICY, FileKind.SEED) and table in f.feature_created)


def has_lock_timeout(ctx: CheckContext, stmt: SqlStatement) -> bool:
    at = facts(ctx).lock_timeout_at.get((stmt.unit, stmt.direction))
    return at is not None and at < stmt.index


def first(items: Iterable[N]) -> N | None:
    return next(iter(items), None)
