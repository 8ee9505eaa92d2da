"""A fork server for the target repo's interpreter: libraries imported once, every command a fresh fork.

Runs as a script in the target repo's Python (standard library only; it preloads alembic, SQLAlchemy and the
PostgreSQL drivers when they are there). Each request names a command as a fresh `python ...` would run it
(`SCRIPT args`, `-c CODE args` or `-m MODULE args`) with its environment, working directory and files for stdin,
stdout, stderr and the exit status. The zygote forks; the child starts a session of its own, takes the request's
environment, folder and files, runs the command as `__main__`, writes its exit status and ends. None of the
repo's code (env.py, revisions, the app, its tests) is ever imported by the zygote itself, so every command
still meets it fresh, as `alembic upgrade` from a shell would; what is shared is only the import of libraries.

Protocol: one JSON object per line. The zygote says {"ready": true, "pid": N} once, then answers each request
{"argv", "env", "cwd", "stdin", "stdout", "stderr", "status"} with {"pid": CHILD}, and ends on {"exit": true}.
"""

from __future__ import annotations

import atexit
import io
import json
import os
import runpy
import signal
import sys
import threading
import traceback
import types
from typing import Any

PRELOAD = (
    "sqlalchemy",
    "sqlalchemy.dialects.postgresql",
    "sqlalchemy.ext.asyncio",
    "alembic.config",
    "alembic.command",
    "alembic.runtime.migration",
    "alembic.runtime.environment",
    "alembic.operations",
    "alembic.autogenerate",
    "psycopg",
    "psycopg2",
)


def _run_command(argv: list[str]) -> int:
    """Run `argv` (without the interpreter) as a fresh interpreter would; the exit code."""
    try:
        if argv[0] == "-c":
            sys.argv = ["-c", *argv[2:]]
            sys.path[0] = ""
            main = types.ModuleType("__main__")
            sys.modules["__main__"] = main  # `import __main__` and pickling see the command, as with python -c
            exec(compile(argv[1], "<string>", "exec"), main.__dict__)  # noqa: S102 - the command line's own code
        elif argv[0] == "-m":
            sys.argv = [argv[1], *argv[2:]]
            sys.path[0] = os.getcwd()
            runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        else:
            sys.argv = list(argv)
            sys.path[0] = os.path.dirname(os.path.abspath(argv[0]))
            runpy.run_path(argv[0], run_name="__main__")
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        print(code, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        traceback.print_exc()
        return 130
    except BaseException:  # noqa: BLE001 - what the interpreter would print and exit with
        traceback.print_exc()
        return 1
    return 0


def _limit_memory(env: dict[str, str]) -> None:
    """RLIMIT_AS at env["DELEGATE_MEMORY_LIMIT_MB"] MiB, soft and hard (orchestrator/runner/env.py's twin: this
    script imports nothing of the tool)."""
    raw = env.get("DELEGATE_MEMORY_LIMIT_MB", "")
    if not raw.isdigit() or int(raw) <= 0:
        return
    try:
        import resource

        limit = int(raw) * 1024 * 1024
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, AttributeError, ValueError, OSError):
        pass  # no such limit here: the timeout still bounds the command


def _child(request: dict[str, Any], protocol_fds: tuple[int, int]) -> None:
    code = 1
    try:
        os.setsid()
        _limit_memory(request["env"])
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the command's own subprocesses must be waitable
        for fd in protocol_fds:
            os.close(fd)
        for target, path, flags in (
            (0, request.get("stdin") or os.devnull, os.O_RDONLY),
            (1, request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
            (2, request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
        ):
            fd = os.open(path, flags, 0o600)
            os.dup2(fd, target)
            os.close(fd)
        sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), errors="replace")
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), line_buffering=True, errors="replace")
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), line_buffering=True, errors="replace")
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        code = _run_command(request["argv"])
        with _quiet():
            sys.stdout.flush()
            sys.stderr.flush()
        # What an interpreter does on its way out: wait for the command's non-daemon threads, then atexit.
        with _quiet():
            threading._shutdown()  # type: ignore[attr-defined]
        atexit._run_exitfuncs()
    except BaseException:  # noqa: BLE001 - the fork must never return into the zygote's loop
        with _quiet():
            traceback.print_exc()
    finally:
        with _quiet():
            sys.stdout.flush()
            sys.stderr.flush()
        with _quiet(), open(request["status"], "w", encoding="utf-8") as status:
            status.write(str(code))
        os._exit(code if 0 <= code < 256 else 1)


class _quiet:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return True


def main() -> int:
    # The protocol keeps private copies of stdin/stdout; the zygote's own fds 0 and 1 point nowhere.
    protocol_in = os.dup(0)
    protocol_out = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    os.close(devnull)
    for name in PRELOAD:
        try:
            __import__(name)
        except Exception:  # noqa: BLE001, S112 - a library the repo's Python lacks is simply not preloaded
            continue
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # finished children are reaped by the kernel
    reader = os.fdopen(protocol_in, "r", encoding="utf-8")
    writer = os.fdopen(protocol_out, "w", encoding="utf-8")
    writer.write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")
    writer.flush()
    for line in reader:
        if not line.strip():
            continue
        request = json.loads(line)
        if request.get("exit"):
            break
        pid = os.fork()
        if pid == 0:
            _child(request, (protocol_in, protocol_out))
        writer.write(json.dumps({"pid": pid}) + "\n")
        writer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
