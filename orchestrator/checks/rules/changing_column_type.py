"""changing-column-type: ALTER COLUMN ... TYPE that is not binary-coercible (a table rewrite)."""

from __future__ import annotations

import ast as py
from collections.abc import Iterator

from pglast import ast
from pglast.enums import AlterTableType, ObjectType

from orchestrator.checks.model import CheckContext, FileKind, Rule, Violation
from orchestrator.checks.rules._examples import revision, revision_path
from orchestrator.checks.rules._sql import is_existing, statement_alter_cmds, statements_of, upgrade_alter_cmds
from orchestrator.report import Severity
from orchestrator.sql.tree import TypeRef, column_defs, table_of, type_ref

_TEXTLIKE = {"text", "varchar"}


def is_safe_change(old: TypeRef | None, new: TypeRef) -> bool:
    """True when PostgreSQL changes the type without rewriting or scanning the table.

    With the old type unknown (defined outside the checked files), only a change to text or unbounded varchar is
    presumed safe: those are the usual widening targets, and reporting them would mostly be noise.
    """
    if old is None:
        return new.name in _TEXTLIKE and not new.mods and not new.array
    if old.array != new.array:
        return False
    if old == new:
        return True
    if old.name in _TEXTLIKE and new.name in _TEXTLIKE:
        if new.name == "text" or not new.mods:
            return True  # varchar(n) -> text / varchar, text <-> varchar
        if old.name == "varchar" and old.mods and new.mods and None not in (old.mods[0], new.mods[0]):
            return new.mods[0] >= old.mods[0]  # type: ignore[operator]
        return False
    if old.name == new.name == "numeric":
        if not new.mods:
            return True
        if len(old.mods) >= 1 and len(new.mods) >= 1:
            old_scale = old.mods[1] if len(old.mods) > 1 else 0
            new_scale = new.mods[1] if len(new.mods) > 1 else 0
            op, np_ = old.mods[0], new.mods[0]
            return op is not None and np_ is not None and np_ >= op and old_scale == new_scale
        return False
    if old.name == new.name and old.name in ("varbit", "bit varying") and old.mods and new.mods:
        return None not in (old.mods[0], new.mods[0]) and new.mods[0] >= old.mods[0]  # type: ignore[operator]
    return old.name == "cidr" and new.name == "inet"


# SQLAlchemy type names (sa.String, sa.VARCHAR, postgresql.TEXT...) by the pg_catalog name PostgreSQL gives them.
_SA_TYPES = {
    "varchar": {"String", "VARCHAR", "Unicode", "NVARCHAR"},
    "text": {"Text", "TEXT", "UnicodeText"},
    "int2": {"SmallInteger", "SMALLINT"},
    "int4": {"Integer", "INTEGER", "INT"},
    "int8": {"BigInteger", "BIGINT"},
    "bool": {"Boolean", "BOOLEAN"},
    "numeric": {"Numeric", "NUMERIC", "DECIMAL"},
}
_SA_NAME = {sa_name: pg for pg, names in _SA_TYPES.items() for sa_name in names}


def sa_type_ref(expr: py.expr) -> TypeRef | None:
    """The TypeRef of a SQLAlchemy type written in Python (`sa.String(length=64)`, `sa.Text()`), or None."""
    call = expr if isinstance(expr, py.Call) else None
    target = call.func if call is not None else expr
    name = target.attr if isinstance(target, py.Attribute) else target.id if isinstance(target, py.Name) else None
    pg = _SA_NAME.get(name or "")
    if pg is None:
        return None
    if call is None:
        return TypeRef(pg)
    keywords = {k.arg: k.value for k in call.keywords}
    order = ("length",) if pg == "varchar" else ("precision", "scale") if pg == "numeric" else ()
    mods: list[int | None] = []
    for i, key in enumerate(order):
        value = call.args[i] if i < len(call.args) else keywords.get(key)
        if value is None:
            break
        if not (isinstance(value, py.Constant) and isinstance(value.value, int)):
            return None
        mods.append(value.value)
    return TypeRef(pg, tuple(mods))


def declared_existing_type(ctx: CheckContext, file: str, line: int, column: str) -> TypeRef | None:
    """The `existing_type=` that an alter_column call declares for `column`: the call at `line`, or one inside
    the `with op.batch_alter_table(...)` block at `line` (a batch emits its SQL when the block ends)."""
    rf = next((r for r in ctx.revision_files if r.rel == file and r.tree is not None), None)
    if rf is None or rf.tree is None:
        return None
    for node in py.walk(rf.tree):
        if isinstance(node, py.With) and node.lineno == line:
            calls = [c for c in py.walk(node) if _is_alter_column(c)]
        elif isinstance(node, py.Call) and _is_alter_column(node) and node.lineno <= line <= (node.end_lineno or 0):
            calls = [node]
        else:
            continue
        for call in calls:
            assert isinstance(call, py.Call)
            keywords = {k.arg: k.value for k in call.keywords}
            named = [a.value for a in call.args if isinstance(a, py.Constant) and isinstance(a.value, str)]
            given = keywords.get("column_name")
            if isinstance(given, py.Constant) and isinstance(given.value, str):
                named.append(given.value)
            if column in named and "existing_type" in keywords:
                return sa_type_ref(keywords["existing_type"])
    return None


