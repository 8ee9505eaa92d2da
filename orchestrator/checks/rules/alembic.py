"""Alembic revision-file rules: the functions, the identifiers and the revision graph, read from the Python AST."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

import pglast
from pglast import ast as pg
from pglast.enums import ObjectType

from orchestrator.checks.model import CheckContext, Rule, Violation
from orchestrator.checks.rules._examples import revision, revision_path
from orchestrator.irreversible import only_raise
from orchestrator.report import Severity
from orchestrator.revisions import RevisionFile


def declared_revisions(ctx: CheckContext) -> Iterator[RevisionFile]:
    """Revision files that parse and declare a revision (helper modules in the versions folder are skipped)."""
    for rf in ctx.revision_files:
        if rf.tree is not None and ("revision" in rf.lines or rf.revision is not None):
            yield rf


class MissingUpgrade(Rule):
    id = "missing-upgrade"
    severity = Severity.ERROR
    family = "alembic"
    summary = "no `upgrade()`"
    why = "Alembic calls upgrade() to apply a revision; a revision without it fails with AttributeError at deploy."
    fix = "Define `def upgrade() -> None:` with the revision's forward steps."
    example_path = revision_path("lessons")
    bad = revision("pass", "pass").replace("def upgrade() -> None:\n    pass\n\n\n", "")
    good = revision(
        'op.add_column("lessons", sa.Column("notes", sa.Text(), nullable=True))', 'op.drop_column("lessons", "notes")'
    )

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        for rf in declared_revisions(ctx):
            if rf.upgrade is None:
                yield Violation(rf.rel, rf.lines.get("revision", 1), f"revision {rf.label} has no upgrade() function")


class MissingDowngrade(Rule):
    id = "missing-downgrade"
    severity = Severity.ERROR
    family = "alembic"
    summary = "no `downgrade()`"
    why = (
        "Without downgrade() the revision cannot be rolled back: `alembic downgrade` fails with AttributeError, "
        "and a bad deploy can only be fixed forward, under pressure."
    )
    fix = "Define `def downgrade() -> None:` that undoes upgrade() step by step, in reverse order."
    example_path = revision_path("lessons")
    bad = (
        revision('op.add_column("lessons", sa.Column("notes", sa.Text(), nullable=True))').split("\n\ndef downgrade")[0]
        + "\n"
    )
    good = revision(
        'op.add_column("lessons", sa.Column("notes", sa.Text(), nullable=True))', 'op.drop_column("lessons", "notes")'
    )

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        for rf in declared_revisions(ctx):
            if rf.downgrade is None:
                yield Violation(rf.rel, rf.lines.get("revision", 1), f"revision {rf.label} has no downgrade() function")


def _does_nothing(stmt: ast.stmt) -> bool:
    """pass, `...`, a docstring or other bare constant: nothing that undoes anything."""
    return isinstance(stmt, ast.Pass) or (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant))


class EmptyDowngrade(Rule):
    id = "empty-downgrade"
    severity = Severity.ERROR
    family = "alembic"
    summary = "`downgrade()` is `pass` or `...` (does nothing)"
    why = (
        "An empty downgrade reports success while leaving the upgrade's tables, columns and policies in place: "
        "the database and the version table disagree, and the next upgrade fails on objects that already exist. "
        "Revisions listed in irreversible_revisions in [tool.delegate] (by id, or a unique prefix of 4 characters "
        "or more) are intentional and not reported; a downgrade that only raises is irreversible-downgrade."
    )
    fix = (
        "Undo every step of upgrade() in reverse order (op.drop_index, op.drop_column, op.drop_table, DROP POLICY "
        "...). If the revision really cannot be undone, make downgrade() raise with the reason, list it in "
        "irreversible_revisions and say why in the runbook."
    )
    example_path = revision_path("lessons_notes")
    bad = revision('op.add_column("lessons", sa.Column("notes", sa.Text(), nullable=True))', "pass")
    good = revision(
        'op.add_column("lessons", sa.Column("notes", sa.Text(), nullable=True))', 'op.drop_column("lessons", "notes")'
    )

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        irreversible = ctx.graph.named_by(ctx.config.irreversible_revisions)
        for rf in declared_revisions(ctx):
            fn = rf.downgrade
            if fn is None or rf.revision in irreversible or not all(map(_does_nothing, fn.body)):
                continue
            yield Violation(
                rf.rel,
                fn.lineno,
                f"downgrade() of revision {rf.label} does nothing",
                fix=(
                    f"Undo every step of upgrade() of revision {rf.label} in reverse order in its downgrade() "
                    f"({rf.rel}); if it really cannot be undone, make downgrade() raise with the reason and list "
                    f"{rf.label} in irreversible_revisions."
                ),
            )


class IrreversibleDowngrade(Rule):
    id = "irreversible-downgrade"
    severity = Severity.WARNING
    family = "alembic"
    summary = (
        "`downgrade()` only raises (`RuntimeError`, `NotImplementedError`): irreversible on purpose; info when "
        "listed in `irreversible_revisions`"
    )
    why = (
        "A downgrade that only raises says, on purpose, that the revision cannot be undone (a data migration, a "
        "rename that code already depends on): nothing is broken, but no rollback goes past it, so a bad deploy "
        "above it can only be fixed forward. It is its own finding, not downgrade-failed (which is for a downgrade "
        "that tries and fails); the live check and the stairway stop the round trip there and say so. Listing the "
        "revision in irreversible_revisions in [tool.delegate] records the decision and turns the warning into an "
        "info."
    )
    fix = (
        "If the revision can be undone, write the downgrade. If not, list it in irreversible_revisions in "
        "[tool.delegate] and say in the runbook how to recover without a rollback."
    )
    example_path = revision_path("rename_tables")
    bad = revision(
        'op.rename_table("accounts_user", "users")', 'raise RuntimeError("Cannot undo: the application reads users")'
    )
    good = revision('op.rename_table("accounts_user", "users")', 'op.rename_table("users", "accounts_user")')

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        irreversible = ctx.graph.named_by(ctx.config.irreversible_revisions)
        for rf in declared_revisions(ctx):
            raised = only_raise(rf.downgrade)
            if raised is None:
                continue
            listed = rf.revision in irreversible
            what = ast.unparse(raised.exc) if raised.exc is not None else "raise"
            yield Violation(
                rf.rel,
                raised.lineno,
                f"revision {rf.label} cannot be downgraded: its downgrade() only raises ({what[:120]})"
                + ("; listed in irreversible_revisions" if listed else ""),
                fix=f"Nothing to do: {rf.label} is listed in irreversible_revisions; say in the runbook how to "
                "recover without a rollback."
                if listed
                else f"If revision {rf.label} can be undone, write its downgrade() ({rf.rel}); if not, list "
                f'"{rf.label}" in irreversible_revisions in [tool.delegate] and say in the runbook how to recover '
                "without a rollback.",
                severity=Severity.INFO if listed else None,
            )


class DuplicateRevision(Rule):
    id = "duplicate-revision"
    severity = Severity.ERROR
    family = "alembic"
    summary = "two files declare the same `revision`"
    why = (
        "Alembic keys revisions by id; with two files sharing one, it refuses to load the history (or picks one "
        "silently in older versions), so one of the migrations never runs."
    )
    fix = "Give the new revision a fresh id (`alembic revision` generates one: uuid4().hex[-12:])."
    example_path = revision_path("lessons_notes")
    bad = {
        revision_path("lessons_notes"): revision(
            'op.add_column("lessons", sa.Column("notes", sa.Text()))', 'op.drop_column("lessons", "notes")'
        ),
        revision_path("lessons_rating"): revision(
            'op.add_column("lessons", sa.Column("rating", sa.Integer()))', 'op.drop_column("lessons", "rating")'
        ),
    }
    good = {
        revision_path("lessons_notes"): revision(
            'op.add_column("lessons", sa.Column("notes", sa.Text()))', 'op.drop_column("lessons", "notes")'
        ),
        revision_path("lessons_rating", rev="e6a1c0f4b2d9"): revision(
            'op.add_column("lessons", sa.Column("rating", sa.Integer()))',
            'op.drop_column("lessons", "rating")',
            rev="e6a1c0f4b2d9",
            down="3f9c2a7d1b84",
        ),
    }

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        for rev, files in ctx.graph.duplicates.items():
            for rf in files[1:]:
                others = ", ".join(f.rel for f in files if f is not rf)
                yield Violation(rf.rel, rf.lines.get("revision", 1), f"revision id {rev} is also declared by {others}")


class MultipleHeads(Rule):
    id = "multiple-heads"
    severity = Severity.ERROR
    family = "alembic"
    summary = "the graph has more than one head (two files share a `down_revision`)"
    why = (
        "With two heads, `alembic upgrade head` refuses to run (`Multiple head revisions are present`), so the "
        "deploy stops. It happens when two branches each add a revision on the same parent. Siblings that declare "
        "branch_labels are deliberate independent branches and are not reported."
    )
    fix = (
        "Rebase the new revision onto the current head (set its down_revision to the head), or merge the heads: "
        "`alembic merge -m 'merge heads' <head1> <head2>`."
    )
    example_path = revision_path("lessons_rating", rev="e6a1c0f4b2d9")
    bad = {
        revision_path("lessons_notes"): revision(
            'op.add_column("lessons", sa.Column("notes", sa.Text()))', 'op.drop_column("lessons", "notes")', down=None
        ),
        revision_path("lessons_rating", rev="e6a1c0f4b2d9"): revision(
            'op.add_column("lessons", sa.Column("rating", sa.Integer()))',
            'op.drop_column("lessons", "rating")',
            rev="e6a1c0f4b2d9",
            down=None,
        ),
    }
    good = {
        revision_path("lessons_notes"): revision(
            'op.add_column("lessons", sa.Column("notes", sa.Text()))', 'op.drop_column("lessons", "notes")', down=None
        ),
        revision_path("lessons_rating", rev="e6a1c0f4b2d9"): revision(
            'op.add_column("lessons", sa.Column("rating", sa.Integer()))',
            'op.drop_column("lessons", "rating")',
            rev="e6a1c0f4b2d9",
            down="3f9c2a7d1b84",
        ),
    }

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        graph = ctx.graph
        heads = set(graph.heads)
        if len(heads) < 2:
            return
        siblings: dict[str | None, list[str]] = {}
        for rev, rf in graph.by_id.items():
            parents: list[str | None] = [p for p in rf.down_revisions if p in graph.by_id] or [None]
            for parent in parents:
                siblings.setdefault(parent, []).append(rev)
        for parent, children in siblings.items():
            kids = [k for k in children if not graph.by_id[k].branch_labels]
            if len(kids) < 2:
                continue
            reach = {k: ({k} | graph.descendants(k)) & heads for k in kids}
            if len(set().union(*reach.values())) < 2:
                continue  # the branches were merged again: one head
            for kid in sorted(kids):
                rf = graph.by_id[kid]
                others = ", ".join(f"{graph.by_id[o].rel} ({o})" for o in sorted(kids) if o != kid)
                base = f"down_revision {parent}" if parent else "no down_revision (a second base)"
                yield Violation(
                    rf.rel,
                    rf.lines.get("down_revision", rf.lines.get("revision", 1)),
                    f"revision {kid} shares {base} with {others}: the history has {len(heads)} heads",
                )


class BrokenDownRevision(Rule):
    id = "broken-down-revision"
    severity = Severity.ERROR
    family = "alembic"
    summary = "`down_revision` names no known revision"
    why = (
        "Alembic cannot place a revision whose parent does not exist: every command fails with `Revision ... "
        "referenced from ... is not present`. Usually a typo, or a parent that was renamed or squashed away."
    )
    fix = "Set down_revision to the id of the revision this one follows (`alembic heads` shows the current head)."
    example_path = revision_path("lessons_rating", rev="e6a1c0f4b2d9")
    bad = {
        revision_path("lessons_notes"): revision(
            'op.add_column("lessons", sa.Column("notes", sa.Text()))', 'op.drop_column("lessons", "notes")', down=None
        ),
        revision_path("lessons_rating", rev="e6a1c0f4b2d9"): revision(
            'op.add_column("lessons", sa.Column("rating", sa.Integer()))',
            'op.drop_column("lessons", "rating")',
            rev="e6a1c0f4b2d9",
            down="3f9c2a7d1b8",
        ),
    }
    good = MultipleHeads.good

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        for rf, parent in ctx.graph.missing_parents:
            yield Violation(
                rf.rel,
                rf.lines.get("down_revision", 1),
                f"down_revision {parent!r} of revision {rf.label} names no known revision",
            )
        for rf in ctx.graph.by_id.values():
            for dep in rf.depends_on:
                if dep not in ctx.graph.by_id and not any(dep in f.branch_labels for f in ctx.graph.by_id.values()):
                    yield Violation(
                        rf.rel,
                        rf.lines.get("depends_on", 1),
                        f"depends_on {dep!r} of revision {rf.label} names no known revision",
                    )


# Ids people (and models) type instead of generating one.
_KNOWN_PLACEHOLDERS = frozenset(
    {
        "a1b2c3d4e5f6",
        "abc123",
        "abcdef",
        "123456",
        "123456789abc",
        "1234567890ab",
        "abcdef123456",
        "123456abcdef",
        "deadbeef",
        "deadbeefcafe",
        "cafebabe",
        "feedface",
        "000000000000",
        "0001",
        "xxxx",
        "xxxxxxxxxxxx",
        "revision",
        "head",
        "initial",
    }
)
_HEXSPEAK = ("deadbeef", "cafebabe", "feedface", "c0ffee", "decafbad", "badc0de", "8badf00d", "abcdef")
_ORDER = "0123456789abcdefghijklmnopqrstuvwxyz"


def _sequential_share(value: str) -> float:
    """Share of characters in runs of 3+ consecutive symbols (up or down), directly or in the two interleaved
    halves (a1b2c3...): random ids almost never have most of their characters in such runs."""

    def covered(s: str) -> set[int]:
        out: set[int] = set()
        for step in (1, -1):
            start = 0
            for i in range(1, len(s) + 1):
                ok = (
                    i < len(s)
                    and s[i] in _ORDER
                    and s[i - 1] in _ORDER
                    and _ORDER.index(s[i]) - _ORDER.index(s[i - 1]) == step
                )
                if not ok:
                    if i - start >= 3:
                        out.update(range(start, i))
                    start = i
        return out

    direct = covered(value)
    even = {2 * i for i in covered(value[0::2])}
    odd = {2 * i + 1 for i in covered(value[1::2])}
    interleaved = even & {i - 1 for i in odd} | odd & {i + 1 for i in even}
    return len(direct | interleaved) / len(value) if value else 0.0


def placeholder_reason(rev: str, follows_convention: bool = False) -> str | None:
    """Why `rev` looks typed in rather than generated; None when it does not, or follows the history's own
    numbering convention (`0001_initial`, `0002_slots_v1`, `0064`)."""
    if follows_convention:
        return None
    value = rev.lower()
    if value in _KNOWN_PLACEHOLDERS:
        return "a well-known placeholder"
    if len(set(value)) == 1:
        return "one repeated character"
    if value.isdigit() and len(value) < 8:
        # 0001, 042: typed by hand. Twelve random hex digits are all decimal digits in 0.4% of real ids.
        return "a hand-numbered id"
    if any(word in value for word in _HEXSPEAK):
        return "a hex word"
    for size in (1, 2, 3, 4):
        if len(value) >= 2 * size and len(value) % size == 0 and value == value[:size] * (len(value) // size):
            return "a repeated pattern"
    if re.fullmatch(r"[0-9a-f]+", value) and len(value) >= 6:
        if _sequential_share(value) > 0.5:
            return "a sequential run"
        if len(value) >= 10 and len(set(value)) <= 3:
            return "too few distinct characters"
    return None


_NUMBERED = re.compile(r"(\d+)(?:[_.-].*)?")


def numbered_width(rev: str) -> int | None:
    """The width of the number an id starts with, when it is a number alone or before a separator: 4 for
    `0001`, `0002_slots_v1` and `0064`; None for `3f9c2a7d1b84` or `20x`."""
    match = _NUMBERED.fullmatch(rev)
    return len(match.group(1)) if match else None


def _number(rev: str) -> int:
    match = _NUMBERED.fullmatch(rev)
    return int(match.group(1)) if match else 0


def numbering_convention(history: list[str]) -> frozenset[int]:
    """The number widths that a history's ids use as a convention: by at least two ids, or by every one."""
    counts: dict[int, int] = {}
    for rev in history:
        width = numbered_width(rev)
        if width is not None:
            counts[width] = counts.get(width, 0) + 1
    return frozenset(w for w, n in counts.items() if n >= 2 or n == len(history))


