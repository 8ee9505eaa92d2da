"""The migration plan and runbook of a delegated feature, filled from what the checks measured, not from the agent.

plan_facts() gathers the facts (the revisions as parsed, the revision chain, the check report, the repo's own way
of running Alembic); render_migration_plan() and render_runbook() turn them into Markdown through
prompts/migration-plan.md.j2 and prompts/migration-runbook.md.j2; write_plan_files() puts both in the spec folder.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from orchestrator.config import DelegateConfig
from orchestrator.report import CheckReport, Finding, Severity
from orchestrator.verification import ExplainSummary, LockObservation, RlsCell, StepStatus, Verification

if TYPE_CHECKING:
    from orchestrator.checks.model import SqlStatement
    from orchestrator.revisions import RevisionGraph

PENDING = "⏳ Pending"
IN_PROGRESS = "🚧 In Progress"
COMPLETE = "✅ Complete"
TESTING = "🧪 Testing"
APPLIED = "🚀 Applied"
STATUS_LEGEND = {
    PENDING: "not checked yet (the live run did not reach it)",
    IN_PROGRESS: "findings remain that block it",
    COMPLETE: "passed the static rules and the live round trip on PostgreSQL",
    TESTING: "passed the static rules; the live checks did not run",
    APPLIED: "applied to a shared database (delegate never applies migrations; set by hand)",
}
PLAN_FILE = "migration-plan.md"
RUNBOOK_FILE = "migration-runbook.md"

# Live steps of orchestrator/verify (their names as VerificationStep.name carries them).
STEP_UPGRADE = "upgrade"
STEP_DOWNGRADE = "downgrade"
STEP_REUPGRADE = "re-upgrade"
STEP_SEEDS = "seeds"
STEP_RLS = "rls matrix"
STEP_TESTS = "delivered tests"
STEP_LOCKS = "locks"
STEP_MODELS = "models"
STEP_EXPLAIN = "explain"


class Check(BaseModel):
    """A checklist item: ticked only when a named check proved it; `proof` names the check, or says why not."""

    text: str
    done: bool
    proof: str


class Operation(BaseModel):
    """One statement of a revision as the static engine parsed it."""

    sql: str  # on one line, shortened
    text: str = ""  # the whole statement, as Alembic's offline rendering (or op.execute) gives it
    entity: str  # schema.name of what it changes ("" for session settings)
    action: str  # create table, add column x, policy y, ...
    line: int
    dependencies: list[str] = Field(default_factory=list)  # other relations it refers to


class RevisionPlan(BaseModel):
    revision: str
    file: str
    message: str
    parents: list[str]
    status: str
    status_reason: str
    upgrade: list[Operation]
    downgrade: list[Operation]
    run_status: str | None = None  # the live run's word (round-trips, upgrade-failed, ...)
    upgrade_ms: float | None = None
    downgrade_ms: float | None = None
    estimated_ms: float | None = None
    validation: list[Check]
    test_coverage: list[Check]
    locks: list[LockObservation] = Field(default_factory=list)

    @property
    def lock_timeout(self) -> str | None:
        """The upgrade's `SET lock_timeout` statement, if it sets one."""
        return next((op.sql for op in self.upgrade if op.action == "set lock_timeout"), None)

    @property
    def concurrent_indexes(self) -> list[str]:
        """Indexes the upgrade builds CONCURRENTLY (outside the transaction: a failure can leave one INVALID)."""
        return [
            op.action.rsplit(" ", 1)[-1]
            for op in self.upgrade
            if op.action.startswith("create") and "concurrently" in op.action
        ]


class SchemaChange(BaseModel):
    entity: str
    operation: str
    file: str
    status: str
    dependencies: list[str]


class FindingLine(BaseModel):
    severity: str
    rule: str
    file: str | None
    line: int | None
    message: str

    @property
    def where(self) -> str:
        if not self.file:
            return ""
        return f"{self.file}:{self.line}" if self.line else self.file


class Deliverable(BaseModel):
    name: str
    done: bool
    proof: str
    files: list[str] = Field(default_factory=list)


class Commands(BaseModel):
    """Commands as this repo runs them: from the folder holding alembic.ini, through its runner."""

    alembic: str  # "cd api && uv run alembic"
    runner: str  # "uv run " | "poetry run " | ""
    current: str
    history: str
    upgrade_sql: str  # offline rendering, to read before applying
    upgrade_head: str
    upgrade: list[tuple[str, str]]  # (revision, command), in execution order
    downgrade: list[tuple[str, str]]  # (revision, command), newest first
    downgrade_all: str
    check: str
    tests: str | None


class QualitySection(BaseModel):
    name: str
    items: list[Check]


