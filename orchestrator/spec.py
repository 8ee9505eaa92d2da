"""Read a spec-driven feature folder (spec.md, data-model.md, plan.md) into entities, fields and query patterns."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.errors import InputError

SPEC_FILES = ("spec.md", "data-model.md", "plan.md")


class FieldSpec(BaseModel):
    """One field of an entity as the data model states it (for an existing table: a field the feature adds)."""

    name: str
    type: str = ""
    nullable: bool = True
    pii: bool = False
    references: str | None = None  # as written, normalised to "table.column" or "schema.table.column"
    unique: bool = False
    primary_key: bool = False
    notes: str = ""  # the constraints and notes text it was read from


class Entity(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    name: str
    table: str
    schema_: str = Field(default="public", alias="schema")
    existing: bool = False  # the feature changes a table that exists already; `fields` are then the new ones
    fields: list[FieldSpec] = Field(default_factory=list)

    @property
    def qualified_table(self) -> str:
        return f"{self.schema_}.{self.table}"


class QueryPattern(BaseModel):
    name: str
    sql: str


class FeatureSpec(BaseModel):
    path: Path
    number: str  # "042"; "" when the folder name has no leading number
    slug: str  # "lesson-progress"
    title: str
    entities: list[Entity] = Field(default_factory=list)
    query_patterns: list[QueryPattern] = Field(default_factory=list)
    public_read_tables: list[str] = Field(default_factory=list)
    pii_columns: set[str] = Field(default_factory=set)  # "table.column"
    # Revision ids the plan or data model names as the feature's own (e.g. "revision `0023_enrollments` adds ...").
    revision_ids: list[str] = Field(default_factory=list)
    # Revision ids named as where the feature starts ("Base revision: `3f9c2a7d1b84`", "down_revision = ...").
    base_revision_ids: list[str] = Field(default_factory=list)
    spec_md: str = ""
    data_model_md: str = ""
    plan_md: str = ""

    def entity_for_table(self, table: str) -> Entity | None:
        bare = table.split(".")[-1]
        return next((e for e in self.entities if e.table == bare or e.qualified_table == table), None)


# --- reading the folder ----------------------------------------------------------------------------------------


def load_feature(path: Path) -> FeatureSpec:
    """Parse the feature folder at `path` (or a file inside it); InputError when the folder or data-model.md is missing."""
    folder = Path(path)
    if folder.is_file() and folder.name in SPEC_FILES:
        folder = folder.parent
    if not folder.is_dir():
        raise InputError(
            f"{path}: no such feature folder",
            "pass the feature's folder, e.g. specs/042-lesson-progress (it holds spec.md, data-model.md, plan.md)",
        )
    data_model_path = folder / "data-model.md"
    if not data_model_path.is_file():
        raise InputError(
            f"{data_model_path}: missing; the database work is planned from the feature's data model",
            "write data-model.md (entities with their fields) in the feature folder, e.g. with spec-kit's /plan",
        )
    spec_md = _read(folder / "spec.md")
    data_model_md = _read(data_model_path)
    plan_md = _read(folder / "plan.md")

    number, slug = _number_and_slug(folder.name)
    entities = parse_data_model(data_model_md)
    tables = [e.table for e in entities]
    public = _public_read_tables(entities, data_model_md, plan_md, tables)
    own_ids, base_ids = _revision_ids(plan_md + "\n" + data_model_md)
    return FeatureSpec(
        path=folder.resolve(),
        number=number,
        slug=slug,
        title=_title(spec_md, plan_md, slug),
        entities=entities,
        query_patterns=parse_query_patterns(plan_md) or parse_query_patterns(data_model_md),
        public_read_tables=public,
        pii_columns={f"{e.table}.{f.name}" for e in entities for f in e.fields if f.pii},
        revision_ids=own_ids,
        base_revision_ids=base_ids,
        spec_md=spec_md,
        data_model_md=data_model_md,
        plan_md=plan_md,
    )


def _read(path: Path) -> str:
    if not path.is_file():
        return ""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc})", "save the file as UTF-8") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})", "check the file's permissions") from None


def _number_and_slug(folder_name: str) -> tuple[str, str]:
    match = re.match(r"^(\d+)[-_ .]+(.+)$", folder_name)
    if match:
        return match.group(1), match.group(2)
    return "", folder_name


_TITLE_PREFIX = re.compile(
    r"^(feature\s+specification|specification|spec|implementation\s+plan|plan|feature|data\s+model)\s*[:\-–—]\s*",
    re.IGNORECASE,
)


def _title(spec_md: str, plan_md: str, slug: str) -> str:
    for text in (spec_md, plan_md):
        for heading in _headings(text):
            if heading.level == 1:
                title = _TITLE_PREFIX.sub("", _plain(heading.title)).strip()
                if title and not title.startswith("["):  # "[FEATURE NAME]": an unfilled template
                    return title
    return slug.replace("-", " ").replace("_", " ").strip().capitalize()


# --- Markdown structure ----------------------------------------------------------------------------------------


@dataclass
class _Heading:
    level: int
    title: str
    line: int  # index of the heading line


@dataclass
class _Section:
    heading: _Heading
    body: list[str]  # lines up to the next heading of any level (fenced blocks included)
    parent: _Section | None = None
    fields: list[FieldSpec] = field(default_factory=list)


_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```+|~~~+)\s*([\w+-]*)")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def _lines(text: str) -> list[str]:
    # HTML comments hold template instructions, never content.
    return _COMMENT.sub("", text).splitlines()


def _headings(text: str) -> list[_Heading]:
    return [h for h, _ in _sections_raw(_lines(text))]


def _sections_raw(lines: list[str]) -> list[tuple[_Heading, list[str]]]:
    out: list[tuple[_Heading, list[str]]] = []
    current: tuple[_Heading, list[str]] = (_Heading(0, "", -1), [])
    fence: str | None = None
    for index, line in enumerate(lines):
        fence_match = _FENCE.match(line)
        if fence_match:
            marker = fence_match.group(1)[:3]
            fence = marker if fence is None else (None if line.strip().startswith(fence) else fence)
        elif fence is None:
            heading = _HEADING.match(line)
            if heading:
                out.append(current)
                current = (_Heading(len(heading.group(1)), heading.group(2), index), [])
                continue
        current[1].append(line)
    out.append(current)
    return out


def _sections(text: str) -> list[_Section]:
    sections: list[_Section] = []
    stack: list[_Section] = []
    for heading, body in _sections_raw(_lines(text)):
        while stack and stack[-1].heading.level >= heading.level and heading.level > 0:
            stack.pop()
        section = _Section(heading=heading, body=body, parent=stack[-1] if stack else None)
        sections.append(section)
        if heading.level > 0:
            stack.append(section)
    return sections


def _plain(text: str) -> str:
    """Markdown emphasis and code marks removed (underscores inside identifiers stay)."""
    text = text.replace("`", "")
    text = re.sub(r"\*\*(.+?)\*\*", r"\1", text)
    text = re.sub(r"(?<!\w)__(?!\s)(.+?)(?<!\s)__(?!\w)", r"\1", text)
    text = re.sub(r"(?<![\w*])\*(?![\s*])(.+?)(?<![\s*])\*(?![\w*])", r"\1", text)
    text = re.sub(r"(?<!\w)_(?![\s_])(.+?)(?<![\s_])_(?!\w)", r"\1", text)
    return text.strip()


def _fenced_blocks(lines: list[str]) -> list[tuple[str, str, int]]:
    """(language, content, index of the opening line) of each fenced block."""
    blocks: list[tuple[str, str, int]] = []
    opening: tuple[str, str, int] | None = None
    content: list[str] = []
    for index, line in enumerate(lines):
        match = _FENCE.match(line)
        if opening is None:
            if match:
                opening = (match.group(1)[:3], match.group(2).lower(), index)
                content = []
        elif line.strip().startswith(opening[0]):
            blocks.append((opening[1], "\n".join(content), opening[2]))
            opening = None
        else:
            content.append(line)
    return blocks


# --- the data model ----------------------------------------------------------------------------------------------

# Section titles that never name an entity, whatever their body holds.
_NOT_ENTITY = re.compile(
    r"^(entities|overview|summary|enums?|enumerations?|types|relationships?|relations|erd|diagram|"
    r"entity relationship.*|row[- ]level security.*|rls.*|security|policies|permissions|access.*|indexes|indices|"
    r"migrations?.*|validation.*|state transitions?|notes|seed.*|quer(y|ies).*|performance.*|constraints|"
    r"open questions|assumptions|changes to existing (tables|entities)|existing (tables|entities)|new (tables|entities))$",
    re.IGNORECASE,
)
# Sub-section titles whose fields belong to the entity above them.
_FIELDS_TITLE = re.compile(
    r"^(fields|columns|attributes|properties|schema|new (fields|columns)|added (fields|columns)|changes|"
    r"field changes|column changes)$",
    re.IGNORECASE,
)
_EXISTING_WORDS = re.compile(
    r"\b(existing|modified|modifies|modify|changes? to|extends?|extended|alter(s|ed)?|updated?s? to)\b", re.IGNORECASE
)
_NEW_WORD = re.compile(r"\bnew\b", re.IGNORECASE)
_TABLE_LINE = re.compile(
    r"^\s*(?:[-*+]\s+)?(?:\*\*|__)?table(?:\s+name)?(?:\*\*|__)?\s*(?:\*\*|__)?:(?:\*\*|__)?\s*(?P<rest>.+)$",
    re.IGNORECASE,
)
_IDENT = r"[A-Za-z_][A-Za-z0-9_$]*"
_QUALIFIED = re.compile(rf"^(?:(?P<schema>{_IDENT})\.)?(?P<table>{_IDENT})$")


def parse_data_model(text: str) -> list[Entity]:
    """The entities of a data-model.md: Markdown tables, backtick bullets, or a mermaid erDiagram."""
    entities: list[Entity] = []
    sections = _sections(text)
    for section in sections:
        section.fields = _fields_in(section.body)
    owners: dict[int, list[FieldSpec]] = {}
    for section in sections:
        if not section.fields:
            continue
        owner = section
        title = _strip_tags(section.heading.title)[0]
        if _FIELDS_TITLE.match(title) and section.parent is not None:
            owner = section.parent
        owners.setdefault(id(owner), []).extend(section.fields)
    for section in sections:
        fields = owners.get(id(section))
        if not fields or section.heading.level == 0:
            continue
        entity = _entity_from_section(section, fields)
        if entity is not None:
            entities.append(entity)

    # A mermaid erDiagram or SQL DDL in a fenced block adds the entities that no heading described (tables and
    # bullets win when both exist).
    known = {e.qualified_table for e in entities}
    for entity in [*_er_entities(text), *_sql_entities(text)]:
        if entity.qualified_table not in known:
            entities.append(entity)
            known.add(entity.qualified_table)
    return entities


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


def _sql_entities(text: str) -> list[Entity]:
    """Entities from DDL in ```sql blocks, read by PostgreSQL's parser: CREATE TABLE makes a new entity,
    ALTER TABLE ... ADD COLUMN an existing one with the fields it adds. Pieces that do not parse are skipped."""
    blocks = [content for language, content, _ in _fenced_blocks(_lines(text)) if language in _SQL_FENCES]
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


def _strip_tags(title: str) -> tuple[str, list[str]]:
    """A heading's name without its markers ("[ENTITY: X]", "[NEW]", "(existing)", "Entity:"), and those markers."""
    # "Bookings `flight_bookings`": the code is the table, the words are the name.
    without_code = re.sub(r"`[^`]*`", " ", title)
    if "`" in title and re.search(r"\w", re.sub(r"\[[^\]]*\]|\([^)]*\)", "", without_code)):
        title = without_code
    text = _plain(title)
    tags: list[str] = []

    def bracket(match: re.Match[str]) -> str:
        inner = match.group(1).strip()
        label, sep, value = inner.partition(":")
        if sep and value.strip():  # [ENTITY: Name] / [EXISTING: lessons]
            tags.append(label.strip())
            return " " + value.strip() + " "
        tags.append(inner)
        return " "

    text = re.sub(r"\[([^\]]*)\]", bracket, text)

    def paren(match: re.Match[str]) -> str:
        tags.append(match.group(1))
        return " "

    text = re.sub(r"\(([^)]*)\)", paren, text)
    text = re.sub(r"^\s*(\d+[.)]\s*)", "", text)
    prefix = re.match(
        r"^\s*(entity|table|model|new table|existing table|changes to|modified)\s*[:\-–—]?\s+", text, re.I
    )
    if prefix:
        tags.append(prefix.group(1))
        text = text[prefix.end() :]
    text = re.sub(r"\s*[:\-–—]\s*$", "", text)
    return re.sub(r"\s+", " ", text).strip(), tags


def _entity_from_section(section: _Section, fields: list[FieldSpec]) -> Entity | None:
    name, tags = _strip_tags(section.heading.title)
    if not name or _NOT_ENTITY.match(name):
        return None
    marks = " ".join(tags)
    table: str | None = None
    schema = "public"
    for line in section.body:
        match = _TABLE_LINE.match(line)
        if match:
            rest = match.group("rest")
            found = re.search(r"`([^`]+)`", rest)
            candidate = found.group(1) if found else rest.split()[0].strip("*_.,;:")
            qualified = _QUALIFIED.match(candidate.strip())
            if qualified:
                table = qualified.group("table")
                schema = qualified.group("schema") or "public"
            marks += " " + rest
            break
    if table is None:
        code = re.search(r"`([^`]+)`", section.heading.title)
        qualified = _QUALIFIED.match(code.group(1).strip()) if code else None
        if qualified:
            table, schema = qualified.group("table"), qualified.group("schema") or "public"
        elif _QUALIFIED.match(name.replace(" ", "")) and "." in name:
            schema, _, table = name.partition(".")
        else:
            table = table_name_for(name)
    # "(existing)", "[EXISTING]", "Changes to `lessons`", "Table: `lessons` (existing)": only the listed fields are new.
    existing = bool(_EXISTING_WORDS.search(marks)) and not _NEW_WORD.search(" ".join(tags))
    if not existing and _EXISTING_WORDS.search(name):
        existing = True
        name = _EXISTING_WORDS.sub("", name).strip(" :-")
    if not existing and section.parent is not None:
        parent_name = _strip_tags(section.parent.heading.title)[0]
        existing = bool(re.match(r"^(changes to existing|existing|modified)\b", parent_name, re.IGNORECASE))
    return Entity(name=name, table=table.lower(), schema=schema.lower(), existing=existing, fields=fields)


# Mass nouns that table names keep singular and that Rails' inflector (the `inflection` package) pluralises.
_UNCOUNTABLE = frozenset(
    {"aircraft", "feedback", "progress", "software", "staff", "history", "audit", "inventory", "analytics"}
)


def table_name_for(entity_name: str) -> str:
    """The table an entity names: snake_case, the last word plural, as Rails' `tableize` makes it
    ("LessonObjective" -> "lesson_objectives", "Category" -> "categories"). A name that is already a table
    name (`lesson_notes`, `status_history`) stays as it is."""
    import inflection  # a maintained port of Rails' inflector; 1 ms to import

    snake = re.sub(r"[^a-z0-9]+", "_", inflection.underscore(entity_name.strip()).lower()).strip("_")
    if not snake:
        return snake
    head, _, last = snake.rpartition("_")
    # Rails' pluralize leaves a plural as it is (notes, categories, people, children): no second plural.
    plural = last if last in _UNCOUNTABLE else inflection.pluralize(last)
    return f"{head}_{plural}" if head else plural


# --- fields ---------------------------------------------------------------------------------------------------------

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


def _fields_in(lines: list[str]) -> list[FieldSpec]:
    fields = _table_fields(lines)
    if fields:
        return fields
    return _bullet_fields(lines)


def _split_row(line: str) -> list[str]:
    cells = re.split(r"(?<!\\)\|", line.strip().strip("|"))
    return [c.strip() for c in cells]


def _table_fields(lines: list[str]) -> list[FieldSpec]:
    """Fields of every Markdown table whose header has a name column and a type column."""
    fields: list[FieldSpec] = []
    in_fence = False
    index = 0
    while index < len(lines):
        line = lines[index]
        if _FENCE.match(line):
            in_fence = not in_fence
        is_table = line.strip().startswith("|") and index + 1 < len(lines)
        separator = is_table and re.match(r"^\s*\|?\s*:?-{2,}", lines[index + 1]) is not None
        if in_fence or not separator:
            index += 1
            continue
        header = [_plain(c).lower().rstrip(":") for c in _split_row(line)]
        name_col = next((i for i, h in enumerate(header) if h in _NAME_HEADERS), None)
        type_col = next((i for i, h in enumerate(header) if h in _TYPE_HEADERS), None)
        index += 2
        rows: list[list[str]] = []
        while index < len(lines) and lines[index].strip().startswith("|"):
            rows.append(_split_row(lines[index]))
            index += 1
        if name_col is None or type_col is None:
            continue
        for row in rows:
            cells = {header[i]: row[i] if i < len(row) else "" for i in range(len(header))}
            name = _plain(row[name_col] if name_col < len(row) else "").strip()
            if not re.fullmatch(_IDENT, name):
                continue
            other = [
                v for h, v in cells.items() if h not in (header[name_col], header[type_col]) and not _flag_header(h)
            ]
            spec = _field(name, row[type_col] if type_col < len(row) else "", " | ".join(other))
            _apply_flag_columns(spec, cells)
            fields.append(spec)
    return fields


def _flag_header(header: str) -> bool:
    return header in _NULLABLE_HEADERS | _REQUIRED_HEADERS | _PII_HEADERS | _UNIQUE_HEADERS


def _truthy(cell: str) -> bool | None:
    value = _plain(cell).lower()
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
        if _FENCE.match(line):
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
        if not re.fullmatch(_IDENT, name):
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
        fields.append(_field(name, type_text, rest.strip(" ,;:-–—")))
    return fields


_REFERENCE = re.compile(
    r"(?:\bfk\b|foreign\s+key|references?|refs?\b|→|->|⟶)\s*(?:to\s+|→\s*|->\s*|:\s*)?`?"
    rf"(?P<target>{_IDENT}(?:\.{_IDENT}){{0,2}})(?:\s*\(\s*(?P<col>{_IDENT})\s*\))?`?",
    re.IGNORECASE,
)


def _field(name: str, type_text: str, notes: str) -> FieldSpec:
    type_clean = _plain(type_text).strip().strip(",;")
    lowered_type = type_clean.lower()
    # Some teams put the constraints in the type cell ("uuid PK", "text NOT NULL").
    token = _TYPE_TOKEN.match(type_clean)
    type_only = token.group(0).strip() if token else type_clean
    context = f"{type_clean[len(type_only) :]} {notes}"
    lowered = _plain(context).lower()

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
        notes=re.sub(r"\s+", " ", _plain(notes)).strip(" |"),
    )


