"""Synthesize valid rows for any table from the catalog: NOT NULL columns by type, foreign keys by making parents."""

from __future__ import annotations

import json
import re
import secrets
import uuid
from typing import Any

import psycopg
from psycopg import sql
from pydantic import BaseModel, Field

AUTH_USERS = "auth.users"
# How many foreign-key hops a table may be from auth.users and still count as owner-scoped
# (lesson_progress -> lessons -> students.user_id is two hops).
OWNER_DEPTH = 3
_MAX_PARENT_DEPTH = 6


class ColumnInfo(BaseModel):
    name: str
    type_sql: str  # format_type(), usable in a cast
    category: str  # pg_type.typcategory of the (domain's base) type
    base_type: str  # pg_type.typname of the (domain's base) type
    not_null: bool
    has_default: bool
    identity: bool
    generated: bool
    labels: list[str] = Field(default_factory=list)  # enum labels in order
    max_length: int | None = None
    allowed: list[str] = Field(default_factory=list)  # literals a CHECK (col IN (...)) allows
    minimum: float | None = None  # a lower bound a CHECK (col >= n) sets

    @property
    def needs_value(self) -> bool:
        return self.not_null and not self.has_default and not self.identity and not self.generated


class ForeignKey(BaseModel):
    columns: list[str]
    table: str  # qualified name of the referenced table
    ref_columns: list[str]


class TableInfo(BaseModel):
    schema_name: str
    name: str
    columns: list[ColumnInfo]
    foreign_keys: list[ForeignKey]

    @property
    def qualified(self) -> str:
        return f"{self.schema_name}.{self.name}"

    @property
    def ident(self) -> sql.Identifier:
        return sql.Identifier(self.schema_name, self.name)

    def column(self, name: str) -> ColumnInfo | None:
        return next((c for c in self.columns if c.name == name), None)


class RowError(Exception):
    """A table that cannot be filled: the reason names the table and the constraint or column."""


def split_name(qualified: str) -> tuple[str, str]:
    schema, _, name = qualified.rpartition(".")
    return schema or "public", name


_COLUMNS = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod), bt.typcategory::text, bt.typname,
       a.attnotnull, a.atthasdef, a.attidentity <> '', a.attgenerated <> '',
       (SELECT array_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = bt.oid),
       CASE WHEN a.atttypmod > 4 AND bt.typname IN ('varchar', 'bpchar') THEN a.atttypmod - 4 END
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
WHERE a.attrelid = %(rel)s::regclass AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum"""

_FKS = """
SELECT (SELECT array_agg(a.attname ORDER BY k.i) FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n),
       fn.nspname || '.' || f.relname,
       (SELECT array_agg(a.attname ORDER BY k.i) FROM unnest(c.confkey) WITH ORDINALITY k(n, i)
          JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n)
FROM pg_constraint c JOIN pg_class f ON f.oid = c.confrelid JOIN pg_namespace fn ON fn.oid = f.relnamespace
WHERE c.conrelid = %(rel)s::regclass AND c.contype = 'f'
ORDER BY c.conname"""

_CHECKS = """
SELECT pg_get_constraintdef(c.oid), (SELECT array_agg(a.attname) FROM unnest(c.conkey) k(n)
          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n)
