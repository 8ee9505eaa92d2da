"""Data-model dialects, mermaid: the entities of an ```mermaid erDiagram block."""

from __future__ import annotations

import re

from orchestrator.spec.fields import read_field
from orchestrator.spec.markdown import fenced_blocks, markdown_lines
from orchestrator.spec.models import Entity
from orchestrator.spec.names import EXISTING_WORDS, table_name_for

_ER_ENTITY = re.compile(r'^\s*(?P<name>[\w-]+|"[^"]+")\s*(?:\[[^\]]*\])?\s*\{\s*$')
_ER_ATTRIBUTE = re.compile(
    r"^\s*(?P<type>[\w()\[\],.-]+)\s+(?P<name>[\w-]+)(?P<keys>(?:\s+(?:PK|FK|UK)(?:\s*,\s*(?:PK|FK|UK))*)?)"
    r'(?:\s+"(?P<comment>[^"]*)")?\s*$'
)


def er_entities(text: str) -> list[Entity]:
    entities: list[Entity] = []
    lines = markdown_lines(text)
    for language, content, _ in fenced_blocks(lines):
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
                    existing = any(raw in c and EXISTING_WORDS.search(c) for c in comments)
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
                spec = read_field(attr.group("name"), attr.group("type"), comment)
                if "PK" in keys:
                    spec.primary_key, spec.nullable, spec.unique = True, False, False
                if "UK" in keys:
                    spec.unique = True
                current.fields.append(spec)
    return entities
