"""The SQL that op.* calls render in Alembic's offline mode, from one subprocess for every revision file of a run."""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator import __version__
from orchestrator.runner.env import MEMORY_LIMIT_ENV, clean_env
from orchestrator.runner.process import StartedProcess

DRIVER = Path(__file__).with_name("_offline_driver.py")


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

    def __init__(
        self, files: list[Path], sys_path: list[Path], python: str | None, timeout: float, memory_limit_mb: int = 0
    ) -> None:
        self.timeout = timeout
        self.python = python or sys.executable
        request = {"files": [str(f.resolve()) for f in files], "sys_path": [str(p) for p in sys_path]}
        self._tmp = tempfile.TemporaryDirectory(prefix="delegate-render-")
        folder = Path(self._tmp.name)
        (folder / "request.json").write_text(json.dumps(request), encoding="utf-8")
        self._result_path = folder / "result.json"
        try:
            # cwd: the target's code must not find or write files next to us
            self._proc = StartedProcess(
                [self.python, str(DRIVER), str(folder / "request.json"), str(self._result_path)],
                env=clean_env({MEMORY_LIMIT_ENV: str(memory_limit_mb)} if memory_limit_mb > 0 else None),
                cwd=folder,
            )
        except OSError as exc:
            self._tmp.cleanup()
            raise RenderFailed(f"cannot start {self.python}: {exc}") from None

    def cancel(self) -> None:
        self._proc.kill()
        self._tmp.cleanup()

    def result(self) -> dict[Path, RenderedRevision]:
        """Wait for the subprocess; every file's rendering keyed by its resolved path."""
        try:
            outcome = self._proc.wait(self.timeout)
            if outcome.timed_out:
                raise RenderFailed(f"rendering took longer than {self.timeout:.0f} s")
            if outcome.returncode != 0:
                last = (outcome.stderr.strip().splitlines() or ["no output"])[-1]
                if last.startswith("MemoryError"):
                    last += " (stopped by the memory limit: set memory_limit_mb in [tool.delegate] to allow more)"
                raise RenderFailed(f"the rendering process failed: {last}")
            try:
                data = json.loads(self._result_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                raise RenderFailed("the rendering process printed no result") from None
        finally:
            self._tmp.cleanup()
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
