"""The environment that code from a target repo (its env.py, revisions, tests) runs with: none of our secrets."""

from __future__ import annotations

import os
import re

# Names that hold credentials of the tool's own environment; a target repo's code never sees them.
_SECRET_NAME = re.compile(
    r"(API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE_KEY|AUTH|SESSION|COOKIE)", re.IGNORECASE
)
_ALWAYS_DROP = {"DATABASE_URL", "PGPASSWORD", "PGPASSFILE", "PGSERVICEFILE", "ANTHROPIC_BASE_URL"}


def clean_env(extra: dict[str, str] | None = None, base: dict[str, str] | None = None) -> dict[str, str]:
    """A copy of `base` (default os.environ) without secrets or database settings, plus `extra`."""
    source = dict(os.environ if base is None else base)
    env = {k: v for k, v in source.items() if k not in _ALWAYS_DROP and not _SECRET_NAME.search(k)}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra or {})
    return env
