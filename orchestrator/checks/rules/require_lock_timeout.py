"""require-lock-timeout: a write-blocking lock on an existing table with no lock_timeout set before it."""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import AlterTableType, ConstrType, ObjectType

from orchestrator.checks.model import CheckContext, FileKind, Rule, SqlStatement, Violation
from orchestrator.checks.rules._examples import revision, revision_path
from orchestrator.checks.rules._sql import has_lock_timeout, is_existing, statement_alter_cmds, upgrade_migrations
from orchestrator.report import Severity
from orchestrator.sql.tree import dotted_name, table_of

ACCESS_EXCLUSIVE = "ACCESS EXCLUSIVE"
SHARE_ROW_EXCLUSIVE = "SHARE ROW EXCLUSIVE"
SHARE = "SHARE"

# ALTER TABLE takes ACCESS EXCLUSIVE unless PostgreSQL's docs say otherwise; these take SHARE UPDATE EXCLUSIVE,
# which lets reads and writes through, so they need no timeout.
_WEAK_SUBCOMMANDS = frozenset(
    {
        AlterTableType.AT_ValidateConstraint,
        AlterTableType.AT_SetStatistics,
        AlterTableType.AT_SetOptions,
        AlterTableType.AT_ResetOptions,
        AlterTableType.AT_SetRelOptions,
        AlterTableType.AT_ResetRelOptions,
        AlterTableType.AT_ClusterOn,
        AlterTableType.AT_DropCluster,
        AlterTableType.AT_AttachPartition,
        AlterTableType.AT_DetachPartitionFinalize,
    }
)
_TRIGGER_SUBCOMMANDS = frozenset(
    {
        AlterTableType.AT_EnableTrig,
        AlterTableType.AT_EnableAlwaysTrig,
        AlterTableType.AT_EnableReplicaTrig,
        AlterTableType.AT_DisableTrig,
        AlterTableType.AT_EnableTrigAll,
        AlterTableType.AT_DisableTrigAll,
        AlterTableType.AT_EnableTrigUser,
        AlterTableType.AT_DisableTrigUser,
    }
)
# LOCK TABLE modes by number (lockdefs.h): 5 SHARE and up block writers.
_LOCK_MODES = {5: SHARE, 6: SHARE_ROW_EXCLUSIVE, 7: "EXCLUSIVE", 8: ACCESS_EXCLUSIVE}


def blocking_locks(stmt: SqlStatement) -> list[tuple[str, str]]:
    """(table, lock mode) for each table the statement locks in a mode that blocks writers (SHARE or stronger)."""
    node = stmt.node
    if isinstance(node, ast.AlterTableStmt):
        locks: dict[str, str] = {}
        for table, cmd in statement_alter_cmds(stmt):
            c = cmd.def_
            if cmd.subtype in _WEAK_SUBCOMMANDS:
                continue
            if cmd.subtype in _TRIGGER_SUBCOMMANDS:
                locks.setdefault(table, SHARE_ROW_EXCLUSIVE)
            elif (
                cmd.subtype == AlterTableType.AT_AddConstraint
                and isinstance(c, ast.Constraint)
                and c.contype == ConstrType.CONSTR_FOREIGN
            ):
                locks.setdefault(table, SHARE_ROW_EXCLUSIVE)
                if c.pktable is not None:
                    locks.setdefault(table_of(c.pktable), SHARE_ROW_EXCLUSIVE)
            else:
                locks[table] = ACCESS_EXCLUSIVE
        return list(locks.items())
    if isinstance(node, ast.IndexStmt) and not node.concurrent and node.relation is not None:
        return [(table_of(node.relation), SHARE)]
    if isinstance(node, ast.DropStmt):
        if node.removeType == ObjectType.OBJECT_TABLE:
            return [(dotted_name(o), ACCESS_EXCLUSIVE) for o in node.objects or ()]
        if node.removeType in (ObjectType.OBJECT_POLICY, ObjectType.OBJECT_TRIGGER, ObjectType.OBJECT_RULE):
            # objects are (table, name) or (schema, table, name): the lock is on the table.
            return [(dotted_name(tuple(o)[:-1]), ACCESS_EXCLUSIVE) for o in node.objects or () if len(o) > 1]
    if isinstance(node, ast.TruncateStmt):
        return [(table_of(r), ACCESS_EXCLUSIVE) for r in node.relations or ()]
    if (
        isinstance(node, ast.RenameStmt)
        and node.relation is not None
        and node.renameType in (ObjectType.OBJECT_TABLE, ObjectType.OBJECT_COLUMN, ObjectType.OBJECT_TABCONSTRAINT)
    ):
        return [(table_of(node.relation), ACCESS_EXCLUSIVE)]
    if isinstance(node, (ast.CreatePolicyStmt, ast.AlterPolicyStmt)) and node.table is not None:
        return [(table_of(node.table), ACCESS_EXCLUSIVE)]
    if isinstance(node, ast.CreateTrigStmt) and node.relation is not None:
        return [(table_of(node.relation), SHARE_ROW_EXCLUSIVE)]
    if isinstance(node, ast.LockStmt):
        mode = _LOCK_MODES.get(int(node.mode or 0))
        return [(table_of(r), mode) for r in node.relations or ()] if mode else []
    return []


