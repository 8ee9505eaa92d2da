"""Markdown structure: headings and their sections (fences respected, HTML comments dropped), fenced blocks,
plain text without emphasis, table rows, and a heading's name without its template markers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from orchestrator.spec.models import FieldSpec


@dataclass
class Heading:
    level: int
    title: str
    line: int  # index of the heading line


@dataclass
class Section:
    heading: Heading
    body: list[str]  # lines up to the next heading of any level (fenced blocks included)
    parent: Section | None = None
    fields: list[FieldSpec] = field(default_factory=list)


_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```+|~~~+)\s*([\w+-]*)")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def markdown_lines(text: str) -> list[str]:
    # HTML comments hold template instructions, never content.
    return _COMMENT.sub("", text).splitlines()


def headings(text: str) -> list[Heading]:
    return [h for h, _ in _sections_raw(markdown_lines(text))]


def _sections_raw(lines: list[str]) -> list[tuple[Heading, list[str]]]:
    out: list[tuple[Heading, list[str]]] = []
    current: tuple[Heading, list[str]] = (Heading(0, "", -1), [])
    fence: str | None = None
    for index, line in enumerate(lines):
        fence_match = FENCE.match(line)
        if fence_match:
            marker = fence_match.group(1)[:3]
            fence = marker if fence is None else (None if line.strip().startswith(fence) else fence)
        elif fence is None:
            heading = _HEADING.match(line)
            if heading:
                out.append(current)
                current = (Heading(len(heading.group(1)), heading.group(2), index), [])
                continue
        current[1].append(line)
    out.append(current)
    return out


def parse_sections(text: str) -> list[Section]:
    sections: list[Section] = []
    stack: list[Section] = []
    for heading, body in _sections_raw(markdown_lines(text)):
        while stack and stack[-1].heading.level >= heading.level and heading.level > 0:
            stack.pop()
        section = Section(heading=heading, body=body, parent=stack[-1] if stack else None)
        sections.append(section)
        if heading.level > 0:
            stack.append(section)
    return sections


def plain_text(text: str) -> str:
    """Markdown emphasis and code marks removed (underscores inside identifiers stay)."""
    text = text.replace("`", "")
    text = re.sub(r"\*\*(.+?)\*\*", r"\1", text)
    text = re.sub(r"(?<!\w)__(?!\s)(.+?)(?<!\s)__(?!\w)", r"\1", text)
    text = re.sub(r"(?<![\w*])\*(?![\s*])(.+?)(?<![\s*])\*(?![\w*])", r"\1", text)
    text = re.sub(r"(?<!\w)_(?![\s_])(.+?)(?<![\s_])_(?!\w)", r"\1", text)
    return text.strip()


def fenced_blocks(lines: list[str]) -> list[tuple[str, str, int]]:
    """(language, content, index of the opening line) of each fenced block."""
    blocks: list[tuple[str, str, int]] = []
    opening: tuple[str, str, int] | None = None
    content: list[str] = []
    for index, line in enumerate(lines):
        match = FENCE.match(line)
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


def strip_tags(title: str) -> tuple[str, list[str]]:
    """A heading's name without its markers ("[ENTITY: X]", "[NEW]", "(existing)", "Entity:"), and those markers."""
    # "Bookings `flight_bookings`": the code is the table, the words are the name.
    without_code = re.sub(r"`[^`]*`", " ", title)
    if "`" in title and re.search(r"\w", re.sub(r"\[[^\]]*\]|\([^)]*\)", "", without_code)):
        title = without_code
    text = plain_text(title)
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


def split_row(line: str) -> list[str]:
    cells = re.split(r"(?<!\\)\|", line.strip().strip("|"))
    return [c.strip() for c in cells]
