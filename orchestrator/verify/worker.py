"""A long-lived Alembic process: JSON commands on stdin, one JSON answer per command on stdout.

Runs as a script in the target repo's interpreter (which has alembic but not delegate), so it imports only the
standard library, alembic and SQLAlchemy. Usage: python worker.py ALEMBIC_INI

Command: {"op": "upgrade" | "downgrade" | "stamp" | "ping", "url": libpq URL, "sqlalchemy_url": ..., "target": rev,
          "env": the variables naming the command's database (DATABASE_URL, PG*, ...), set while it runs}
Answer:  {"ok": bool, "ms": float, "error": str, "where": [file, line] | null, "revision": the step that failed,
          "steps": [{"revision", "direction", "ms"}], "log": what env.py and the revisions printed or logged}

The revision files are loaded once (one ScriptDirectory for the process's life), which is where the speed comes
from; env.py is run for every command, as `alembic upgrade` would, and every engine it made is disposed after it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import sysconfig
import time
import traceback
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any

# Our own folder comes first on sys.path when run as a script: the guard is imported from it, then it is dropped,
# so that a target module named like ours wins.
import _scratch_guard  # type: ignore[import-not-found]

if sys.path and sys.path[0].endswith("verify"):
    sys.path.pop(0)

_STDLIB = sysconfig.get_paths()["stdlib"].replace("\\", "/") + "/"
_SELF = os.path.abspath(__file__).replace("\\", "/")
LOG_LIMIT = 8000  # characters of env.py / revision output kept per answer (the tail)


class _Capture(io.TextIOBase):
    """Collects what a command prints or logs; stands in for sys.stdout and sys.stderr during the command."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.parts.append(text)
        self.size += len(text)
        if self.size > 4 * LOG_LIMIT:  # keep memory bounded for chatty revisions: only the tail is sent
            joined = "".join(self.parts)[-LOG_LIMIT:]
            self.parts, self.size = [joined], len(joined)
        return len(text)

    def text(self) -> str:
        return "".join(self.parts)[-LOG_LIMIT:]


