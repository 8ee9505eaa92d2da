"""Alembic revision-file rules: functions, ids, the revision graph and autocommit blocks, from the Python AST."""

from __future__ import annotations

import random

import pytest

from orchestrator.checks.rules.alembic import placeholder_reason
from orchestrator.config import DelegateConfig
from orchestrator.report import Severity
from tests.support.rules import run_rule

VERSIONS = "api/alembic/versions"


def revision_file(
    rev: str,
    down: str | tuple[str, ...] | None,
    up: str = "pass",
    down_body: str = 'op.execute("SELECT 1")',
    extra: str = "",
) -> str:
    up_body = "\n".join(f"    {line}" for line in up.strip().splitlines())
    dn_body = "\n".join(f"    {line}" for line in down_body.strip().splitlines())
    return (
        f'"""rev {rev}"""\nfrom alembic import op\n\nrevision = {rev!r}\ndown_revision = {down!r}\n{extra}\n\n'
        f"def upgrade() -> None:\n{up_body}\n\n\ndef downgrade() -> None:\n{dn_body}\n"
    )


def history(*revs: tuple[str, str | tuple[str, ...] | None]) -> dict[str, str]:
    return {f"{VERSIONS}/{rev}_x.py": revision_file(rev, down) for rev, down in revs}


def test_missing_functions() -> None:
    text = '"""x"""\nrevision = "3f9c2a7d1b84"\ndown_revision = None\n'
    files = {f"{VERSIONS}/a.py": text}
    assert len(run_rule("missing-upgrade", files)) == 1
    assert len(run_rule("missing-downgrade", files)) == 1
    helper = {f"{VERSIONS}/_helpers.py": "def make_policy(name):\n    return name\n"}
    assert run_rule("missing-upgrade", helper) == []


@pytest.mark.parametrize(
    ("body", "fires"),
    [
        ("pass", True),
        ("...", True),
        ('"""Nothing to undo."""', True),
        ('"""Irreversible."""\nraise NotImplementedError("cannot undo")', False),  # irreversible-downgrade
        ('op.drop_column("lessons", "notes")', False),
        ("if True:\n    pass", False),
    ],
)
def test_empty_downgrade(body: str, fires: bool) -> None:
    files = {f"{VERSIONS}/a.py": revision_file("3f9c2a7d1b84", None, down_body=body)}
    assert bool(run_rule("empty-downgrade", files)) is fires


# warehouse's downgrades that refuse on purpose, and the ones that only look like it.
@pytest.mark.parametrize(
    ("body", "fires"),
    [
        ('raise RuntimeError("Order No. 227 - Ни шагу назад!")', True),
        ('raise RuntimeError("Cannot Go Backwards In Time.")', True),
        ('"""Irreversible."""\nraise NotImplementedError("cannot undo")', True),
        ("pass\nraise NotImplementedError", True),
        ("raise", True),
        ("pass", False),
        ('op.drop_column("lessons", "notes")\nraise RuntimeError("and then fails")', False),
        ('if op.get_context().as_sql:\n    raise RuntimeError("offline")\nop.drop_column("lessons", "notes")', False),
    ],
)
def test_irreversible_downgrade(body: str, fires: bool) -> None:
    files = {f"{VERSIONS}/a.py": revision_file("0977b97fce94", None, down_body=body)}
    found = run_rule("irreversible-downgrade", files)
    assert bool(found) is fires
    if fires:
        [v] = found
        assert "revision 0977b97fce94" in v.message and v.severity is None and v.fix and "0977b97fce94" in v.fix


def test_irreversible_downgrade_listed_in_config_is_an_info() -> None:
    files = {f"{VERSIONS}/a.py": revision_file("0977b97fce94", None, down_body='raise RuntimeError("no")')}
    [v] = run_rule("irreversible-downgrade", files, config=DelegateConfig(irreversible_revisions=["0977b97f"]))
    assert v.severity is Severity.INFO and "listed in irreversible_revisions" in v.message
    assert run_rule("empty-downgrade", files) == []


def test_empty_downgrade_respects_irreversible_revisions() -> None:
    files = {f"{VERSIONS}/a.py": revision_file("3f9c2a7d1b84", None, down_body="pass")}
    cfg = DelegateConfig(irreversible_revisions=["3f9c2a7d1b84"])
    assert run_rule("empty-downgrade", files, config=cfg) == []


