"""The default RLS expectations, and how the verification section is shown in a terminal."""

from __future__ import annotations

import pytest
from rich.console import Console

from orchestrator.verification import RlsCell, Verification
from orchestrator.verify.render import render_verification
from orchestrator.verify.rls import Actor, expected_for

ANON = Actor(label="anon", role="anon")
USER_A = Actor(label="authenticated:A", role="authenticated", user="00000000-0000-0000-0000-00000000000a")
SERVICE = Actor(label="service_role", role="service_role")


@pytest.mark.parametrize(
    ("actor", "action", "owned", "public_read", "expected"),
    [
        (SERVICE, "delete", True, False, "allow"),
        (ANON, "select", False, True, "allow"),
        (ANON, "insert", False, True, "deny"),
        (ANON, "select", True, False, "deny"),
        (USER_A, "select_own", True, False, "allow"),
        (USER_A, "update_own", True, False, "allow"),
        (USER_A, "select_other", True, False, "deny"),
        (USER_A, "update_other", True, False, "deny"),
        (USER_A, "delete_own", True, False, "either"),
        (USER_A, "select", False, False, "deny"),
    ],
)
def test_default_expectations(actor: Actor, action: str, owned: bool, public_read: bool, expected: str) -> None:
    assert expected_for(actor, action, owned, public_read) == expected


def test_either_accepts_allow_and_deny_but_not_an_error() -> None:
    def cell(observed: str) -> RlsCell:
        return RlsCell(table="t", actor="authenticated:A", action="delete_own", expected="either", observed=observed)  # type: ignore[arg-type]

    assert cell("allow").ok and cell("deny").ok
    assert not cell("error").ok


def test_matrix_is_one_table_per_database_table_with_full_names() -> None:
    verification = Verification(
        rls_matrix=[
            RlsCell(
                table="public.lesson_objectives", actor="anon", action="select", expected="allow", observed="allow"
            ),
            RlsCell(
                table="public.student_progress",
                actor="authenticated:A",
                action="select_other",
                expected="deny",
                observed="allow",
            ),
        ]
    )
    console = Console(width=80, record=True, color_system=None)
    render_verification(verification, console)
    text = console.export_text()
    assert "public.lesson_objectives" in text and "public.student_progress" in text
    assert "select other" in text
    assert "✓ (want ✗)" in text  # a leak is spelled out


def test_revision_table_leaves_out_empty_columns_and_keeps_ids_whole() -> None:
    from orchestrator.verification import RevisionRun

    verification = Verification(
        revision_runs=[
            RevisionRun(
                revision="b7e41d09c5a2",
                file="api/alembic/versions/002_lesson_progress.py",
                status="round-trips",
                upgrade_ms=22,
                downgrade_ms=10,
            )
        ]
    )
    console = Console(width=80, record=True, color_system=None)
    render_verification(verification, console)
    revisions = console.export_text().split("Revisions", 1)[1]
    assert "b7e41d09c5a2" in revisions and "round-trips" in revisions
    assert "estimated" not in revisions and "detail" not in revisions


def test_text_from_repos_and_databases_is_printed_as_written_not_read_as_markup() -> None:
    """Notes, details, SQL and plans carry brackets ([tool.delegate], ARRAY[...], [bold]) that rich would
    otherwise take for style tags and drop."""
    from orchestrator.verification import ExplainSummary, LockObservation, StepStatus, VerificationStep

    verification = Verification(
        database="postgres [local]",
        steps=[VerificationStep(name="upgrade", status=StepStatus.FAILED, detail="failed in [bold]env.py[/]")],
        locks=[
            LockObservation(
                revision="r1", relation="public.t", mode="ACCESS EXCLUSIVE", statement="ALTER TABLE t ADD x int[]"
            )
        ],
        explains=[ExplainSummary(query="SELECT * FROM t WHERE tags @> ARRAY[tag]", plan="Seq Scan [x]", seq_scans=[])],
        notes=["found alembic_ini = 'a.ini' (set it in [tool.delegate] to choose)"],
    )
    console = Console(width=200, record=True, color_system=None)
    render_verification(verification, console)
    text = console.export_text()
    for written in (
        "postgres [local]",
        "failed in [bold]env.py[/]",
        "ADD x int[]",
        "ARRAY[tag]",
        "Seq Scan [x]",
        "set it in [tool.delegate] to choose",
    ):
        assert written in text, written
