"""The command line skin: commands, version, documented exit codes, and no traceback on bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator import __version__
from orchestrator.cli import main


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("migrations", "check", "review", "bundle", "demo", "rules"):
        assert command in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"delegate {__version__}"


def test_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--no-such-option"]) == 2
    assert "No such option" in capsys.readouterr().err


def test_missing_repo_is_exit_2_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere"
    assert main(["check", "--repo", str(missing), "--static-only"]) == 2
    assert "nowhere" in capsys.readouterr().err


def test_malformed_config_is_exit_2_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.delegate]\nseeds_dirs = 3\n")
    assert main(["check", "--repo", str(tmp_path), "--static-only"]) == 2
    err = capsys.readouterr().err
    assert "pyproject.toml" in err and "seeds_dirs" in err


def test_console_script_runs_as_a_process() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "rules", "no-such-rule"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
