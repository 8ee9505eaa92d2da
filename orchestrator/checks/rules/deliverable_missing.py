"""deliverable-missing: one of the five deliverables of a feature is absent."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from pglast import ast

from orchestrator.checks.model import CheckContext, FileKind, Rule, Violation
from orchestrator.checks.rules._examples import FEATURE_REVISION_PATH, SPEC_DIR, lesson_notes_table, spec_files
from orchestrator.checks.rules._feature import feature_schema, spec_rel
from orchestrator.checks.rules._sql import facts
from orchestrator.report import Severity
from orchestrator.sql.tree import relations, table_of

DEFAULT_RUNBOOK_PATHS = ("{spec}/runbook.md", "docs/runbooks/{slug}.md")

_POLICY_FILE = "api/sql/policies/001_lesson_notes.sql"
_SEED_FILE = "seeds/dev/001_lesson_notes.sql"
_TEST_FILE = "api/tests/migrations/test_001_lesson_notes.py"
_RUNBOOK = f"{SPEC_DIR}/runbook.md"


def _complete() -> dict[str, str]:
    return {
        **spec_files(),
        FEATURE_REVISION_PATH: lesson_notes_table(),
        _POLICY_FILE: (
            "CREATE POLICY lesson_notes_own ON public.lesson_notes FOR ALL TO authenticated\n"
            "    USING ((select auth.uid()) = student_id) WITH CHECK ((select auth.uid()) = student_id);\n"
        ),
        _SEED_FILE: (
            "INSERT INTO public.lesson_notes (id, student_id, body) OVERRIDING SYSTEM VALUE\n"
            "VALUES (1, '00000000-0000-0000-0000-000000000001', 'Flare earlier')\nON CONFLICT (id) DO NOTHING;\n"
        ),
        _TEST_FILE: (
            "def test_student_reads_only_own_lesson_notes(db):\n    assert db.as_user('b').count('lesson_notes') == 0\n"
        ),
        _RUNBOOK: "# Runbook: lesson notes\n\n1. `alembic upgrade head` (no locks on existing tables).\n",
    }


class DeliverableMissing(Rule):
    id = "deliverable-missing"
    severity = Severity.ERROR
    family = "content"
    summary = "one of the five deliverables is absent: migration(s), RLS policy SQL, idempotent seeds, tests (constraints + RLS), runbook"
    why = (
        "A feature's database work is five things that ship together: the migration(s), the RLS policies, "
        "idempotent seed data, tests of the constraints and policies, and a runbook for the deploy. Each missing "
        "one is a gap someone discovers in production. A deliverable counts when it concerns the feature: it "
        "touches a table of the data model (or the feature creates), or its file name carries the feature's "
        "number or slug. Policies may live in the policies folder or in the feature's migrations."
    )
    fix = (
        "Add what is missing where the checks look: a revision in the versions folder, policy SQL in the policies "
        "folder (or CREATE POLICY in the revision), a seed under seeds/, a test under the tests folder, and the "
        "runbook at one of runbook_paths ({spec}/runbook.md by default)."
    )
    needs_spec = True
    example_path = FEATURE_REVISION_PATH
    bad = {k: v for k, v in _complete().items() if k not in (_RUNBOOK, _TEST_FILE)}
    good = _complete()

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        spec = ctx.spec
        if spec is None:
            return
        cfg = ctx.config
        spec_dir = spec_rel(ctx)
        where = f"{spec_dir}/data-model.md"
        marks = [m.lower() for m in (spec.slug, spec.number) if m]
        # The tables the feature brings: new entities and what its migrations create. Files about the existing
        # tables it only changes (lessons) prove nothing: every earlier feature's seeds and tests mention them.
        tables = {e.table.lower() for e in spec.entities if not e.existing} | {
            t.split(".", 1)[1].lower() for t in feature_schema(ctx).tables
        }
        if not tables:
            tables = {e.table.lower() for e in spec.entities}

        def named(path: str) -> bool:
            name = Path(path).name.lower()
            return any(re.search(rf"(?<![0-9a-z]){re.escape(m)}(?![0-9a-z])", name) for m in marks)

        def bare(qualified: str) -> str:
            return qualified.split(".", 1)[1].lower()

        feature = facts(ctx).feature
        touched: dict[FileKind, set[str]] = {}  # kind -> files whose statements touch a feature table
        policy_in_migration = False
        migration = False
        for stmt in feature:
            hits = {bare(t) for t in relations(stmt.node)} & tables if tables else set()
            if isinstance(stmt.node, ast.CreatePolicyStmt) and bare(table_of(stmt.node.table)) in tables:
                policy_in_migration = policy_in_migration or stmt.kind in (FileKind.REVISION, FileKind.SQL)
            if hits or not tables:
                touched.setdefault(stmt.kind, set()).add(stmt.file)
                if stmt.kind in (FileKind.REVISION, FileKind.SQL):
                    migration = True
        revision_named = any(named(rf.rel) for rf in ctx.revision_files)
        if not migration and not revision_named:
            yield Violation(
                where,
                None,
                f"no migration of the feature: add an Alembic revision under {cfg.versions_dir} that creates the "
                "data model's tables",
            )
        policy_files = [f for f, k in ctx.sql_files.items() if k is FileKind.POLICY]
        if not (policy_in_migration or touched.get(FileKind.POLICY) or any(named(f) for f in policy_files)):
            yield Violation(
                where,
                None,
                f"no RLS policy SQL for the feature's tables: add {cfg.policies_dir}/<feature>.sql (or CREATE POLICY "
                "in the revision)",
            )
        seed_files = [f for f, k in ctx.sql_files.items() if k is FileKind.SEED]
        if not (touched.get(FileKind.SEED) or any(named(f) for f in seed_files)):
            first_seed_dir = cfg.seeds_dirs[0] if cfg.seeds_dirs else "seeds"
            yield Violation(
                where,
                None,
                f"no idempotent seed data for the feature's tables: add {first_seed_dir}/<env>/<feature>.sql",
            )
        if not self._has_tests(ctx, tables, named):
            yield Violation(
                where,
                None,
                f"no tests of the feature's constraints and RLS: add {cfg.tests_dir}/test_<feature>.py",
            )
        runbooks = self._runbook_paths(ctx, spec_dir)
        if not any((ctx.repo / p).is_file() for p in runbooks):
            yield Violation(where, None, f"no runbook for the deploy: add {' or '.join(runbooks)}")

    @staticmethod
    def _has_tests(ctx: CheckContext, tables: set[str], named: object) -> bool:
        folder = ctx.repo / ctx.config.tests_dir
        if not folder.is_dir():
            return False
        words = [re.compile(rf"(?<![A-Za-z0-9_]){re.escape(t)}(?![A-Za-z0-9_])", re.IGNORECASE) for t in tables]
        for path in sorted(folder.rglob("*")):
            if not path.is_file() or path.suffix not in (".py", ".sql"):
                continue
            if not (path.name.startswith("test") or path.stem.endswith("_test") or path.suffix == ".sql"):
                continue
            if named(path.name):  # type: ignore[operator]
                return True
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            if not words or any(w.search(text) for w in words):
                return True
        return False

    @staticmethod
    def _runbook_paths(ctx: CheckContext, spec_dir: str) -> list[str]:
        spec = ctx.spec
        templates = getattr(ctx.config, "runbook_paths", None) or list(DEFAULT_RUNBOOK_PATHS)
        values = {
            "spec": spec_dir,
            "slug": getattr(spec, "slug", ""),
            "number": getattr(spec, "number", ""),
            "name": Path(spec_dir).name,
        }
        out = []
        for template in templates:
            try:
                out.append(template.format(**values))
            except (KeyError, IndexError, ValueError):
                out.append(template)
        return out
