"""The feature's data as the tool reads it: entities, their fields, query patterns, and the feature itself."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

SPEC_FILES = ("spec.md", "data-model.md", "plan.md")


class FieldSpec(BaseModel):
    """One field of an entity as the data model states it (for an existing table: a field the feature adds)."""

    name: str
    type: str = ""
    nullable: bool = True
    pii: bool = False
    references: str | None = None  # as written, normalised to "table.column" or "schema.table.column"
    unique: bool = False
    primary_key: bool = False
    notes: str = ""  # the constraints and notes text it was read from


class Entity(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    name: str
    table: str
    schema_: str = Field(default="public", alias="schema")
    existing: bool = False  # the feature changes a table that exists already; `fields` are then the new ones
    fields: list[FieldSpec] = Field(default_factory=list)

    @property
    def qualified_table(self) -> str:
        return f"{self.schema_}.{self.table}"


class QueryPattern(BaseModel):
    name: str
    sql: str


class FeatureSpec(BaseModel):
    path: Path
    number: str  # "042"; "" when the folder name has no leading number
    slug: str  # "lesson-progress"
    title: str
    entities: list[Entity] = Field(default_factory=list)
    query_patterns: list[QueryPattern] = Field(default_factory=list)
    public_read_tables: list[str] = Field(default_factory=list)
    pii_columns: set[str] = Field(default_factory=set)  # "table.column"
    # Revision ids the plan or data model names as the feature's own (e.g. "revision `0023_enrollments` adds ...").
    revision_ids: list[str] = Field(default_factory=list)
    # Revision ids named as where the feature starts ("Base revision: `3f9c2a7d1b84`", "down_revision = ...").
    base_revision_ids: list[str] = Field(default_factory=list)
    spec_md: str = ""
    data_model_md: str = ""
    plan_md: str = ""

    def entity_for_table(self, table: str) -> Entity | None:
        bare = table.split(".")[-1]
        return next((e for e in self.entities if e.table == bare or e.qualified_table == table), None)
