"""`irreversible_revisions` means one thing in every half: a full id or a unique prefix (4+ characters) of one."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from orchestrator.check import CheckOptions, run_check
from orchestrator.config import load_config
from orchestrator.pg import PostgresServer
from orchestrator.report import Severity
from orchestrator.revisions import RevisionFile, RevisionGraph

ROOT = Path(__file__).resolve().parent.parent
REVISION = "api/alembic/versions/002_lesson_progress.py"
SOLUTION_REVISION = "b7e41d09c5a2"


def graph(*ids: str) -> RevisionGraph:
    return RevisionGraph(RevisionFile(path=Path(f"{rev}.py"), rel=f"{rev}.py", source="", revision=rev) for rev in ids)


def test_an_entry_is_an_id_or_a_unique_prefix_of_four_or_more() -> None:
    history = graph("c1", "3f9c2a7d1b84", "b7e41d09c5a2", "b7e4ffff0000")
    assert history.named_by(["c1"]) == {"c1"}  # a full id, however short
    assert history.named_by(["3f9c"]) == {"3f9c2a7d1b84"}
    assert history.named_by(["3f9"]) == set()  # too short to be a prefix
    assert history.named_by(["b7e4"]) == set()  # ambiguous
    assert history.named_by(["b7e41"]) == {"b7e41d09c5a2"}
    assert history.named_by(["zzzz"]) == set()


def irreversible_example(tmp_path: Path) -> Path:
    """The solved example, whose 002 downgrade refuses on purpose."""
    repo = tmp_path / "cfi-app"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "examples" / "cfi-app", repo, ignore=ignore)
    shutil.copytree(ROOT / "examples" / "solutions" / "042-lesson-progress", repo, dirs_exist_ok=True, ignore=ignore)
    path = repo / REVISION
    text = path.read_text(encoding="utf-8")
    head, _, _ = text.partition("def downgrade() -> None:\n")
    path.write_text(head + "def downgrade() -> None:\n    raise NotImplementedError('irreversible: data loss')\n")
    return repo


def test_the_static_rule_takes_a_prefix(tmp_path: Path) -> None:
    repo = irreversible_example(tmp_path)
    cfg = load_config(repo)
    options = CheckOptions(repo=repo, static_only=True, since="3f9c2a7d1b84")

    def severities(config: object) -> set[str]:
        findings = run_check(options, config).findings  # type: ignore[arg-type]
        assert "empty-downgrade" not in {f.rule for f in findings}  # a downgrade that raises is not empty
        return {f.severity.value for f in findings if f.rule == "irreversible-downgrade"}

    assert severities(cfg) == {"warning"}
    # named by a unique prefix, as the live check and the stairway name it: the decision is recorded, an info
    assert severities(dataclasses.replace(cfg, irreversible_revisions=[SOLUTION_REVISION[:6]])) == {"info"}


@pytest.mark.postgres
@pytest.mark.parametrize("stairway", [False, True], ids=["live", "stairway"])
def test_a_refused_downgrade_on_purpose_is_info_live_and_in_the_stairway(
    tmp_path: Path, pg_server: PostgresServer, stairway: bool
) -> None:
    repo = irreversible_example(tmp_path)
    cfg = dataclasses.replace(load_config(repo), irreversible_revisions=[SOLUTION_REVISION[:6]])
    spec = Path("specs/042-lesson-progress")  # its public-read catalogue, as a branch touching it would say
    options = CheckOptions(repo=repo, spec=spec, stairway=stairway, database_url=pg_server.admin_url)
    report = run_check(options, cfg)
    assert not [f for f in report.findings if f.rule == "downgrade-failed"], report.findings
    refused = [f for f in report.findings if f.rule == "irreversible-downgrade"]
    assert len(refused) == 1 and refused[0].severity is Severity.INFO, report.findings
    assert "irreversible_revisions" in refused[0].message
    assert report.verification is not None
    runs = {r.revision: r.status for r in report.verification.revision_runs}
    assert runs[SOLUTION_REVISION] == "irreversible"
    assert not [f for f in report.findings if f.severity is Severity.ERROR], report.findings