class PlanFacts(BaseModel):
    """Everything the plan and the runbook are filled from (measured, not the agent's words)."""

    feature: str  # 042-lesson-progress
    feature_folder: str  # specs/042-lesson-progress
    title: str
    branch: str | None = None
    base: list[str]  # heads of the history below the feature ([] = an empty database)
    head: str | None
    revisions: list[RevisionPlan]  # execution order, parents first
    base_files: dict[str, str] = Field(default_factory=dict)  # base revision -> file
    schema_changes: list[SchemaChange]
    live_ran: bool
    database: str = ""
    steps: list[tuple[str, str, float, str]] = Field(default_factory=list)  # name, status, seconds, detail
    quality: list[QualitySection]
    explains: list[ExplainSummary] = Field(default_factory=list)
    locks: list[LockObservation] = Field(default_factory=list)
    rls_cells: int = 0
    rls_failed: list[RlsCell] = Field(default_factory=list)
    seed_files: list[str] = Field(default_factory=list)
    seeds: Check
    agent: str
    agent_source: str | None = None
    model: str
    bundle_files: list[str]
    files: list[str]  # what the branch adds or changes
    deliverables: list[Deliverable]
    usage: dict[str, Any] | None = None
    commands: Commands
    errors: int
    warnings: int
    infos: int
    remaining: list[FindingLine]  # the findings left (warnings and infos once the work is green)
    notes: list[str] = Field(default_factory=list)


# -- the static engine's statements, through one adapter ---------------------------------------------------------


def revision_statements(repo: Path, cfg: DelegateConfig) -> tuple[RevisionGraph, list[SqlStatement]]:
    """The revision graph and every statement of every revision, as the static engine reads them (op.execute
    strings and the SQL that op.* calls render offline), in execution order per revision and direction.

    The one place this module reaches into the engine: its internals are being reshaped elsewhere."""
    from orchestrator.check import CheckOptions
    from orchestrator.checks.engine import prepare

    prepared = prepare(repo, cfg, CheckOptions(repo=repo, static_only=True))
    statements = [s for s in prepared.context.statements if s.revision is not None and s.direction is not None]
    return prepared.context.graph, statements


def describe(stmt: SqlStatement) -> Operation:
    """What a statement changes, in a reviewer's words (its pglast tree says; the SQL text is the fallback)."""
    entity, action, deps = "", "", set[str]()
    try:
        entity, action, deps = _describe_node(stmt.node)
    except Exception:  # noqa: BLE001 - a node shape not foreseen still gets its SQL shown
        entity, action = "", ""
    if not action:
        action = " ".join(stmt.sql.split()[:3]).lower()
    deps.discard(entity)
    return Operation(
        sql=one_line(stmt.sql),
        text="\n".join(line.rstrip() for line in stmt.sql.strip().splitlines()),
        entity=entity,
        action=action,
        line=stmt.line,
        dependencies=sorted(deps),
    )


