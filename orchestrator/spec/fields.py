"""Data-model dialects, fields: Markdown tables with a name and a type column, and `- `field`: type` bullets."""

from __future__ import annotations

import re

from orchestrator.spec.markdown import FENCE, plain_text, split_row
from orchestrator.spec.models import FieldSpec
from orchestrator.spec.names import IDENT

_NAME_HEADERS = {"field", "fields", "column", "columns", "name", "field name", "column name", "attribute", "property"}
_TYPE_HEADERS = {"type", "data type", "datatype", "sql type", "postgres type", "pg type", "column type"}
_NULLABLE_HEADERS = {"nullable", "null", "null?", "nullable?"}
_REQUIRED_HEADERS = {"required", "required?", "not null"}
_PII_HEADERS = {"pii", "pii?", "personal data", "sensitive"}
_UNIQUE_HEADERS = {"unique", "unique?"}
_DEFAULT_HEADERS = {"default", "default value"}

_SQL_TYPES = re.compile(
    r"^(bigint|int8|bigserial|serial8|integer|int|int4|serial|serial4|smallint|int2|smallserial|numeric|decimal|real|"
    r"float4|float8|double precision|float|money|text|varchar|character varying|char|character|citext|uuid|boolean|bool|"
    r"date|time|timetz|timestamp|timestamptz|timestamp with time zone|timestamp without time zone|"
    r"time with time zone|interval|json|jsonb|bytea|inet|cidr|macaddr|tsvector|point|geometry|geography|"
    r"int4range|tstzrange|daterange|string|str|number|uuidv4|datetime|enum|array|hstore|ltree|vector|oid|xml)\b",
    re.IGNORECASE,
)
_TYPE_TOKEN = re.compile(
    r"^\s*(?P<type>(?:timestamp|time)\s+with(?:out)?\s+time\s+zone|double\s+precision|character\s+varying"
    r"|[A-Za-z_][\w.]*)(?P<args>\s*\(\s*\d+\s*(?:,\s*\d+\s*)?\))?(?P<array>(?:\[\])*)",
    re.IGNORECASE,
)
_BULLET = re.compile(
    r"^\s*[-*+]\s+(?:\[[ xX]\]\s+)?"
    r"(?:`(?P<code>[^`]+)`|\*\*(?P<bold>[^*]+)\*\*|(?P<plain>[A-Za-z_][\w]*))"
    r"\s*(?:\((?P<ptype>[^)]*)\))?\s*(?:[:\-–—|]|\s)\s*(?P<rest>.*)$"
)
_BOLD_LABEL = re.compile(r"^\s*(?:\*\*|__)(?P<label>[^*_]+?)(?:\*\*|__)\s*:?\s*(?:\*\*|__)?\s*:?\s*(?P<rest>.*)$")
_FIELD_LABELS = re.compile(r"^(fields|columns|attributes|properties|schema|new (fields|columns)|changes)$", re.I)


def fields_in(lines: list[str]) -> list[FieldSpec]:
    fields = _table_fields(lines)
    if fields:
        return fields
    return _bullet_fields(lines)


def _table_fields(lines: list[str]) -> list[FieldSpec]:
    """Fields of every Markdown table whose header has a name column and a type column."""
    fields: list[FieldSpec] = []
    in_fence = False
    index = 0
    while index < len(lines):
        line = lines[index]
        if FENCE.match(line):
            in_fence = not in_fence
        is_table = line.strip().startswith("|") and index + 1 < len(lines)
        separator = is_table and re.match(r"^\s*\|?\s*:?-{2,}", lines[index + 1]) is not None
        if in_fence or not separator:
            index += 1
            continue
        header = [plain_text(c).lower().rstrip(":") for c in split_row(line)]
        name_col = next((i for i, h in enumerate(header) if h in _NAME_HEADERS), None)
        type_col = next((i for i, h in enumerate(header) if h in _TYPE_HEADERS), None)
        index += 2
        rows: list[list[str]] = []
        while index < len(lines) and lines[index].strip().startswith("|"):
            rows.append(split_row(lines[index]))
            index += 1
        if name_col is None or type_col is None:
            continue
        for row in rows:
            cells = {header[i]: row[i] if i < len(row) else "" for i in range(len(header))}
            name = plain_text(row[name_col] if name_col < len(row) else "").strip()
            if not re.fullmatch(IDENT, name):
                continue
            other = [
                v for h, v in cells.items() if h not in (header[name_col], header[type_col]) and not _flag_header(h)
            ]
            spec = read_field(name, row[type_col] if type_col < len(row) else "", " | ".join(other))
            _apply_flag_columns(spec, cells)
            fields.append(spec)
    return fields


def _flag_header(header: str) -> bool:
    return header in _NULLABLE_HEADERS | _REQUIRED_HEADERS | _PII_HEADERS | _UNIQUE_HEADERS


