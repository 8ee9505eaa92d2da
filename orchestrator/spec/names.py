"""Table names: identifiers, `schema.table`, the words that mark a table as existing, and the table an
entity's name stands for."""

from __future__ import annotations

import re

EXISTING_WORDS = re.compile(
    r"\b(existing|modified|modifies|modify|changes? to|extends?|extended|alter(s|ed)?|updated?s? to)\b", re.IGNORECASE
)


IDENT = r"[A-Za-z_][A-Za-z0-9_$]*"
QUALIFIED = re.compile(rf"^(?:(?P<schema>{IDENT})\.)?(?P<table>{IDENT})$")


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