_LOCKING = (
    ast.AlterTableStmt,
    ast.IndexStmt,
    ast.DropStmt,
    ast.TruncateStmt,
    ast.RenameStmt,
    ast.CreatePolicyStmt,
    ast.AlterPolicyStmt,
    ast.CreateTrigStmt,
    ast.LockStmt,
)


class RequireLockTimeout(Rule):
    id = "require-lock-timeout"
    severity = Severity.WARNING
    family = "sql"
    summary = "an ACCESS EXCLUSIVE / SHARE lock on an existing table with no `SET lock_timeout` before it"
    why = (
        "A DDL statement first waits for its lock. While it waits behind one long-running query, every later "
        "query on the table queues behind it: a statement that would take 5 ms takes the site down for as long "
        "as that query runs. With lock_timeout set, the migration gives up after a few seconds and can be "
        "retried. Reported for statements that block writers on a table the unit did not create: most ALTER "
        "TABLE forms, CREATE/ALTER/DROP POLICY, TRUNCATE, DROP TABLE and renames (ACCESS EXCLUSIVE), ADD FOREIGN "
        "KEY, CREATE TRIGGER (SHARE ROW EXCLUSIVE, on both tables for a foreign key), CREATE INDEX (SHARE), and "
        "LOCK TABLE in SHARE mode or stronger. CREATE TABLE ... REFERENCES takes a brief SHARE ROW EXCLUSIVE on "
        "the referenced table and is not reported. The timeout must be set earlier in the same unit (revision "
        "or .sql file): a session setting from another revision does not hold when that revision runs alone."
    )
    fix = (
        "Set a lock timeout first in the same revision:\n"
        "    op.execute(\"SET LOCAL lock_timeout = '5s'\")\n"
        "or at the top of the .sql file: SET lock_timeout = '5s'; (and retry the migration when it times out)."
    )
    example_path = revision_path("lessons_archived_at")
    bad = revision(
        'op.add_column("lessons", sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))',
        'op.drop_column("lessons", "archived_at")',
        message="lessons.archived_at",
    )
    good = revision(
        """
        op.execute("SET LOCAL lock_timeout = '5s'")
        op.add_column("lessons", sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))
        """,
        'op.drop_column("lessons", "archived_at")',
        message="lessons.archived_at",
    )

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        for stmt in upgrade_migrations(ctx, *_LOCKING):
            if has_lock_timeout(ctx, stmt):
                continue
            for table, mode in blocking_locks(stmt):
                if not table or not is_existing(ctx, stmt, table):
                    continue
                where = "in this revision" if stmt.kind is FileKind.REVISION else "earlier in this file"
                yield Violation(
                    stmt.file,
                    stmt.line,
                    f"{mode} lock on existing table {table} with no lock_timeout set {where}",
                )
                break
