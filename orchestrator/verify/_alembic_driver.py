"""Run Alembic's command line in the target repo's Python, writing one JSON line per revision step it starts and ends.

Runs as a script in the repo's interpreter (which has alembic but not delegate): imports only the standard
library and alembic. Usage: python _alembic_driver.py EVENTS_FILE <alembic arguments...>
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

# Our own folder comes first on sys.path when run as a script: the guard is imported from it, then it is dropped,
# so that a target module named like ours wins.
import _scratch_guard  # type: ignore[import-not-found]

if sys.path and sys.path[0].endswith("verify"):
    sys.path.pop(0)


def _install(events_path: str) -> None:
    from alembic.runtime import migration

    events = open(events_path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for the process's life

    def emit(**record: Any) -> None:
        events.write(json.dumps(record) + "\n")
        events.flush()  # a step that hangs is killed: what was written must already be on disk

    original_init = migration.MigrationContext.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        start = getattr(self, "_start_from_rev", None)
        if isinstance(start, str) and "," in start:  # `upgrade A,B:C --sql`: several heads to start from
            self._start_from_rev = [part.strip() for part in start.split(",") if part.strip()]
        steps_fn: Callable[..., Iterable[Any]] | None = self._migrations_fn
        if steps_fn is None:
            return

        def timed(heads: Any, ctx: Any) -> Iterator[Any]:
            for step in steps_fn(heads, ctx):
                revision = getattr(getattr(step, "revision", None), "revision", None)
                direction = "upgrade" if getattr(step, "is_upgrade", True) else "downgrade"
                emit(event="start", revision=revision, direction=direction)
                started = time.perf_counter()
                yield step  # Alembic runs the step (and commits it) before asking for the next one
                ms = (time.perf_counter() - started) * 1000
                emit(event="end", revision=revision, direction=direction, ms=ms)

        self._migrations_fn = timed

    migration.MigrationContext.__init__ = init  # type: ignore[method-assign]


def main() -> None:
    _scratch_guard.install()
    _install(sys.argv[1])
    from alembic.config import main as alembic_main

    alembic_main(argv=sys.argv[2:], prog="alembic")


if __name__ == "__main__":
    main()