class PlaceholderRevisionId(Rule):
    id = "placeholder-revision-id"
    severity = Severity.WARNING
    family = "alembic"
    summary = "a revision id that looks invented (`a1b2c3d4e5f6`, `abc123`, `0001`, sequential hex)"
    why = (
        "Alembic's ids are random so that two branches never collide. A typed-in id (a1b2c3d4e5f6, 0001, "
        "deadbeef) is likely to be typed in again by the next person or model, and then duplicate-revision "
        "breaks the history for everyone. A history's own numbering convention is not an invented id: it is "
        "learnt from the revisions below the ones under test (`0001_initial`, `0002_slots_v1`, `--rev-id 0003`: "
        "a number of the same width, alone or before `_`), and an id that follows it is not reported; an id such "
        "as a1b2c3d4e5f6 in a history of random hex ids still is."
    )
    fix = "Let Alembic generate the id (`alembic revision -m ...`), or use `uuid.uuid4().hex[-12:]`."
    example_path = revision_path("lessons_notes", rev="a1b2c3d4e5f6")
    bad = revision(
        'op.add_column("lessons", sa.Column("notes", sa.Text()))',
        'op.drop_column("lessons", "notes")',
        rev="a1b2c3d4e5f6",
    )
    good = revision(
        'op.add_column("lessons", sa.Column("notes", sa.Text()))',
        'op.drop_column("lessons", "notes")',
        rev="e6a1c0f4b2d9",
    )

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        ids = [rf.revision for rf in ctx.graph.files if rf.revision]
        # The convention is learnt from the history below the revisions under test (all of it without a feature).
        history = [i for i in ids if not ctx.in_feature(i)] if ctx.feature_revisions is not None else ids
        widths = numbering_convention(history or ids)
        for rf in ctx.graph.files:
            if not rf.revision:
                continue
            reason = placeholder_reason(rf.revision, numbered_width(rf.revision) in widths)
            if reason:
                numbered = ""
                if widths:
                    width = max(widths)
                    top = max((_number(i) for i in ids if numbered_width(i) == width), default=0)
                    numbered = f", or the next number of this history's convention (`{top + 1:0{width}d}_<slug>`)"
                yield Violation(
                    rf.rel,
                    rf.lines.get("revision", 1),
                    f"revision id {rf.revision!r} looks invented ({reason})",
                    fix=(
                        f"Give revision {rf.revision} ({rf.rel}) a generated id (`alembic revision -m ...` makes one; "
                        f"or `uuid.uuid4().hex[-12:]`){numbered}, and change the down_revision of each revision "
                        "that builds on it."
                    ),
                )


