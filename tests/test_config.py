"""The target repo's configuration: keys, validation, and the Alembic layout found when the config does not say."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.config import DelegateConfig, config_from, load_config, models_of_env_py
from orchestrator.errors import InputError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def alembic_project(root: Path, script_location: str, extra: str = "", versions: str = "alembic/versions") -> None:
    write(root / "alembic.ini", f"[alembic]\nscript_location = {script_location}\n{extra}")
    (root / versions).mkdir(parents=True, exist_ok=True)


def test_without_a_config_every_key_has_its_default(tmp_path: Path) -> None:
    assert load_config(tmp_path) == DelegateConfig()


def test_an_unknown_key_names_the_closest_one(tmp_path: Path) -> None:
    write(tmp_path / "delegate.toml", 'versions_folder = "db/versions"\n')
    with pytest.raises(InputError) as caught:
        load_config(tmp_path)
    assert "versions_folder: unknown key (did you mean versions_dir?)" in caught.value.message
    assert str(tmp_path / "delegate.toml") in caught.value.message


def test_a_value_of_the_wrong_type_names_the_key(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool.delegate]\ntimeout_seconds = "soon"\n[tool.delegate.rules]\nx = "loud"\n')
    with pytest.raises(InputError) as caught:
        load_config(tmp_path)
    assert "timeout_seconds" in caught.value.message and "rules.x" in caught.value.message


def test_source_and_detected_cannot_be_set_from_a_file() -> None:
    for key in ("source", "detected"):
        with pytest.raises(ValueError, match=f"{key}: unknown key"):
            config_from({key: "x"})


def test_a_root_alembic_ini_and_its_versions_are_found(tmp_path: Path) -> None:
    alembic_project(tmp_path, "alembic")
    cfg = load_config(tmp_path)
    assert (cfg.alembic_ini, cfg.versions_dir) == ("alembic.ini", "alembic/versions")
    assert cfg.detected == ["alembic_ini = 'alembic.ini'", "versions_dir = 'alembic/versions'"]


def test_a_nested_alembic_ini_with_here_is_found(tmp_path: Path) -> None:
    alembic_project(tmp_path / "backend", "%(here)s/migrations", versions="migrations/versions")
    cfg = load_config(tmp_path)
    assert (cfg.alembic_ini, cfg.versions_dir) == ("backend/alembic.ini", "backend/migrations/versions")


def test_the_shallowest_wins_and_dependencies_are_not_searched(tmp_path: Path) -> None:
    alembic_project(tmp_path / "service", "alembic")
    alembic_project(tmp_path / "service" / "tests" / "fixture", "alembic")  # deeper: not chosen
    alembic_project(tmp_path / ".venv", "alembic")  # hidden
    alembic_project(tmp_path / "node_modules", "alembic")
    assert load_config(tmp_path).alembic_ini == "service/alembic.ini"


def test_two_candidates_at_the_same_depth_are_not_guessed_between(tmp_path: Path) -> None:
    alembic_project(tmp_path / "billing", "alembic")
    alembic_project(tmp_path / "accounts", "alembic")
    cfg = load_config(tmp_path)
    assert (cfg.alembic_ini, cfg.versions_dir, cfg.detected) == ("api/alembic.ini", "api/alembic/versions", [])


def test_keys_the_config_sets_are_never_replaced(tmp_path: Path) -> None:
    alembic_project(tmp_path, "alembic")
    write(tmp_path / "pyproject.toml", '[tool.delegate]\nalembic-ini = "db/alembic.ini"\n')
    cfg = load_config(tmp_path)
    assert cfg.alembic_ini == "db/alembic.ini"  # as written, even though it does not exist
    assert cfg.versions_dir == "api/alembic/versions" and cfg.detected == []


def test_version_locations_come_before_script_location(tmp_path: Path) -> None:
    extra = "version_path_separator = os\nversion_locations = %(here)s/db/revisions:%(here)s/db/other\n"
    alembic_project(tmp_path, "alembic", extra=extra, versions="db/revisions")
    assert load_config(tmp_path).versions_dir == "db/revisions"


def test_a_package_resource_script_location_is_looked_up_in_src(tmp_path: Path) -> None:
    alembic_project(tmp_path, "myapp.db:migrations", versions="src/myapp/db/migrations/versions")
    assert load_config(tmp_path).versions_dir == "src/myapp/db/migrations/versions"


def test_the_example_s_own_config_needs_no_detection() -> None:
    example = Path(__file__).resolve().parent.parent / "examples" / "cfi-app"
    cfg = load_config(example)
    assert cfg.alembic_ini == "api/alembic.ini" and cfg.detected == []


ENV_PY_METADATA = [
    ("from app.models import Base\ntarget_metadata = Base.metadata\n", "app.models:Base"),
    ("from app.db.base import Base as B\ntarget_metadata = B.metadata\n", "app.db.base:Base"),
    ("import app.models as models\ntarget_metadata = models.Base.metadata\n", "app.models:Base"),
    ("import app.models\ntarget_metadata = app.models.Base.metadata\n", "app.models:Base"),
    ("from app import models\ntarget_metadata = models.Base.metadata\n", "app.models:Base"),
    ("from app.models import metadata\ntarget_metadata = metadata\n", "app.models:metadata"),
    ("from sqlmodel import SQLModel\ntarget_metadata = SQLModel.metadata\n", "sqlmodel:SQLModel"),
    ("target_metadata = None\n", ""),
    ("from app.models import a, b\ntarget_metadata = [a.metadata, b.metadata]\n", None),
    ("target_metadata = get_metadata()\n", None),
    ("import os\n", None),
    ("this is not python(\n", None),
]


@pytest.mark.parametrize(("text", "expected"), ENV_PY_METADATA)
def test_the_metadata_env_py_hands_alembic(tmp_path: Path, text: str, expected: str | None) -> None:
    env_py = write(tmp_path / "env.py", text)
    assert models_of_env_py(env_py) == expected


def test_models_follow_env_py_unless_the_config_names_them(tmp_path: Path) -> None:
    alembic_project(tmp_path, "alembic")
    write(tmp_path / "alembic" / "env.py", "from app.db.base import Base\ntarget_metadata = Base.metadata\n")
    cfg = load_config(tmp_path)
    assert cfg.models == "app.db.base:Base"
    assert "models = 'app.db.base:Base' (env.py's target_metadata)" in cfg.detected
    write(tmp_path / "delegate.toml", 'models = "app.models:Base"\n')
    assert load_config(tmp_path).models == "app.models:Base"


def test_an_env_py_without_metadata_turns_the_models_step_off(tmp_path: Path) -> None:
    alembic_project(tmp_path, "alembic")
    write(tmp_path / "alembic" / "env.py", "target_metadata = None\n")
    assert load_config(tmp_path).models is None


def test_a_relative_script_location_is_read_from_the_repo_root_when_the_ini_folder_lacks_it(tmp_path: Path) -> None:
    """MLflow's layout: alembic.ini inside the package names its folder from the root (`alembic` runs there)."""
    write(tmp_path / "pkg" / "db" / "alembic.ini", "[alembic]\nscript_location = pkg/db\n")
    (tmp_path / "pkg" / "db" / "versions").mkdir(parents=True)
    write(tmp_path / "delegate.toml", 'alembic_ini = "pkg/db/alembic.ini"\n')
    assert load_config(tmp_path).versions_dir == "pkg/db/versions"


def test_the_ini_copy_alembic_runs_with_pins_the_script_location(tmp_path: Path) -> None:
    from orchestrator.verify.alembic_env import AlembicProject

    write(tmp_path / "pkg" / "db" / "alembic.ini", "[alembic]\nscript_location = pkg/db\n")
    (tmp_path / "pkg" / "db" / "versions").mkdir(parents=True)
    write(tmp_path / "delegate.toml", 'alembic_ini = "pkg/db/alembic.ini"\nversions_dir = "pkg/db/versions"\n')
    project = AlembicProject.for_repo(tmp_path, load_config(tmp_path))
    assert project.script_location == (tmp_path / "pkg" / "db").resolve()
    copy = project.write_ini(tmp_path, "postgresql+psycopg://u@h/db")
    assert f"script_location = {project.script_location}" in copy.read_text(encoding="utf-8")
    assert str(tmp_path.resolve()) in project.env(None)["PYTHONPATH"].split(":")
