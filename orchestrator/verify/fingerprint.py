"""A database's schema read from pg_catalog as comparable facts, and the differences between two of them, in words."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Literal

import psycopg
from pydantic import BaseModel, Field

from orchestrator.verify.version_tables import is_version_table

# Schemas that PostgreSQL or the Supabase emulation own. Objects in them are left out, except triggers and
# policies an app puts on their tables (a trigger on auth.users is a classic that a downgrade forgets).
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")
EMULATION_SCHEMAS = ("auth", "storage", "realtime", "extensions", "graphql", "graphql_public", "vault")
VERSION_TABLES = ("alembic_version",)

KIND_WORDS = {
    "schema": "schema",
    "relation": "table",
    "column": "column",
    "type": "type",
    "index": "index",
    "constraint": "constraint",
    "function": "function",
    "trigger": "trigger",
    "policy": "policy",
    "extension": "extension",
    "default_acl": "default privileges",
}

_NOT_EXTENSION = """NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '{catalog}'::regclass
    AND d.objid = {oid} AND d.deptype = 'e')"""

# Each query yields (kind, name, attrs); %(skip)s are the schemas left out, %(version)s the version tables.
_QUERIES: dict[str, str] = {
    "schema": """
        SELECT n.nspname, jsonb_build_object('owner', pg_get_userbyid(n.nspowner),
               'acl', (SELECT array_agg(a::text ORDER BY a::text) FROM unnest(n.nspacl) a))
        FROM pg_namespace n
        WHERE n.nspname <> ALL(%(skip)s) AND n.nspname NOT LIKE 'pg\\_%%'
          AND """
    + _NOT_EXTENSION.format(catalog="pg_namespace", oid="n.oid"),
    "relation": """
        SELECT n.nspname || '.' || c.relname, jsonb_build_object(
               'kind', c.relkind::text, 'persistence', c.relpersistence::text, 'owner', pg_get_userbyid(c.relowner),
               'row level security', c.relrowsecurity, 'forced row level security', c.relforcerowsecurity,
               'grants', (SELECT array_agg(a::text ORDER BY a::text) FROM unnest(c.relacl) a),
               'view definition', CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END,
               'partition key', CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END,
               'partition of', CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END,
               'sequence', (SELECT jsonb_build_object('type', format_type(s.seqtypid, NULL), 'start', s.seqstart,
                       'increment', s.seqincrement, 'min', s.seqmin, 'max', s.seqmax, 'cycle', s.seqcycle)
                       FROM pg_sequence s WHERE s.seqrelid = c.oid))
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND n.nspname <> ALL(%(skip)s)
          AND n.nspname NOT LIKE 'pg\\_%%' AND c.relname <> ALL(%(version)s)
          AND NOT """
    + is_version_table("c")
    + """
          AND """
    + _NOT_EXTENSION.format(catalog="pg_class", oid="c.oid"),
    "column": """
        SELECT n.nspname || '.' || c.relname || '.' || a.attname, jsonb_build_object(
               'type', format_type(a.atttypid, a.atttypmod), 'not null', a.attnotnull,
               'default', pg_get_expr(d.adbin, d.adrelid), 'identity', nullif(a.attidentity::text, ''),
               'generated', nullif(a.attgenerated::text, ''),
               'collation', CASE WHEN a.attcollation <> t.typcollation THEN a.attcollation::regcollation::text END,
               'grants', (SELECT array_agg(x::text ORDER BY x::text) FROM unnest(a.attacl) x))
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_type t ON t.oid = a.atttypid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')
          AND n.nspname <> ALL(%(skip)s) AND n.nspname NOT LIKE 'pg\\_%%' AND c.relname <> ALL(%(version)s)
          AND NOT """
    + is_version_table("c")
    + """
          AND """
    + _NOT_EXTENSION.format(catalog="pg_class", oid="c.oid"),
    "type": """
        SELECT n.nspname || '.' || t.typname, jsonb_build_object(
               'kind', t.typtype::text,
               'labels', (SELECT array_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e
                          WHERE e.enumtypid = t.oid),
               'base type', CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END,
               'not null', CASE WHEN t.typtype = 'd' THEN t.typnotnull END,
               'default', t.typdefault, 'owner', pg_get_userbyid(t.typowner),
               'grants', (SELECT array_agg(a::text ORDER BY a::text) FROM unnest(t.typacl) a))
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE t.typtype IN ('e', 'd', 'r', 'm', 'c')
          AND (t.typtype <> 'c' OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')
          AND n.nspname <> ALL(%(skip)s) AND n.nspname NOT LIKE 'pg\\_%%'
          AND """
    + _NOT_EXTENSION.format(catalog="pg_type", oid="t.oid"),
    "index": """
        SELECT n.nspname || '.' || i.relname, jsonb_build_object(
               'definition', pg_get_indexdef(x.indexrelid), 'valid', x.indisvalid)
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid
        JOIN pg_namespace n ON n.oid = i.relnamespace
        WHERE n.nspname <> ALL(%(skip)s) AND n.nspname NOT LIKE 'pg\\_%%' AND c.relname <> ALL(%(version)s)
          AND NOT """
    + is_version_table("c")
    + """
          AND """
    + _NOT_EXTENSION.format(catalog="pg_class", oid="c.oid"),
    "constraint": """
        SELECT n.nspname || '.' || coalesce(c.relname, t.typname) || '.' || k.conname, jsonb_build_object(
               'definition', pg_get_constraintdef(k.oid), 'validated', k.convalidated,
               'deferrable', k.condeferrable, 'deferred', k.condeferred)
        FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace
        LEFT JOIN pg_class c ON c.oid = k.conrelid LEFT JOIN pg_type t ON t.oid = k.contypid
        WHERE n.nspname <> ALL(%(skip)s) AND n.nspname NOT LIKE 'pg\\_%%'
          AND coalesce(c.relname, '') <> ALL(%(version)s) AND NOT """
    + is_version_table("c")
    + """
          AND (k.conrelid = 0 OR """
    + _NOT_EXTENSION.format(catalog="pg_class", oid="k.conrelid")
    + ")",
    "function": """
        SELECT n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
               jsonb_build_object(
               'kind', p.prokind::text, 'returns', pg_get_function_result(p.oid),
               'language', (SELECT l.lanname FROM pg_language l WHERE l.oid = p.prolang),
               'body hash', md5(coalesce(p.prosrc, '') || coalesce(p.probin, '')),
               'security definer', p.prosecdef, 'settings', p.proconfig, 'volatility', p.provolatile::text,
               'strict', p.proisstrict, 'owner', pg_get_userbyid(p.proowner),
               'grants', (SELECT array_agg(a::text ORDER BY a::text) FROM unnest(p.proacl) a))
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname <> ALL(%(skip)s) AND n.nspname NOT LIKE 'pg\\_%%'
          AND """
    + _NOT_EXTENSION.format(catalog="pg_proc", oid="p.oid"),
    # Triggers and policies are kept on any non-system table, emulated auth.users included.
    "trigger": """
        SELECT n.nspname || '.' || c.relname || '.' || g.tgname, jsonb_build_object(
               'definition', pg_get_triggerdef(g.oid), 'enabled', g.tgenabled::text)
        FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE NOT g.tgisinternal AND n.nspname <> ALL(%(system)s) AND n.nspname NOT LIKE 'pg\\_%%'""",
    "policy": """
        SELECT n.nspname || '.' || c.relname || '.' || p.polname, jsonb_build_object(
               'command', p.polcmd::text, 'permissive', p.polpermissive,
               'roles', (SELECT array_agg(CASE WHEN r = 0 THEN 'public' ELSE pg_get_userbyid(r) END ORDER BY 1)
                         FROM unnest(p.polroles) r),
               'using', pg_get_expr(p.polqual, p.polrelid), 'with check', pg_get_expr(p.polwithcheck, p.polrelid))
        FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname <> ALL(%(system)s) AND n.nspname NOT LIKE 'pg\\_%%'""",
    "extension": """
        SELECT e.extname, jsonb_build_object('version', e.extversion, 'schema', n.nspname)
        FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace""",
    "default_acl": """
        SELECT pg_get_userbyid(d.defaclrole) || ' in ' || coalesce(n.nspname, 'all schemas') || ' on '
               || CASE d.defaclobjtype WHEN 'r' THEN 'tables' WHEN 'S' THEN 'sequences' WHEN 'f' THEN 'functions'
                  WHEN 'T' THEN 'types' WHEN 'n' THEN 'schemas' ELSE d.defaclobjtype::text END,
               jsonb_build_object('grants', (SELECT array_agg(a::text ORDER BY a::text) FROM unnest(d.defaclacl) a))
        FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
        WHERE coalesce(n.nspname, '') <> ALL(%(skip)s)""",
}

_RELKIND_WORDS = {
    "r": "table",
    "p": "partitioned table",
    "v": "view",
    "m": "materialized view",
    "S": "sequence",
    "f": "foreign table",
}


class SchemaDifference(BaseModel):
    """One object that differs between two fingerprints, named in words."""

    kind: str  # a key of KIND_WORDS
    name: str  # schema-qualified
    change: Literal["extra", "missing", "changed"]  # extra: in the actual schema only; missing: expected only
    attribute: str | None = None
    expected: str | None = None
    actual: str | None = None
    what: str = ""  # the kind in words ("type", "column", "view", ...)

    @property
    def message(self) -> str:
        if self.change == "extra":
            return f"{self.what} {self.name} still exists"
        if self.change == "missing":
            return f"{self.what} {self.name} is missing"
        return f"{self.what} {self.name} differs: {self.attribute} was {self.expected}, is {self.actual}"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def trace_first(left_behind: list[SchemaDifference]) -> str:
    """The fix of a re-upgrade that fails after the downgrade left objects behind: one cause, two findings, and
    the trace is the one to fix first."""
    shown = ", ".join(f"{d.what} {d.name}" for d in left_behind[:3]) + (", ..." if len(left_behind) > 3 else "")
    return f"most likely a consequence of what the downgrade left behind ({shown}): fix that first"


class SchemaFingerprint(BaseModel):
    """Every schema object of a database (kind -> qualified name -> attribute -> value), from pg_catalog."""

    objects: dict[str, dict[str, dict[str, str]]] = Field(default_factory=dict)

    @classmethod
    def take(
        cls,
        conn_or_url: psycopg.Connection[Any] | str,
        excluded_schemas: Iterable[str] = EMULATION_SCHEMAS,
        version_tables: Iterable[str] = VERSION_TABLES,
    ) -> SchemaFingerprint:
        """Read the fingerprint; `excluded_schemas` are left out beside PostgreSQL's own (triggers/policies kept)."""
        if isinstance(conn_or_url, str):
            with psycopg.connect(conn_or_url, autocommit=True) as conn:
                return cls.take(conn, excluded_schemas, version_tables)
        params = {
            "skip": [*SYSTEM_SCHEMAS, *excluded_schemas],
            "system": list(SYSTEM_SCHEMAS),
            "version": list(version_tables),
        }
        objects: dict[str, dict[str, dict[str, str]]] = {}
        for kind, query in _QUERIES.items():
            found: dict[str, dict[str, str]] = {}
            for name, attrs in conn_or_url.execute(query, params).fetchall():  # type: ignore[arg-type]
                found[name] = {k: _text(v) for k, v in (attrs or {}).items() if v is not None}
            objects[kind] = found
        if not conn_or_url.autocommit:
            conn_or_url.rollback()  # a read-only look: leave no transaction open
        return cls(objects=objects)

    def what(self, kind: str, name: str) -> str:
        if kind == "relation":
            attrs = self.objects.get(kind, {}).get(name, {})
            return _RELKIND_WORDS.get(attrs.get("kind", "r"), "table")
        return KIND_WORDS.get(kind, kind)

    def diff(self, other: SchemaFingerprint) -> list[SchemaDifference]:
        """How this (actual) schema differs from `other` (expected); a dropped table's columns are not repeated."""
        found: list[SchemaDifference] = []
        extra_tables = set(self.objects.get("relation", {})) - set(other.objects.get("relation", {}))
        missing_tables = set(other.objects.get("relation", {})) - set(self.objects.get("relation", {}))
        for kind in _QUERIES:
            mine, theirs = self.objects.get(kind, {}), other.objects.get(kind, {})
            for name in sorted(set(mine) | set(theirs)):
                # Children of a table that is extra or missing as a whole add nothing a reader needs.
                if kind in ("column", "constraint", "trigger", "policy") and name.rsplit(".", 1)[0] in (
                    extra_tables | missing_tables
                ):
                    continue
                if name not in theirs:
                    found.append(SchemaDifference(kind=kind, name=name, change="extra", what=self.what(kind, name)))
                elif name not in mine:
                    found.append(SchemaDifference(kind=kind, name=name, change="missing", what=other.what(kind, name)))
                else:
                    for attr in sorted(set(mine[name]) | set(theirs[name])):
                        if mine[name].get(attr) != theirs[name].get(attr):
                            found.append(
                                SchemaDifference(
                                    kind=kind,
                                    name=name,
                                    change="changed",
                                    attribute=attr,
                                    expected=theirs[name].get(attr, "none"),
                                    actual=mine[name].get(attr, "none"),
                                    what=self.what(kind, name),
                                )
                            )
        return found

    def tables(self) -> dict[str, dict[str, str]]:
        return {n: a for n, a in self.objects.get("relation", {}).items() if a.get("kind") in ("r", "p")}

    def touched_tables(self, base: SchemaFingerprint) -> list[str]:
        """Tables (of this schema) that are new since `base`, or whose columns, policies or flags changed."""
        touched: set[str] = set()
        tables = self.tables()
        for difference in self.diff(base):
            name = difference.name
            if difference.kind == "relation" and name in tables:
                touched.add(name)
            elif difference.kind in ("column", "constraint", "trigger", "policy"):
                parent = name.rsplit(".", 1)[0]
                if parent in tables:
                    touched.add(parent)
        return sorted(touched)
