"""SECURITY.md point 3: `delegate check --no-template-cache` (live and stairway) leaves no delegate_tpl_* database
and no scratch database on the server; without it the base template is cached, by design."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import pytest

from orchestrator.check import CheckOptions
from orchestrator.cli import main
from orchestrator.config import load_config
from orchestrator.pg import PostgresServer, template_name
from orchestrator.target import resolve_target
from orchestrator.verify.alembic_env import AlembicProject
from orchestrator.verify.live import template_key
from tests.support.example_repo import make_example_repo

pytestmark = pytest.mark.postgres

INI = "api/alembic.ini"  # part of the base template's key, and no revision


def repo_with_a_base_of_its_own(tmp_path: Path) -> Path:
    """The example with feature 042 solved, its alembic.ini made unique, so no cached template fits it."""
    repo = make_example_repo(tmp_path, with_solution=True)
    ini = repo / INI
    ini.write_text(ini.read_text(encoding="utf-8") + f"\n# {secrets.token_hex(8)}\n", encoding="utf-8")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "commit", "-qam", "a unique alembic.ini"], cwd=repo, check=True)
    return repo


def base_template_of(repo: Path) -> str:
    cfg = load_config(repo)
    target = resolve_target(CheckOptions(repo=repo), cfg)
    assert target.selection is not None
    return template_name(template_key(AlembicProject.for_repo(repo, cfg), target.graph, target.selection.base))


@pytest.mark.parametrize("mode", [[], ["--stairway"]], ids=["live", "stairway"])
def test_no_template_cache_leaves_no_template(
    tmp_path: Path, pg_server: PostgresServer, no_scratch_left: None, mode: list[str]
) -> None:
    repo = repo_with_a_base_of_its_own(tmp_path)
    template = base_template_of(repo)
    args = ["check", "--repo", str(repo), *mode, "--no-template-cache", "--database-url", pg_server.admin_url]
    assert main(args) == 0
    assert not pg_server.database_exists(template)


def test_without_the_option_the_base_template_is_cached(
    tmp_path: Path, pg_server: PostgresServer, no_scratch_left: None
) -> None:
    repo = repo_with_a_base_of_its_own(tmp_path)
    template = base_template_of(repo)
    try:
        assert main(["check", "--repo", str(repo), "--database-url", pg_server.admin_url]) == 0
        assert pg_server.database_exists(template)
    finally:
        pg_server.drop_database(template)
