"""The tool's side of the fork server (_zygote.py): commands of the repo's interpreter without its start-up cost.

A live check runs Alembic five or six times (upgrade, downgrade, upgrade again, the offline SQL for the lock
trace, the models comparison) and then pytest, each a fresh `python` that first imports alembic, SQLAlchemy and
the driver: a third of a second apiece here. The zygote imports them once; every command is a fork of it that
meets the repo's code fresh (it is never imported by the zygote), with its own session, environment, folder
and files. `run()` answers like run_bounded(), and answers None when the zygote cannot take the command (a
different PYTHONPATH, a zygote that died); ForkingRunner, the Runner built on it, then runs a plain subprocess.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

from orchestrator.runner.process import LineServer, pid_alive, run_bounded
from orchestrator.runner.result import ProcessResult

ZYGOTE = Path(__file__).with_name("_zygote.py")
STARTUP_TIMEOUT_S = 60.0


class Zygote:
    """One fork server for one interpreter, environment base and folder; thread-safe; a context manager."""

    def __init__(self, python: str, env: dict[str, str], cwd: Path) -> None:
        self.python, self.env, self.cwd = python, env, cwd
        self._server: LineServer | None = None
        self._lock = threading.Lock()
        self._tmp = tempfile.TemporaryDirectory(prefix="delegate_zygote_")
        self._count = 0
        self.broken: str | None = None
        self.commands = 0

    @staticmethod
    def supported() -> bool:
        """Linux only: on macOS a fork after libpq and the system frameworks are loaded is not safe (the reason
        Python itself spawns there), and Windows has no fork."""
        return sys.platform.startswith("linux") and not os.environ.get("DELEGATE_NO_ZYGOTE")

    def start(self) -> bool:
        """Start the server (once); False when it cannot run here (the caller uses plain subprocesses)."""
        with self._lock:
            if self._server is not None or self.broken is not None:
                return self.broken is None
            try:
                self._server = LineServer(
                    "the fork server",
                    [self.python, str(ZYGOTE)],
                    env=self.env,
                    cwd=self.cwd,
                    stderr_path=Path(self._tmp.name) / "zygote.err",
                )
            except OSError as exc:
                self.broken = f"cannot start {self.python}: {exc}"
                return False
            hello = self._server.read(STARTUP_TIMEOUT_S)
            if not hello or not hello.get("ready"):
                self.broken = "the fork server did not start"
                self._server.kill()
                return False
            return True

    def run(self, argv: list[str], env: dict[str, str], cwd: Path, timeout: float) -> ProcessResult | None:
        """Run `argv` ([python, ...]) like run_bounded(); None when the zygote cannot take it (ForkingRunner then
        runs a plain subprocess)."""
        if argv[0] != self.python or env.get("PYTHONPATH") != self.env.get("PYTHONPATH"):
            return None  # sys.path is fixed when the interpreter starts: only the zygote's own may fork
        if not self.start():
            return None
        with self._lock:
            self._count += 1
            base = Path(self._tmp.name) / f"cmd{self._count}"
        files = {name: f"{base}.{name}" for name in ("stdout", "stderr", "status")}
        request = {"argv": argv[1:], "env": env, "cwd": str(cwd), "stdin": None, **files}
        started = time.perf_counter()
        with self._lock:
            server = self._server
            if server is None or not server.alive():
                self.broken = self.broken or "the fork server died"
                return None
            if not server.send(request):
                self.broken = "the fork server died"
                return None
            answer = server.read(STARTUP_TIMEOUT_S)
        if not answer or "pid" not in answer:
            self.broken = "the fork server stopped answering"
            server.kill()
            return None
        self.commands += 1
        pid = int(answer["pid"])
        try:
            timed_out = not _wait_for(pid, Path(files["status"]), started + timeout)
        except BaseException:  # Ctrl-C: the command and what it started go first
            _kill_group(pid)
            raise
        # Timed out: the command and what it started; ended: what it started and left running in its session.
        _kill_group(pid)
        status = _read(files["status"]).strip()
        result = ProcessResult(
            argv=argv,
            returncode=None if timed_out else (int(status) if status.lstrip("-").isdigit() else -signal.SIGKILL),
            stdout=_read(files["stdout"]),
            stderr=_read(files["stderr"]),
            seconds=time.perf_counter() - started,
            timed_out=timed_out,
            timeout=timeout if timed_out else 0.0,
        )
        for path in files.values():
            with contextlib.suppress(OSError):
                os.unlink(path)
        return result

    def close(self) -> None:
        with self._lock:
            if self._server is not None:
                self._server.close({"exit": True}, wait=5)
            self._server = None
        self._tmp.cleanup()

    def __enter__(self) -> Zygote:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    _wait_gone(pid)


def _wait_for(pid: int, status: Path, deadline: float) -> bool:
    """Until the command has ended (its status written and the process gone); False at the deadline."""
    pause = 0.001
    while time.perf_counter() < deadline:
        if not pid_alive(pid):
            return True
        if status.exists() and status.stat().st_size:
            _wait_gone(pid, limit=1.0)
            return True
        time.sleep(pause)
        pause = min(pause * 2, 0.01)
    return False


def _wait_gone(pid: int, limit: float = 5.0) -> None:
    end = time.perf_counter() + limit
    while pid_alive(pid) and time.perf_counter() < end:
        time.sleep(0.002)


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


class ForkingRunner:
    """A Runner that forks the zygote for every command it can take and runs a plain subprocess for the rest."""

    def __init__(self, zygote: Zygote) -> None:
        self.zygote = zygote

    def run(self, argv: list[str], env: dict[str, str], cwd: Path, timeout: float) -> ProcessResult:
        result = self.zygote.run(argv, env, cwd, timeout)
        return result if result is not None else run_bounded(argv, env=env, cwd=cwd, timeout=timeout)
