"""What one command of the target repo's interpreter did: exit code, output, time, and whether it timed out."""

from __future__ import annotations

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
