"""What the feature creates: its tables and columns, read once per context from the feature's upgrade statements."""

from __future__ import annotations

from dataclasses import dataclass, field

from pglast import ast
from pglast.enums import ObjectType

from orchestrator.checks.model import CheckContext, SqlStatement
from orchestrator.checks.rules._sql import MIGRATION_KINDS, feature_ids, runs_in_migration
from orchestrator.sql.tree import column_defs, dotted_name, is_temp, table_of


@dataclass
class CreatedColumn:
    table: str  # schema.table
    name: str
    stmt: SqlStatement
    added: bool  # by ALTER TABLE ... ADD COLUMN (else in CREATE TABLE)


@dataclass
class FeatureSchema:
    tables: dict[str, SqlStatement] = field(default_factory=dict)  # schema.table -> its CREATE TABLE
    columns: list[CreatedColumn] = field(default_factory=list)
    known_columns: set[tuple[str, str]] = field(default_factory=set)  # (table, column) anywhere in the checked SQL


def feature_schema(ctx: CheckContext) -> FeatureSchema:
    return ctx.memo("feature_schema", lambda: _feature_schema(ctx))


def _feature_schema(ctx: CheckContext) -> FeatureSchema:
    out = FeatureSchema()
    ours = feature_ids(ctx)
    dropped: set[str] = set()
    for stmt in ctx.statements:
        node = stmt.node
        if stmt.direction == "downgrade" or stmt.kind not in MIGRATION_KINDS or not runs_in_migration(stmt):
            continue
        if not isinstance(node, (ast.CreateStmt, ast.AlterTableStmt, ast.DropStmt)):
            continue
        mine = id(stmt) in ours
        if isinstance(node, ast.DropStmt):
            if mine and node.removeType == ObjectType.OBJECT_TABLE:
                dropped.update(dotted_name(o) for o in node.objects or ())
            continue
        if isinstance(node, ast.CreateStmt) and is_temp(node.relation):
            continue
        if isinstance(node, ast.CreateStmt) and mine:
            out.tables.setdefault(table_of(node.relation), stmt)
        for table, col, added in column_defs(node):
            name = col.colname or ""
            out.known_columns.add((table, name))
            if mine:
                out.columns.append(CreatedColumn(table, name, stmt, added))
    for table in dropped:
        out.tables.pop(table, None)
    out.columns = [c for c in out.columns if c.table not in dropped]
    return out


def spec_rel(ctx: CheckContext) -> str:
    """The spec folder relative to the repo (for findings), e.g. specs/042-lesson-progress."""
    spec = ctx.spec
    if spec is None:
        return ctx.config.specs_dir
    path = spec.path
    try:
        return path.resolve().relative_to(ctx.repo.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def line_in(text: str, *needles: str) -> int | None:
    """The first line of `text` that names one of `needles` as a whole word (case-insensitive)."""
    import re

    for needle in needles:
        pattern = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(needle)}(?![A-Za-z0-9_])", re.IGNORECASE)
        for number, line in enumerate(text.splitlines(), start=1):
            if pattern.search(line):
                return number
    return None
