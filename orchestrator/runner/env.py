"""The environment that code from a target repo (its env.py, revisions, tests) runs with: none of our secrets,
the repo importable, plus what the caller adds (verify/alembic_env.py: the scratch database's settings)."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

# Names that hold credentials of the tool's own environment (ANTHROPIC_API_KEY, GITHUB_TOKEN, AWS_SECRET_ACCESS_KEY,
# AWS_ACCESS_KEY_ID, PGPASSWORD, ...); a target repo's code never sees them.
_SECRET_NAME = re.compile(
    r"(API_?KEY|(^|_)KEYS?(_|$)|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE_KEY|AUTH|SESSION|COOKIE)",
    re.IGNORECASE,
)
_ALWAYS_DROP = {"DATABASE_URL", "PGPASSWORD", "PGPASSFILE", "PGSERVICEFILE", "ANTHROPIC_BASE_URL"}


def clean_env(extra: dict[str, str] | None = None, base: dict[str, str] | None = None) -> dict[str, str]:
    """A copy of `base` (default os.environ) without secrets or database settings, plus `extra`."""
    source = dict(os.environ if base is None else base)
    env = {k: v for k, v in source.items() if k not in _ALWAYS_DROP and not _SECRET_NAME.search(k)}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra or {})
    return env


def repo_env(python_path: Sequence[Path], extra: dict[str, str] | None = None) -> dict[str, str]:
    """What a command of the target repo runs with: clean_env(), its folders on PYTHONPATH, and `extra`."""
    paths: list[str] = []
    for folder in python_path:
        if str(folder) not in paths:
            paths.append(str(folder))
    return clean_env({"PYTHONPATH": ":".join(paths), **(extra or {})})
