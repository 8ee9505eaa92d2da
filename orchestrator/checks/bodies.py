"""The SQL statements inside `DO $$ ... $$` blocks and function bodies, read with PostgreSQL's own plpgsql parser."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from orchestrator.checks.model import Origin
from orchestrator.checks.sqltext import parse_raw, skip_trivia


@dataclass
class BodyStatement:
    """A statement found in a body: its tree and text, and its line counted from the body's first line (1)."""

    node: Any
    sql: str
    body_line: int


@dataclass
class Body:
    origin: Origin
    start: int  # char offset of the body's text within the statement's text (-1 when it cannot be found)
    statements: list[BodyStatement]


def _defelems(items: Any) -> dict[str, Any]:
    return {d.defname: d.arg for d in items or () if type(d).__name__ == "DefElem"}


def _sval(arg: Any) -> str | None:
    if type(arg).__name__ == "String":
        return str(arg.sval)
    if isinstance(arg, tuple) and arg and type(arg[0]).__name__ == "String":
        return str(arg[0].sval)  # CREATE FUNCTION ... AS 'body' gives a list (body[, link symbol])
    return None


def body_of(node: Any, stmt_sql: str) -> Body | None:
    """The statements inside a DO block or a plpgsql/sql function body; None for any other statement."""
    name = type(node).__name__
    if name == "DoStmt":
        opts = _defelems(node.args)
        origin = Origin.DO_BODY
    elif name == "CreateFunctionStmt":
        opts = _defelems(node.options)
        origin = Origin.FUNCTION_BODY
    else:
        return None
    text = _sval(opts.get("as"))
    if not text:
        return None
    language = (_sval(opts.get("language")) or "plpgsql").lower()
    start = stmt_sql.find(text)
    if language == "plpgsql":
        statements = _plpgsql_statements(stmt_sql)
        if statements is None:
            statements = _split_statements(text)
    elif language == "sql":
        statements = _sql_statements(text)
    else:
        return None
    return Body(origin, start, statements)


def _sql_statements(text: str) -> list[BodyStatement]:
    from pglast import parser

    try:
        raws = parse_raw(text)
    except parser.ParseError:
        return []  # a body that does not parse is the live run's business, not a static finding
    found = []
    for raw in raws:
        first = skip_trivia(text, raw.stmt_location or 0)
        end = (raw.stmt_location or 0) + raw.stmt_len if raw.stmt_len else len(text)
        found.append(BodyStatement(raw.stmt, text[first:end].strip(), text.count("\n", 0, first) + 1))
    return found


def _plpgsql_statements(stmt_sql: str) -> list[BodyStatement] | None:
    """Each SQL statement a plpgsql body runs (plain SQL and EXECUTE of a constant string), with its body line;
    None when PostgreSQL's plpgsql parser rejects the body."""
    from pglast import parser

    try:
        tree = json.loads(parser.parse_plpgsql_json(stmt_sql))
    except (parser.ParseError, ValueError):
        return None
    queries: list[tuple[int, str]] = []
    _collect(tree, queries)
    found: list[BodyStatement] = []
    for line, query in sorted(queries, key=lambda q: q[0]):
        try:
            raws = parse_raw(query)
        except parser.ParseError:
            continue  # a fragment that is not a statement on its own (unparsable pieces are skipped silently)
        found.extend(BodyStatement(raw.stmt, query.strip(), line) for raw in raws)
    return found


def _collect(tree: Any, out: list[tuple[int, str]]) -> None:
    if isinstance(tree, list):
        for item in tree:
            _collect(item, out)
        return
    if not isinstance(tree, dict):
        return
    for key, value in tree.items():
        if key == "PLpgSQL_stmt_execsql" and isinstance(value, dict):
            query = value.get("sqlstmt", {}).get("PLpgSQL_expr", {}).get("query")
            if isinstance(query, str):
                out.append((int(value.get("lineno", 1)), query))
        elif key == "PLpgSQL_stmt_dynexecute" and isinstance(value, dict):
            literal = _string_literal(value.get("query", {}).get("PLpgSQL_expr", {}).get("query"))
            if literal is not None:
                out.append((int(value.get("lineno", 1)), literal))
        _collect(value, out)


def _string_literal(expr: Any) -> str | None:
    """The value of EXECUTE 'constant sql' (one quoted literal, '' as the escaped quote); None for anything else."""
    if not isinstance(expr, str):
        return None
    expr = expr.strip()
    if len(expr) < 2 or expr[0] != "'" or expr[-1] != "'":
        return None
    inner = expr[1:-1]
    if "'" in inner.replace("''", ""):
        return None  # a concatenation such as 'ALTER TABLE ' || name
    return inner.replace("''", "'")


# Control words that open a plpgsql piece before its SQL (IF ... THEN, LOOP, BEGIN, EXCEPTION WHEN ... THEN).
_CONTROL = re.compile(
    r"\s*(?:<<\w+>>\s*)?(?:BEGIN|ELSE|LOOP|DECLARE\b[^;]*|EXCEPTION\s+WHEN\b.*?\bTHEN"
    r"|(?:IF|ELSIF|ELSEIF|WHEN)\b.*?\bTHEN)\b",
    re.IGNORECASE | re.DOTALL,
)


def _split_statements(body: str) -> list[BodyStatement]:
    """A body the plpgsql parser rejects: split it at top-level semicolons, drop the control words that open
    each piece, and keep the pieces PostgreSQL parses as statements (the others are skipped silently)."""
    from pglast import parser

    try:
        pieces = parser.split(body, with_parser=False, only_slices=True)
    except parser.ParseError:
        return []
    found: list[BodyStatement] = []
    for piece in pieces:
        start = piece.start
        while True:
            m = _CONTROL.match(body, start, piece.stop)
            if not m or m.end() == start:
                break
            start = m.end()
        start = skip_trivia(body, start)
        chunk = body[start : piece.stop]
        if re.match(r"END\b", chunk, re.IGNORECASE):
            continue  # END, END IF, END LOOP: plpgsql, not SQL's END (= COMMIT)
        literal = re.match(r"EXECUTE\s+('.*')\s*\Z", chunk, re.IGNORECASE | re.DOTALL)
        if literal:
            chunk = _string_literal(literal.group(1)) or ""
        try:
            raws = parse_raw(chunk)
        except parser.ParseError:
            continue
        line = body.count("\n", 0, start) + 1
        found.extend(BodyStatement(raw.stmt, chunk.strip(), line) for raw in raws)
    return found
