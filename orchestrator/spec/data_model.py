"""The entities of a data-model.md: sections that name an entity, with the fields their dialect states
(fields.py: Markdown tables and backtick bullets; mermaid.py: erDiagram; sql_blocks.py: ```sql DDL)."""

from __future__ import annotations

import re

from orchestrator.spec.fields import fields_in
from orchestrator.spec.markdown import Section, parse_sections, strip_tags
from orchestrator.spec.mermaid import er_entities
from orchestrator.spec.models import Entity, FieldSpec
from orchestrator.spec.names import EXISTING_WORDS, QUALIFIED, table_name_for
from orchestrator.spec.sql_blocks import sql_entities

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


_NEW_WORD = re.compile(r"\bnew\b", re.IGNORECASE)
_TABLE_LINE = re.compile(
    r"^\s*(?:[-*+]\s+)?(?:\*\*|__)?table(?:\s+name)?(?:\*\*|__)?\s*(?:\*\*|__)?:(?:\*\*|__)?\s*(?P<rest>.+)$",
    re.IGNORECASE,
)


def parse_data_model(text: str) -> list[Entity]:
    """The entities of a data-model.md: Markdown tables, backtick bullets, or a mermaid erDiagram."""
    entities: list[Entity] = []
    sections = parse_sections(text)
    for section in sections:
        section.fields = fields_in(section.body)
    owners: dict[int, list[FieldSpec]] = {}
    for section in sections:
        if not section.fields:
            continue
        owner = section
        title = strip_tags(section.heading.title)[0]
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
    for entity in [*er_entities(text), *sql_entities(text)]:
        if entity.qualified_table not in known:
            entities.append(entity)
            known.add(entity.qualified_table)
    return entities


def _entity_from_section(section: Section, fields: list[FieldSpec]) -> Entity | None:
    name, tags = strip_tags(section.heading.title)
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
            qualified = QUALIFIED.match(candidate.strip())
            if qualified:
                table = qualified.group("table")
                schema = qualified.group("schema") or "public"
            marks += " " + rest
            break
    if table is None:
        code = re.search(r"`([^`]+)`", section.heading.title)
        qualified = QUALIFIED.match(code.group(1).strip()) if code else None
        if qualified:
            table, schema = qualified.group("table"), qualified.group("schema") or "public"
        elif QUALIFIED.match(name.replace(" ", "")) and "." in name:
            schema, _, table = name.partition(".")
        else:
            table = table_name_for(name)
    # "(existing)", "[EXISTING]", "Changes to `lessons`", "Table: `lessons` (existing)": only the listed fields are new.
    existing = bool(EXISTING_WORDS.search(marks)) and not _NEW_WORD.search(" ".join(tags))
    if not existing and EXISTING_WORDS.search(name):
        existing = True
        name = EXISTING_WORDS.sub("", name).strip(" :-")
    if not existing and section.parent is not None:
        parent_name = strip_tags(section.parent.heading.title)[0]
        existing = bool(re.match(r"^(changes to existing|existing|modified)\b", parent_name, re.IGNORECASE))
    return Entity(name=name, table=table.lower(), schema=schema.lower(), existing=existing, fields=fields)