# --- mermaid erDiagram --------------------------------------------------------------------------------------------

_ER_ENTITY = re.compile(r'^\s*(?P<name>[\w-]+|"[^"]+")\s*(?:\[[^\]]*\])?\s*\{\s*$')
_ER_ATTRIBUTE = re.compile(
    r"^\s*(?P<type>[\w()\[\],.-]+)\s+(?P<name>[\w-]+)(?P<keys>(?:\s+(?:PK|FK|UK)(?:\s*,\s*(?:PK|FK|UK))*)?)"
    r'(?:\s+"(?P<comment>[^"]*)")?\s*$'
)


def _er_entities(text: str) -> list[Entity]:
    entities: list[Entity] = []
    lines = _lines(text)
    for language, content, _ in _fenced_blocks(lines):
        if language != "mermaid" or "erdiagram" not in content.lower():
            continue
        current: Entity | None = None
        comments: list[str] = []
        for line in content.splitlines():
            stripped = line.strip()
            if stripped.startswith("%%"):
                comments.append(stripped[2:])
                continue
            if current is None:
                match = _ER_ENTITY.match(line)
                if match:
                    raw = match.group("name").strip('"')
                    # Table-like names (lower snake case) are table names; "STUDENT_PROGRESS"/"Student" are entities.
                    table = raw if re.fullmatch(r"[a-z_][a-z0-9_]*", raw) else table_name_for(raw)
                    existing = any(raw in c and _EXISTING_WORDS.search(c) for c in comments)
                    current = Entity(name=raw, table=table, existing=existing)
                continue
            if stripped == "}":
                entities.append(current)
                current = None
                continue
            attr = _ER_ATTRIBUTE.match(line)
            if attr:
                keys = {k.strip() for k in attr.group("keys").replace(",", " ").split()}
                comment = attr.group("comment") or ""
                spec = _field(attr.group("name"), attr.group("type"), comment)
                if "PK" in keys:
                    spec.primary_key, spec.nullable, spec.unique = True, False, False
                if "UK" in keys:
                    spec.unique = True
                current.fields.append(spec)
    return entities


