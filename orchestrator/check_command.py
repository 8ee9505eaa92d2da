"""`delegate check` as one call: run the check, print the report, return the exit code. Both command-line parsers
(cli.py's fast path and typer's in commands.py) hand it what they parsed, so neither imports the other."""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.errors import ExitCode

if TYPE_CHECKING:
    from orchestrator.check import CheckOptions


def run_check_command(options: CheckOptions, output_format: str, verbose: bool = False) -> int:
    """`delegate check`: run it, print the report, and return the exit code (0 clean, 1 error findings)."""
    from orchestrator.check import run_check
    from orchestrator.report_formats import emit

    report = run_check(options)
    emit(report, output_format, repo=options.repo, verbose=verbose)
    return int(ExitCode.FINDINGS if report.blocking else ExitCode.OK)