def _is_alter_column(node: py.AST) -> bool:
    return isinstance(node, py.Call) and isinstance(node.func, py.Attribute) and node.func.attr == "alter_column"


def _plain_using(using: object, column: str) -> bool:
    """USING col or USING col::newtype keeps PostgreSQL's own coercion analysis."""
    node = using.arg if isinstance(using, ast.TypeCast) else using
    if not isinstance(node, ast.ColumnRef):
        return False
    fields = [f.sval for f in node.fields or () if isinstance(f, ast.String)]
    return bool(fields) and fields[-1] == column


class ChangingColumnType(Rule):
    id = "changing-column-type"
    severity = Severity.ERROR
    family = "sql"
    summary = "`ALTER COLUMN ... TYPE` that is not binary-coercible (varchar(n)->text is fine)"
    why = (
        "Most type changes rewrite the whole table and rebuild its indexes under an ACCESS EXCLUSIVE lock "
        "(int->bigint, text->varchar(n), timestamp->timestamptz, any USING expression). Only binary-coercible "
        "changes are catalog-only: varchar(n)->text, varchar(n)->varchar(m>=n), varchar(n)->varchar, "
        "text<->varchar, numeric(p,s)->numeric(p2>=p,s), numeric(p,s)->numeric, cidr->inet. The old type is "
        "taken from the checked migrations, else from the alter_column call's `existing_type=`; when it is "
        "unknown, only changes to text/varchar pass."
    )
    fix = (
        "Do it as an expand/contract: add a new column of the new type, write both (trigger or app), backfill "
        "in batches, switch reads, then drop the old column in a later release. For a wider varchar, change it "
        "to text or a larger varchar(n) (catalog-only)."
    )
    example_path = revision_path("lessons_id_bigint")
    bad = revision(
        'op.alter_column("lessons", "minutes", existing_type=sa.Integer(), type_=sa.BigInteger())',
        'op.alter_column("lessons", "minutes", existing_type=sa.BigInteger(), type_=sa.Integer())',
        message="lessons.minutes bigint",
    )
    good = revision(
        'op.alter_column("lessons", "title", existing_type=sa.String(120), type_=sa.Text())',
        'op.alter_column("lessons", "title", existing_type=sa.Text(), type_=sa.String(120))',
        message="lessons.title text",
    )

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        # Walk every statement in order so the "old type" is the one the column had right before the change.
        # The type name nodes as written (turned into TypeRefs only for the columns that change type).
        current: dict[tuple[str, str], ast.TypeName | None] = {}
        changes = {id(s) for s, _, _ in upgrade_alter_cmds(ctx, AlterTableType.AT_AlterColumnType)}
        if not changes:
            return
        for stmt in statements_of(ctx, ast.CreateStmt, ast.RenameStmt, ast.AlterTableStmt):
            if stmt.direction == "downgrade":
                continue
            node = stmt.node
            if isinstance(node, ast.CreateStmt):
                for table, col, _ in column_defs(node):
                    current[(table, col.colname or "")] = col.typeName
            elif isinstance(node, ast.RenameStmt) and node.renameType == ObjectType.OBJECT_COLUMN and node.relation:
                table = table_of(node.relation)
                current[(table, node.newname or "")] = current.pop((table, node.subname or ""), None)
            elif isinstance(node, ast.AlterTableStmt):
                for table, cmd in statement_alter_cmds(stmt):
                    if cmd.subtype == AlterTableType.AT_AddColumn and isinstance(cmd.def_, ast.ColumnDef):
                        current[(table, cmd.def_.colname or "")] = cmd.def_.typeName
                    elif cmd.subtype == AlterTableType.AT_AlterColumnType and isinstance(cmd.def_, ast.ColumnDef):
                        column = cmd.name or ""
                        new = type_ref(cmd.def_.typeName)
                        old = type_ref(current.get((table, column)))
                        if old is None and stmt.kind is FileKind.REVISION:
                            # The history did not say; the call's own existing_type= does (Alembic's way).
                            old = declared_existing_type(ctx, stmt.file, stmt.line, column)
                        current[(table, column)] = cmd.def_.typeName
                        if id(stmt) not in changes or new is None or not is_existing(ctx, stmt, table):
                            continue
                        using = cmd.def_.raw_default
                        if (using is None or _plain_using(using, column)) and is_safe_change(old, new):
                            continue
                        was = f"{old}" if old else "its current type"
                        yield Violation(
                            stmt.file,
                            stmt.line,
                            f'changing column "{column}" of existing table {table} from {was} to {new} rewrites '
                            "the table under ACCESS EXCLUSIVE",
                        )