def test_duplicate_revision_reports_the_second_file_naming_the_first() -> None:
    files = {
        f"{VERSIONS}/a.py": revision_file("3f9c2a7d1b84", None),
        f"{VERSIONS}/b.py": revision_file("3f9c2a7d1b84", None),
    }
    [v] = run_rule("duplicate-revision", files)
    assert v.file == f"{VERSIONS}/b.py" and f"{VERSIONS}/a.py" in v.message and v.line == 4


def test_multiple_heads_on_each_sibling() -> None:
    files = history(("3f9c2a7d1b84", None), ("e6a1c0f4b2d9", "3f9c2a7d1b84"), ("27c6a30d7c24", "3f9c2a7d1b84"))
    found = run_rule("multiple-heads", files)
    assert sorted(v.file for v in found) == [f"{VERSIONS}/27c6a30d7c24_x.py", f"{VERSIONS}/e6a1c0f4b2d9_x.py"]
    assert all("2 heads" in v.message and v.line == 5 for v in found)
    assert "e6a1c0f4b2d9" in next(v.message for v in found if v.file.startswith(f"{VERSIONS}/27c6"))


def test_merged_branches_are_one_head() -> None:
    files = history(
        ("3f9c2a7d1b84", None),
        ("e6a1c0f4b2d9", "3f9c2a7d1b84"),
        ("27c6a30d7c24", "3f9c2a7d1b84"),
        ("9b1e04c2d7a3", ("e6a1c0f4b2d9", "27c6a30d7c24")),
    )
    assert run_rule("multiple-heads", files) == []


def test_two_bases_are_two_heads() -> None:
    files = history(("3f9c2a7d1b84", None), ("e6a1c0f4b2d9", None))
    assert len(run_rule("multiple-heads", files)) == 2


def test_broken_down_revision() -> None:
    files = history(("3f9c2a7d1b84", None), ("e6a1c0f4b2d9", "3f9c2a7d1b8"))
    [v] = run_rule("broken-down-revision", files)
    assert v.file.startswith(f"{VERSIONS}/e6a1") and "'3f9c2a7d1b8'" in v.message


@pytest.mark.parametrize(
    "rev",
    [
        "a1b2c3d4e5f6",
        "abc123",
        "0001",
        "123456789abc",
        "deadbeef",
        "000000000000",
        "abcdef012345",
        "aaaaaaaaaaaa",
        "abababababab",
        "fedcba987654",
        "1234abcd5678",
        "c0ffee000001",
    ],
)
def test_placeholder_ids(rev: str) -> None:
    assert placeholder_reason(rev) is not None


@pytest.mark.parametrize(
    "rev", ["3f9c2a7d1b84", "e6a1c0f4b2d9", "27c6a30d7c24", "b7e41d09c5a2", "9b1e04c2d7a3", "20240301_add_lessons"]
)
def test_real_ids_pass(rev: str) -> None:
    assert placeholder_reason(rev) is None


def test_random_ids_rarely_look_invented() -> None:
    rng = random.Random(7)
    ids = [f"{rng.getrandbits(48):012x}" for _ in range(20000)]
    flagged = [i for i in ids if placeholder_reason(i)]
    assert len(flagged) / len(ids) < 0.002, flagged[:10]


def cws_history(*ids: str) -> dict[str, str]:
    """CleanWithSnapshot's layout: 0001_initial.py, 0002_slots_v1.py, ... each revising the one before."""
    down: str | None = None
    files = {}
    for rev in ids:
        files[f"{VERSIONS}/{rev}.py"] = revision_file(rev, down)
        down = rev
    return files


def test_a_history_s_own_numbering_is_not_an_invented_id() -> None:
    history = ("0001_initial", "0002_slots_v1", "0003_email_events", "0004_lead_status")
    feature = {"0064", "0065_invoice_links"}
    files = cws_history(*history, "0064", "0065_invoice_links")
    assert run_rule("placeholder-revision-id", files, feature_revisions=feature) == []
    # An agent's id in the same history is still flagged, with a fix naming the revision and the next number.
    files = cws_history(*history, "a1b2c3d4e5f6")
    [v] = run_rule("placeholder-revision-id", files, feature_revisions={"a1b2c3d4e5f6"})
    assert "'a1b2c3d4e5f6'" in v.message and v.file == f"{VERSIONS}/a1b2c3d4e5f6.py"
    assert v.fix and "revision a1b2c3d4e5f6" in v.fix and "`0005_<slug>`" in v.fix


