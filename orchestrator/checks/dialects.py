"""Which branches of a revision run on PostgreSQL: `if` tests on the dialect's name or class, judged from the AST."""

from __future__ import annotations

import ast
from collections.abc import Callable

TARGET = "postgresql"

# SQLAlchemy dialect classes by a lower-cased fragment of their name (PGDialect_psycopg2, MySQLDialect_pymysql,
# SQLiteDialect, MSDialect_pyodbc, OracleDialect_cx_oracle...).
_CLASS_FRAGMENTS = (
    ("postgres", "postgresql"),
    ("pg", "postgresql"),
    ("mysql", "mysql"),
    ("mariadb", "mysql"),
    ("sqlite", "sqlite"),
    ("mssql", "mssql"),
    ("ms", "mssql"),
    ("oracle", "oracle"),
)

Lookup = Callable[[str], "ast.expr | None"]


def runs_on_postgresql(test: ast.expr, lookup: Lookup) -> bool | None:
    """True or False when `test` depends only on which database the migration runs on (`dialect.name == "mysql"`,
    `isinstance(bind.dialect, SQLiteDialect)`, `and`/`or`/`not` of those, or a name bound once to one); None when
    it depends on anything else. `lookup` gives the value a name is bound to (once), or None."""
    return _Judge(lookup).truth(test, depth=0)


class _Judge:
    def __init__(self, lookup: Lookup) -> None:
        self.lookup = lookup

    def _bound(self, expr: ast.expr, depth: int) -> ast.expr | None:
        if isinstance(expr, ast.Name) and depth < 10:
            return self.lookup(expr.id)
        return None

    def truth(self, test: ast.expr, depth: int) -> bool | None:
        if depth > 20:
            return None
        if isinstance(test, ast.BoolOp):
            values = [self.truth(v, depth + 1) for v in test.values]
            if isinstance(test.op, ast.And):
                return False if False in values else (None if None in values else True)
            return True if True in values else (None if None in values else False)
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            inner = self.truth(test.operand, depth + 1)
            return None if inner is None else not inner
        if isinstance(test, ast.Compare) and len(test.ops) == 1:
            return self._compare(test.left, test.ops[0], test.comparators[0], depth)
        if isinstance(test, ast.Call) and _callee_name(test) == "isinstance" and len(test.args) == 2:
            if not self._is_dialect(test.args[0], depth):
                return None
            names = _class_dialects(test.args[1])
            return None if names is None else TARGET in names
        bound = self._bound(test, depth)
        return self.truth(bound, depth + 1) if bound is not None else None

    def _compare(self, left: ast.expr, op: ast.cmpop, right: ast.expr, depth: int) -> bool | None:
        if self._is_dialect_name(right, depth) and not self._is_dialect_name(left, depth):
            left, right = right, left
            if isinstance(op, (ast.In, ast.NotIn)):
                return None  # `"mysql" in dialect_name` tests a substring: not worth guessing
        if not self._is_dialect_name(left, depth):
            return None
        names = _strings(right)
        if names is None:
            return None
        if isinstance(op, ast.Eq) and len(names) == 1:
            return TARGET in names
        if isinstance(op, ast.NotEq) and len(names) == 1:
            return TARGET not in names
        if isinstance(op, ast.In) and not isinstance(right, ast.Constant):
            return TARGET in names
        if isinstance(op, ast.NotIn) and not isinstance(right, ast.Constant):
            return TARGET not in names
        return None

    def _is_dialect_name(self, expr: ast.expr, depth: int) -> bool:
        """`<anything>.dialect.name` (a bind's, a connection's, a migration context's), or a name bound to it."""
        if isinstance(expr, ast.Attribute) and expr.attr == "name":
            return self._is_dialect(expr.value, depth)
        bound = self._bound(expr, depth)
        return bound is not None and self._is_dialect_name(bound, depth + 1)

    def _is_dialect(self, expr: ast.expr, depth: int) -> bool:
        if isinstance(expr, ast.Attribute) and expr.attr == "dialect":
            return True
        bound = self._bound(expr, depth)
        return bound is not None and self._is_dialect(bound, depth + 1)


def _callee_name(call: ast.Call) -> str | None:
    return call.func.id if isinstance(call.func, ast.Name) else None


def _strings(expr: ast.expr) -> set[str] | None:
    """The lower-cased strings of a string constant or a tuple/list/set of them; None for anything else."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return {expr.value.lower()}
    if isinstance(expr, (ast.Tuple, ast.List, ast.Set)):
        found = [_strings(e) for e in expr.elts]
        if any(f is None or len(f) != 1 for f in found):
            return None
        return {s for f in found if f is not None for s in f}
    return None


def _class_dialects(expr: ast.expr) -> set[str] | None:
    """The dialect names of the classes in isinstance()'s second argument; None when one is not recognisable."""
    if isinstance(expr, ast.Tuple):
        found = [_class_dialects(e) for e in expr.elts]
        if any(f is None for f in found):
            return None
        return {s for f in found if f is not None for s in f}
    name = expr.attr if isinstance(expr, ast.Attribute) else expr.id if isinstance(expr, ast.Name) else None
    if name is None or "dialect" not in name.lower():
        return None
    lowered = name.lower()
    for fragment, dialect in _CLASS_FRAGMENTS:
        if lowered.startswith(fragment):
            return {dialect}
    return None
