"""SQL text to pglast trees: one parser call per text, statement offsets turned into the lines a person sees."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

# Whitespace and comments that may precede a statement's first token (block comments may nest in PostgreSQL).
_TRIVIA_START = frozenset(" \t\r\n\f\v-/")
_TRIVIA = re.compile(r"(?:\s+|--[^\n]*)+")


@dataclass
class ParsedStatement:
    """One statement of a text: its tree, its own text, and where its first token sits (0-based char offset)."""

    node: Any
    sql: str
    offset: int


@dataclass
class SqlSyntaxError:
    """A piece of a text that PostgreSQL's parser rejects, with the 0-based char offset of the error."""

    message: str
    offset: int


class LineIndex:
    """Maps 0-based character offsets of a text to 1-based line numbers in O(log n)."""

    def __init__(self, text: str) -> None:
        self._starts = [0]
        find = text.find
        pos = find("\n")
        while pos != -1:
            self._starts.append(pos + 1)
            pos = find("\n", pos + 1)

    def line(self, offset: int) -> int:
        return bisect_right(self._starts, max(offset, 0))


def skip_trivia(text: str, offset: int) -> int:
    """The offset of the first token at or after `offset`: leading whitespace and comments do not count."""
    n = len(text)
    if offset < n and text[offset] not in _TRIVIA_START:
        return offset  # the common case: the parser's offset is already the first token
    while offset < n:
        m = _TRIVIA.match(text, offset)
        if m and m.end() > offset:
            offset = m.end()
            continue
        if text.startswith("/*", offset):
            depth, i = 1, offset + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
            offset = i
            continue
        break
    return offset


def _light_setattr(node: Any, name: str, value: Any) -> None:
    """Node.__setattr__ without the validation, keeping only its cheap coercions (an int for a bool or char slot,
    a list for a List* slot)."""
    cls = value.__class__
    if cls is int or cls is list:
        spec = node.__slots__.get(name)
        if spec is not None and spec.adaptor is not None:
            value = spec.adaptor(value)
    object.__setattr__(node, name, value)


class _EnumLookup(dict[int, Any]):
    """`SomeEnum(value)` as a dict lookup (an unknown value still goes through the enum, which raises)."""

    def __init__(self, cls: Any) -> None:
        super().__init__(cls._value2member_map_)
        self.cls = cls

    def __missing__(self, value: Any) -> Any:
        return self.cls(value)


@cache
def _enum_lookups() -> tuple[tuple[str, Any, Any], ...]:
    """(name, enum class, fast lookup) for every enum of pglast.enums."""
    from enum import Enum

    from pglast import enums

    out = []
    for name in dir(enums):
        cls = getattr(enums, name)
        if isinstance(cls, type) and issubclass(cls, Enum) and cls is not Enum and cls.__module__.startswith("pglast"):
            out.append((name, cls, _EnumLookup(cls).__getitem__))
    return tuple(out)


@contextmanager
def _unvalidated_nodes() -> Iterator[None]:
    """Build pglast nodes without their per-attribute validation while the C parser fills them.

    pglast's Node.__setattr__ re-validates every value that its own Cython builder produced, and these are
    already of the right types (bool(), chr(), tuples), with one exception: A_Const builds its Boolean from
    the raw C int, so Boolean keeps a light setter that coerces. On large files the validation costs 80% of
    the parse. The builder also makes each enum value by calling the enum class (`getattr(enums, name)(value)`,
    a slow metaclass call); a dict lookup of the same member stands in for it meanwhile.
    tests/test_static_parse.py checks that both ways give identical trees, types included.
    """
    from pglast import ast, enums

    original = ast.Node.__setattr__
    own = ast.Boolean.__dict__.get("__setattr__")
    lookups = _enum_lookups()
    ast.Node.__setattr__ = object.__setattr__  # type: ignore[method-assign,assignment]
    ast.Boolean.__setattr__ = _light_setattr  # type: ignore[method-assign,assignment]
    for name, _cls, fast in lookups:
        setattr(enums, name, fast)
    try:
        yield
    finally:
        for name, cls, _fast in lookups:
            setattr(enums, name, cls)
        ast.Node.__setattr__ = original  # type: ignore[method-assign]
        if own is None:
            del ast.Boolean.__setattr__
        else:
            ast.Boolean.__setattr__ = own  # type: ignore[method-assign]


def parse_raw(text: str, fast: bool = True) -> tuple[Any, ...]:
    """pglast's RawStmt tuple for `text` (raises pglast.parser.ParseError)."""
    from pglast import parser

    if not fast:
        return tuple(parser.parse_sql(text))
    with _unvalidated_nodes():
        return tuple(parser.parse_sql(text))


