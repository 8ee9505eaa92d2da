"""Compare the app's SQLAlchemy models with the migrated database (Alembic's compare_metadata, in a subprocess)."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, Field

from orchestrator.runner.result import ProcessResult
from orchestrator.verify.alembic_env import AlembicProject
from orchestrator.verify.fingerprint import EMULATION_SCHEMAS

DRIVER = Path(__file__).with_name("_models_driver.py")


class ModelDifference(BaseModel):
    op: str  # add_table, remove_column, modify_nullable ... as Alembic names them
    table: str | None = None
    column: str | None = None
    detail: str = ""

    @property
    def message(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else (self.table or "?")
        words = {
            "add_table": "the models declare table {w}, which the migrations do not create",
            "remove_table": "table {w} exists in the database but not in the models",
            "add_column": "the models declare column {w}, which the migrations do not create",
            "remove_column": "column {w} exists in the database but not in the models",
            "modify_type": "column {w} has a different type in the models",
            "modify_nullable": "column {w} differs in nullability between models and database",
            "modify_default": "column {w} has a different server default in the models",
            "add_index": "the models declare an index on {w} that the database lacks",
            "remove_index": "the database has an index on {w} that the models lack",
        }
        text = words.get(self.op, "{w}: " + self.op.replace("_", " ")).format(w=where)
        return f"{text} ({self.detail})" if self.detail else text


class ModelsComparison(BaseModel):
    skipped: str = ""  # why the step did not run
    import_error: str = ""
    differences: list[ModelDifference] = Field(default_factory=list)
    process: ProcessResult | None = None


def models_module_file(project: AlembicProject, target: str) -> Path | None:
    module = target.partition(":")[0]
    base = project.cwd.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def compare_models(project: AlembicProject, target: str | None, sqlalchemy_url: str) -> ModelsComparison:
    if not target:
        return ModelsComparison(skipped="no models configured (models in [tool.delegate])")
    if models_module_file(project, target) is None:
        return ModelsComparison(skipped=f"no models module {target.partition(':')[0]} under {project.rel(project.cwd)}")
    argv = [project.python, str(DRIVER), target, sqlalchemy_url, ",".join(EMULATION_SCHEMAS)]
    result = project.launch(argv, env=project.env(None), cwd=project.cwd, timeout=project.timeout)
    if not result.ok:
        return ModelsComparison(import_error=result.tail(), process=result)
    try:
        data = json.loads(result.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        return ModelsComparison(import_error=f"unexpected output: {result.tail()}", process=result)
    if "import_error" in data:
        return ModelsComparison(import_error=data["import_error"], process=result)
    return ModelsComparison(
        differences=[ModelDifference.model_validate(d) for d in data["differences"]], process=result
    )