def one_line(sql: str, width: int = 110) -> str:
    text = " ".join(sql.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _describe_node(node: Any) -> tuple[str, str, set[str]]:
    from pglast import ast
    from pglast.enums import AlterTableType, ObjectType

    from orchestrator.sql.tree import dotted_name, relations, table_of

    deps = set(relations(node))
    if isinstance(node, ast.CreateStmt):
        return table_of(node.relation), "create table", deps
    if isinstance(node, ast.IndexStmt):
        how = " concurrently" if node.concurrent else ""
        unique = "unique " if node.unique else ""
        return table_of(node.relation), f"create {unique}index{how} {node.idxname or ''}".strip(), deps
    if isinstance(node, ast.AlterTableStmt):
        words = []
        for cmd in node.cmds or ():
            sub = AlterTableType(cmd.subtype)
            name = cmd.name or (cmd.def_.colname if isinstance(cmd.def_, ast.ColumnDef) else None)
            if sub is AlterTableType.AT_EnableRowSecurity:
                words.append("enable RLS")
            elif sub is AlterTableType.AT_ForceRowSecurity:
                words.append("force RLS")
            elif sub is AlterTableType.AT_AddConstraint and isinstance(cmd.def_, ast.Constraint):
                words.append(f"add constraint {cmd.def_.conname or ''}".strip())
            else:
                label = sub.name.removeprefix("AT_")
                label = re.sub(r"(?<!^)(?=[A-Z])", " ", label).lower()
                words.append(f"{label} {name}" if name else label)
        return table_of(node.relation), ", ".join(words) or "alter table", deps
    if isinstance(node, ast.CreatePolicyStmt):
        return table_of(node.table), f"policy {node.policy_name}", deps
    if isinstance(node, ast.GrantStmt):
        objects = [table_of(o) for o in node.objects or () if isinstance(o, ast.RangeVar)]
        privs = ", ".join(p.priv_name for p in node.privileges or () if p.priv_name) or "all"
        roles = ", ".join(getattr(g, "rolename", None) or "public" for g in node.grantees or ())
        verb = "grant" if node.is_grant else "revoke"
        return ", ".join(objects), f"{verb} {privs.lower()} to {roles}", deps
    if isinstance(node, ast.CreateEnumStmt):
        return dotted_name(node.typeName or ()), "create enum type", deps
    if isinstance(node, ast.CreateFunctionStmt):
        return dotted_name(node.funcname or ()), "create function", deps
    if isinstance(node, ast.DropStmt):
        kind = ObjectType(node.removeType or 0).name.removeprefix("OBJECT_").lower().replace("_", " ")
        names = []
        for obj in node.objects or ():
            if isinstance(obj, ast.ObjectWithArgs):
                names.append(dotted_name(obj.objname or ()))
            elif isinstance(obj, ast.TypeName):
                names.append(dotted_name(obj.names or ()))
            elif isinstance(obj, (list, tuple)):
                names.append(dotted_name(obj))
        how = " concurrently" if node.concurrent else ""
        return ", ".join(names), f"drop {kind}{how}", deps
    if isinstance(node, ast.VariableSetStmt):
        return "", f"set {node.name}", deps
    if isinstance(node, ast.CommentStmt):
        return "", "comment", deps
    if isinstance(node, ast.RenameStmt):
        target = table_of(node.relation) if node.relation is not None else ""
        return target, f"rename to {node.newname}", deps
    return "", "", deps


# -- facts -------------------------------------------------------------------------------------------------------


def sent_files(bundle: Any) -> list[str]:
    """The files a Bundle (orchestrator/bundle.py) really sent the agent: the feature's documents that exist and the
    reference migrations, repo-relative, in the order the prompt holds them."""
    documents = [d.path for d in bundle.documents if d.present]
    return documents + [m.path for m in bundle.references if m.path not in documents]


def plan_facts(
    worktree: Path,
    cfg: DelegateConfig,
    report: CheckReport,
    feature_folder: str,
    *,
    agent: str,
    model: str,
    bundle_files: Sequence[str],
    usage: dict[str, Any] | None = None,
    files: Sequence[str] | None = None,
    agent_source: str | None = None,
    branch: str | None = None,
) -> PlanFacts:
    """The facts of the plan for the feature at `feature_folder` (repo-relative) in `worktree`, judged by `report`
    (a run_check of that worktree with spec=feature_folder). `files`: what the branch adds or changes (default:
    git's answer against the default branch); `usage`: the session's tokens and cost_usd."""
    from orchestrator.feature import branch_changes, select_revisions
    from orchestrator.spec import load_feature

    worktree = worktree.resolve()
    spec = load_feature(worktree / feature_folder)
    graph, statements = revision_statements(worktree, cfg)
    selection = select_revisions(worktree, cfg, graph, spec=spec)
    verification = report.verification
    under_test = list(verification.revisions) if verification and verification.revisions else selection.under_test
    under_test = graph.topological(under_test)
    base = [verification.base_revision] if verification and verification.base_revision else selection.base
    if files is None:
        changed = branch_changes(worktree, cfg)
        files = sorted(p.relative_to(worktree).as_posix() for p in changed[0]) if changed else []
    findings = report.findings
    live_ran = verification is not None and any(s.status is not StepStatus.SKIPPED for s in verification.steps)
    steps = {s.name: s for s in verification.steps} if verification else {}
    runs = {r.revision: r for r in verification.revision_runs} if verification else {}
    by_rev: dict[str, dict[str, list[Operation]]] = {}
    for stmt in statements:
        if stmt.revision in under_test and stmt.origin.value not in ("do-body", "function-body"):
            by_rev.setdefault(stmt.revision, {"upgrade": [], "downgrade": []})[stmt.direction or "upgrade"].append(
                describe(stmt)
            )
    blocking_elsewhere = [
        f for f in findings if f.severity is Severity.ERROR and f.file not in {graph.by_id[r].rel for r in under_test}
    ]
    revisions: list[RevisionPlan] = []
    for rev in under_test:
        rf = graph.by_id[rev]
        ops = by_rev.get(rev, {"upgrade": [], "downgrade": []})
        status, reason = _status(rf.rel, findings, live_ran, runs.get(rev), blocking_elsewhere)
        run = runs.get(rev)
        tables = {op.entity for op in ops["upgrade"] if op.entity}
        revisions.append(
            RevisionPlan(
                revision=rev,
                file=rf.rel,
                message=rf.message,
                parents=list(rf.down_revisions),
                status=status,
                status_reason=reason,
                upgrade=ops["upgrade"],
                downgrade=ops["downgrade"],
                run_status=run.status if run else None,
                upgrade_ms=run.upgrade_ms if run else None,
                downgrade_ms=run.downgrade_ms if run else None,
                estimated_ms=run.estimated_ms if run else None,
                validation=_validation(rf.rel, findings, verification, run),
                test_coverage=_coverage(tables, findings, verification),
                locks=[lock for lock in (verification.locks if verification else []) if lock.revision == rev],
            )
        )
    remaining = [
        FindingLine(severity=f.severity.value, rule=f.rule, file=f.file, line=f.line, message=f.message)
        for f in findings
    ]
    seed_dirs = tuple(d.rstrip("/") + "/" for d in cfg.seeds_dirs)
    seed_files = [f for f in files if f.startswith(seed_dirs) and f.endswith(".sql")]
    summary = report.summary
    notes = list(verification.notes) if verification else []
    if not live_ran:
        notes.append("the live checks did not run: statuses are 🧪 at best, live checklist items are unticked")
    return PlanFacts(
        feature=Path(feature_folder).name,
        feature_folder=feature_folder,
        title=spec.title or Path(feature_folder).name,
        branch=branch,
        base=base,
        head=under_test[-1] if under_test else (base[0] if base else None),
        revisions=revisions,
        base_files={b: graph.by_id[b].rel for b in base if b in graph.by_id},
        schema_changes=_schema_changes(revisions),
        live_ran=live_ran,
        # a throwaway server's address is this run's alone: the plan is committed, so it names the server only
        database=(
            verification.database.split(" at ", 1)[0]
            if verification and verification.database.startswith("throwaway ")
            else (verification.database if verification else "")
        ),
        steps=[(s.name, s.status.value, s.seconds, s.detail) for s in (verification.steps if verification else [])],
        quality=_quality(findings, cfg, verification, runs),
        explains=list(verification.explains) if verification else [],
        locks=list(verification.locks) if verification else [],
        rls_cells=len(verification.rls_matrix) if verification else 0,
        rls_failed=[c for c in (verification.rls_matrix if verification else []) if not c.ok],
        seed_files=seed_files,
        seeds=_step_item("Seeds run twice without error or change", [STEP_SEEDS], SEED_RULES, findings, verification),
        agent=agent,
        agent_source=agent_source,
        model=model,
        bundle_files=list(bundle_files),
        files=list(files),
        deliverables=_deliverables(findings, cfg, steps, files),
        usage=usage,
        commands=repo_commands(worktree, cfg, feature_folder, under_test, graph, base, files),
        errors=summary.errors,
        warnings=summary.warnings,
        infos=summary.infos,
        remaining=remaining,
        notes=notes,
    )


def _status(
    file: str, findings: list[Finding], live_ran: bool, run: Any, blocking_elsewhere: list[Finding]
) -> tuple[str, str]:
    errors = [f for f in findings if f.file == file and f.severity is Severity.ERROR]
    if errors:
        rules = ", ".join(sorted({f.rule for f in errors}))
        return IN_PROGRESS, f"{len(errors)} blocking finding(s) remain: {rules}"
    if run is not None and run.status not in ("round-trips", "skipped"):
        return IN_PROGRESS, f"the live run says {run.status}"
    if blocking_elsewhere:
        rules = ", ".join(sorted({f.rule for f in blocking_elsewhere}))
        return IN_PROGRESS, f"{len(blocking_elsewhere)} blocking finding(s) remain in the feature: {rules}"
    if not live_ran:
        return TESTING, "the static rules pass; the live checks did not run"
    if run is None or run.status == "skipped":
        return PENDING, "the live run did not reach this revision"
    warned = [f for f in findings if f.file == file]
    extra = f" ({len(warned)} warning(s)/info(s) listed below)" if warned else ""
    return COMPLETE, "passed the static rules and the live upgrade, downgrade and re-upgrade" + extra


# Static rule families a checklist item stands on (ids of orchestrator/checks/rules).
CONCURRENT_RULES = ("require-concurrent-index", "concurrent-index-in-transaction", "concurrently-outside-autocommit")
LOCK_TIMEOUT_RULES = ("require-lock-timeout",)
REWRITE_RULES = ("volatile-default", "changing-column-type", "adding-required-field", "set-not-null")
NOT_VALID_RULES = ("constraint-missing-not-valid", "unique-constraint-existing-table")
DESTRUCTIVE_RULES = ("drop-column", "drop-table", "rename-column", "rename-table")
RLS_ENABLED_RULES = ("rls-not-enabled", "rls-no-policy", "rls-role-coverage")
POLICY_RULES = ("permissive-write-policy", "update-without-select-policy")
GRANT_RULES = ("grant-to-public", "security-definer-search-path")
SECRET_RULES = ("secret-in-migration", "pii-undocumented")
REVISION_RULES = ("missing-upgrade", "missing-downgrade", "empty-downgrade", "placeholder-revision-id")


def _live_ids() -> dict[str, tuple[str, ...]]:
    from orchestrator.checks.rules.live import LiveRule as live

    return {
        STEP_UPGRADE: (live.UPGRADE_FAILED,),
        STEP_DOWNGRADE: (live.DOWNGRADE_FAILED, live.DOWNGRADE_LEAVES_TRACE),
        STEP_REUPGRADE: (live.REUPGRADE_FAILED,),
        STEP_SEEDS: (live.SEED_FAILED, live.SEED_NOT_IDEMPOTENT_LIVE),
        STEP_RLS: (live.RLS_LEAK, live.RLS_OVERBLOCK),
        STEP_TESTS: (live.DELIVERED_TESTS_FAILED,),
        STEP_LOCKS: (live.LOCK_ON_EXISTING_TABLE,),
        STEP_MODELS: (live.MODELS_DRIFT,),
        STEP_EXPLAIN: (live.SEQ_SCAN_ON_TARGET_QUERY,),
    }


SEED_RULES = ("seed-not-idempotent", "seed-overwrites", "seed-has-ddl")


def _cite(found: list[Finding], limit: int = 2) -> str:
    parts = []
    for f in found[:limit]:
        where = f" ({f.file}:{f.line})" if f.file and f.line else (f" ({f.file})" if f.file else "")
        parts.append(f"{f.rule}: {f.message}{where}")
    more = f"; and {len(found) - limit} more" if len(found) > limit else ""
    return "; ".join(parts) + more


def _rules_item(
    text: str, rules: Iterable[str], findings: list[Finding], cfg: DelegateConfig, file: str | None = None
) -> Check:
    rules = tuple(rules)
    hits = [f for f in findings if f.rule in rules and (file is None or f.file == file)]
    if hits:
        return Check(text=text, done=False, proof=_cite(hits))
    off = [r for r in rules if cfg.rules.get(r) == "off"]
    if off:
        return Check(text=text, done=False, proof=f"not proven: {', '.join(off)} is off in [tool.delegate.rules]")
    return Check(text=text, done=True, proof=f"static rules {', '.join(rules)}: no finding")


def _step_item(
    text: str,
    names: Sequence[str],
    rules: Iterable[str],
    findings: list[Finding],
    verification: Verification | None,
    extra_ok: str = "",
) -> Check:
    """Ticked when every named live step ran and passed (warned counts when it left no finding of these rules)
    and no finding of `rules` (static or live) remains."""
    live_rules = _live_ids()
    rules = tuple(rules) + tuple(r for name in names for r in live_rules.get(name, ()))
    hits = [f for f in findings if f.rule in rules]
    if hits:
        return Check(text=text, done=False, proof=_cite(hits))
    if verification is None:
        return Check(text=text, done=False, proof="not proven: the live checks did not run")
    steps = {s.name: s for s in verification.steps}
    proofs = []
    for name in names:
        step = steps.get(name)
        if step is None:
            return Check(text=text, done=False, proof=f"not proven: the live run has no `{name}` step")
        if step.status is StepStatus.SKIPPED:
            return Check(text=text, done=False, proof=f"not proven: live step `{name}` skipped ({step.detail})")
        if step.status is StepStatus.FAILED:
            return Check(text=text, done=False, proof=f"live step `{name}` failed: {step.detail}")
        proofs.append(f"live step `{name}`" + (f": {step.detail}" if step.detail else ""))
    return Check(text=text, done=True, proof="; ".join(proofs) + extra_ok)


def _validation(
    file: str,
    findings: list[Finding],
    verification: Verification | None,
    run: Any,
) -> list[Check]:
    mine = [f for f in findings if f.file == file]
    errors = [f for f in mine if f.severity is Severity.ERROR]
    static = (
        Check(text="Static rules pass on the revision file", done=False, proof=_cite(errors))
        if errors
        else Check(
            text="Static rules pass on the revision file",
            done=True,
            proof=f"delegate check static rules: 0 errors in {file}",
        )
    )
    items = [static]
    timing = ""
    if run is not None and run.upgrade_ms is not None:
        timing = f" ({run.upgrade_ms:.0f} ms)"
    items.append(
        _revision_item("Upgrade applies on a copy of the base", [STEP_UPGRADE], findings, file, verification, run)
    )
    if items[-1].done:
        items[-1].proof += timing
    items.append(
        _revision_item(
            "Downgrade returns the schema to the base exactly (fingerprints compared)",
            [STEP_DOWNGRADE],
            findings,
            file,
            verification,
            run,
        )
    )
    items.append(
        _revision_item("Upgrade runs again after the downgrade", [STEP_REUPGRADE], findings, file, verification, run)
    )
    bounded = [f for f in mine if f.rule in LOCK_TIMEOUT_RULES]
    items.append(
        Check(text="Every lock wait is bounded (lock_timeout)", done=False, proof=_cite(bounded))
        if bounded
        else Check(
            text="Every lock wait is bounded (lock_timeout)",
            done=True,
            proof="static rule require-lock-timeout: no finding",
        )
    )
    return items


def _revision_item(
    text: str, names: Sequence[str], findings: list[Finding], file: str, verification: Verification | None, run: Any
) -> Check:
    item = _step_item(text, names, (), [f for f in findings if f.file in (file, None)], verification)
    if item.done and run is not None and run.status != "round-trips":
        return Check(text=text, done=False, proof=f"the live run of this revision says {run.status}: {run.detail}")
    if item.done and run is None:
        return Check(text=text, done=False, proof="not proven: the live run did not reach this revision")
    return item


def _coverage(tables: set[str], findings: list[Finding], verification: Verification | None) -> list[Check]:
    items = [_step_item("The delivered tests pass", [STEP_TESTS], (), findings, verification)]
    rls = _step_item("RLS allow/deny matrix as expected for every role", [STEP_RLS], (), findings, verification)
    if verification is not None and rls.done:
        cells = [c for c in verification.rls_matrix if c.table in tables]
        if cells:
            rls.proof = f"live step `{STEP_RLS}`: {len(cells)} cell(s) on {', '.join(sorted({c.table for c in cells}))}"
    items.append(rls)
    items.append(
        _step_item("Seeds run twice without error or change", [STEP_SEEDS], SEED_RULES, findings, verification)
    )
    items.append(_step_item("The app's models match the migrated database", [STEP_MODELS], (), findings, verification))
    return items


def _quality(
    findings: list[Finding],
    cfg: DelegateConfig,
    verification: Verification | None,
    runs: dict[str, Any],
) -> list[QualitySection]:
    durations = [r for r in runs.values() if r.upgrade_ms is not None]
    measured = (
        Check(
            text="Migration durations measured on PostgreSQL",
            done=True,
            proof="live revision runs: "
            + ", ".join(f"{r.revision} up {r.upgrade_ms:.0f} ms" for r in durations[:5])
            + (f" and {len(durations) - 5} more" if len(durations) > 5 else ""),
        )
        if durations
        else Check(
            text="Migration durations measured on PostgreSQL",
            done=False,
            proof="not proven: no live revision run was timed",
        )
    )
    return [
        QualitySection(
            name="Zero-downtime",
            items=[
                _rules_item(
                    "Indexes on existing tables are built CONCURRENTLY, outside a transaction",
                    CONCURRENT_RULES,
                    findings,
                    cfg,
                ),
                _rules_item("lock_timeout is set before locks on existing tables", LOCK_TIMEOUT_RULES, findings, cfg),
                _rules_item("No table rewrite (volatile default, type change, NOT NULL)", REWRITE_RULES, findings, cfg),
                _rules_item(
                    "Constraints on existing tables are added NOT VALID, then validated", NOT_VALID_RULES, findings, cfg
                ),
                _rules_item("No destructive change (drop, rename) without a plan", DESTRUCTIVE_RULES, findings, cfg),
                _step_item("No strong lock held on an existing table", [STEP_LOCKS], (), findings, verification),
            ],
        ),
        QualitySection(
            name="Security",
            items=[
                _rules_item(
                    "RLS is enabled with a policy for each role on every new table", RLS_ENABLED_RULES, findings, cfg
                ),
                _rules_item("Write policies check ownership; UPDATE has a SELECT policy", POLICY_RULES, findings, cfg),
                _rules_item(
                    "No grant to PUBLIC; SECURITY DEFINER functions pin search_path", GRANT_RULES, findings, cfg
                ),
                _rules_item("No secret in the migrations; PII columns documented", SECRET_RULES, findings, cfg),
                _step_item("RLS matrix: no leak, no overblock", [STEP_RLS], (), findings, verification),
            ],
        ),
        QualitySection(
            name="Performance",
            items=[
                _step_item(
                    "The plan's query patterns use an index (EXPLAIN)", [STEP_EXPLAIN], (), findings, verification
                ),
                measured,
            ],
        ),
        QualitySection(
            name="Testing",
            items=[
                _rules_item("Every revision has a real upgrade and downgrade", REVISION_RULES, findings, cfg),
                _step_item(
                    "Upgrade, downgrade and upgrade again on PostgreSQL",
                    [STEP_UPGRADE, STEP_DOWNGRADE, STEP_REUPGRADE],
                    (),
                    findings,
                    verification,
                ),
                _step_item("The delivered tests pass", [STEP_TESTS], (), findings, verification),
                _step_item("Seeds are idempotent", [STEP_SEEDS], SEED_RULES, findings, verification),
                _step_item("The app's models match the migrated database", [STEP_MODELS], (), findings, verification),
            ],
        ),
    ]


# The five deliverables: deliverable-missing's message for an absent one starts with these words.
DELIVERABLES = (
    ("Migration(s)", "no migration", (STEP_UPGRADE, STEP_DOWNGRADE, STEP_REUPGRADE)),
    ("RLS policy SQL", "no RLS policy", (STEP_RLS,)),
    ("Idempotent seed data", "no idempotent seed", (STEP_SEEDS,)),
    ("Tests of constraints and RLS", "no tests", (STEP_TESTS,)),
    ("Runbook", "no runbook", ()),
)


def _deliverables(
    findings: list[Finding],
    cfg: DelegateConfig,
    steps: dict[str, Any],
    files: Sequence[str],
) -> list[Deliverable]:
    missing = [f for f in findings if f.rule == "deliverable-missing"]
    folders = {
        "Migration(s)": [cfg.versions_dir],
        "RLS policy SQL": [cfg.policies_dir, cfg.versions_dir],
        "Idempotent seed data": list(cfg.seeds_dirs),
        "Tests of constraints and RLS": [cfg.tests_dir],
        "Runbook": [],
    }
    out = []
    for name, prefix, names in DELIVERABLES:
        mine = [f for f in files if any(f.startswith(d.rstrip("/") + "/") for d in folders[name])]
        if name == "Runbook":
            mine = [f for f in files if Path(f).name.lower().startswith("runbook") or "/runbooks/" in f]
        absent = [f for f in missing if f.message.startswith(prefix)]
        if absent:
            out.append(
                Deliverable(name=name, done=False, proof=f"deliverable-missing: {absent[0].message}", files=mine)
            )
            continue
        if cfg.rules.get("deliverable-missing") == "off":
            out.append(Deliverable(name=name, done=False, proof="not proven: deliverable-missing is off", files=mine))
            continue
        proof = "deliverable-missing: present"
        failed = [n for n in names if n in steps and steps[n].status is StepStatus.FAILED]
        if failed:
            out.append(Deliverable(name=name, done=False, proof=f"live step `{failed[0]}` failed", files=mine))
            continue
        ran = [n for n in names if n in steps and steps[n].status is not StepStatus.SKIPPED]
        if ran:
            proof += "; live " + ", ".join(f"`{n}` {steps[n].status.value}" for n in ran)
        elif names:
            proof += " (live step not run)"
        out.append(Deliverable(name=name, done=True, proof=proof, files=mine))
    return out


def _schema_changes(revisions: list[RevisionPlan]) -> list[SchemaChange]:
    rows: list[SchemaChange] = []
    for rev in revisions:
        grouped: dict[str, list[Operation]] = {}
        for op in rev.upgrade:
            if op.entity:
                grouped.setdefault(op.entity, []).append(op)
        for entity, ops in grouped.items():
            actions: list[str] = []
            policies = [op.action.removeprefix("policy ") for op in ops if op.action.startswith("policy ")]
            for op in ops:
                if op.action.startswith("policy "):
                    label = f"{len(policies)} polic{'y' if len(policies) == 1 else 'ies'} ({', '.join(policies)})"
                else:
                    label = op.action
                if label not in actions:
                    actions.append(label)
            deps = sorted({d for op in ops for d in op.dependencies} - {entity})
            rows.append(
                SchemaChange(
                    entity=entity,
                    operation="; ".join(actions),
                    file=rev.file,
                    status=rev.status,
                    dependencies=deps + [f"revision {p}" for p in rev.parents],
                )
            )
    return rows


# -- commands as the repo runs them --------------------------------------------------------------------------------


def runner_prefix(folder: Path, root: Path) -> tuple[str, Path]:
    """`uv run ` where a uv.lock is, `poetry run ` where a poetry.lock is (the nearest, from `folder` up to the repo
    root), else "" ; and the folder the lock file sits in (the root when there is none)."""
    folder, root = folder.resolve(), root.resolve()
    current = folder
    while True:
        if (current / "uv.lock").is_file():
            return "uv run ", current
        if (current / "poetry.lock").is_file():
            return "poetry run ", current
        if current == root or current.parent == current or root not in current.parents:
            return "", root
        current = current.parent


def _rel(path: Path, root: Path) -> str:
    rel = path.resolve().relative_to(root.resolve()).as_posix()
    return rel or "."


def repo_commands(
    worktree: Path,
    cfg: DelegateConfig,
    feature_folder: str,
    under_test: list[str],
    graph: RevisionGraph,
    base: list[str],
    files: Sequence[str],
) -> Commands:
    ini = worktree / cfg.alembic_ini
    folder = ini.parent
    runner, _ = runner_prefix(folder, worktree)
    where = _rel(folder, worktree)
    cd = "" if where == "." else f"cd {where} && "
    alembic = f"{cd}{runner}alembic" + ("" if ini.name == "alembic.ini" else f" -c {ini.name}")
    start = "+".join(base) if len(base) > 1 else (base[0] if base else "base")
    head = under_test[-1] if under_test else "head"
    heads = [r for r in under_test if not set(graph.children.get(r, [])) & set(under_test)]
    upgrade = [(rev, f"{alembic} upgrade {rev}") for rev in under_test]
    downgrade = []
    for rev in reversed(under_test):
        parents = graph.by_id[rev].down_revisions
        target = parents[0] if len(parents) == 1 else (f"{rev}-1" if parents else "base")
        downgrade.append((rev, f"{alembic} downgrade {target}"))
    tests = [f for f in files if f.startswith(cfg.tests_dir.rstrip("/") + "/") and Path(f).name.startswith("test")]
    test_runner, test_dir = runner_prefix(worktree / cfg.tests_dir, worktree)
    test_cd = "" if test_dir == worktree.resolve() else f"cd {_rel(test_dir, worktree)} && "
    test_paths = [Path(worktree / t).resolve().relative_to(test_dir).as_posix() for t in tests]
    return Commands(
        alembic=alembic,
        runner=runner,
        current=f"{alembic} current",
        history=f"{alembic} history -r {start}:{head if len(heads) <= 1 else 'heads'}",
        upgrade_sql=f"{alembic} upgrade {start}:{head} --sql",
        upgrade_head=f"{alembic} upgrade {head if len(heads) <= 1 else 'heads'}",
        upgrade=upgrade,
        downgrade=downgrade,
        downgrade_all=f"{alembic} downgrade {start}",
        check=f"delegate check --spec {feature_folder}",
        tests=f"{test_cd}{test_runner}pytest {' '.join(test_paths)}" if test_paths else None,
    )


# -- rendering ----------------------------------------------------------------------------------------------------


def _environment() -> Any:
    import jinja2

    from orchestrator.resources import data_dir

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(data_dir("prompts"))),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["cell"] = _cell
    env.filters["node"] = mermaid_id
    env.filters["ms"] = _ms
    env.filters["box"] = lambda done: "[x]" if done else "[ ]"
    env.filters["mark"] = lambda done: "✅" if done else "❌"
    return env