def _truthy(cell: str) -> bool | None:
    value = plain_text(cell).lower()
    if value in {"yes", "y", "true", "✓", "✔", "x", "required", "pii"}:
        return True
    if value in {"no", "n", "false", "✗", "-", "—", "optional"}:
        return False
    return None


def _apply_flag_columns(spec: FieldSpec, cells: dict[str, str]) -> None:
    for header, cell in cells.items():
        flag = _truthy(cell)
        if flag is None:
            continue
        if header in _NULLABLE_HEADERS:
            spec.nullable = flag
        elif header in _REQUIRED_HEADERS:
            spec.nullable = not flag
        elif header in _PII_HEADERS:
            spec.pii = flag
        elif header in _UNIQUE_HEADERS:
            spec.unique = flag


def _bullet_fields(lines: list[str]) -> list[FieldSpec]:
    """`- \\`field\\`: type, constraints` bullets (plain names only when a SQL type follows), outside other labels."""
    fields: list[FieldSpec] = []
    label_ok = True
    in_fence = False
    for line in lines:
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        label = _BOLD_LABEL.match(line)
        if label and not line.lstrip().startswith(("-", "*", "+")) or (label and line.lstrip().startswith("**")):
            assert label is not None
            # "**Fields**:" opens a field list; "**Relationships**:" or "**Validation Rules**:" closes it.
            label_ok = bool(_FIELD_LABELS.match(label.group("label").strip()))
            continue
        if not label_ok:
            continue
        match = _BULLET.match(line)
        if not match:
            continue
        name = (match.group("code") or match.group("bold") or match.group("plain") or "").strip()
        if not re.fullmatch(IDENT, name):
            continue
        rest = match.group("rest").strip()
        type_text = match.group("ptype") or ""
        if not type_text:
            token = _TYPE_TOKEN.match(rest)
            if token is None:
                continue
            type_text = token.group(0)
            rest = rest[token.end() :]
        elif match.group("ptype"):
            # "`name` (uuid, PK): notes": the parenthesis may hold constraints after the type.
            type_part, _, extra = type_text.partition(",")
            type_text, rest = type_part, f"{extra} {rest}"
        if match.group("plain") and not _SQL_TYPES.match(type_text.strip()):
            continue
        fields.append(read_field(name, type_text, rest.strip(" ,;:-–—")))
    return fields


_REFERENCE = re.compile(
    r"(?:\bfk\b|foreign\s+key|references?|refs?\b|→|->|⟶)\s*(?:to\s+|→\s*|->\s*|:\s*)?`?"
    rf"(?P<target>{IDENT}(?:\.{IDENT}){{0,2}})(?:\s*\(\s*(?P<col>{IDENT})\s*\))?`?",
    re.IGNORECASE,
)


def read_field(name: str, type_text: str, notes: str) -> FieldSpec:
    type_clean = plain_text(type_text).strip().strip(",;")
    lowered_type = type_clean.lower()
    # Some teams put the constraints in the type cell ("uuid PK", "text NOT NULL").
    token = _TYPE_TOKEN.match(type_clean)
    type_only = token.group(0).strip() if token else type_clean
    context = f"{type_clean[len(type_only) :]} {notes}"
    lowered = plain_text(context).lower()

    primary = bool(re.search(r"\b(pk|primary\s+key)\b", lowered))
    not_null = bool(re.search(r"\b(not\s+null|non[- ]null|required|mandatory|nullable\s*:\s*no)\b", lowered))
    nullable_word = bool(re.search(r"\b(nullable|optional)\b(?!\s*:\s*no)", lowered)) or bool(
        re.search(r"(?<!not )\bnull\b", lowered) and not not_null
    )
    nullable = not (primary or not_null) if not nullable_word or not_null or primary else True
    if lowered_type.endswith("?"):  # TypeScript-style "string?" in some templates
        nullable, type_only = True, type_only.rstrip("?")
    unique = bool(re.search(r"\b(unique|uk|uq)\b(?!\s*\()", lowered)) and not primary
    # "case-sensitive" is not PII; "sensitive personal data" is.
    pii = bool(re.search(r"\bpii\b|\bpersonal(ly)?\b|\bgdpr\b|\bsensitive\s+(personal\s+)?data\b", lowered))
    references = None
    for ref in _REFERENCE.finditer(context):
        target = ref.group("target")
        keyword = ref.group(0).split()[0].lower()
        if ref.group("col"):
            target = f"{target}.{ref.group('col')}"
        elif "." not in target:
            # A bare word after "references" is prose ("Ground Reference Maneuvers"); after FK or an arrow, a table.
            if not re.match(r"fk|foreign|→|->|⟶", keyword):
                continue
            target = f"{target}.id"
        references = target
        break
    return FieldSpec(
        name=name,
        type=type_only,
        nullable=nullable,
        pii=pii,
        references=references,
        unique=unique,
        primary_key=primary,
        notes=re.sub(r"\s+", " ", plain_text(notes)).strip(" |"),
    )
