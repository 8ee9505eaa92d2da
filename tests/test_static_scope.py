"""In repo mode the static rules judge the revisions under test; the history below them is context."""

from __future__ import annotations

from pathlib import Path

import git

from orchestrator.check import CheckOptions, run_check

VERSIONS = Path("api/alembic/versions")

OLD = '''"""old"""
from alembic import op

revision = "5b1e7c9d2a40"
down_revision = None


def upgrade():
    op.execute("CREATE TABLE events (id bigint PRIMARY KEY, at timestamptz)")
    op.execute("ALTER TABLE events ENABLE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY events_service ON events TO service_role USING (true)")


def downgrade():
    op.execute("DROP TABLE events")
'''

HAZARD = '''"""index added in a hurry, long ago"""
from alembic import op

revision = "8c3f0a6e1d57"
down_revision = "5b1e7c9d2a40"


def upgrade():
    op.execute("CREATE INDEX ix_events_at ON events (at)")


def downgrade():
    op.execute("DROP INDEX ix_events_at")
'''

NEW = '''"""the branch's own revision"""
from alembic import op

revision = "e29d4b7a6c13"
down_revision = "8c3f0a6e1d57"


def upgrade():
    op.execute("ALTER TABLE events ADD COLUMN note text")


def downgrade():
    op.execute("ALTER TABLE events DROP COLUMN note")
'''


def make_repo(root: Path) -> Path:
    folder = root / VERSIONS
    folder.mkdir(parents=True)
    (root / "api" / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s/alembic\n")
    (folder / "001_old.py").write_text(OLD)
    (folder / "002_hazard.py").write_text(HAZARD)
    return root


def rules_by_file(repo: Path, **options: object) -> set[tuple[str, str | None]]:
    report = run_check(CheckOptions(repo=repo, static_only=True, **options))  # type: ignore[arg-type]
    return {(f.rule, f.file) for f in report.findings}


def test_whole_history_is_judged_when_nothing_narrows_it(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    (repo / VERSIONS / "003_new.py").write_text(NEW)
    assert ("require-concurrent-index", "api/alembic/versions/002_hazard.py") in rules_by_file(repo)


def test_since_leaves_the_history_unjudged(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    (repo / VERSIONS / "003_new.py").write_text(NEW)
    found = rules_by_file(repo, since="8c3f0a6e1d57")
    assert not any(file == "api/alembic/versions/002_hazard.py" for _, file in found)
    assert ("require-lock-timeout", "api/alembic/versions/003_new.py") in found


def test_a_branch_is_judged_on_its_own_revisions(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    g = git.Repo.init(repo, initial_branch="main")
    g.index.add([str(VERSIONS), "api/alembic.ini"])
    g.index.commit("history")
    g.create_head("feature/note").checkout()
    (repo / VERSIONS / "003_new.py").write_text(NEW)
    found = rules_by_file(repo)
    assert not any(file == "api/alembic/versions/002_hazard.py" for _, file in found)
    assert any(file == "api/alembic/versions/003_new.py" for _, file in found)


def test_graph_faults_in_the_history_are_still_reported(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    (repo / VERSIONS / "002b_twin.py").write_text(HAZARD.replace("8c3f0a6e1d57", "a7d2e5f80b36"))
    (repo / VERSIONS / "003_new.py").write_text(NEW)
    found = rules_by_file(repo, since="8c3f0a6e1d57")
    assert ("multiple-heads", "api/alembic/versions/002b_twin.py") in found
