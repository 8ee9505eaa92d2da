"""`delegate check` parsed without typer (orchestrator.cli.plain_check) means exactly what typer would parse."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator import cli, commands
from orchestrator.check import CheckOptions


def typer_parse(args: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[CheckOptions, str, bool]:
    """What typer's `check` command hands on for `args` (run_check_command captured, not run)."""
    seen: list[tuple[CheckOptions, str, bool]] = []

    def capture(options: CheckOptions, output_format: str, verbose: bool = False) -> int:
        seen.append((options, output_format, verbose))
        return 0

    monkeypatch.setattr(commands, "run_check_command", capture)
    result = commands.app(args=args, prog_name="delegate", standalone_mode=False)
    assert result == 0
    assert len(seen) == 1
    return seen[0]


def test_the_fast_parser_knows_exactly_the_options_typer_declares() -> None:
    import typer.main

    group = typer.main.get_command(commands.app)
    check = group.commands["check"]  # type: ignore[attr-defined]
    declared = {opt for p in check.params for opt in p.opts if opt.startswith("--")} - {"--help"}
    assert declared == set(cli.CHECK_FLAGS) | set(cli.CHECK_VALUES)
    from orchestrator.report_formats import FORMATS

    assert sorted(f.value for f in commands.OutputFormat) == sorted(FORMATS)


PLAIN = [
    ["check"],
    ["check", "--static-only"],
    ["check", "--static-only", "a.sql", "b/", "--format", "json"],
    ["check", "--repo", "examples/cfi-app", "--spec", "specs/042-lesson-progress", "--static-only"],
    ["check", "--repo=examples", "--spec=specs/x", "--format=sarif", "--rows=007"],
    ["check", "x.sql", "--format", "github", "y.sql", "--format", "text"],  # the last value wins
    ["check", "--stairway", "--since", "abc123", "--database-url", "postgresql://u@h/db"],
    ["check", "--rows", "500", "--static-only", "--static-only"],
    ["check", "--verbose", "--static-only"],
    ["check", "--no-template-cache", "--stairway"],
    ["check", "--repo", "", "--spec", ""],
]


@pytest.mark.parametrize("args", PLAIN, ids=[" ".join(a) or "-" for a in PLAIN])
def test_plain_command_lines_parse_as_typer_parses_them(
    args: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(Path(__file__).resolve().parent.parent)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    fast = cli.plain_check(args)
    assert fast is not None, args
    assert fast == typer_parse(args, monkeypatch)


@pytest.mark.parametrize("value", ["postgresql://env@host/db", ""])
def test_database_url_comes_from_the_environment_as_in_typer(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", value)
    args = ["check", "--static-only"]
    fast = cli.plain_check(args)
    assert fast is not None
    assert fast[0].database_url == (value or None)
    assert fast == typer_parse(args, monkeypatch)
    given = ["check", "--database-url", "postgresql://flag@host/db"]
    assert cli.plain_check(given) == typer_parse(given, monkeypatch)


@pytest.mark.parametrize(
    "args",
    [
        ["check", "--help"],
        ["check", "--rows", "-1"],
        ["check", "--rows", "ten"],
        ["check", "--format", "xml"],
        ["check", "--format", "JSON"],
        ["check", "--bogus"],
        ["check", "--repo"],
        ["check", "--static-only=yes"],
        ["check", "--", "-weird.sql"],
        ["check", "-"],
        ["rules"],
        ["--version"],
        [],
    ],
)
def test_anything_else_goes_to_typer(args: list[str]) -> None:
    assert cli.plain_check(args) is None


def test_a_repo_that_is_a_file_goes_to_typer_and_is_a_usage_error(tmp_path: Path) -> None:
    afile = tmp_path / "file.txt"
    afile.write_text("x", encoding="utf-8")
    assert cli.plain_check(["check", "--repo", str(afile)]) is None
    assert cli.main(["check", "--static-only", "--repo", str(afile)]) == 2


def test_usage_errors_still_exit_2_with_typer_s_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check", "--format", "xml", "--static-only"]) == 2
    assert "xml" in capsys.readouterr().err


def test_a_plain_static_check_imports_neither_typer_nor_pydantic(tmp_path: Path) -> None:
    """What makes `delegate check` start fast: its modules, pglast and the standard library, nothing more."""
    sql = tmp_path / "m.sql"
    sql.write_text("CREATE INDEX ix ON users (email);\n", encoding="utf-8")
    script = (
        "import sys, json\n"
        "from orchestrator.cli import main\n"
        f"code = main(['check', '--static-only', '--format', 'json', {str(sql)!r}])\n"
        "heavy = sorted(m for m in ('typer', 'pydantic', 'click', 'rich') if m in sys.modules)\n"
        "sys.stderr.write(json.dumps({'code': code, 'heavy': heavy}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    outcome = json.loads(proc.stderr.strip().splitlines()[-1])
    assert outcome == {"code": 1, "heavy": []}
    assert "require-concurrent-index" in {f["rule"] for f in json.loads(proc.stdout)["findings"]}
