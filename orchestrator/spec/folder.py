"""Read a feature folder (spec.md, data-model.md, plan.md) into a FeatureSpec."""

from __future__ import annotations

import re
from pathlib import Path

from orchestrator.errors import InputError
from orchestrator.spec.data_model import parse_data_model
from orchestrator.spec.markdown import headings, plain_text
from orchestrator.spec.models import SPEC_FILES, FeatureSpec
from orchestrator.spec.plan import parse_query_patterns, public_read_tables, revision_ids


def load_feature(path: Path) -> FeatureSpec:
    """Parse the feature folder at `path` (or a file inside it); InputError when the folder or data-model.md is missing."""
    folder = Path(path)
    if folder.is_file() and folder.name in SPEC_FILES:
        folder = folder.parent
    if not folder.is_dir():
        raise InputError(
            f"{path}: no such feature folder",
            "pass the feature's folder, e.g. specs/042-lesson-progress (it holds spec.md, data-model.md, plan.md)",
        )
    data_model_path = folder / "data-model.md"
    if not data_model_path.is_file():
        raise InputError(
            f"{data_model_path}: missing; the database work is planned from the feature's data model",
            "write data-model.md (entities with their fields) in the feature folder, e.g. with spec-kit's /plan",
        )
    spec_md = _read(folder / "spec.md")
    data_model_md = _read(data_model_path)
    plan_md = _read(folder / "plan.md")

    number, slug = _number_and_slug(folder.name)
    entities = parse_data_model(data_model_md)
    tables = [e.table for e in entities]
    public = public_read_tables(entities, data_model_md, plan_md, tables)
    own_ids, base_ids = revision_ids(plan_md + "\n" + data_model_md)
    return FeatureSpec(
        path=folder.resolve(),
        number=number,
        slug=slug,
        title=_title(spec_md, plan_md, slug),
        entities=entities,
        query_patterns=parse_query_patterns(plan_md) or parse_query_patterns(data_model_md),
        public_read_tables=public,
        pii_columns={f"{e.table}.{f.name}" for e in entities for f in e.fields if f.pii},
        revision_ids=own_ids,
        base_revision_ids=base_ids,
        spec_md=spec_md,
        data_model_md=data_model_md,
        plan_md=plan_md,
    )


def _read(path: Path) -> str:
    if not path.is_file():
        return ""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc})", "save the file as UTF-8") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})", "check the file's permissions") from None


def _number_and_slug(folder_name: str) -> tuple[str, str]:
    match = re.match(r"^(\d+)[-_ .]+(.+)$", folder_name)
    if match:
        return match.group(1), match.group(2)
    return "", folder_name


_TITLE_PREFIX = re.compile(
    r"^(feature\s+specification|specification|spec|implementation\s+plan|plan|feature|data\s+model)\s*[:\-–—]\s*",
    re.IGNORECASE,
)


def _title(spec_md: str, plan_md: str, slug: str) -> str:
    for text in (spec_md, plan_md):
        for heading in headings(text):
            if heading.level == 1:
                title = _TITLE_PREFIX.sub("", plain_text(heading.title)).strip()
                if title and not title.startswith("["):  # "[FEATURE NAME]": an unfilled template
                    return title
    return slug.replace("-", " ").replace("_", " ").strip().capitalize()
