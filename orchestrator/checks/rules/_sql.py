"""Facts the rules share over a check's statements: "existing table", lock timeouts, the feature's statements.

The pure tree helpers (names, walk, types, constants) are orchestrator/sql/tree.py's."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from pglast import ast
from pglast.enums import AlterTableType, ConstrType, ObjectType

from orchestrator.checks.model import CheckContext, FileKind, Origin, SqlStatement
from orchestrator.sql.tree import (
    alter_cmds,
    column_defs,
    created_table,
    qualify,
    relations,
    sets_lock_timeout,
    table_of,
)

# Kinds whose statements are migrations (hazard rules judge them); seeds have their own family.
MIGRATION_KINDS = frozenset({FileKind.REVISION, FileKind.SQL, FileKind.POLICY})

N = TypeVar("N")

_CMDS_ATTR = "_delegate_alter_cmds"


def statement_alter_cmds(stmt: SqlStatement) -> list[tuple[str, ast.AlterTableCmd]]:
    """alter_cmds() of a statement's tree, computed once per statement: a dozen rules read them."""
    cached: list[tuple[str, ast.AlterTableCmd]] | None = stmt.__dict__.get(_CMDS_ATTR)
    if cached is None:
        cached = stmt.__dict__[_CMDS_ATTR] = list(alter_cmds(stmt.node))
    return cached


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
