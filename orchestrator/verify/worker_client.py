"""The tool's side of the long-lived Alembic worker: start it, send one command at a time, time it out, restart it."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from types import TracebackType

from pydantic import BaseModel, Field

from orchestrator.runner.process import LineServer
from orchestrator.verify.alembic_env import AlembicProject, refuse_other_database, scratch_env

WORKER = Path(__file__).with_name("worker.py")
STARTUP_TIMEOUT_S = 120.0  # importing a big app's models on a cold disk can take a while


class StepTiming(BaseModel):
    revision: str | None = None
    direction: str = "upgrade"
    ms: float | None = None  # None: the step started and never finished


class WorkerAnswer(BaseModel):
    """What one command did: ok or the error (with the file and line that raised), and each step's time."""

    ok: bool
    ms: float = 0.0
    error: str | None = None
    where: tuple[str, int] | None = None  # absolute path and line of the deepest frame in the repo's code
    revision: str | None = None  # the step that was running when it failed
    steps: list[StepTiming] = Field(default_factory=list)
    log: str = ""
    timed_out: bool = False
    crashed: bool = False  # the worker died (segfault, os._exit, killed): its stderr tail is in `error`

    def step_ms(self, revision: str) -> float | None:
        for step in self.steps:
            if step.revision == revision and step.ms is not None:
                return step.ms
        return None


class WorkerStopped(RuntimeError):
    """The walk was interrupted: the worker may not start again."""


class AlembicWorker:
    """One worker subprocess per walk; restarted after a timeout or a crash. Use as a context manager."""

    def __init__(self, project: AlembicProject, timeout: float | None = None) -> None:
        self.project = project
        self.timeout = project.timeout if timeout is None else timeout
        self.restarts = 0
        self.commands = 0
        self._server: LineServer | None = None
        self._tmp = tempfile.TemporaryDirectory(prefix="delegate_worker_")
        self._ini = project.write_ini(Path(self._tmp.name), None)
        self._stderr_path = Path(self._tmp.name) / "stderr.log"
        self._started_once = False
        self._stopped = False

    # ---- lifetime ------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the process and wait until it has loaded the revision files (idempotent)."""
        if self._server is not None and self._server.alive():
            return
        if self._stopped:
            raise WorkerStopped("the walk was interrupted")
        if self._started_once:
            self.restarts += 1
        self._started_once = True
        if self._server is not None:  # it died: its pipes go before a new one starts
            self._server.kill()
        self._server = LineServer(
            "the Alembic worker",
            [self.project.python, str(WORKER), str(self._ini)],
            env=self.project.env(None),
            cwd=self.project.cwd,
            stderr_path=self._stderr_path,
        )
        hello = self._server.read(STARTUP_TIMEOUT_S)
        if hello is None or not hello.get("ready"):
            reason = "did not start in time" if hello is None else "answered garbage"
            self.kill()
            raise RuntimeError(f"the Alembic worker {reason}: {self.stderr_tail()}")

    def close(self) -> None:
        """Stop the worker (politely, then by force) and remove its temp folder; safe to call twice."""
        server, self._server = self._server, None
        if server is not None:
            server.close({"op": "exit"}, wait=2)
        self._tmp.cleanup()

    def __enter__(self) -> AlembicWorker:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def pid(self) -> int | None:
        return self._server.pid if self._server is not None and self._server.alive() else None

    # ---- commands ------------------------------------------------------------------------------------------
    def upgrade(self, url: str, sqlalchemy_url: str, target: str, timeout: float | None = None) -> WorkerAnswer:
        return self.run("upgrade", url, sqlalchemy_url, target, timeout)

    def downgrade(self, url: str, sqlalchemy_url: str, target: str, timeout: float | None = None) -> WorkerAnswer:
        return self.run("downgrade", url, sqlalchemy_url, target, timeout)

    def stamp(self, url: str, sqlalchemy_url: str, target: str, timeout: float | None = None) -> WorkerAnswer:
        return self.run("stamp", url, sqlalchemy_url, target, timeout)

    def run(self, op: str, url: str, sqlalchemy_url: str, target: str, timeout: float | None = None) -> WorkerAnswer:
        """Send one command and wait for its answer; a timeout or a crash kills the worker (restarted next time)."""
        self.start()
        server = self._server
        assert server is not None
        limit = self.timeout if timeout is None else timeout
        self.commands += 1
        command = {"op": op, "url": url, "sqlalchemy_url": sqlalchemy_url, "target": target, "env": scratch_env(url)}
        server.send(command)  # when it died, reading says how
        started = time.perf_counter()
        raw = server.read(limit)
        if raw is None:
            timed_out = server.alive()
            self.kill()
            if timed_out:
                return WorkerAnswer(
                    ok=False,
                    ms=(time.perf_counter() - started) * 1000,
                    timed_out=True,
                    error=f"timed out after {limit:g} s (set timeout_seconds in [tool.delegate] to allow more)",
                )
            return WorkerAnswer(
                ok=False,
                ms=(time.perf_counter() - started) * 1000,
                crashed=True,
                error=f"the Alembic process died (exit code {server.returncode}): {self.stderr_tail()}",
            )
        refuse_other_database(str(raw.get("error") or ""), self.project)
        where = raw.get("where")
        raw["where"] = (str(where[0]), int(where[1])) if isinstance(where, list) and len(where) == 2 else None
        return WorkerAnswer.model_validate(raw)

    def stderr_tail(self, lines: int = 12) -> str:
        try:
            text = self._stderr_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])

    def stop(self) -> None:
        """Kill the worker for good (Ctrl-C): a command in flight returns at once and no new one starts."""
        self._stopped = True
        self.kill()

    def kill(self) -> None:
        """Kill the worker at once (a timeout, Ctrl-C); the next command starts a new one."""
        server, self._server = self._server, None
        if server is not None:
            server.kill()
