"""Renders the Jinja2 templates in prompts/ (StrictUndefined: a value a template names but is not given is an error,
never an empty string in a prompt)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jinja2

from orchestrator.resources import data_dir


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(data_dir("prompts")),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # Markdown for a model, not HTML
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # Jinja's tojson escapes <, >, & and ' for HTML; a prompt wants the JSON as written.
    env.filters["json"] = lambda value: json.dumps(value, ensure_ascii=False, sort_keys=True)
    return env


def render_prompt(name: str, **context: Any) -> str:
    """The template prompts/`name` rendered with `context`."""
    return environment().get_template(name).render(**context)
