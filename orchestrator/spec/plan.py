"""What the plan (and the data model) say beyond the entities: query patterns, tables the public may read,
and the revision ids named as the feature's own or as its base."""

from __future__ import annotations

import re

from orchestrator.spec.markdown import (
    Section,
    fenced_blocks,
    markdown_lines,
    parse_sections,
    plain_text,
    split_row,
    strip_tags,
)
from orchestrator.spec.models import Entity, QueryPattern

_QUERY_HEADING = re.compile(r"quer(y|ies)|performance|access\s+patterns?|index(es|ing)?\b|hot\s+paths?", re.IGNORECASE)


def parse_query_patterns(text: str) -> list[QueryPattern]:
    """Fenced ```sql blocks under a heading about queries or performance (and its sub-headings)."""
    lines = markdown_lines(text)
    sections = parse_sections(text)
    starts = [(s.heading.line, s) for s in sections]
    patterns: list[QueryPattern] = []
    used: dict[str, int] = {}
    for language, content, opening in fenced_blocks(lines):
        if language not in {"sql", "postgresql", "postgres", "pgsql", "psql"} or not content.strip():
            continue
        section = next((s for start, s in reversed(starts) if start < opening), None)
        chain: list[Section] = []
        node = section
        while node is not None and node.heading.level > 0:
            chain.append(node)
            node = node.parent
        if not any(_QUERY_HEADING.search(plain_text(s.heading.title)) for s in chain):
            continue
        name_text, tags = strip_tags(chain[0].heading.title)
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


def public_read_tables(entities: list[Entity], data_model_md: str, plan_md: str, tables: list[str]) -> list[str]:
    public: list[str] = []

    def add(table: str) -> None:
        if table not in public:
            public.append(table)

    # Stated inside the entity's own section ("Public read: anon and authenticated may read it").
    for section in parse_sections(data_model_md):
        name, _ = strip_tags(section.heading.title)
        entity = next((e for e in entities if name in (e.name, e.table)), None)
        if entity is None:
            continue
        prose = " ".join(line for line in section.body if not line.lstrip().startswith("|"))
        if _PUBLIC_READ.search(prose):
            add(entity.table)
    # An RLS table with an `anon` column: the rows where anon may read.
    for text in (data_model_md, plan_md):
        for table in _anon_readable_rows(markdown_lines(text), tables):
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
        header = [plain_text(c).lower() for c in split_row(line)]
        if "anon" not in header:
            continue
        anon = header.index("anon")
        for row_line in lines[index + 2 :]:
            if not row_line.strip().startswith("|"):
                break
            row = split_row(row_line)
            if anon >= len(row):
                continue
            cell = plain_text(row[anon]).lower()
            if re.search(r"\b(read|select|yes|all)\b", cell) and not re.search(r"\b(none|no|deny|denied)\b", cell):
                first = plain_text(row[0]).split()[0] if plain_text(row[0]) else ""
                if first in tables:
                    found.append(first)
    return found


def _clauses(text: str) -> list[str]:
    """Paragraphs and list items joined into one line each, then cut at sentence ends and semicolons."""
    blocks: list[str] = []
    current: list[str] = []
    for line in markdown_lines(text):
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


def revision_ids(text: str) -> tuple[list[str], list[str]]:
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
