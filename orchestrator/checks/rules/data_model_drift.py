"""data-model-drift: the data model and the feature's migrations disagree on tables or columns."""

from __future__ import annotations

from collections.abc import Iterator

from orchestrator.checks.model import CheckContext, Rule, Violation
from orchestrator.checks.rules._examples import FEATURE_REVISION_PATH, lesson_notes_table, spec_files
from orchestrator.checks.rules._feature import feature_schema, line_in, spec_rel
from orchestrator.report import Severity

# Bookkeeping columns that migrations add by convention and data models often leave out: never reported as
# unnamed. When the data model does list one, the migration must create it like any other field.
IMPLICIT_COLUMNS = frozenset({"id", "created_at", "updated_at"})


def _table_key(qualified: str) -> str:
    from orchestrator.spec import table_name_for  # (spec pulls in pydantic: only when a spec is checked)

    schema, _, table = qualified.rpartition(".")
    return f"{schema or 'public'}.{table_name_for(table)}"


class DataModelDrift(Rule):
    id = "data-model-drift"
    severity = Severity.ERROR
    family = "content"
    summary = "an entity or field of data-model.md that no migration creates, or a created table/column the data model does not name"
    why = (
        "The data model is what the team reviewed and agreed on; the migration is what ships. A field the model "
        "promises but no migration creates breaks the app code written against the model, and a table or column "
        "nobody specified escapes review (and usually RLS and PII decisions). Names compare case-insensitively. "
        "For an existing entity only the fields it lists are expected (created by the feature, or already present "
        "in the checked migrations). id, created_at and updated_at may be added without being in the model."
    )
    fix = (
        "Make them agree: create the missing table/column in the feature's revision, or add the new table/column "
        "to data-model.md (or remove it from the migration if nobody asked for it)."
    )
    needs_spec = True
    example_path = FEATURE_REVISION_PATH
    bad = {
        **spec_files(("id", "student_id", "body", "created_at")),
        FEATURE_REVISION_PATH: lesson_notes_table(("contact_email",)),
    }
    good = {
        **spec_files(("id", "student_id", "body", "created_at")),
        FEATURE_REVISION_PATH: lesson_notes_table(("body",)),
    }

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        spec = ctx.spec
        if spec is None or not spec.entities:
            return  # nothing parsed from the data model: other findings say why; do not report every table
        schema = feature_schema(ctx)
        model_file = f"{spec_rel(ctx)}/data-model.md"
        model_text = spec.data_model_md

        created_cols: dict[str, set[str]] = {}
        for col in schema.columns:
            created_cols.setdefault(col.table.lower(), set()).add(col.name.lower())
        created_tables = {t.lower() for t in schema.tables}
        known = {(t.lower(), c.lower()) for t, c in schema.known_columns}
        # An entity matches the table the migrations really name, whether the data model writes it singular,
        # plural or CamelCase (LessonNote, lesson_note, lesson_notes): both sides reduce to one table name.
        real_tables = created_tables | set(created_cols) | {t for t, _ in known}
        by_name = {_table_key(t): t for t in sorted(real_tables, key=lambda t: (t in created_tables, t))}

        entity_fields: dict[str, set[str]] = {}
        for entity in spec.entities:
            table = entity.qualified_table.lower()
            if table not in real_tables:
                table = by_name.get(_table_key(table), table)
            fields = {f.name.lower() for f in entity.fields}
            entity_fields.setdefault(table, set()).update(fields)
            if not entity.existing and table not in created_tables:
                yield Violation(
                    model_file,
                    line_in(model_text, entity.table, entity.name),
                    f"entity {entity.name} (table {entity.qualified_table}) is in the data model but no migration of "
                    "the feature creates it",
                )
                continue
            made = created_cols.get(table, set())
            for name in sorted(fields):
                if name in made or (entity.existing and (table, name) in known):
                    continue
                yield Violation(
                    model_file,
                    line_in(model_text, name),
                    f"field {entity.table}.{name} is in the data model but no migration of the feature creates it",
                )

        for table, stmt in schema.tables.items():
            if table.lower() not in entity_fields:
                yield Violation(
                    stmt.file, stmt.line, f"table {table} is created by the feature but the data model does not name it"
                )
        for col in schema.columns:
            table = col.table.lower()
            named_fields = entity_fields.get(table)
            if named_fields is None:
                if col.added:  # a column added to a table the model does not mention at all
                    yield Violation(
                        col.stmt.file,
                        col.stmt.line,
                        f"column {col.table}.{col.name} is added by the feature but the data model does not name it",
                    )
                continue
            if col.name.lower() not in named_fields and col.name.lower() not in IMPLICIT_COLUMNS:
                yield Violation(
                    col.stmt.file,
                    col.stmt.line,
                    f"column {col.table}.{col.name} is created by the feature but the data model does not name it",
                )