def parse_sql(text: str) -> tuple[list[ParsedStatement], list[SqlSyntaxError]]:
    """Every statement of `text` with its tree; a text with a syntax error is parsed piece by piece so that
    the good statements are still checked and each bad piece is reported at its own position. psql
    meta-commands (`\\set ON_ERROR_STOP on`) are left out: psql runs them, not PostgreSQL."""
    from pglast import parser

    try:
        raws = parse_raw(text)
    except parser.ParseError as exc:
        blanked = blank_psql_meta(text)
        if blanked is not None:
            return parse_sql(blanked)  # the blanked text has no meta-command left: no second round
        return _parse_pieces(text, exc)
    return [_statement(text, raw, 0, len(text)) for raw in raws], []


# A psql meta-command: a line whose first character after blanks is a backslash and a letter (\set, \echo,
# \connect, \i FILE). A backslash starts no SQL token, so such a line is never PostgreSQL's.
_PSQL_META = re.compile(r"^[ \t]*\\[a-zA-Z!?][^\n]*", re.MULTILINE)


@dataclass
class PsqlMeta:
    line: int  # 1-based
    command: str  # as written, without the backslash


def psql_meta_commands(text: str) -> list[PsqlMeta]:
    return [PsqlMeta(text.count("\n", 0, m.start()) + 1, m.group(0).strip()[1:]) for m in _PSQL_META.finditer(text)]


def without_psql_meta(text: str) -> str:
    """`text` as PostgreSQL can run it: its psql meta-command lines blanked when it has some and does not parse
    with them; any other text as it is."""
    from pglast import parser

    blanked = blank_psql_meta(text)
    if blanked is None:
        return text
    try:
        parser.parse_sql_json(text)
    except parser.ParseError:
        return blanked
    return text


def blank_psql_meta(text: str) -> str | None:
    """`text` with its psql meta-command lines turned into blanks (same length, same lines), or None when it
    has none. Only used for a text that PostgreSQL cannot parse as it is: a line inside a string or a function
    body that happens to start with a backslash is left alone in any text that parses."""
    matches = list(_PSQL_META.finditer(text))
    if not matches:
        return None
    pieces: list[str] = []
    last = 0
    for m in matches:
        pieces.append(text[last : m.start()])
        pieces.append(" " * (m.end() - m.start()))
        last = m.end()
    pieces.append(text[last:])
    return "".join(pieces)


def _statement(text: str, raw: Any, base: int, limit: int) -> ParsedStatement:
    """`raw` parsed from text[base:limit]; a stmt_len of 0 means "up to the end of what was parsed"."""
    start = base + (raw.stmt_location or 0)
    end = start + raw.stmt_len if raw.stmt_len else limit
    first = skip_trivia(text, start)
    return ParsedStatement(node=raw.stmt, sql=text[first:end].strip(), offset=first)


def _parse_pieces(text: str, first_error: Exception) -> tuple[list[ParsedStatement], list[SqlSyntaxError]]:
    from pglast import parser

    try:
        # The scanner splits at top-level semicolons without parsing, so each piece can fail on its own.
        pieces = parser.split(text, with_parser=False, only_slices=True)
    except parser.ParseError:  # the scanner itself failed (e.g. an unterminated quote): one error for the text
        return [], [SqlSyntaxError(_error_message(first_error), _error_offset(first_error, 0, len(text)))]
    statements: list[ParsedStatement] = []
    errors: list[SqlSyntaxError] = []
    for piece in pieces:
        chunk = text[piece.start : piece.stop]
        try:
            raws = parse_raw(chunk)
        except parser.ParseError as exc:
            errors.append(SqlSyntaxError(_error_message(exc), piece.start + _error_offset(exc, 0, len(chunk))))
            continue
        statements.extend(_statement(text, raw, piece.start, piece.stop) for raw in raws)
    if not errors:  # the split disagrees with the parser; still report what the parser said
        errors.append(SqlSyntaxError(_error_message(first_error), _error_offset(first_error, 0, len(text))))
    return statements, errors


def _error_message(exc: Exception) -> str:
    return str(exc.args[0]) if exc.args else str(exc)


def _error_offset(exc: Exception, base: int, limit: int) -> int:
    """pglast's ParseError carries the cursor position (0-based characters) as its second argument."""
    pos = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else 0
    return base + min(max(pos, 0), max(limit - 1, 0))
