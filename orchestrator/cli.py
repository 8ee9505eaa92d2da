"""The command line's entry point: maps every outcome to the documented exit codes; a person never sees a traceback.

The commands themselves (arguments, help) are typer's, in orchestrator/commands.py. A plain `delegate check`,
the command a CI gate and an agent's repair loop run again and again, is parsed here instead: typer brings click
and pydantic, whose import costs more than the static check of a feature. Anything this parser does not fully
understand (help, an unknown option, a value typer would reject or convert) goes to typer, which owns usage
errors and help; tests/test_cli_fast.py proves that both parse every plain form alike. What it buys is measured by
benchmarks/cli_startup.py: typer's path costs `delegate check --static-only one.sql` 0.16 s more CPU (0.38 s
against 0.22 s, +71%), most of it importing typer and the pydantic that typer's adapters bring.
"""

from __future__ import annotations

import os
import signal
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.check_command import run_check_command
from orchestrator.errors import DelegateError, ExitCode

if TYPE_CHECKING:
    from rich.console import Console

    from orchestrator.check import CheckOptions

INTERNAL_ERROR = 4  # a bug in delegate itself; documented in the README
INTERRUPTED = 130
TERMINATED = 143  # 128 + SIGTERM, as a shell reports a process the signal ended


def _terminate(signum: int, frame: object) -> None:
    # Unwind like Ctrl-C does (`with` blocks drop scratch databases, atexit stops throwaway servers), then exit
    # 128 + the signal. orchestrator/pg/server.py installs the same on first use; this covers the time before.
    raise SystemExit(128 + signum)


def install_terminate_handlers() -> None:
    """SIGTERM and SIGHUP unwind the run like SIGINT (exit 143 and 129); a handler someone installed stays."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) in (signal.SIG_DFL, None):
            signal.signal(sig, _terminate)


# The options of `delegate check` (orchestrator/commands.py declares them, with their help).
CHECK_FLAGS = {
    "--static-only": "static_only",
    "--stairway": "stairway",
    "--no-template-cache": "no_template_cache",
    "--verbose": "verbose",
}
CHECK_VALUES = {
    "--repo": "repo",
    "--spec": "spec",
    "--since": "since",
    "--rows": "rows",
    "--database-url": "database_url",
    "--format": "format",
}


@cache
def err_console() -> Console:
    """The console for errors, made on the first error: rich costs a start-up that a clean run need not pay."""
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True)  # messages carry URLs and paths: never wrap them


def plain_check(args: list[str]) -> tuple[CheckOptions, str, bool] | None:
    """The options and format of `delegate check ARGS` when every argument is plain (known options with valid
    values, paths that do not look like options); None sends the command line to typer."""
    if not args or args[0] != "check":
        return None
    values: dict[str, str] = {}
    flags: set[str] = set()
    paths: list[Path] = []
    rest = iter(args[1:])
    for arg in rest:
        if not arg.startswith("-"):
            paths.append(Path(arg))
            continue
        name, eq, inline = arg.partition("=")
        if name in CHECK_FLAGS and not eq:
            flags.add(CHECK_FLAGS[name])
        elif name in CHECK_VALUES:
            value = inline if eq else next(rest, None)
            if value is None:
                return None  # a missing value: typer's usage error says so
            values[CHECK_VALUES[name]] = value  # the last one wins, as in click
        else:
            return None  # --help, --, an unknown option, a flag given a value
    from orchestrator.report_formats import FORMATS

    rows = values.get("rows", "0")
    fmt = values.get("format", "text")
    repo = Path(values.get("repo", "."))
    if not rows.isascii() or not rows.isdigit() or fmt not in FORMATS or repo.is_file():
        return None  # typer reports these (or converts what it accepts)
    from orchestrator.check import CheckOptions

    spec = values.get("spec")
    options = CheckOptions(
        repo=repo,
        paths=paths,
        spec=Path(spec) if spec is not None else None,
        static_only="static_only" in flags,
        stairway="stairway" in flags,
        since=values.get("since"),
        rows=int(rows),
        database_url=values.get("database_url") or os.environ.get("DATABASE_URL") or None,
        template_cache="no_template_cache" not in flags,
    )
    return options, fmt, "verbose" in flags


def _typer_exit_code(exc: BaseException) -> int | None:
    """The exit code of typer's Exit and Abort (None for anything else); typer is only imported if it was."""
    typer = sys.modules.get("typer")
    if typer is None:
        return None
    if isinstance(exc, typer.Exit):
        return int(exc.exit_code)
    if isinstance(exc, typer.Abort):
        err_console().print("delegate: interrupted", highlight=False)
        return INTERRUPTED
    return None


def _is_usage_error(exc: Exception) -> bool:
    """Click's usage errors (typer vendors click in newer releases, so match by shape, not by class)."""
    return callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None), int)


def main(argv: list[str] | None = None) -> int:
    """Entry point: maps every outcome to the documented exit codes; a person never sees a traceback."""
    args = list(sys.argv[1:] if argv is None else argv)
    if argv is None:  # the real command line, not a test calling main() in its own process
        install_terminate_handlers()
    try:
        plain = plain_check(args)
        if plain is not None:
            return run_check_command(*plain)
        from orchestrator.commands import app

        # Without standalone mode, click returns a command's typer.Exit code instead of raising it.
        result = app(args=args, prog_name="delegate", standalone_mode=False)
    except DelegateError as exc:
        from rich.text import Text

        err_console().print(Text("delegate: error: ", style="bold red") + Text(exc.message), highlight=False)
        if exc.hint:
            err_console().print(Text("  fix: ", style="bold") + Text(exc.hint), highlight=False)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        err_console().print("delegate: interrupted; scratch databases and servers were cleaned up", highlight=False)
        return INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the last line of defence against a traceback
        code = _typer_exit_code(exc)
        if code is not None:
            return code
        if _is_usage_error(exc):
            exc.show()  # type: ignore[attr-defined]
            return int(ExitCode.BAD_INPUT)
        if os.environ.get("DELEGATE_DEBUG"):
            raise
        from rich.text import Text

        err_console().print(
            Text("delegate: internal error: ", style="bold red")
            + Text(f"{type(exc).__name__}: {exc}\n")
            + Text("  this is a bug in delegate; rerun with DELEGATE_DEBUG=1 for the traceback and report it"),
            highlight=False,
        )
        return INTERNAL_ERROR
    return result if isinstance(result, int) else int(ExitCode.OK)


if __name__ == "__main__":
    sys.exit(main())