class Worker:
    """Runs Alembic commands against any database URL, keeping the revision files loaded between commands."""

    def __init__(self, ini: str) -> None:
        from alembic.config import Config
        from alembic.script import ScriptDirectory
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        self.ini = ini
        self._config_class = Config
        self.engines: weakref.WeakSet[Any] = weakref.WeakSet()
        # Every engine env.py creates is remembered, so its pooled connections can be closed after the command:
        # a connection left open would block cloning or dropping the database.
        event.listen(Engine, "engine_connect", lambda conn, *args: self.engines.add(conn.engine))
        self.script: Any = None
        self.load_error: str | None = None
        self.load_where: list[Any] | None = None
        try:
            script = ScriptDirectory.from_config(Config(ini))
            script.revision_map.heads  # noqa: B018 - loads (and so checks) every revision file now, once
            self.script = script
        except Exception as exc:  # noqa: BLE001 - reported with every command; the walk says what broke
            self.load_error = _describe(exc)
            self.load_where = _where(exc)

    def run(self, command: dict[str, Any]) -> dict[str, Any]:
        op = command.get("op")
        if op == "ping":
            return {"ok": True, "ms": 0.0, "pid": os.getpid()}
        if self.script is None:
            return {"ok": False, "ms": 0.0, "error": self.load_error, "where": self.load_where, "steps": []}
        target = str(command.get("target") or "")
        url = str(command.get("url") or "")
        steps: list[dict[str, Any]] = []
        capture = _Capture()
        started = time.perf_counter()
        answer: dict[str, Any] = {"ok": True}
        saved = sys.stdout, sys.stderr
        # The command's database in every variable env.py may read it from (DATABASE_URL, PG*, ...).
        variables = {str(k): str(v) for k, v in (command.get("env") or {"DATABASE_URL": url}).items()}
        before = {name: os.environ.get(name) for name in variables}
        sys.stdout = sys.stderr = capture
        os.environ.update(variables)
        try:
            self._run(op, target, str(command.get("sqlalchemy_url") or url), steps)
        except BaseException as exc:  # noqa: BLE001 - env.py may even sys.exit(); the answer carries it
            if isinstance(exc, KeyboardInterrupt):
                raise
            answer = {"ok": False, "error": _describe(exc), "where": _where(exc)}
            running = [s for s in steps if "ms" not in s]
            if running:
                answer["revision"] = running[-1]["revision"]
        finally:
            sys.stdout, sys.stderr = saved
            for name, value in before.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            self._dispose()
        answer["ms"] = (time.perf_counter() - started) * 1000
        answer["steps"] = steps
        answer["log"] = capture.text()
        return answer

    def _run(self, op: Any, target: str, sqlalchemy_url: str, steps: list[dict[str, Any]]) -> None:
        from alembic.runtime.environment import EnvironmentContext

        script = self.script
        config = self._config_class(self.ini)  # fresh per command: env.py may keep things in config.attributes
        config.set_main_option("sqlalchemy.url", sqlalchemy_url.replace("%", "%%"))
        destination: Any = target
        make: Callable[[Any, Any], Iterable[Any]]
        if op == "upgrade":

            def make(heads: Any, ctx: Any) -> Iterable[Any]:
                return script._upgrade_revs(target, heads)  # what alembic.command.upgrade runs
        elif op == "downgrade":

            def make(heads: Any, ctx: Any) -> Iterable[Any]:
                return script._downgrade_revs(target, heads)
        elif op == "stamp":
            destination = tuple(t for t in target.split(",") if t)

            def make(heads: Any, ctx: Any) -> Iterable[Any]:
                return script._stamp_revs(destination, heads)
        else:
            raise ValueError(f"unknown op {op!r}")

        def timed(heads: Any, ctx: Any) -> Iterator[Any]:
            for step in make(heads, ctx):
                record: dict[str, Any] = {
                    "revision": getattr(getattr(step, "revision", None), "revision", None),
                    "direction": "upgrade" if getattr(step, "is_upgrade", True) else "downgrade",
                }
                steps.append(record)
                begun = time.perf_counter()
                yield step  # Alembic runs the step before asking for the next one
                record["ms"] = (time.perf_counter() - begun) * 1000

        with EnvironmentContext(config, script, fn=timed, as_sql=False, starting_rev=None, destination_rev=destination):
            script.run_env()

    def _dispose(self) -> None:
        for engine in list(self.engines):
            # A broken engine holds nothing worth closing.
            with contextlib.suppress(Exception):
                engine.dispose()
        self.engines = weakref.WeakSet()


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    name = type(exc).__name__
    if isinstance(exc, SystemExit):
        return f"SystemExit({exc.code!r}) raised"
    # SQLAlchemy wraps driver errors and appends a link to its docs; the first lines say what PostgreSQL said.
    lines = [line for line in text.splitlines() if not line.startswith("(Background on this error")]
    return f"{name}: {chr(10).join(lines[:6])}" if lines else name


def _where(exc: BaseException) -> list[Any] | None:
    """The deepest traceback frame outside alembic and SQLAlchemy (a revision file or env.py)."""
    found: list[Any] | None = None
    for frame in traceback.extract_tb(exc.__traceback__):
        path = frame.filename.replace("\\", "/")
        if any(part in path for part in ("/alembic/runtime/", "/alembic/script/", "/alembic/operations/")):
            continue
        if path.startswith("<") or path.startswith(_STDLIB) or "/site-packages/" in path or "/dist-packages/" in path:
            continue
        if path == _SELF:
            continue
        found = [frame.filename, frame.lineno]
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: worker.py ALEMBIC_INI", file=sys.stderr)
        return 2
    # The protocol owns the real stdout; anything else that writes to fd 1 (print, C code) lands on stderr.
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    _scratch_guard.install()
    worker = Worker(argv[1])
    protocol.write(json.dumps({"ok": True, "ready": True, "pid": os.getpid(), "load_error": worker.load_error}) + "\n")
    protocol.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            command = json.loads(line)
        except ValueError as exc:
            answer: dict[str, Any] = {"ok": False, "ms": 0.0, "error": f"bad command: {exc}", "steps": []}
        else:
            if command.get("op") == "exit":
                break
            answer = worker.run(command)
        protocol.write(json.dumps(answer, default=str) + "\n")
        protocol.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
