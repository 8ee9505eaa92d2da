"""pii-undocumented: a column whose name says it holds personal data, not marked as PII by the data model or plan."""

from __future__ import annotations

import re
from collections.abc import Iterator

from orchestrator.checks.model import CheckContext, Rule, Violation
from orchestrator.checks.rules._examples import FEATURE_REVISION_PATH, lesson_notes_table, spec_files
from orchestrator.checks.rules._feature import feature_schema
from orchestrator.report import Severity

# (kind, pattern over the whole column name): the PII word ends the name (contact_email, home_phone,
# date_of_birth), so flags and counters built on it (email_verified, phone_count) do not match.
PII_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(rf"^(?:[a-z0-9]+_)*(?:{words})$"))
    for kind, words in (
        ("email", r"e_?mail|e_?mail_address"),
        ("IP address", r"ip|ip_address|ip_addr|inet_address"),
        ("phone number", r"phone|phone_number|mobile|mobile_number|telephone|cell_phone|fax"),
        ("birth date", r"dob|birth_?date|date_of_birth|birthday"),
        (
            "postal address",
            r"address|address_line_?\d*|street|street_address|postal_code|postcode|zip|zip_code|zipcode",
        ),
        (
            "national id",
            r"ssn|social_security_number|national_id|national_id_number|passport|passport_number|tax_id|tin|nin",
        ),
        ("person's name", r"first_name|last_name|full_name|surname|legal_name|given_name|family_name|maiden_name"),
    )
)
_PII_MARK = re.compile(r"\bpii\b|\bpersonal(ly)?\b|\bgdpr\b|\bsensitive\b", re.IGNORECASE)


def pii_kind(column: str) -> str | None:
    name = column.lower()
    for kind, pattern in PII_PATTERNS:
        if pattern.match(name):
            return kind
    return None


def _documented_in_text(text: str, table: str, column: str) -> bool:
    """A line of the data model / plan that names the column (or table.column) and says PII / personal / sensitive."""
    word = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(column)}(?![A-Za-z0-9_])", re.IGNORECASE)
    return any(word.search(line) and _PII_MARK.search(line) for line in text.splitlines())


class PiiUndocumented(Rule):
    id = "pii-undocumented"
    severity = Severity.WARNING
    family = "content"
    summary = "a column that holds PII (email, phone, birth date, address, national id...) that the data model or plan does not mark as PII"
    why = (
        "Personal data has obligations the schema does not show: who may read it (RLS), how long it is kept, "
        "what a data-subject request must export or erase, whether it may reach logs and analytics. Those "
        "decisions are only made if the data model says which columns are personal. Judged on the columns the "
        "feature creates, by name (the PII word ends the name: contact_email yes, email_verified no); a column "
        "counts as documented when the data model marks it PII, or a line of data-model.md or plan.md names it "
        "together with PII / personal / sensitive. Without --spec there is nothing to compare with, and the rule "
        "is silent."
    )
    fix = "Mark it in data-model.md: a `PII` note in the field's row (| contact_email | text | nullable | PII |)."
    needs_spec = True
    example_path = FEATURE_REVISION_PATH
    bad = {
        **spec_files(("id", "student_id", "body", "created_at")),
        FEATURE_REVISION_PATH: lesson_notes_table(("body", "contact_email")),
    }
    good = {
        **spec_files(("id", "student_id", "body", "contact_email", "created_at")),
        FEATURE_REVISION_PATH: lesson_notes_table(("body", "contact_email")),
    }

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        spec = ctx.spec
        if spec is None:
            return
        marked = {c.lower() for c in spec.pii_columns}
        texts = f"{spec.data_model_md}\n{spec.plan_md}"
        for col in feature_schema(ctx).columns:
            kind = pii_kind(col.name)
            if kind is None:
                continue
            bare = col.table.split(".", 1)[1]
            if f"{bare}.{col.name}".lower() in marked or f"{col.table}.{col.name}".lower() in marked:
                continue
            if _documented_in_text(texts, bare, col.name):
                continue
            yield Violation(
                col.stmt.file,
                col.stmt.line,
                f"column {col.table}.{col.name} looks like personal data ({kind}) but data-model.md does not mark "
                "it as PII",
                f"Mark it in data-model.md: a `PII` note in the row of {col.name} of {bare} "
                f"(| {col.name} | ... | PII |), or say in plan.md why {bare}.{col.name} is not personal data.",
            )