# --- plan: query patterns, public read, revisions --------------------------------------------------------------------

_QUERY_HEADING = re.compile(r"quer(y|ies)|performance|access\s+patterns?|index(es|ing)?\b|hot\s+paths?", re.IGNORECASE)


def parse_query_patterns(text: str) -> list[QueryPattern]:
    """Fenced ```sql blocks under a heading about queries or performance (and its sub-headings)."""
    lines = _lines(text)
    sections = _sections(text)
    starts = [(s.heading.line, s) for s in sections]
    patterns: list[QueryPattern] = []
    used: dict[str, int] = {}
    for language, content, opening in _fenced_blocks(lines):
        if language not in {"sql", "postgresql", "postgres", "pgsql", "psql"} or not content.strip():
            continue
        section = next((s for start, s in reversed(starts) if start < opening), None)
        chain: list[_Section] = []
        node = section
        while node is not None and node.heading.level > 0:
            chain.append(node)
            node = node.parent
        if not any(_QUERY_HEADING.search(_plain(s.heading.title)) for s in chain):
            continue
        name_text, tags = _strip_tags(chain[0].heading.title)
        base = name_text or " ".join(tags).strip().capitalize() or "query"
        used[base] = used.get(base, 0) + 1
        name = base if used[base] == 1 else f"{base} ({used[base]})"
        patterns.append(QueryPattern(name=name, sql=content.strip()))
    return patterns


