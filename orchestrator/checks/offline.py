"""The SQL that op.* calls render in Alembic's offline mode, from one subprocess for every revision file of a run."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator import __version__
from orchestrator.sandbox import clean_env

# Runs in the target repo's Python: loads each revision module from its file, calls upgrade()/downgrade() under
# Operations bound to an offline MigrationContext, and records each emitted statement with the line of the
# revision file's frame that emitted it. No database, no network; it prints one JSON document.
RUNNER = r"""
import importlib.util, io, json, os, sys, traceback

request = json.load(sys.stdin)
result_stream, sys.stdout = sys.stdout, sys.stderr  # a revision that prints must not corrupt the result
sys.path[:0] = request["sys_path"]
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext

def offline_context():
    return MigrationContext.configure(
        dialect_name="postgresql", opts={"as_sql": True, "output_buffer": io.StringIO(), "literal_binds": True}
    )

# `from alembic import context` in a revision (context.is_offline_mode(), context.get_context()) reaches env.py's
# EnvironmentContext, which this runner stands in for: offline mode, with the migration context of the moment.
environment = None
try:
    from alembic.config import Config
    from alembic.runtime.environment import EnvironmentContext

    environment = EnvironmentContext(Config(), None, as_sql=True)
    environment._install_proxy()
except Exception:
    environment = None

def use_context(context):
    if environment is not None:
        environment._migration_context = context

def line_in(path, tb_or_frame_list):
    line = None
    for filename, lineno in tb_or_frame_list:
        if os.path.realpath(filename) == path:
            line = lineno
    return line

results = []
for index, path in enumerate(request["files"]):
    path = os.path.realpath(path)
    result = {"file": path, "upgrade": [], "downgrade": [], "errors": []}
    results.append(result)
    try:
        spec = importlib.util.spec_from_file_location(f"_delegate_revision_{index}", path)
        module = importlib.util.module_from_spec(spec)
        use_context(offline_context())
        spec.loader.exec_module(module)
    except BaseException as exc:
        frames = [(f.filename, f.lineno) for f in traceback.extract_tb(exc.__traceback__)]
        result["errors"].append({"direction": None, "line": line_in(path, frames), "error": f"{type(exc).__name__}: {exc}"})
        continue
    for direction in ("upgrade", "downgrade"):
        function = getattr(module, direction, None)
        if not callable(function):
            continue
        events = result[direction]
        context = offline_context()
        use_context(context)
        impl = context.impl
        marker = [None]

        def static_output(text, events=events, marker=marker):
            frame, line = sys._getframe(1), None
            while frame is not None:
                if os.path.realpath(frame.f_code.co_filename) == path:
                    line = frame.f_lineno
                    break
                frame = frame.f_back
            events.append({"sql": text, "line": line, "marker": marker[0]})

        def wrap(name, method):
            def wrapped():
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
            frames = [(f.filename, f.lineno) for f in traceback.extract_tb(exc.__traceback__)]
            result["errors"].append(
                {"direction": direction, "line": line_in(path, frames), "error": f"{type(exc).__name__}: {exc}"}
            )
json.dump(results, result_stream)
"""


@dataclass
class RenderedStatement:
    sql: str
    line: int | None  # the line of the revision file's frame that emitted it
    marker: str | None  # "begin"/"commit" when Alembic's autocommit_block() emitted it, else None


@dataclass
class RenderedRevision:
    upgrade: list[RenderedStatement] = field(default_factory=list)
    downgrade: list[RenderedStatement] = field(default_factory=list)
    errors: list[tuple[str | None, int | None, str]] = field(default_factory=list)  # (direction, line, error)


# Renderings of this process, by (file content, env.py's content, interpreter, delegate's version): an agent's
# repeated checks of one workspace, and a test suite's many small repos, re-render only what changed. Only
# renderings without errors are kept (an error may come from the environment, e.g. a missing import path); a
# revision is assumed not to render differently while its own text and its env.py are unchanged.
_CACHE: dict[tuple[str, str, str, str], RenderedRevision] = {}


def _cache_key(path: Path, python: str | None, env_py: Path | None) -> tuple[str, str, str, str] | None:
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
    try:
        env = hashlib.sha256(env_py.read_bytes()).hexdigest() if env_py is not None else ""
    except OSError:
        env = ""
    return digest, env, python or sys.executable, __version__


def cached_rendering(path: Path, python: str | None, env_py: Path | None = None) -> RenderedRevision | None:
    key = _cache_key(path, python, env_py)
    return _CACHE.get(key) if key is not None else None


def remember_rendering(path: Path, python: str | None, rendered: RenderedRevision, env_py: Path | None = None) -> None:
    key = _cache_key(path, python, env_py)
    if key is not None and not rendered.errors:
        _CACHE[key] = rendered


def clear_render_cache() -> None:
    _CACHE.clear()


class RenderFailed(Exception):
    """The rendering subprocess itself failed (no alembic in the target Python, a timeout, a crash)."""


class RenderJob:
    """The rendering subprocess, started early so that it runs while the parent parses the SQL files."""

    def __init__(self, files: list[Path], sys_path: list[Path], python: str | None, timeout: float) -> None:
        self.timeout = timeout
        self.python = python or sys.executable
        request = {"files": [str(f.resolve()) for f in files], "sys_path": [str(p) for p in sys_path]}
        self._tmp = tempfile.TemporaryDirectory(prefix="delegate-render-")
        try:
            self._proc = subprocess.Popen(
                [self.python, "-c", RUNNER],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=self._tmp.name,  # the target's code must not find or write files next to us
                env=clean_env(),
            )
        except OSError as exc:
            self._tmp.cleanup()
            raise RenderFailed(f"cannot start {self.python}: {exc}") from None
        self._request = json.dumps(request)

    def cancel(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.communicate()
        self._tmp.cleanup()

    def result(self) -> dict[Path, RenderedRevision]:
        """Wait for the subprocess; every file's rendering keyed by its resolved path."""
        try:
            out, err = self._proc.communicate(self._request, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.communicate()
            raise RenderFailed(f"rendering took longer than {self.timeout:.0f} s") from None
        finally:
            self._tmp.cleanup()
        if self._proc.returncode != 0:
            last = (err.strip().splitlines() or ["no output"])[-1]
            raise RenderFailed(f"the rendering process failed: {last}")
        try:
            data = json.loads(out)
        except ValueError:
            raise RenderFailed("the rendering process printed no result") from None
        rendered: dict[Path, RenderedRevision] = {}
        for item in data:
            rev = RenderedRevision(errors=[(e["direction"], e["line"], e["error"]) for e in item["errors"]])
            for direction in ("upgrade", "downgrade"):
                getattr(rev, direction).extend(
                    RenderedStatement(e["sql"], e["line"], e["marker"]) for e in item[direction]
                )
            rendered[Path(item["file"])] = rev
        return rendered


def render_offline(
    files: list[Path], sys_path: list[Path], python: str | None = None, timeout: float = 60.0
) -> dict[Path, RenderedRevision]:
    """Render every file's upgrade() and downgrade() in one subprocess; keyed by the resolved file path."""
    return RenderJob(files, sys_path, python, timeout).result()
