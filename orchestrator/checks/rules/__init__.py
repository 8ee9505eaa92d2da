"""The rule catalogue (shared/rules.md) as code: every rule's id, docs, examples and check."""

from __future__ import annotations

import importlib
import inspect
from functools import cache

from orchestrator.checks.model import Rule

# One module per rule, or per family where the rules are tiny; each module's Rule subclasses are collected.
_MODULES = (
    "adding_required_field",
    "alembic",
    "changing_column_type",
    "concurrent_index_in_transaction",
    "constraint_missing_not_valid",
    "content",
    "data_model_drift",
    "deliverable_missing",
    "drop_column",
    "drop_table",
    "live",
    "pii_undocumented",
    "prefer",
    "rename",
    "require_concurrent_index",
    "require_lock_timeout",
    "rls",
    "secret_in_migration",
    "seeds",
    "set_not_null",
    "unbounded_dml",
    "unique_constraint_existing_table",
    "volatile_default",
)


@cache
def _catalogue() -> dict[str, Rule]:
    rules: dict[str, Rule] = {}
    for name in _MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Rule) and cls.__module__ == module.__name__ and "id" in cls.__dict__:
                if cls.id in rules:
                    raise RuntimeError(f"rule id {cls.id!r} is defined twice ({module.__name__})")
                rules[cls.id] = cls()
    return dict(sorted(rules.items()))


def all_rules() -> list[Rule]:
    """Every rule of the catalogue, one instance each, sorted by id."""
    return list(_catalogue().values())


def get_rule(rule_id: str) -> Rule:
    try:
        return _catalogue()[rule_id]
    except KeyError:
        raise LookupError(f"unknown rule {rule_id!r}; `delegate rules` lists them") from None