_PUBLIC_READ = re.compile(
    r"public(ly)?[- ]?(read|readable|visible)|readable\s+by\s+(anon\w*|anyone|everyone|the\s+public|all|unauthenticated)"
    r"|\banon\w*\s+(users?\s+)?(can|may|could)\s+(read|select|view|see)|\bread\b[^.;\n]{0,30}\banon\b"
    r"|\banon\b[^.;\n]{0,30}\bread\b|\bpublic\s+(catalog(ue)?|list)",
    re.IGNORECASE,
)


def _public_read_tables(entities: list[Entity], data_model_md: str, plan_md: str, tables: list[str]) -> list[str]:
    public: list[str] = []

    def add(table: str) -> None:
        if table not in public:
            public.append(table)

    # Stated inside the entity's own section ("Public read: anon and authenticated may read it").
    for section in _sections(data_model_md):
        name, _ = _strip_tags(section.heading.title)
        entity = next((e for e in entities if name in (e.name, e.table)), None)
        if entity is None:
            continue
        prose = " ".join(line for line in section.body if not line.lstrip().startswith("|"))
        if _PUBLIC_READ.search(prose):
            add(entity.table)
    # An RLS table with an `anon` column: the rows where anon may read.
    for text in (data_model_md, plan_md):
        for table in _anon_readable_rows(_lines(text), tables):
            add(table)
        # A clause that says public read and names a table.
        for clause in _clauses(text):
            if not _PUBLIC_READ.search(clause):
                continue
            for table in tables:
                if re.search(rf"(?<![\w.]){re.escape(table)}(?![\w])", clause):
                    add(table)
    return public


