"""The environment that code from a target repo (its env.py, revisions, tests) runs with: none of our secrets,
the repo importable, plus what the caller adds (verify/alembic_env.py: the scratch database's settings)."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

try:
    import resource
except ImportError:  # Windows
    resource = None  # type: ignore[assignment]

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


# The memory limit (MiB) of a command of the target repo: the runner (process.py, the zygote's child) applies it
# as RLIMIT_AS where the platform has one; 0 or absent: none.
MEMORY_LIMIT_ENV = "DELEGATE_MEMORY_LIMIT_MB"


def memory_limit_preexec(env: dict[str, str]) -> Callable[[], None] | None:
    """What the child runs before the command: cap its address space at env[MEMORY_LIMIT_ENV] MiB, soft and hard
    (so the repo's code cannot raise it again). Everything is resolved here, in the parent: between fork and exec
    the child only makes the one system call (no import, no lock another thread could hold). None without the
    resource module (Windows), without RLIMIT_AS, or without a limit in `env`."""
    raw = env.get(MEMORY_LIMIT_ENV, "")
    if resource is None or not raw.isdigit() or int(raw) <= 0:
        return None
    rlimit = getattr(resource, "RLIMIT_AS", None)
    if rlimit is None:
        return None
    limit = int(raw) * 1024 * 1024
    _, hard = resource.getrlimit(rlimit)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    return functools.partial(resource.setrlimit, rlimit, (limit, limit))
