"""The text view of a live run stays readable at 80 columns: a summary by default, every table with --verbose."""

from __future__ import annotations

import io
import json

from orchestrator.report import CheckReport
from orchestrator.report_formats import emit, to_json
from orchestrator.verification import (
    ExplainSummary,
    LockObservation,
    RevisionRun,
    RlsCell,
    StepStatus,
    Verification,
    VerificationStep,
)


def _history(revisions: int = 50) -> Verification:
    ids = [f"{i:04d}a{'b' * 7}" for i in range(revisions)]
    cells = [
        RlsCell(table=f"public.table_{t}", actor=actor, action=action, expected="deny", observed="deny")
        for t in range(revisions)
        for actor in ("anon", "authenticated:A", "authenticated:B")
        for action in ("select_other", "insert_other", "update_other", "delete_other")
    ]
    cells[7] = RlsCell(table="public.table_1", actor="anon", action="select_own", expected="deny", observed="allow")
    return Verification(
        database="postgresql://postgres@127.0.0.1:5432/postgres",
        base_revision=None,
        revisions=ids,
        steps=[
            VerificationStep(name="upgrade", status=StepStatus.PASSED, seconds=3.2, detail=f"{revisions} revision(s)"),
            VerificationStep(name="rls matrix", status=StepStatus.FAILED, seconds=1.0, detail="1 leak " + "x" * 120),
            VerificationStep(name="explain", status=StepStatus.SKIPPED, detail="the plan names no query pattern"),
        ],
        rls_matrix=cells,
        revision_runs=[
            RevisionRun(
                revision=i,
                file=f"api/alembic/versions/{i}_a_rather_long_file_name_for_a_revision.py",
                status="round-trips",
                upgrade_ms=10.0 + n,
                downgrade_ms=5.0,
            )
            for n, i in enumerate(ids)
        ],
        locks=[
            LockObservation(
                revision=i,
                relation=f"public.table_{n}",
                mode="ACCESS EXCLUSIVE",
                seconds=0.002,
                statement=f"ALTER TABLE table_{n} ADD COLUMN something_long text DEFAULT 'x' NOT NULL",
            )
            for n, i in enumerate(ids)
        ],
        explains=[ExplainSummary(query="q: SELECT * FROM t WHERE a = 1", plan="Seq Scan on t", seq_scans=["public.t"])],
        notes=["revisions under test: the whole history"],
    )


def _text(report: CheckReport, verbose: bool) -> str:
    out = io.StringIO()
    emit(report, "text", out=out, verbose=verbose)
    return out.getvalue()


def test_a_fifty_revision_run_is_summarised_in_lines_that_fit_80_columns() -> None:
    text = _text(CheckReport(verification=_history()), verbose=False)
    lines = text.splitlines()
    assert len(lines) < 40
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80]
    assert "50 revisions under test: 0000abbbbbbb … 0049abbbbbbb (base: an empty database)" in text
    assert "RLS matrix: 1 of 600 cells wrong on 50 table(s)" in text
    assert "  public.table_1 anon select own: allowed, want denied" in text
    assert "locks on existing tables: 50 ACCESS EXCLUSIVE" in text
    assert "  and 45 more" in text
    assert "revisions: 50 round-trips" in text
    assert "  failed rls matrix 1.00 s: 1 leak" in text
    assert "EXPLAIN: 1 query pattern(s), 1 reading a whole table or index" in text
    assert "(--verbose: every step, revision, RLS cell, lock and plan)" in text


def test_verbose_prints_every_table() -> None:
    text = _text(CheckReport(verification=_history()), verbose=True)
    assert "public.table_49" in text
    assert text.count("ALTER TABLE") >= 50
    assert len(text.splitlines()) > 200


def test_json_does_not_change_with_the_text_view() -> None:
    report = CheckReport(verification=_history(3))
    out = io.StringIO()
    emit(report, "json", out=out, verbose=True)
    assert out.getvalue() == to_json(report) + "\n"
    assert json.loads(out.getvalue())["verification"]["revisions"] == [f"{i:04d}abbbbbbb" for i in range(3)]