def _anon_readable_rows(lines: list[str], tables: list[str]) -> list[str]:
    found: list[str] = []
    for index, line in enumerate(lines[:-1]):
        if not line.strip().startswith("|") or not re.match(r"^\s*\|?\s*:?-{2,}", lines[index + 1]):
            continue
        header = [_plain(c).lower() for c in _split_row(line)]
        if "anon" not in header:
            continue
        anon = header.index("anon")
        for row_line in lines[index + 2 :]:
            if not row_line.strip().startswith("|"):
                break
            row = _split_row(row_line)
            if anon >= len(row):
                continue
            cell = _plain(row[anon]).lower()
            if re.search(r"\b(read|select|yes|all)\b", cell) and not re.search(r"\b(none|no|deny|denied)\b", cell):
                first = _plain(row[0]).split()[0] if _plain(row[0]) else ""
                if first in tables:
                    found.append(first)
    return found


def _clauses(text: str) -> list[str]:
    """Paragraphs and list items joined into one line each, then cut at sentence ends and semicolons."""
    blocks: list[str] = []
    current: list[str] = []
    for line in _lines(text):
        stripped = line.strip()
        starts_item = bool(re.match(r"^([-*+]|\d+[.)])\s+", stripped)) or stripped.startswith(("#", "|"))
        if not stripped or starts_item:
            if current:
                blocks.append(" ".join(current))
            current = [stripped] if stripped else []
        else:
            current.append(stripped)
    if current:
        blocks.append(" ".join(current))
    clauses: list[str] = []
    for block in blocks:
        clauses.extend(part for part in re.split(r";|\.\s+|\s\|\s", block) if part.strip())
    return clauses


