"""Processes of the target repo's interpreter: one run with a wall-clock limit, or a long-lived JSON-lines server.

These are the only places that start the repo's code (the fork server in zygote.py is one of these servers).
Every process gets a session of its own, so that a timeout or Ctrl-C ends it and everything it started.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from orchestrator.runner.env import memory_limit_preexec

if TYPE_CHECKING:  # pydantic is imported with the first result: the static check of a .sql file never needs it
    from orchestrator.runner.result import ProcessResult


class Runner(Protocol):
    """The one way to run a command of the target repo's interpreter: argv, env, cwd, timeout -> result."""

    def run(self, argv: list[str], env: dict[str, str], cwd: Path, timeout: float) -> ProcessResult: ...


def pid_alive(pid: int) -> bool:
    """A process with this id exists (a zombie too; one we may not signal counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def kill_group(proc: subprocess.Popen[Any]) -> None:
    """End a child started with start_new_session and every process it started (pytest plugins, a shell); also
    after the child itself has ended (not yet reaped, or reaped: a group id is not reused while the group lives)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()


class StartedProcess:
    """A command started at once and waited for later (the offline render runs while the parent parses SQL).

    Its output goes to files, not pipes: a process it forked and left running (a daemon, a sleeping child) would
    hold pipes open, and the command would seem to run on until the timeout. When it ends, what it left in its
    session is killed, so nothing of the repo's code outlives its command."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        self.argv = argv
        self.started = time.perf_counter()
        self._out = tempfile.TemporaryFile()  # noqa: SIM115 - closed in _collect
        self._err = tempfile.TemporaryFile()  # noqa: SIM115 - closed in _collect
        try:
            self._proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=self._out,
                stderr=self._err,
                start_new_session=True,
                preexec_fn=memory_limit_preexec(env),  # noqa: PLW1509
            )
        except BaseException:
            self._out.close()
            self._err.close()
            raise

    def _collect(self) -> tuple[str, str]:
        texts = []
        for handle in (self._out, self._err):
            with contextlib.suppress(OSError, ValueError):
                handle.seek(0)
                texts.append(handle.read().decode("utf-8", errors="replace"))
                handle.close()
                continue
            texts.append("")
        return texts[0], texts[1]

    def wait(self, timeout: float) -> ProcessResult:
        """Its result once it ends, or once `timeout` seconds from its start have passed (then it is killed);
        Ctrl-C kills it before it propagates."""
        from orchestrator.runner.result import ProcessResult

        proc = self._proc
        left = max(0.0, self.started + timeout - time.perf_counter())
        try:
            proc.wait(timeout=left)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            proc.wait()
            out, err = self._collect()
            return ProcessResult(
                argv=self.argv,
                returncode=None,
                stdout=out,
                stderr=err,
                seconds=time.perf_counter() - self.started,
                timed_out=True,
                timeout=timeout,
            )
        except BaseException:
            self.kill()
            raise
        kill_group(proc)  # what it started and left running (its session outlives it)
        out, err = self._collect()
        return ProcessResult(
            argv=self.argv,
            returncode=proc.returncode,
            stdout=out,
            stderr=err,
            seconds=time.perf_counter() - self.started,
        )

    def kill(self) -> None:
        """Stop it and what it started, if it still runs (a result nobody will collect)."""
        kill_group(self._proc)
        with contextlib.suppress(Exception):
            self._proc.wait(timeout=5)
        self._collect()


def run_bounded(argv: list[str], env: dict[str, str], cwd: Path, timeout: float) -> ProcessResult:
    """Run `argv` to completion or until `timeout` seconds pass; Ctrl-C kills the child before it propagates."""
    return StartedProcess(argv, env, cwd).wait(timeout)


class PlainRunner:
    """A fresh subprocess per command."""

    def run(self, argv: list[str], env: dict[str, str], cwd: Path, timeout: float) -> ProcessResult:
        return run_bounded(argv, env=env, cwd=cwd, timeout=timeout)


class LineServer:
    """A long-lived process of the repo's interpreter speaking one JSON object per line on stdin and stdout
    (the fork server, the Alembic worker); its stderr goes to a file, which its owner reads for error messages."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], cwd: Path, stderr_path: Path) -> None:
        self.name, self.argv = name, argv  # name: what messages call it ("the Alembic worker")
        self.stderr_path = stderr_path
        self._buffer = b""
        with stderr_path.open("ab") as stderr:
            self._proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                start_new_session=True,  # Ctrl-C in the terminal reaches us, not it; we stop it ourselves
                preexec_fn=memory_limit_preexec(env),  # noqa: PLW1509
            )

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode

    def alive(self) -> bool:
        return self._proc.poll() is None

    def send(self, message: dict[str, Any]) -> bool:
        """Write one line; False when the process no longer reads (it died: reading says how)."""
        stdin = self._proc.stdin
        if stdin is None:
            return False
        try:
            stdin.write((json.dumps(message) + "\n").encode())
            stdin.flush()
        except (OSError, ValueError):
            return False
        return True

    def read(self, timeout: float) -> dict[str, Any] | None:
        """One JSON line, or None on timeout or end of file; a line that is not JSON becomes an error answer."""
        stdout = self._proc.stdout
        if stdout is None:
            return None
        fd = stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], min(left, 1.0))
            if not ready:
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._proc.wait(timeout=1)
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            value = json.loads(line)
        except ValueError:
            return {"ok": False, "error": f"{self.name} answered garbage: {line[:200]!r}"}
        return value if isinstance(value, dict) else None

    def close(self, goodbye: dict[str, Any], wait: float) -> None:
        """Ask it to end with `goodbye`, wait up to `wait` seconds, then kill it; safe to call twice."""
        if self.alive() and self.send(goodbye):
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=wait)
        self.kill()

    def kill(self) -> None:
        """Kill it and what it started, at once; its pipes are closed."""
        proc = self._proc
        if proc.poll() is None:
            kill_group(proc)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        for stream in (proc.stdin, proc.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()
