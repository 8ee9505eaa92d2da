"""Every rule's own examples: its `bad` example must fire it and its `good` example must not.

An example is written into a temporary repo laid out with the default config. A rule that needs a spec runs
as `delegate check --static-only --spec specs/001-example --repo TMP` (the repo's layout); any other rule runs on
exactly its example's .sql and revision files, as `delegate check --static-only FILE...` would.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from orchestrator.check import CheckOptions
from orchestrator.checks.engine import known_rule_ids, load_rules, run_static
from orchestrator.checks.model import Rule
from orchestrator.checks.offline import RenderJob, remember_rendering
from orchestrator.config import load_config
from orchestrator.report import Finding

SPEC = Path("specs/001-example")
STATIC_RULES = [r for r in load_rules() if not r.live]
KNOWN_IDS = known_rule_ids(load_rules())  # whatever an example fires must be in the catalogue


# The examples' objects under other names (issue 12 point 7): a fix written for lesson_notes must not reach a
# finding about another table. Revision ids change too; a1b2c3d4e5f6 is placeholder-revision-id's own subject.
RENAMES = (
    ("3f9c2a7d1b84", "9d41b7e2c05a"),
    ("e6a1c0f4b2d9", "b58e3f1a6c27"),
    ("27c6a30d7c24", "c3a9e5d17b40"),
    ("lesson", "sortie"),
    ("Lesson", "Sortie"),
    ("student", "pilot"),
    ("Student", "Pilot"),
    ("course", "route"),
    ("rating", "grade"),
    ("slug", "code"),
    ("instructor", "examiner"),
    ("attendance", "roster"),
    ("duration_minutes", "block_minutes"),
    ("contact_email", "backup_email"),
)
EXAMPLE_NAMES = re.compile(r"lesson|student|course|rating|slug|instructor|attendance|3f9c2a7d1b84|e6a1c0f4b2d9", re.I)


def renamed(example: str | dict[str, str]) -> str | dict[str, str]:
    def rename(text: str) -> str:
        for old, new in RENAMES:
            text = text.replace(old, new)
        return text

    if isinstance(example, str):
        return rename(example)
    return {rename(rel): rename(content) for rel, content in example.items()}


@pytest.fixture(scope="module", autouse=True)
def rendered_once(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Render every example revision in one subprocess up front: the engine's rendering cache (by file content)
    then serves each test, instead of one Alembic start-up per example."""
    folder = tmp_path_factory.mktemp("examples")
    files: list[Path] = []
    for n, rule in enumerate(STATIC_RULES):
        for which, example in (("bad", rule.bad), ("good", rule.good), ("renamed", renamed(rule.bad))):
            items = {rule.example_path: example} if isinstance(example, str) else example
            for rel, content in items.items():
                if rel.endswith(".py") and "def upgrade" in content:
                    path = folder / f"r{n}_{which}_{len(files)}.py"
                    path.write_text(content, encoding="utf-8")
                    files.append(path)
    if files:
        for path, result in RenderJob(files, [folder], None, timeout=120).result().items():
            remember_rendering(path, None, result)


def write_example(root: Path, rule: Rule, example: str | dict[str, str], path: str | None = None) -> list[Path]:
    """Write the example's files; return those a check reads (.sql files and revision files)."""
    files = {path or rule.example_path: example} if isinstance(example, str) else example
    checked = []
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        if path.suffix == ".sql" or (path.suffix == ".py" and "revision" in content and "def upgrade" in content):
            checked.append(path)
    return checked


def findings_for(root: Path, rule: Rule, example: str | dict[str, str], path: str | None = None) -> list[Finding]:
    checked = write_example(root, rule, example, path)
    if rule.needs_spec:
        options = CheckOptions(repo=root, static_only=True, spec=SPEC)
    else:
        options = CheckOptions(repo=root, static_only=True, paths=checked)
    cfg = load_config(root)
    if rule.supabase_only:
        # A bare example names no Supabase role or auth.users, so it would be detected plain PostgreSQL.
        cfg.target = "supabase"
    return run_static(root, cfg, options)


def describe(findings: list[Finding]) -> str:
    return "\n".join(f"  {f.rule} {f.file}:{f.line} {f.message}" for f in findings) or "  (no findings)"


@pytest.mark.skipif(not STATIC_RULES, reason="orchestrator.checks.rules is not there yet")
@pytest.mark.parametrize("rule", STATIC_RULES, ids=lambda r: r.id)
def test_bad_example_fires(rule: Rule, tmp_path: Path) -> None:
    found = findings_for(tmp_path, rule, rule.bad)
    assert not [f for f in found if f.rule == "internal-error"], describe(found)
    assert {f.rule for f in found} <= KNOWN_IDS, describe(found)
    assert any(f.rule == rule.id for f in found), f"{rule.id} did not fire on its bad example:\n{describe(found)}"


@pytest.mark.skipif(not STATIC_RULES, reason="orchestrator.checks.rules is not there yet")
@pytest.mark.parametrize("rule", STATIC_RULES, ids=lambda r: r.id)
def test_good_example_is_clean(rule: Rule, tmp_path: Path) -> None:
    found = findings_for(tmp_path, rule, rule.good)
    assert not [f for f in found if f.rule == "internal-error"], describe(found)
    assert {f.rule for f in found} <= KNOWN_IDS, describe(found)
    assert not any(f.rule == rule.id for f in found), f"{rule.id} fired on its good example:\n{describe(found)}"


@pytest.mark.skipif(not STATIC_RULES, reason="orchestrator.checks.rules is not there yet")
@pytest.mark.parametrize("rule", STATIC_RULES, ids=lambda r: r.id)
def test_the_fix_is_about_the_finding_s_own_objects(rule: Rule, tmp_path: Path) -> None:
    """The bad example under other names: each fix names the finding's table, column, revision or file (when it
    names any), never the example's lesson_notes (rls-role-coverage once told profiles to add a lesson_notes
    policy)."""
    found = [
        f for f in findings_for(tmp_path, rule, renamed(rule.bad), renamed(rule.example_path)) if f.rule == rule.id
    ]
    assert found, f"{rule.id} did not fire on its renamed bad example"
    for f in found:
        leaked = sorted({m.group(0) for m in EXAMPLE_NAMES.finditer(f.fix or "")})
        assert not leaked, (
            f"{rule.id}: the fix names {leaked}, which the finding is not about:\n  {f.message}\n  {f.fix}"
        )
        if f.fix == rule.fix:
            continue  # the rule's general advice, naming nothing of its example
        # Its subject: the tables, columns, revisions and files that both the message and the example name.
        example = " ".join(renamed(rule.bad).values()) if isinstance(rule.bad, dict) else str(renamed(rule.bad))
        words = set(re.findall(r"[A-Za-z0-9_]{4,}", example)) - {"public", "auth", "alembic", "revision", "upgrade"}
        subjects = {w for w in re.findall(r"[A-Za-z0-9_]{4,}", f.message) if w in words}
        assert not subjects or subjects & set(re.findall(r"[A-Za-z0-9_]{4,}", f.fix or "")), (
            f"{rule.id}: the fix names none of {sorted(subjects)}:\n  {f.message}\n  {f.fix}"
        )