_HEX_REVISION = re.compile(r"(?<![\w-])(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{12}(?![\w-])")
_NAMED_REVISION = re.compile(
    r"\b(?:down_)?revision(?:\s+id)?s?\b\s*[:=]?\s*[`\"'](?P<id>[\w-]{4,64})[`\"']", re.IGNORECASE
)


# Words before an id that make it the revision the feature starts from, not one of its own.
_BASE_CONTEXT = re.compile(
    r"(\bbase\b|on\s+top\s+of|down_revision|\brevises\b|\bparent\b|builds?\s+on|\bafter\b|current\s+head|"
    r"\bhead\s+is\b|\bfrom\s+revision)[^\n]{0,40}$",
    re.IGNORECASE,
)


def _revision_ids(text: str) -> tuple[list[str], list[str]]:
    """(the feature's own ids, its base ids): 12-hex ids anywhere, and any quoted id right after "revision"."""
    hits: list[tuple[int, str]] = [(m.start(), m.group(0)) for m in _HEX_REVISION.finditer(text)]
    hits += [(m.start("id"), m.group("id")) for m in _NAMED_REVISION.finditer(text)]
    own: list[str] = []
    base: list[str] = []
    for start, value in sorted(hits):
        line_start = text.rfind("\n", 0, start) + 1
        if _BASE_CONTEXT.search(text[line_start:start]):
            if value not in base:
                base.append(value)
        elif value not in own:
            own.append(value)
    return [v for v in own if v not in base], base