def _cell(value: object) -> str:
    """Text safe inside a Markdown table cell."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def _ms(value: float | None) -> str:
    if value is None:
        return "not measured"
    return f"{value / 1000:.1f} s" if value >= 10_000 else f"{value:.0f} ms"


def mermaid_id(revision: str) -> str:
    """A mermaid node id for a revision id (ids may start with a digit or hold characters mermaid reads)."""
    return "r_" + re.sub(r"[^A-Za-z0-9_]", "_", revision)


def _context(facts: PlanFacts) -> dict[str, Any]:
    return {"f": facts, "legend": STATUS_LEGEND, "plan_file": PLAN_FILE, "runbook_file": RUNBOOK_FILE}


def render_migration_plan(facts: PlanFacts) -> str:
    return str(_environment().get_template("migration-plan.md.j2").render(_context(facts)))


def render_runbook(facts: PlanFacts) -> str:
    return str(_environment().get_template("migration-runbook.md.j2").render(_context(facts)))


def plan_files(facts: PlanFacts) -> dict[str, str]:
    """The plan and the runbook, by repo-relative path (specs/<feature>/migration-plan.md, migration-runbook.md)."""
    folder = facts.feature_folder.rstrip("/")
    return {
        f"{folder}/{PLAN_FILE}": render_migration_plan(facts),
        f"{folder}/{RUNBOOK_FILE}": render_runbook(facts),
    }


def write_plan_files(worktree: Path, facts: PlanFacts) -> list[str]:
    """Write specs/<feature>/migration-plan.md and migration-runbook.md in `worktree`; their repo-relative paths."""
    written = []
    for rel, text in plan_files(facts).items():
        path = worktree / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(rel)
    return written


def commit_body(facts: PlanFacts) -> str:
    """The schema changes and the findings that remain, for the commit message's body (publishing hides nothing)."""
    lines = ["Schema changes:"]
    lines += [f"- {c.entity}: {c.operation} ({c.file})" for c in facts.schema_changes] or ["- none"]
    if facts.remaining:
        lines += ["", "Findings that remain:"]
        lines += [
            f"- {x.severity} {x.rule}" + (f" at {x.where}" if x.where else "") + f": {x.message}"
            for x in facts.remaining
        ]
    return "\n".join(lines) + "\n"
