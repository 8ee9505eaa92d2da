"""orchestrator.spec: the example feature and small variants (tables, bullets, erDiagram, Spec-Flow headings)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import InputError
from orchestrator.spec import FeatureSpec, load_feature, parse_data_model, table_name_for

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_SPEC = ROOT / "examples" / "cfi-app" / "specs" / "042-lesson-progress"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "specs"


@pytest.fixture(scope="module")
def example() -> FeatureSpec:
    return load_feature(EXAMPLE_SPEC)


def fields_of(spec: FeatureSpec, table: str) -> dict[str, object]:
    entity = spec.entity_for_table(table)
    assert entity is not None, f"no entity for {table}: {[e.table for e in spec.entities]}"
    return {f.name: f for f in entity.fields}


def test_example_identity(example: FeatureSpec) -> None:
    assert (example.number, example.slug, example.title) == ("042", "lesson-progress", "Lesson Progress Tracking")
    assert example.path == EXAMPLE_SPEC.resolve()
    assert "FR-001" in example.spec_md and "erDiagram" in example.data_model_md and "lock_timeout" in example.plan_md


def test_example_entities(example: FeatureSpec) -> None:
    summary = [(e.name, e.table, e.schema_, e.existing) for e in example.entities]
    assert summary == [
        ("LessonObjective", "lesson_objectives", "public", False),
        ("StudentProgress", "student_progress", "public", False),
        ("Lesson", "lessons", "public", True),
    ]
    # An existing table lists only what the feature adds.
    assert list(fields_of(example, "lessons")) == ["debrief_notes"]


def test_example_fields(example: FeatureSpec) -> None:
    objectives = fields_of(example, "lesson_objectives")
    assert list(objectives) == ["id", "code", "title", "area_of_operation", "certificate", "description", "created_at"]
    code = example.entity_for_table("lesson_objectives").fields[1]  # type: ignore[union-attr]
    assert (code.type, code.nullable, code.unique, code.primary_key) == ("text", False, True, False)

    progress = {f.name: f for f in example.entity_for_table("student_progress").fields}  # type: ignore[union-attr]
    assert progress["id"].primary_key and not progress["id"].nullable
    assert progress["student_id"].references == "students.id" and not progress["student_id"].nullable
    assert progress["objective_id"].references == "lesson_objectives.id"
    assert progress["evaluated_by"].references == "instructors.id" and progress["evaluated_by"].nullable
    assert progress["proficiency"].type == "proficiency_level"
    assert progress["instructor_notes"].pii and not progress["student_id"].pii
    lessons = example.entity_for_table("lessons")
    assert lessons is not None and lessons.fields[0].nullable and lessons.fields[0].pii


def test_example_plan_facts(example: FeatureSpec) -> None:
    assert example.public_read_tables == ["lesson_objectives"]
    assert example.pii_columns == {"student_progress.instructor_notes", "lessons.debrief_notes"}
    # The plan names only the revision the feature starts from; the feature's own id does not exist yet.
    assert (example.revision_ids, example.base_revision_ids) == ([], ["3f9c2a7d1b84"])
    names = [q.name for q in example.query_patterns]
    assert names == ["Student dashboard: recent lessons", "Student dashboard: progress by objective"]
    assert "ORDER BY scheduled_at DESC" in example.query_patterns[0].sql
    assert not example.query_patterns[0].sql.startswith("```")


def test_spec_flow_bullets_and_bracketed_headings() -> None:
    spec = load_feature(FIXTURES / "017-invoice-reminders")
    assert spec.title == "Invoice reminders"
    assert [(e.name, e.table, e.schema_, e.existing) for e in spec.entities] == [
        ("InvoiceReminder", "invoice_reminders", "public", False),
        ("Customer", "customers", "billing", True),
        ("ReminderTemplate", "reminder_templates", "public", False),
    ]
    reminder = {f.name: f for f in spec.entities[0].fields}
    # The Relationships and Validation Rules bullets are not fields.
    assert list(reminder) == ["id", "invoice_id", "channel", "recipient_email", "send_at", "template_key", "created_at"]
    assert reminder["id"].type == "UUID" and reminder["id"].primary_key
    assert reminder["invoice_id"].references == "invoices.id"
    assert reminder["recipient_email"].type == "varchar(320)" and reminder["recipient_email"].pii
    assert reminder["send_at"].type == "timestamp with time zone" and not reminder["send_at"].nullable
    assert reminder["template_key"].unique and reminder["created_at"].nullable
    customer = {f.name: f for f in spec.entities[1].fields}
    assert customer["reminder_opt_out"].type == "boolean" and not customer["reminder_opt_out"].nullable
    assert customer["phone_number"].pii and customer["phone_number"].nullable
    assert spec.public_read_tables == ["reminder_templates"]
    assert spec.pii_columns == {"invoice_reminders.recipient_email", "customers.phone_number"}
    assert (spec.revision_ids, spec.base_revision_ids) == ([], ["9a0b1c2d3e4f"])
    # Only the SQL under the performance heading; the [SECURITY] policy example is not a query pattern.
    assert [q.name for q in spec.query_patterns] == ["Performance targets", "Performance targets (2)"]
    assert all("invoice_reminders" in q.sql and "POLICY" not in q.sql for q in spec.query_patterns)


def test_mermaid_er_diagram_only() -> None:
    spec = load_feature(FIXTURES / "008-team-chat")
    assert spec.plan_md == "" and spec.query_patterns == []
    assert [(e.name, e.table) for e in spec.entities] == [
        ("CHANNEL", "channels"),
        ("MESSAGE", "messages"),
        ("channel_members", "channel_members"),
    ]
    channel = {f.name: f for f in spec.entities[0].fields}
    assert channel["id"].primary_key and not channel["id"].nullable and channel["name"].unique
    message = {f.name: f for f in spec.entities[1].fields}
    assert message["channel_id"].references == "channels.id"
    assert message["author_id"].references == "auth.users.id"
    assert spec.pii_columns == {"messages.body"}
    members = spec.entities[2].fields
    assert [f.name for f in members] == ["channel_id", "user_id"] and all(f.primary_key for f in members)


def test_old_template_tables_and_existing_section() -> None:
    spec = load_feature(FIXTURES / "023-course-enrollment")
    # The spec's title is an unfilled placeholder, so the plan's is used.
    assert spec.title == "Course enrollment"
    assert [(e.name, e.table, e.existing) for e in spec.entities] == [
        ("Enrollment", "enrollments", False),
        ("Course", "courses", True),
        ("Category", "categories", False),
    ]
    enrollment = {f.name: f for f in spec.entities[0].fields}
    assert "nope" not in enrollment  # inside an HTML comment
    assert enrollment["id"].type == "bigint" and not enrollment["id"].nullable
    assert enrollment["student_email"].pii and not enrollment["course_id"].pii
    assert enrollment["course_id"].references == "courses.id"
    assert enrollment["status"].nullable
    assert spec.entities[1].fields[0].name == "enrollment_cap"
    assert not spec.entities[2].fields[0].nullable  # "Required: yes"
    assert spec.public_read_tables == ["categories"]
    assert (spec.revision_ids, spec.base_revision_ids) == (["0023_enrollments"], [])
    assert [q.name for q in spec.query_patterns] == ["Query patterns"]


def test_missing_folder_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError) as error:
        load_feature(tmp_path / "specs" / "099-nothing")
    assert "099-nothing" in str(error.value) and error.value.hint


def test_missing_data_model_is_an_input_error() -> None:
    with pytest.raises(InputError) as error:
        load_feature(FIXTURES / "031-no-data-model")
    assert str(FIXTURES / "031-no-data-model" / "data-model.md") in error.value.message


def test_a_file_inside_the_folder_names_the_folder() -> None:
    assert load_feature(EXAMPLE_SPEC / "plan.md").slug == "lesson-progress"


def test_undecodable_file_is_an_input_error(tmp_path: Path) -> None:
    folder = tmp_path / "5-x"
    folder.mkdir()
    (folder / "data-model.md").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(InputError, match="UTF-8"):
        load_feature(folder)


@pytest.mark.parametrize(
    ("entity", "table"),
    [
        ("LessonObjective", "lesson_objectives"),
        ("Lesson Objective", "lesson_objectives"),
        ("Category", "categories"),
        ("Day", "days"),
        ("Address", "addresses"),
        ("StudentProgress", "student_progress"),
        ("Aircraft", "aircraft"),
        ("HTTPRequest", "http_requests"),
        ("branch", "branches"),
        # Already table names (spec-kit's `### lesson_notes (new)`): not pluralised again.
        ("lesson_notes", "lesson_notes"),
        ("status_history", "status_history"),
        ("people", "people"),
        ("LessonNote", "lesson_notes"),
        ("Person", "people"),
        ("Analysis", "analyses"),
    ],
)
def test_table_name_for(entity: str, table: str) -> None:
    assert table_name_for(entity) == table


def test_a_heading_that_is_the_table_name_is_the_table() -> None:
    text = "## Entities\n\n### lesson_notes (new)\n\n| Field | Type |\n|---|---|\n| body | text |\n"
    [entity] = parse_data_model(text)
    assert (entity.name, entity.table, entity.existing) == ("lesson_notes", "lesson_notes", False)


def test_heading_with_table_in_backticks_and_no_fields_elsewhere() -> None:
    text = "## Entities\n\n### Bookings `flight_bookings`\n\n- `slot` (tstzrange): NOT NULL\n\n## Enums\n\n- `kind`: text\n"
    entities = parse_data_model(text)
    assert [(e.name, e.table) for e in entities] == [("Bookings", "flight_bookings")]
    assert entities[0].fields[0].type == "tstzrange" and not entities[0].fields[0].nullable


def test_pii_marks_and_nullability_words() -> None:
    text = (
        "### Contact\n\n| Field | Type | Notes |\n|---|---|---|\n"
        "| handle | text | case-sensitive, NOT NULL |\n"
        "| birth_date | date | sensitive personal data |\n"
        "| nickname | text | optional |\n"
        "| tags | text[] | |\n"
    )
    fields = {f.name: f for f in parse_data_model(text)[0].fields}
    assert not fields["handle"].pii and not fields["handle"].nullable
    assert fields["birth_date"].pii and fields["birth_date"].nullable
    assert fields["nickname"].nullable and fields["tags"].type == "text[]"


SQL_MODEL = """# Data model

