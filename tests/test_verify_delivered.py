"""Running a feature's delivered tests: an interpreter without pytest is told apart from failing tests."""

from __future__ import annotations

import sys
from pathlib import Path

from orchestrator.config import DelegateConfig
from orchestrator.verify.alembic_env import AlembicProject
from orchestrator.verify.delivered import run_delivered_tests


def project_with(tmp_path: Path, python: str) -> tuple[AlembicProject, Path]:
    (tmp_path / "api" / "alembic" / "versions").mkdir(parents=True)
    (tmp_path / "api" / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s/alembic\n")
    tests = tmp_path / "api" / "tests" / "migrations"
    tests.mkdir(parents=True)
    (tests / "test_ok.py").write_text("def test_ok():\n    assert 1 + 1 == 2\n")
    return AlembicProject.for_repo(tmp_path, DelegateConfig(python=python, timeout_seconds=60)), tests


def test_an_interpreter_without_pytest_is_named_as_such(tmp_path: Path) -> None:
    # A real interpreter that has no pytest: Python without site-packages (-S), isolated from the environment (-I).
    fake = tmp_path / "python-without-pytest"
    fake.write_text(f'#!/bin/sh\nexec {sys.executable} -I -S "$@"\n')
    fake.chmod(0o755)
    project, tests = project_with(tmp_path, str(fake))
    outcome = run_delivered_tests(project, tests, "postgresql://nobody@127.0.0.1:1/none")
    assert outcome.ran and not outcome.ok
    assert outcome.missing_pytest
    assert outcome.passed == 0


def test_a_passing_suite_is_not_mistaken_for_a_missing_pytest(tmp_path: Path) -> None:
    project, tests = project_with(tmp_path, sys.executable)
    outcome = run_delivered_tests(project, tests, "postgresql://nobody@127.0.0.1:1/none")
    assert outcome.ok and not outcome.missing_pytest
    assert outcome.passed == 1
