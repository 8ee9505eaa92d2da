"""Compare an app's SQLAlchemy metadata with a live database through Alembic's compare_metadata; print JSON.

Runs as a script in the repo's interpreter (which has alembic and sqlalchemy but not delegate).
Usage: python _models_driver.py MODULE:ATTRIBUTE SQLALCHEMY_URL EXCLUDED_SCHEMAS(comma separated)
"""

from __future__ import annotations

import importlib
import json
import sys
import traceback
from typing import Any

if sys.path and sys.path[0].endswith("verify"):
    sys.path.pop(0)


def _describe(diff: Any) -> dict[str, Any]:
    op = diff[0]
    table = column = None
    if op in ("add_table", "remove_table"):
        table = diff[1].fullname
    elif op in ("add_column", "remove_column"):
        table = f"{diff[1]}.{diff[2]}" if diff[1] else diff[2]
        column = diff[3].name
    elif op.startswith("modify_"):
        table = f"{diff[1]}.{diff[2]}" if diff[1] else diff[2]
        column = diff[3]
        return {"op": op, "table": table, "column": column, "detail": f"database has {diff[5]!r}, model {diff[6]!r}"}
    elif hasattr(diff[1], "table") and diff[1].table is not None:
        table = diff[1].table.fullname
        return {"op": op, "table": table, "column": None, "detail": str(getattr(diff[1], "name", "") or "")}
    return {"op": op, "table": table, "column": column, "detail": ""}


def _is_version_table(table: Any) -> bool:
    """Alembic's version table under any name (env.py's version_table=): a table whose only column is
    version_num."""
    return table.name == "alembic_version" or [c.name for c in table.columns] == ["version_num"]


def main() -> None:
    target, url, excluded_csv = sys.argv[1:4]
    excluded = {s for s in excluded_csv.split(",") if s}
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
        obj = getattr(module, attribute or "Base")
    except Exception as exc:  # any import-time failure of the app is a finding, not our crash
        print(json.dumps({"import_error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()[-2000:]}))
        return
    metadata = getattr(obj, "metadata", obj)

    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine, pool

    schemas = {t.schema for t in metadata.tables.values()}

    def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
        if type_ == "schema":
            return name is None or (name in schemas and name not in excluded)
        return True

    def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        table = obj if type_ == "table" else getattr(obj, "table", None)
        return table is None or (table.schema not in excluded and not _is_version_table(table))

    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "include_schemas": True,
                "include_name": include_name,
                "include_object": include_object,
                "target_metadata": metadata,
            },
        )
        diffs = compare_metadata(context, metadata)
    flat: list[Any] = []
    for diff in diffs:
        flat += diff if isinstance(diff, list) else [diff]
    print(json.dumps({"differences": [_describe(d) for d in flat]}, default=str))


if __name__ == "__main__":
    main()