def test_a1b2c3d4e5f6_in_a_history_of_random_hex_ids_is_flagged() -> None:
    # pscweb3: random hex ids, and one that an agent typed.
    files = cws_history("0209794dca2b", "03ac4c328b00", "11398f069793", "a1b2c3d4e5f6")
    [v] = run_rule("placeholder-revision-id", files, feature_revisions={"a1b2c3d4e5f6"})
    assert "a well-known placeholder" in v.message and "next number" not in (v.fix or "")
    # A numbered id is no convention of a hex history.
    files = cws_history("0209794dca2b", "03ac4c328b00", "11398f069793", "0004")
    assert len(run_rule("placeholder-revision-id", files, feature_revisions={"0004"})) == 1


def test_numeric_ids_are_a_convention_when_every_revision_uses_them() -> None:
    files = history(("0001", None), ("0002", "0001"))
    assert run_rule("placeholder-revision-id", files) == []
    files = history(("0001", None), ("e6a1c0f4b2d9", "0001"))
    [v] = run_rule("placeholder-revision-id", files)
    assert "'0001'" in v.message and v.line == 4


@pytest.mark.parametrize(
    ("up", "fires"),
    [
        ('op.create_index("ix", "lessons", ["a"], postgresql_concurrently=True)', True),
        ('op.execute("CREATE INDEX CONCURRENTLY ix ON lessons (a)")', True),
        ('op.execute(sa.text("DROP INDEX CONCURRENTLY IF EXISTS ix"))', True),
        ('op.execute("REINDEX INDEX CONCURRENTLY ix")', True),
        (
            'with op.get_context().autocommit_block():\n    op.create_index("ix", "lessons", ["a"], postgresql_concurrently=True)',
            False,
        ),
        (
            'with op.get_context().autocommit_block():\n    op.execute("CREATE INDEX CONCURRENTLY ix ON lessons (a)")',
            False,
        ),
        ('op.create_index("ix", "lessons", ["a"], postgresql_concurrently=False)', False),
        ('op.execute("REFRESH MATERIALIZED VIEW CONCURRENTLY mv")', False),
        ('op.create_index("ix", "lessons", ["a"])', False),
    ],
)
def test_concurrently_outside_autocommit(up: str, fires: bool) -> None:
    files = {f"{VERSIONS}/a.py": revision_file("3f9c2a7d1b84", None, up=up)}
    found = run_rule("concurrently-outside-autocommit", files)
    assert bool(found) is fires
    if fires:
        assert found[0].line == 9 and "upgrade()" in found[0].message


# warehouse's downgrades, as autogenerate wrote them for constraints created without a name.
@pytest.mark.parametrize(
    ("call", "fires"),
    [
        ('op.drop_constraint(None, "releases", type_="unique")', True),
        ('op.drop_constraint(None, "user_events", type_="foreignkey")', True),
        ('op.drop_constraint(constraint_name=None, table_name="releases")', True),
        (
            'with op.batch_alter_table("releases") as batch_op:\n    batch_op.drop_constraint(None, type_="unique")',
            True,
        ),
        ('op.drop_constraint("releases_project_id_version_key", "releases", type_="unique")', False),
        ('op.drop_constraint(op.f("uq_releases_project_id"), "releases", type_="unique")', False),
        ("op.drop_constraint(name, 'releases')", False),
    ],
)
def test_unnamed_constraint_drop(call: str, fires: bool) -> None:
    files = {f"{VERSIONS}/a.py": revision_file("08aedc089eaf", None, down_body=call)}
    assert bool(run_rule("unnamed-constraint-drop", files)) is fires


def test_unnamed_constraint_drop_names_the_table_revision_and_a_real_name() -> None:
    up = 'op.create_unique_constraint(None, "releases", ["project_id", "version"])'
    down = 'op.drop_constraint(None, "releases", type_="unique")'
    files = {f"{VERSIONS}/a.py": revision_file("08aedc089eaf", None, up=up, down_body=down)}
    [v] = run_rule("unnamed-constraint-drop", files)
    assert v.line == 13 and "downgrade() of revision 08aedc089eaf" in v.message and "on releases" in v.message
    assert v.fix is not None and '"releases_<columns>_key", "releases", type_="unique"' in v.fix
