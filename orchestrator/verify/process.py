"""Run target-repo code in a subprocess with a wall-clock limit, killing its whole process group on timeout."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel


class ProcessResult(BaseModel):
    argv: list[str]
    returncode: int | None  # None when it was killed for the timeout
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool = False
    timeout: float = 0.0

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def tail(self, lines: int = 12) -> str:
        """The last lines of what it printed (stderr first: that is where tracebacks and Alembic logs go)."""
        if self.timed_out:
            return f"timed out after {self.timeout:g} s (set timeout_seconds in [tool.delegate] to allow more)"
        text = (self.stderr.strip() or self.stdout.strip()).splitlines()
        return "\n".join(text[-lines:])


def kill_group(proc: subprocess.Popen[Any]) -> None:
    """End a child started with start_new_session and every process it started (pytest plugins, a shell)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            proc.kill()


def run_bounded(argv: list[str], env: dict[str, str], cwd: Path, timeout: float) -> ProcessResult:
    """Run `argv` to completion or until `timeout` seconds pass; Ctrl-C kills the child before it propagates."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        out, err = proc.communicate()
        return ProcessResult(
            argv=argv,
            returncode=None,
            stdout=out,
            stderr=err,
            seconds=time.perf_counter() - start,
            timed_out=True,
            timeout=timeout,
        )
    except BaseException:
        kill_group(proc)
        proc.wait()
        raise
    return ProcessResult(
        argv=argv, returncode=proc.returncode, stdout=out, stderr=err, seconds=time.perf_counter() - start
    )