def _is_autocommit_block(item: ast.withitem) -> bool:
    expr = item.context_expr
    return isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr == "autocommit_block"


def _concurrent_sql(text: str) -> str | None:
    """The CONCURRENTLY statement kind in an SQL string that needs to run outside a transaction."""
    try:
        raws = pglast.parse_sql(text)
    except pglast.parser.ParseError:
        return None
    for raw in raws:
        node = raw.stmt
        if isinstance(node, pg.IndexStmt) and node.concurrent:
            return "CREATE INDEX CONCURRENTLY"
        if isinstance(node, pg.DropStmt) and node.concurrent and node.removeType == ObjectType.OBJECT_INDEX:
            return "DROP INDEX CONCURRENTLY"
        if isinstance(node, pg.ReindexStmt) and any(
            getattr(p, "defname", None) == "concurrently" for p in node.params or ()
        ):
            return "REINDEX CONCURRENTLY"
    return None


def _sql_constant(node: ast.expr) -> str | None:
    """The string of `"..."`, `sa.text("...")`, `text("...")` or `textwrap.dedent("...")`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Call) and node.args:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name in ("text", "dedent"):
            return _sql_constant(node.args[0])
    return None


def concurrent_calls(fn: ast.FunctionDef) -> Iterator[tuple[ast.Call, str, bool]]:
    """(call, what, inside autocommit_block) for each op.* call that asks for CONCURRENTLY."""

    def visit(node: ast.AST, inside: bool) -> Iterator[tuple[ast.Call, str, bool]]:
        if isinstance(node, (ast.With, ast.AsyncWith)):
            inner = inside or any(_is_autocommit_block(i) for i in node.items)
            for child in node.body:
                yield from visit(child, inner)
            return
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name = node.func.attr
            if name in ("create_index", "drop_index"):
                for kw in node.keywords:
                    if kw.arg == "postgresql_concurrently" and not (
                        isinstance(kw.value, ast.Constant) and not kw.value.value
                    ):
                        yield node, f"op.{name}(..., postgresql_concurrently=True)", inside
            elif name == "execute" and node.args:
                text = _sql_constant(node.args[0])
                what = _concurrent_sql(text) if text else None
                if what:
                    yield node, what, inside
        for sub_node in ast.iter_child_nodes(node):
            yield from visit(sub_node, inside)

    for body_stmt in fn.body:
        yield from visit(body_stmt, False)


class ConcurrentlyOutsideAutocommit(Rule):
    id = "concurrently-outside-autocommit"
    severity = Severity.ERROR
    family = "alembic"
    summary = "`postgresql_concurrently=True` / `CONCURRENTLY` not inside `op.get_context().autocommit_block()`"
    why = (
        "Alembic runs each migration inside a transaction, and PostgreSQL refuses CREATE/DROP INDEX CONCURRENTLY "
        "(and REINDEX CONCURRENTLY) there: the deploy fails with `cannot run inside a transaction block`. "
        "autocommit_block() commits the migration's transaction, runs its body in autocommit mode, and opens a "
        "new transaction afterwards."
    )
    fix = (
        "Wrap the call:\n"
        "    with op.get_context().autocommit_block():\n"
        '        op.create_index("ix_lessons_student", "lessons", ["student_id"],\n'
        "                        postgresql_concurrently=True, if_not_exists=True)\n"
        "Put only the concurrent statements inside the block (it commits everything before it)."
    )
    example_path = revision_path("index_lessons_student")
    bad = revision(
        'op.create_index("ix_lessons_student", "lessons", ["student_id"], postgresql_concurrently=True)',
        'op.drop_index("ix_lessons_student", table_name="lessons")',
    )
    good = revision(
        """
        with op.get_context().autocommit_block():
            op.create_index("ix_lessons_student", "lessons", ["student_id"], postgresql_concurrently=True)
        """,
        """
        with op.get_context().autocommit_block():
            op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_lessons_student")
        """,
    )

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        for rf in ctx.revision_files:
            for fn in (rf.upgrade, rf.downgrade):
                if fn is None:
                    continue
                for call, what, inside in concurrent_calls(fn):
                    if not inside:
                        yield Violation(
                            rf.rel,
                            call.lineno,
                            f"{what} in {fn.name}() runs inside the migration's transaction and will fail",
                            "Wrap the call in an autocommit block:\n"
                            "    with op.get_context().autocommit_block():\n"
                            f"        {ast.unparse(call)}\n"
                            "Put only the concurrent statements inside the block (it commits everything before it).",
                        )


def _constant_text(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def unnamed_constraint_drops(fn: ast.FunctionDef) -> Iterator[tuple[ast.Call, str | None, str | None]]:
    """(call, table, type_) for each `op.drop_constraint(...)` / `batch_op.drop_constraint(...)` whose name is a
    constant that is not a string (None, a number): Alembic can never render DROP CONSTRAINT for it."""
    for node in ast.walk(fn):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr != "drop_constraint":
            continue
        keywords = {kw.arg: kw.value for kw in node.keywords if kw.arg}
        name = node.args[0] if node.args else keywords.get("constraint_name")
        if not isinstance(name, ast.Constant) or isinstance(name.value, str):
            continue  # a string, or an expression whose value only the running code knows
        table = _constant_text(node.args[1] if len(node.args) > 1 else keywords.get("table_name"))
        kind = _constant_text(node.args[2] if len(node.args) > 2 else keywords.get("type_"))
        yield node, table, kind


# The suffix PostgreSQL gives a constraint created without a name: <table>_<columns>_<suffix>.
_DEFAULT_SUFFIX = {"foreignkey": "fkey", "unique": "key", "check": "check", "primary": "pkey"}


class UnnamedConstraintDrop(Rule):
    id = "unnamed-constraint-drop"
    severity = Severity.ERROR
    family = "alembic"
    summary = "`op.drop_constraint(None, ...)` (or a name that is not a string): it can never run"
    why = (
        "PostgreSQL drops a constraint by its name, and Alembic has none to give it: `op.drop_constraint(None, "
        "...)` fails with `Can't emit DROP CONSTRAINT for constraint ...; it has no name` every time, on every "
        "database, before any SQL is sent. Autogenerate writes it when the constraint was created without a name "
        "(`op.create_unique_constraint(None, ...)`, `sa.ForeignKeyConstraint` with no `name=`): the database then "
        "named it (`<table>_<column>_fkey`), and only that name can drop it. It is found without a database, "
        "in upgrade() and downgrade() alike."
    )
    fix = (
        "Give drop_constraint the constraint's real name (the name the database gave it: `\\d TABLE` in psql, "
        "or the name= of the create call), and name constraints when creating them (a naming_convention on the "
        "MetaData does it for every one)."
    )
    example_path = revision_path("release_unique")
    bad = revision(
        'op.create_unique_constraint(None, "releases", ["project_id", "version"])',
        'op.drop_constraint(None, "releases", type_="unique")',
    )
    good = revision(
        'op.create_unique_constraint("uq_releases_project_id_version", "releases", ["project_id", "version"])',
        'op.drop_constraint("uq_releases_project_id_version", "releases", type_="unique")',
    )

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        for rf in declared_revisions(ctx):
            for fn in (rf.upgrade, rf.downgrade):
                if fn is None:
                    continue
                for call, table, kind in unnamed_constraint_drops(fn):
                    on = f" on {table}" if table else ""
                    what = f"{kind} constraint" if kind else "constraint"
                    columns = "" if kind == "primary" else "_<columns>"
                    suffix = _DEFAULT_SUFFIX.get(kind or "")
                    name = f"{table}{columns}_{suffix}" if table and suffix else None
                    kind_arg = f', type_="{kind}"' if kind else ""
                    example = f'op.drop_constraint("{name or "<its name>"}", "{table or "TABLE"}"{kind_arg})'
                    yield Violation(
                        rf.rel,
                        call.lineno,
                        f"{fn.name}() of revision {rf.label} drops a {what}{on} without a name: Alembic cannot "
                        f"emit DROP CONSTRAINT for it, so this {fn.name}() fails every time",
                        fix=(
                            f"Name the {what}{on} that this call drops as the database named it "
                            f"(`\\d {table or 'TABLE'}` in psql lists it), e.g. {example}; and name it where it is "
                            "created."
                        ),
                    )


class PythonSyntaxError(Rule):
    id = "python-syntax-error"
    severity = Severity.ERROR
    family = "alembic"
    summary = "a revision file that does not parse as Python"
    why = (
        "Alembic imports every file of the versions folder; one that does not parse stops every alembic command "
        "for everyone. The engine reports it (with the line) instead of crashing, and checks the other files."
    )
    fix = "Fix the Python syntax at the reported line (run `python -m py_compile FILE`)."
    example_path = revision_path("lessons_notes")
    bad = revision('op.add_column("lessons", sa.Column("notes", sa.Text())', 'op.drop_column("lessons", "notes")')
    good = revision('op.add_column("lessons", sa.Column("notes", sa.Text()))', 'op.drop_column("lessons", "notes")')
    # Reported by the engine while reading the files; check() is not called.
