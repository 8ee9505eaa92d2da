"""The agent's tools: schemas as the API takes them, and a toolbox that answers every bad call with a tool error."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.agent.tools import TOOL_NAMES, TOOL_SCHEMAS, ToolOutcome, WorkspaceToolbox
from orchestrator.errors import InputError
from orchestrator.report import CheckReport, Finding, Severity
from orchestrator.verification import RlsCell, Verification, VerificationStep
from orchestrator.workspace import Workspace
from tests.support.git_repos import ALLOWED, SECRET_MARKER, make_repo


class FakeJudge:
    """Stands in for the judge: returns the reports it is given, one per call, and counts the calls."""

    def __init__(self, *reports: CheckReport) -> None:
        self.reports = list(reports)
        self.calls = 0

    def __call__(self) -> CheckReport:
        self.calls += 1
        return self.reports.pop(0) if len(self.reports) > 1 else self.reports[0]


RED = CheckReport(
    findings=[
        Finding(
            rule="lock-on-existing-table",
            severity=Severity.WARNING,
            file="api/alembic/versions/0002_lessons.py",
            line=20,
            message="CREATE INDEX holds SHARE on existing table public.profiles (38 ms here, with 1000 rows)",
            fix="use CREATE INDEX CONCURRENTLY",
        ),
        Finding(
            rule="downgrade-missing",
            severity=Severity.ERROR,
            file="api/alembic/versions/0002_lessons.py",
            line=9,
            message="downgrade() does nothing",
            fix="drop what upgrade() creates, in reverse order",
        ),
        Finding(rule="seed-not-idempotent", severity=Severity.ERROR, file="seeds/lessons.sql", line=1, message="m"),
        Finding(rule="note", severity=Severity.INFO, message="an info the agent need not see"),
    ],
    verification=Verification(
        database="127.0.0.1:5432",
        steps=[
            VerificationStep(name="upgrade", status="passed", seconds=0.4),
            VerificationStep(name="seeds", status="failed", seconds=1.25, detail="second run failed after 0.3 s"),
        ],
        rls_matrix=[
            RlsCell(table="public.lessons", actor="anon", action="select_other", expected="deny", observed="allow"),
            RlsCell(table="public.lessons", actor="service_role", action="select", expected="allow", observed="allow"),
        ],
    ),
)
GREEN = CheckReport()


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace.create(make_repo(tmp_path), branch="t", allowed=ALLOWED, worktrees_dir=tmp_path / "wt")


def test_schemas_are_the_contracts_six_tools_with_valid_json_schemas() -> None:
    assert TOOL_NAMES == ("list_files", "read_file", "write_file", "edit_file", "run_checks", "submit")
    for tool in TOOL_SCHEMAS:
        assert set(tool) == {"name", "description", "input_schema"}
        assert len(tool["description"]) > 60
        jsonschema.Draft202012Validator.check_schema(tool["input_schema"])
        assert tool["input_schema"]["type"] == "object"
        assert tool["input_schema"]["additionalProperties"] is False
    required = {t["name"]: t["input_schema"].get("required", []) for t in TOOL_SCHEMAS}
    assert required == {
        "list_files": ["path"],
        "read_file": ["path"],
        "write_file": ["path", "content"],
        "edit_file": ["path", "old", "new"],
        "run_checks": [],
        "submit": ["summary"],
    }


def test_tools_act_on_the_workspace(workspace: Workspace) -> None:
    box = WorkspaceToolbox(workspace, FakeJudge(GREEN))
    assert "api/alembic/versions/0001_init.py" in box.run("list_files", {"path": "api"}).content
    assert box.run("read_file", {"path": "README.md"}) == ToolOutcome("# app\n")
    wrote = box.run("write_file", {"path": "seeds/lessons.sql", "content": "select 1;\n"})
    assert wrote == ToolOutcome("wrote seeds/lessons.sql (10 bytes, 1 lines)")
    assert not box.run("edit_file", {"path": "seeds/lessons.sql", "old": "1", "new": "2"}).is_error
    assert (workspace.root / "seeds/lessons.sql").read_text() == "select 2;\n"
    box.run("write_file", {"path": "seeds/empty.sql", "content": ""})
    assert box.run("read_file", {"path": "seeds/empty.sql"}) == ToolOutcome("(the file is empty)")


def test_run_checks_returns_the_findings_for_the_agent_and_keeps_the_report(workspace: Workspace) -> None:
    judge = FakeJudge(RED, GREEN)
    box = WorkspaceToolbox(workspace, judge)
    red = box.run("run_checks", {})
    assert not red.is_error
    assert box.last_report is RED
    text = red.content
    assert text.startswith("The checks are red: 2 blocking findings, 1 warning.")
    assert text.index("[downgrade-missing] api/alembic/versions/0002_lessons.py:9") < text.index(
        "[seed-not-idempotent] seeds/lessons.sql:1"
    )
    assert text.index("seed-not-idempotent") < text.index("lock-on-existing-table")  # blocking first
    assert "fix: drop what upgrade() creates, in reverse order" in text
    assert "public.lessons, anon, select_other: expected deny, observed allow" in text
    assert "service_role" not in text  # cells that passed are not repeated
    assert "- seeds: second run failed after <time>" in text
    for leak in ("127.0.0.1", "5432", "38 ms", "1.25", "0.3 s", "an info", str(workspace.root)):
        assert leak not in text
    assert box.run("run_checks", {}) == box.run("run_checks", "{}")  # deterministic, and JSON text is accepted
    assert box.run("run_checks", {}).content.startswith("No blocking finding: the checks are green")
    assert judge.calls == 4


def test_submit_records_the_summary_and_claims_nothing(workspace: Workspace) -> None:
    judge = FakeJudge(RED)
    box = WorkspaceToolbox(workspace, judge)
    assert box.submitted is None
    outcome = box.run("submit", {"summary": "all green, trust me"})
    assert not outcome.is_error
    assert "delegate now runs every check itself" in outcome.content
    assert box.submitted == "all green, trust me"
    assert judge.calls == 0  # the orchestrator checks after submit, not the tool


@pytest.mark.parametrize(
    ("name", "tool_input", "says"),
    [
        ("rm_rf", {"path": "."}, "there is no tool named 'rm_rf'; the tools are list_files, read_file"),
        ("", {}, "there is no tool named ''"),
        ("read_file", '{"path": "README.md"', "the input of read_file is not valid JSON"),
        ("read_file", "not json at all", "not valid JSON"),
        ("read_file", ["README.md"], 'must be a JSON object like {"path": "..."}, not list'),
        ("read_file", None, "must be a JSON object"),
        ("read_file", 42, "not int"),
        ("read_file", {}, "read_file takes 'path': missing 'path'"),
        ("write_file", {"path": "seeds/x.sql"}, "missing 'content'"),
        ("write_file", {"path": "seeds/x.sql", "content": "x", "mode": "0777"}, "unknown 'mode'"),
        ("read_file", {"path": ["README.md"]}, "'path' must be a string (got list)"),
        ("write_file", {"path": "seeds/x.sql", "content": {"a": 1}}, "'content' must be a string (got dict)"),
        ("edit_file", {"path": "seeds/base.sql", "old": 1, "new": None}, "'old', 'new' must be a string"),
        ("run_checks", {"fast": True}, "run_checks takes no arguments: unknown 'fast'"),
        ("submit", {}, "missing 'summary'"),
        ("read_file", {"path": "../outside/secret.txt"}, "climbs out"),
        ("read_file", {"path": ".env"}, "secret"),
        ("write_file", {"path": "README.md", "content": "x"}, "writes are allowed only inside"),
        ("write_file", {"path": "/tmp/x", "content": "x"}, "absolute"),
        ("list_files", {"path": "~"}, "home folders"),
    ],
)
def test_a_bad_call_is_a_tool_error_that_says_why(
    workspace: Workspace, name: str, tool_input: object, says: str
) -> None:
    judge = FakeJudge(GREEN)
    box = WorkspaceToolbox(workspace, judge)
    outcome = box.run(name, tool_input)
    assert outcome.is_error
    assert says in outcome.content
    assert SECRET_MARKER not in outcome.content
    assert workspace.written() == []
    assert box.submitted is None and judge.calls == 0


def test_input_as_json_text_or_bytes_is_accepted(workspace: Workspace) -> None:
    box = WorkspaceToolbox(workspace, FakeJudge(GREEN))
    assert box.run("read_file", '{"path": "README.md"}') == ToolOutcome("# app\n")
    assert box.run("read_file", b'{"path": "README.md"}') == ToolOutcome("# app\n")
    assert not box.run("run_checks", "").is_error
    assert not box.run("run_checks", None).is_error


def test_a_judge_that_cannot_check_is_a_tool_error(workspace: Workspace) -> None:
    def judge() -> CheckReport:
        raise InputError(f"{workspace.root}/api/alembic/versions/0002.py: cannot import", "fix the syntax error")

    outcome = WorkspaceToolbox(workspace, judge).run("run_checks", {})
    assert outcome.is_error
    assert outcome.content.startswith("run_checks failed: api/alembic/versions/0002.py: cannot import")
    assert str(workspace.root) not in outcome.content


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
tool_inputs = json_values | json_values.map(json.dumps) | st.text(max_size=40) | st.binary(max_size=20)
tool_names = st.sampled_from([*TOOL_NAMES, "", "Read", "bash", "submit\x00"]) | st.text(max_size=12)


@pytest.fixture(scope="module")
def shared_workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    base = tmp_path_factory.mktemp("tools")
    return Workspace.create(make_repo(base), branch="fuzz", allowed=ALLOWED, worktrees_dir=base / "wt")


@settings(max_examples=150, deadline=None)
@given(name=tool_names, tool_input=tool_inputs)
def test_run_never_raises_whatever_the_model_sends(shared_workspace: Workspace, name: str, tool_input: object) -> None:
    outcome = WorkspaceToolbox(shared_workspace, FakeJudge(GREEN)).run(name, tool_input)
    assert isinstance(outcome, ToolOutcome)
    assert outcome.content
    assert SECRET_MARKER not in outcome.content
    if name not in TOOL_NAMES:
        assert outcome.is_error


def test_run_checks_with_the_real_static_judge_on_the_example_app(tmp_path: Path) -> None:
    """The toolbox over the real judge (static half): a flawed migration written through the tools is reported with
    repo-relative places and the same text each time; fixing it through edit_file turns the checks green."""
    from orchestrator.check import CheckOptions, run_check
    from tests.support.example_repo import FEATURE_SPEC, SOLUTION_042, make_example_repo

    repo = make_example_repo(tmp_path, with_solution=False)
    allowed = ["api/alembic/versions", "api/sql/policies", "seeds", "api/tests/migrations", FEATURE_SPEC]
    ws = Workspace.create(repo, branch="real-judge", allowed=allowed, worktrees_dir=tmp_path / "wt")
    box = WorkspaceToolbox(ws, lambda: run_check(CheckOptions(repo=ws.root, spec=Path(FEATURE_SPEC), static_only=True)))
    for src in sorted(p for p in SOLUTION_042.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        rel = src.relative_to(SOLUTION_042).as_posix()
        if any(rel.startswith(folder + "/") for folder in allowed):
            assert not box.run("write_file", {"path": rel, "content": src.read_text()}).is_error
    migration = "api/alembic/versions/002_lesson_progress.py"
    solution = (SOLUTION_042 / migration).read_text()
    good_downgrade = solution[solution.index("def downgrade() -> None:") :]
    flawed = solution.replace(good_downgrade, "def downgrade() -> None:\n    pass\n")
    assert not box.run("write_file", {"path": migration, "content": flawed}).is_error

    red = box.run("run_checks", {})
    assert not red.is_error
    assert red.content.startswith("The checks are red:")
    assert f"] {migration}:" in red.content
    assert str(tmp_path) not in red.content and str(ws.root) not in red.content
    assert box.run("run_checks", {}) == red  # the same work gives the same text
    assert box.last_report is not None and box.last_report.blocking

    fixed = box.run(
        "edit_file", {"path": migration, "old": "def downgrade() -> None:\n    pass\n", "new": good_downgrade}
    )
    assert not fixed.is_error, fixed.content
    assert box.run("run_checks", {}).content.startswith("No blocking finding")