## Schema

```sql
CREATE TABLE public.student_progress (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  student_id uuid NOT NULL REFERENCES public.students(id),
  objective_id bigint NOT NULL,
  proficiency varchar(20) NOT NULL,
  email text UNIQUE,
  CONSTRAINT fk_objective FOREIGN KEY (objective_id) REFERENCES lesson_objectives (id)
);
ALTER TABLE lessons ADD COLUMN debrief_notes text, ALTER COLUMN title SET NOT NULL;
CREATE INDEX ON student_progress (student_id);
this line is not SQL;
```
"""


def test_ddl_in_a_sql_block_is_read_by_the_parser() -> None:
    entities = {e.qualified_table: e for e in parse_data_model(SQL_MODEL)}
    assert set(entities) == {"public.student_progress", "public.lessons"}
    progress = entities["public.student_progress"]
    assert not progress.existing
    fields = {f.name: f for f in progress.fields}
    assert list(fields) == ["id", "student_id", "objective_id", "proficiency", "email"]
    assert fields["id"].primary_key and not fields["id"].nullable and fields["id"].type == "bigint"
    assert fields["student_id"].references == "students.id" and not fields["student_id"].nullable
    assert fields["objective_id"].references == "lesson_objectives.id"
    assert fields["proficiency"].type == "varchar(20)"
    assert fields["email"].unique and fields["email"].nullable
    lessons = entities["public.lessons"]
    assert lessons.existing and [f.name for f in lessons.fields] == ["debrief_notes"]


def test_headings_win_over_a_sql_block_for_the_same_table() -> None:
    text = "## Entities\n\n### StudentProgress\n\n- `id`: bigint - primary key\n\n" + SQL_MODEL
    entities = {e.qualified_table: e for e in parse_data_model(text)}
    assert [f.name for f in entities["public.student_progress"].fields] == ["id"]
    assert "public.lessons" in entities
