"""Read a spec-driven feature folder (spec.md, data-model.md, plan.md) into entities, fields and query patterns.

models.py the data; folder.py load_feature; markdown.py the Markdown structure; data_model.py the entities,
with the dialects fields.py (tables, bullets), mermaid.py (erDiagram) and sql_blocks.py (```sql DDL);
names.py table names; plan.py query patterns, public read and revision ids."""

from __future__ import annotations

from orchestrator.spec.data_model import parse_data_model
from orchestrator.spec.folder import load_feature
from orchestrator.spec.models import SPEC_FILES, Entity, FeatureSpec, FieldSpec, QueryPattern
from orchestrator.spec.names import table_name_for
from orchestrator.spec.plan import parse_query_patterns

__all__ = [
    "Entity",
    "FeatureSpec",
    "FieldSpec",
    "QueryPattern",
    "SPEC_FILES",
    "load_feature",
    "parse_data_model",
    "parse_query_patterns",
    "table_name_for",
]
