"""Data-model dialects, SQL: entities from DDL in ```sql blocks, read by PostgreSQL's parser."""

from __future__ import annotations

from dataclasses import replace

from orchestrator.spec.markdown import fenced_blocks, markdown_lines
from orchestrator.spec.models import Entity, FieldSpec

# PostgreSQL's internal names of the types the parser folds spellings into, back to the SQL standard's.
_SQL_TYPE_NAMES = {
    "int8": "bigint",
    "int4": "integer",
    "int2": "smallint",
    "float8": "double precision",
    "float4": "real",
    "bool": "boolean",
}
_SQL_FENCES = frozenset({"sql", "postgresql", "postgres", "pgsql", "psql", "plpgsql"})


def sql_entities(text: str) -> list[Entity]:
    """Entities from DDL in ```sql blocks, read by PostgreSQL's parser: CREATE TABLE makes a new entity,
    ALTER TABLE ... ADD COLUMN an existing one with the fields it adds. Pieces that do not parse are skipped."""
    blocks = [content for language, content, _ in fenced_blocks(markdown_lines(text)) if language in _SQL_FENCES]
    if not blocks:
        return []
    from pglast import ast

    from orchestrator.checks.sqltext import parse_sql

    by_table: dict[str, Entity] = {}
    for content in blocks:
        statements, _errors = parse_sql(content)
        for parsed in statements:
            node = parsed.node
            if isinstance(node, ast.CreateStmt) and node.relation is not None:
                entity = _sql_entity(by_table, node.relation, existing=False)
                keys = _table_keys(node.tableElts or ())
                for element in node.tableElts or ():
                    if isinstance(element, ast.ColumnDef) and element.colname:
                        entity.fields.append(_sql_field(element, keys))
            elif isinstance(node, ast.AlterTableStmt) and node.relation is not None:
                added = [
                    cmd.def_
                    for cmd in node.cmds or ()
                    if isinstance(cmd.def_, ast.ColumnDef) and cmd.def_.colname and cmd.name is None
                ]
                if added:
                    entity = _sql_entity(by_table, node.relation, existing=True)
                    entity.fields.extend(_sql_field(column, {}) for column in added)
    return list(by_table.values())


def _sql_entity(by_table: dict[str, Entity], relation: object, existing: bool) -> Entity:
    schema = getattr(relation, "schemaname", None) or "public"
    table = getattr(relation, "relname", None) or ""
    key = f"{schema}.{table}"
    if key not in by_table:
        by_table[key] = Entity(name=table, table=table, schema=schema, existing=existing)
    return by_table[key]


def _table_keys(elements: object) -> dict[str, set[str]]:
    """Column names under the table-level PRIMARY KEY, UNIQUE (one column) and FOREIGN KEY constraints, with
    "references" mapping a column to what it references."""
    from pglast import ast
    from pglast.enums import ConstrType

    keys: dict[str, set[str]] = {"primary": set(), "unique": set()}
    for element in elements:  # type: ignore[attr-defined]
        if not isinstance(element, ast.Constraint):
            continue
        columns = [k.sval or "" for k in element.keys or () if isinstance(k, ast.String)]
        if element.contype == ConstrType.CONSTR_PRIMARY:
            keys["primary"].update(columns)
        elif element.contype == ConstrType.CONSTR_UNIQUE and len(columns) == 1:
            keys["unique"].update(columns)
        elif element.contype == ConstrType.CONSTR_FOREIGN and element.pktable is not None:
            for column, target in zip([a.sval for a in element.fk_attrs or ()], _fk_targets(element), strict=False):
                keys.setdefault(f"references:{column}", set()).add(_referenced(element.pktable, target))
    return keys


def _fk_targets(constraint: object) -> list[str]:
    """The referenced columns of a FOREIGN KEY constraint (REFERENCES t with none named means its key: id)."""
    from pglast import ast

    names = [k.sval or "" for k in getattr(constraint, "pk_attrs", None) or () if isinstance(k, ast.String)]
    return names or ["id"]


def _referenced(table: object, column: str) -> str:
    schema = getattr(table, "schemaname", None)
    name = getattr(table, "relname", None) or ""
    return f"{schema}.{name}.{column}" if schema and schema != "public" else f"{name}.{column}"


def _sql_field(column: object, keys: dict[str, set[str]]) -> FieldSpec:
    from pglast import ast
    from pglast.enums import ConstrType

    from orchestrator.sql.tree import type_ref

    name = getattr(column, "colname", "") or ""
    tref = type_ref(getattr(column, "typeName", None))
    if tref is not None:
        tref = replace(tref, name=_SQL_TYPE_NAMES.get(tref.name, tref.name))
    spec = FieldSpec(name=name, type=str(tref) if tref is not None else "", notes="from the SQL block")
    spec.primary_key = name in keys.get("primary", set())
    spec.unique = name in keys.get("unique", set())
    spec.nullable = not (spec.primary_key or getattr(column, "is_not_null", False))
    references = keys.get(f"references:{name}")
    if references:
        spec.references = sorted(references)[0]
    for constraint in getattr(column, "constraints", None) or ():
        if not isinstance(constraint, ast.Constraint):
            continue
        if constraint.contype == ConstrType.CONSTR_NOTNULL:
            spec.nullable = False
        elif constraint.contype == ConstrType.CONSTR_PRIMARY:
            spec.primary_key, spec.nullable = True, False
        elif constraint.contype == ConstrType.CONSTR_UNIQUE:
            spec.unique = True
        elif constraint.contype == ConstrType.CONSTR_FOREIGN and constraint.pktable is not None:
            spec.references = _referenced(constraint.pktable, _fk_targets(constraint)[0])
    return spec