FROM pg_constraint c WHERE c.conrelid = %(rel)s::regclass AND c.contype = 'c'"""

_QUOTED = re.compile(r"'((?:[^']|'')*)'")
_LOWER_BOUND = re.compile(r"(>=|>)\s*\(?(-?\d+(?:\.\d+)?)")


class RowSynthesizer:
    """Inserts rows that satisfy a table's NOT NULL, foreign key, enum and simple CHECK constraints."""

    def __init__(self, conn: psycopg.Connection[Any], owner_columns: list[str] | None = None) -> None:
        self.conn = conn
        self.owner_columns = set(owner_columns or [])
        self._tables: dict[str, TableInfo] = {}
        self._counter = secrets.randbelow(10_000)

    def describe(self, qualified: str) -> TableInfo:
        if qualified in self._tables:
            return self._tables[qualified]
        schema, name = split_name(qualified)
        rel = sql.Identifier(schema, name).as_string(self.conn)
        columns = [
            ColumnInfo(
                name=r[0],
                type_sql=r[1],
                category=r[2],
                base_type=r[3],
                not_null=r[4],
                has_default=r[5],
                identity=r[6],
                generated=r[7],
                labels=r[8] or [],
                max_length=r[9],
            )
            for r in self.conn.execute(_COLUMNS, {"rel": rel}).fetchall()
        ]
        by_name = {c.name: c for c in columns}
        for definition, cols in self.conn.execute(_CHECKS, {"rel": rel}).fetchall():
            if not cols or len(cols) != 1 or cols[0] not in by_name:
                continue
            col = by_name[cols[0]]
            if "ANY" in definition or " IN " in definition or "=" in definition and "'" in definition:
                col.allowed = [m.replace("''", "'") for m in _QUOTED.findall(definition)]
            bound = _LOWER_BOUND.search(definition)
            if bound:
                col.minimum = float(bound[2]) + (1 if bound[1] == ">" else 0)
        fks = [
            ForeignKey(columns=r[0], table=r[1], ref_columns=r[2])
            for r in self.conn.execute(_FKS, {"rel": rel}).fetchall()
        ]
        info = TableInfo(schema_name=schema, name=name, columns=columns, foreign_keys=fks)
        self._tables[qualified] = info
        return info

    def owner_path(self, qualified: str, depth: int = OWNER_DEPTH) -> list[str] | None:
        """The chain of tables from `qualified` to the one holding the owner column, or None if not owner-scoped."""
        info = self.describe(qualified)
        if any(fk.table == AUTH_USERS for fk in info.foreign_keys) or any(
            c.name in self.owner_columns or f"{info.qualified}.{c.name}" in self.owner_columns for c in info.columns
        ):
            return [qualified]
        if depth <= 0:
            return None
        for fk in info.foreign_keys:
            if fk.table in (qualified, AUTH_USERS):
                continue
            path = self.owner_path(fk.table, depth - 1)
            if path is not None:
                return [qualified, *path]
        return None

    def value_expr(self, col: ColumnInfo, n: sql.Composable) -> sql.Composable:
        """An expression of the column's type for the n-th row (n is an integer expression)."""
        cast = sql.SQL(col.type_sql)
        if col.labels:
            return sql.SQL("{}::{}").format(sql.Literal(col.labels[0]), cast)
        if col.allowed:
            return sql.SQL("{}::{}").format(sql.Literal(col.allowed[0]), cast)
        cat, base = col.category, col.base_type
        if base == "uuid":
            return sql.SQL("gen_random_uuid()")
        if cat == "S":
            text = sql.SQL("({} || '-' || {})").format(sql.Literal(col.name), n)
            if col.max_length:
                text = sql.SQL("right({}, {})").format(text, sql.Literal(col.max_length))
            return sql.SQL("{}::{}").format(text, cast)
        if cat == "N":
            low = int(col.minimum) if col.minimum is not None else 0
            if base == "int2":
                return sql.SQL("((({} - 1) % 30000) + 1 + {})::{}").format(n, sql.Literal(low), cast)
            return sql.SQL("({} + {})::{}").format(n, sql.Literal(low), cast)
        if cat == "B":
            return sql.SQL("true")
        if cat == "D":
            return sql.SQL("now()::{}").format(cast)
        if cat == "T":
            return sql.SQL("interval '1 hour'::{}").format(cast)
        if cat == "A":
            return sql.SQL("'{{}}'::{}").format(cast)
        if base in ("json", "jsonb"):
            return sql.SQL("'{{}}'::{}").format(cast)
        if base == "bytea":
            return sql.SQL("'\\x00'::bytea")
        if cat == "I":
            return sql.SQL("'10.0.0.1'::{}").format(cast)
        if cat == "V":
            return sql.SQL("'1'::{}").format(cast)
        raise RowError(f"column {col.name} has type {col.type_sql}, for which no sample value is known")

    def _next(self) -> sql.Composable:
        self._counter += 1
        return sql.Literal(self._counter)

    def insert(
        self,
        qualified: str,
        owner: str | None = None,
        overrides: dict[str, Any] | None = None,
        _depth: int = 0,
    ) -> dict[str, Any]:
        """Insert one row (making parents as needed) and return it as a dict, plus '_ctid' to find it again.

        With `owner` (an auth.users id), every column referencing auth.users and every parent on the way to
        one gets that owner, so the row belongs to that user by any policy that follows the foreign keys.
        """
        if _depth > _MAX_PARENT_DEPTH:
            raise RowError(f"{qualified}: foreign keys nest deeper than {_MAX_PARENT_DEPTH} tables")
        info = self.describe(qualified)
        values: dict[str, sql.Composable] = {}
        for name, value in (overrides or {}).items():
            col = info.column(name)
            if col is None:
                raise RowError(f"{qualified} has no column {name}")
            values[name] = self._literal(value, col)
        for fk in info.foreign_keys:
            if all(c in values for c in fk.columns):
                continue
            cols = [info.column(c) for c in fk.columns]
            required = any(c is not None and c.not_null for c in cols)
            if fk.table == AUTH_USERS and len(fk.columns) == 1:
                if owner is not None or required:
                    user = owner or self.insert(AUTH_USERS, _depth=_depth + 1)["id"]
                    values[fk.columns[0]] = self._literal(user, cols[0])
                continue
            if fk.table == qualified:
                continue  # a self-reference (parent_id): left NULL where it may be
            wants_owner = owner is not None and self.owner_path(fk.table) is not None
            if not (required or wants_owner):
                continue
            # An owner's existing parent row is reused: a user often has one profile row (UNIQUE (user_id)).
            parent = (self.find_owned(fk.table, owner) if wants_owner and owner else None) or self.insert(
                fk.table, owner=owner, _depth=_depth + 1
            )
            for child, ref in zip(fk.columns, fk.ref_columns, strict=False):
                values[child] = self._literal(parent[ref], info.column(child))
        if owner is not None:
            for col in info.columns:
                if col.name not in values and (
                    col.name in self.owner_columns or f"{qualified}.{col.name}" in self.owner_columns
                ):
                    values[col.name] = self._literal(owner, col)
        for col in info.columns:
            if col.name not in values and col.needs_value:
                values[col.name] = self.value_expr(col, self._next())
        if values:
            statement = sql.SQL("INSERT INTO {} AS t ({}) VALUES ({}) RETURNING to_jsonb(t), t.ctid::text").format(
                info.ident,
                sql.SQL(", ").join(sql.Identifier(c) for c in values),
                sql.SQL(", ").join(values.values()),
            )
        else:
            statement = sql.SQL("INSERT INTO {} AS t DEFAULT VALUES RETURNING to_jsonb(t), t.ctid::text").format(
                info.ident
            )
        try:
            row = self.conn.execute(statement).fetchone()
        except psycopg.errors.Error as exc:
            if isinstance(exc, psycopg.OperationalError):
                raise
            raise RowError(f"{qualified}: {_first_line(exc)}") from exc
        assert row is not None
        result: dict[str, Any] = dict(row[0])
        result["_ctid"] = row[1]
        return result

    def owner_columns_of(self, qualified: str) -> list[str]:
        """The columns of the table itself that name its owner (a reference to auth.users, or a configured name)."""
        info = self.describe(qualified)
        found = [fk.columns[0] for fk in info.foreign_keys if fk.table == AUTH_USERS and len(fk.columns) == 1]
        found += [
            c.name
            for c in info.columns
            if c.name not in found and (c.name in self.owner_columns or f"{qualified}.{c.name}" in self.owner_columns)
        ]
        return found

    def find_owned(self, qualified: str, owner: str) -> dict[str, Any] | None:
        """A row of the table whose own owner column holds `owner`, if one exists."""
        columns = self.owner_columns_of(qualified)
        if not columns:
            return None
        info = self.describe(qualified)
        condition = sql.SQL(" AND ").join(
            sql.SQL("{}::text = {}").format(sql.Identifier(c), sql.Literal(owner)) for c in columns
        )
        row = self.conn.execute(
            sql.SQL("SELECT to_jsonb(t), t.ctid::text FROM {} t WHERE {} LIMIT 1").format(info.ident, condition)
        ).fetchone()
        if row is None:
            return None
        return {**row[0], "_ctid": row[1]}

    def new_user(self, email: str | None = None) -> str:
        user_id = str(uuid.uuid4())
        email = email or f"user-{user_id[:8]}@example.test"
        info = self.describe(AUTH_USERS)
        overrides: dict[str, Any] = {"id": user_id}
        if info.column("email") is not None:
            overrides["email"] = email
        self.insert(AUTH_USERS, overrides=overrides)
        return user_id

    @staticmethod
    def _literal(value: Any, col: ColumnInfo | None) -> sql.Composable:
        if isinstance(value, sql.Composable):
            return value
        if isinstance(value, (dict, list)):
            value = json.dumps(value)
        elif value is not None and not isinstance(value, str):
            value = str(value)
        if col is None:
            return sql.Literal(value)
        return sql.SQL("{}::{}").format(sql.Literal(value), sql.SQL(col.type_sql))

    def fill(self, qualified: str, rows: int) -> None:
        """Append `rows` synthetic rows in one statement; foreign keys point at existing parent rows in turn."""
        info = self.describe(qualified)
        ctes: list[sql.Composable] = []
        aliases: list[sql.Composable] = []
        values: dict[str, sql.Composable] = {}
        for i, fk in enumerate(info.foreign_keys):
            cols = [info.column(c) for c in fk.columns]
            if fk.table == qualified or not any(c is not None and c.not_null for c in cols):
                continue
            if len(fk.columns) != 1:
                raise RowError(f"{qualified}: a multi-column foreign key to {fk.table}")
            alias = sql.Identifier(f"p{i}")
            pschema, pname = split_name(fk.table)
            ctes.append(
                sql.SQL("{} AS (SELECT array_agg({}) AS a FROM {})").format(
                    alias, sql.Identifier(fk.ref_columns[0]), sql.Identifier(pschema, pname)
                )
            )
            aliases.append(alias)
            values[fk.columns[0]] = sql.SQL("{}.a[1 + (g - 1) % cardinality({}.a)]").format(alias, alias)
        for col in info.columns:
            if col.name not in values and col.needs_value:
                values[col.name] = self.value_expr(col, sql.SQL("g"))
        series = sql.SQL("generate_series(1, {}) g").format(sql.Literal(rows))
        if values:
            statement = sql.SQL("{}INSERT INTO {} ({}) SELECT {} FROM {}").format(
                sql.SQL("WITH {} ").format(sql.SQL(", ").join(ctes)) if ctes else sql.SQL(""),
                info.ident,
                sql.SQL(", ").join(sql.Identifier(c) for c in values),
                sql.SQL(", ").join(values.values()),
                sql.SQL(", ").join([series, *aliases]),
            )
        else:
            statement = sql.SQL("INSERT INTO {} SELECT FROM {}").format(info.ident, series)
        try:
            self.conn.execute(statement)
        except psycopg.errors.Error as exc:
            if isinstance(exc, psycopg.OperationalError):
                raise
            raise RowError(f"{qualified}: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
