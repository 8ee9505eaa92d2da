"""Render revision files' upgrade() and downgrade() as Alembic's offline mode would emit them; write JSON.

Runs as a script in the target repo's interpreter (which has alembic but not delegate), started by offline.py
through the runner. It loads each revision module from its file, calls upgrade()/downgrade() under Operations
bound to an offline MigrationContext, and records each emitted statement with the line of the revision file's
frame that emitted it. No database, no network.
Usage: python _offline_driver.py REQUEST.json RESULT.json
  request: {"files": [absolute paths], "sys_path": [folders to put first on sys.path]}
  result:  [{"file", "upgrade": [{"sql", "line", "marker"}], "downgrade": [...], "errors": [{"direction", "line",
            "error"}]}]
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterable
from typing import Any

# Run as a script, our own folder comes first on sys.path: drop it, so that a target module named like one of
# ours (model, rules, engine) is the target's.
if sys.path and os.path.realpath(sys.path[0]) == os.path.dirname(os.path.realpath(__file__)):
    sys.path.pop(0)


def offline_context() -> Any:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(
        dialect_name="postgresql", opts={"as_sql": True, "output_buffer": io.StringIO(), "literal_binds": True}
    )


def install_environment() -> Any:
    """`from alembic import context` in a revision (context.is_offline_mode(), context.get_context()) reaches
    env.py's EnvironmentContext, which this driver stands in for: offline mode, with the migration context of
    the moment. None when this Alembic has no such proxy."""
    try:
        from alembic.config import Config
        from alembic.runtime.environment import EnvironmentContext

        environment = EnvironmentContext(Config(), None, as_sql=True)  # type: ignore[arg-type]
        environment._install_proxy()
    except Exception:
        return None
    return environment


def line_in(path: str, frames: Iterable[tuple[str, int | None]]) -> int | None:
    line = None
    for filename, lineno in frames:
        if os.path.realpath(filename) == path:
            line = lineno
    return line


def error_of(exc: BaseException, direction: str | None, path: str) -> dict[str, Any]:
    frames = [(f.filename, f.lineno) for f in traceback.extract_tb(exc.__traceback__)]
    return {"direction": direction, "line": line_in(path, frames), "error": f"{type(exc).__name__}: {exc}"}


def render_direction(function: Callable[[], Any], path: str, environment: Any) -> tuple[list[dict[str, Any]], Any]:
    """The statements one upgrade() or downgrade() emits, and the exception that stopped it (or None)."""
    from alembic.operations import Operations

    events: list[dict[str, Any]] = []
    context = offline_context()
    if environment is not None:
        environment._migration_context = context
    impl = context.impl
    marker: list[str | None] = [None]

    def static_output(text: str) -> None:
        frame: Any = sys._getframe(1)
        line = None
        while frame is not None:
            if os.path.realpath(frame.f_code.co_filename) == path:
                line = frame.f_lineno
                break
            frame = frame.f_back
        events.append({"sql": text, "line": line, "marker": marker[0]})

    def wrap(name: str, method: Callable[[], Any]) -> Callable[[], None]:
        def wrapped() -> None:
            marker[0] = name
            try:
                method()
            finally:
                marker[0] = None

        return wrapped

    impl.static_output = static_output
    impl.emit_begin = wrap("begin", impl.emit_begin)
    impl.emit_commit = wrap("commit", impl.emit_commit)
    try:
        with Operations.context(context):
            function()
    except BaseException as exc:
        return events, exc
    return events, None


def render_file(index: int, path: str, environment: Any) -> dict[str, Any]:
    path = os.path.realpath(path)
    result: dict[str, Any] = {"file": path, "upgrade": [], "downgrade": [], "errors": []}
    try:
        spec = importlib.util.spec_from_file_location(f"_delegate_revision_{index}", path)
        assert spec is not None and spec.loader is not None, f"cannot load {path}"
        module = importlib.util.module_from_spec(spec)
        if environment is not None:
            environment._migration_context = offline_context()
        spec.loader.exec_module(module)
    except BaseException as exc:
        result["errors"].append(error_of(exc, None, path))
        return result
    for direction in ("upgrade", "downgrade"):
        function = getattr(module, direction, None)
        if not callable(function):
            continue
        events, failure = render_direction(function, path, environment)
        result[direction] = events
        if failure is not None:
            result["errors"].append(error_of(failure, direction, path))
    return result


def main(request_path: str, result_path: str) -> None:
    with open(request_path, encoding="utf-8") as handle:
        request = json.load(handle)
    sys.path[:0] = request["sys_path"]
    import alembic.operations  # noqa: F401 - no alembic here fails the whole run (RenderFailed), not each file
    import alembic.runtime.migration  # noqa: F401

    environment = install_environment()
    results = [render_file(index, path, environment) for index, path in enumerate(request["files"])]
    with open(result_path, "w", encoding="utf-8") as handle:
        json.dump(results, handle)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
