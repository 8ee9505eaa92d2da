"""Run the tests a feature delivers (pytest, in the repo's Python) against the migrated scratch database."""

from __future__ import annotations

import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from pydantic import BaseModel, Field

from orchestrator.runner.result import ProcessResult
from orchestrator.verify.alembic_env import AlembicProject

NO_TESTS_COLLECTED = 5  # pytest's exit code


class TestFailure(BaseModel):
    name: str  # path::Class::test as pytest names it
    message: str


class DeliveredTests(BaseModel):
    ran: bool
    passed: int = 0
    failures: list[TestFailure] = Field(default_factory=list)
    process: ProcessResult | None = None
    note: str = ""

    @property
    def missing_pytest(self) -> bool:
        """The interpreter has no pytest: nothing ran, which is not the same as tests that fail."""
        return self.process is not None and not self.process.ok and "No module named pytest" in self.process.tail(6)

    @property
    def ok(self) -> bool:
        return not self.ran or (self.process is not None and self.process.ok and not self.failures)


def run_delivered_tests(project: AlembicProject, tests_dir: Path, libpq_url: str) -> DeliveredTests:
    if not tests_dir.is_dir() or not any(tests_dir.rglob("test*.py")):
        return DeliveredTests(ran=False, note=f"no tests in {project.rel(tests_dir)}")
    with tempfile.TemporaryDirectory(prefix="delegate_tests_") as tmp:
        junit = Path(tmp) / "junit.xml"
        argv = [
            project.python,
            "-m",
            "pytest",
            str(tests_dir),
            "-p",
            "no:cacheprovider",
            "-q",
            f"--junitxml={junit}",
            "-o",
            "junit_family=xunit2",
        ]
        env = project.env(libpq_url)
        env.pop("PYTEST_ADDOPTS", None)  # ours must not leak into theirs
        env.pop("PYTEST_CURRENT_TEST", None)
        result = project.launch(argv, env=env, cwd=project.repo, timeout=project.timeout)
        outcome = DeliveredTests(ran=True, process=result)
        if result.returncode == NO_TESTS_COLLECTED:
            return DeliveredTests(ran=False, note=f"pytest collected no tests in {project.rel(tests_dir)}")
        if junit.is_file():
            _read_junit(junit, outcome)
    return outcome


def _read_junit(path: Path, outcome: DeliveredTests) -> None:
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError:
        return
    for case in root.iter("testcase"):
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is None:
            if case.find("skipped") is None:
                outcome.passed += 1
            continue
        classname = case.get("classname", "")
        name = f"{classname.replace('.', '/')}.py::{case.get('name', '')}" if classname else case.get("name", "")
        message = (problem.get("message") or problem.text or "").strip().splitlines()
        outcome.failures.append(TestFailure(name=name, message=(message or [""])[0][:300]))
