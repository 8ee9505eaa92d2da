"""volatile-default: ADD COLUMN with a volatile default (or identity/serial/stored generated) on an existing table."""

from __future__ import annotations

from collections.abc import Iterator

from pglast import ast
from pglast.enums import ConstrType

from orchestrator.checks.model import CheckContext, Rule, Violation
from orchestrator.checks.rules._examples import about, bare, revision, revision_path
from orchestrator.checks.rules._sql import is_existing, statements_of, upgrade_added_columns
from orchestrator.report import Severity
from orchestrator.sql.tree import func_name, type_ref, walk

# Built-in functions marked VOLATILE in pg_proc that show up in defaults. now(), current_timestamp,
# statement_timestamp() and txid_current() are STABLE: evaluated once, so no rewrite.
VOLATILE_BUILTINS = frozenset(
    {
        "random",
        "random_normal",
        "setseed",
        "gen_random_uuid",
        "uuidv4",
        "uuidv7",
        "uuid_generate_v1",
        "uuid_generate_v1mc",
        "uuid_generate_v4",
        "gen_random_bytes",
        "clock_timestamp",
        "timeofday",
        "nextval",
        "currval",
        "lastval",
    }
)
SERIAL_TYPES = frozenset({"serial", "serial4", "bigserial", "serial8", "smallserial", "serial2"})


def user_volatility(ctx: CheckContext) -> dict[str, str]:
    """Function name -> volatility for functions the checked SQL creates (PostgreSQL's default is volatile)."""
    out: dict[str, str] = {}
    for stmt in statements_of(ctx, ast.CreateFunctionStmt):
        node: ast.CreateFunctionStmt = stmt.node
        names = [n.sval or "" for n in node.funcname or () if isinstance(n, ast.String)]
        volatility = "volatile"
        for opt in node.options or ():
            if opt.defname == "volatility" and isinstance(opt.arg, ast.String):
                volatility = opt.arg.sval or volatility
        if names:
            out[names[-1].lower()] = volatility
    return out


def rewrite_reason(col: ast.ColumnDef, user: dict[str, str]) -> str | None:
    tref = type_ref(col.typeName)
    if tref is not None and tref.name in SERIAL_TYPES:
        return f"{tref.name} (a nextval() default)"
    for c in col.constraints or ():
        if c.contype == ConstrType.CONSTR_IDENTITY:
            return "an identity column (filled from its sequence)"
        if c.contype == ConstrType.CONSTR_GENERATED:
            return "a stored generated column (computed for every row)"
        if c.contype == ConstrType.CONSTR_DEFAULT:
            for n in walk(c.raw_expr):
                if isinstance(n, ast.FuncCall):
                    name = func_name(n)
                    if name in VOLATILE_BUILTINS or user.get(name) == "volatile":
                        return f"DEFAULT {name}() (volatile)"
    return None


class VolatileDefault(Rule):
    id = "volatile-default"
    severity = Severity.ERROR
    family = "sql"
    summary = "`ADD COLUMN ... DEFAULT <volatile fn>` on an existing table (rewrite)"
    why = (
        "Since PostgreSQL 11 a constant or STABLE default (0, 'draft', now()) is stored once in the catalog. A "
        "VOLATILE default such as gen_random_uuid(), random() or clock_timestamp() must be computed per row, so "
        "the whole table is rewritten under an ACCESS EXCLUSIVE lock: no reads, no writes until it is done. "
        "Serial, identity and stored generated columns rewrite the same way. Functions the checked SQL creates "
        "are judged by their declared volatility; other unknown functions are not reported (their volatility "
        "cannot be known statically, and the live lock observation still sees a rewrite)."
    )
    fix = (
        "Add the column without the default (or with a constant one), backfill existing rows in batches, then "
        "set the default for new rows:\n"
        '    op.add_column("lessons", sa.Column("public_id", sa.Uuid(), nullable=True))\n'
        "    # backfill in batches: UPDATE lessons SET public_id = gen_random_uuid() WHERE id BETWEEN ...\n"
        '    op.alter_column("lessons", "public_id", server_default=sa.text("gen_random_uuid()"))'
    )
    example_path = revision_path("lessons_public_id")
    bad = revision(
        """
        op.add_column(
            "lessons",
            sa.Column("public_id", sa.Uuid(), nullable=False, server_default=sa.text("gen_random_uuid()")),
        )
        """,
        'op.drop_column("lessons", "public_id")',
        message="lessons.public_id",
    )
    good = revision(
        """
        op.add_column("lessons", sa.Column("public_id", sa.Uuid(), nullable=True))
        op.alter_column("lessons", "public_id", server_default=sa.text("gen_random_uuid()"))
        op.add_column(
            "lessons", sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"))
        )
        """,
        """
        op.drop_column("lessons", "recorded_at")
        op.drop_column("lessons", "public_id")
        """,
        message="lessons.public_id",
    )

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        user: dict[str, str] | None = None
        for stmt, table, col in upgrade_added_columns(ctx):
            if not col.constraints and type_ref(col.typeName) is None:
                continue
            if user is None:
                user = user_volatility(ctx)
            reason = rewrite_reason(col, user)
            if reason and is_existing(ctx, stmt, table):
                yield Violation(
                    stmt.file,
                    stmt.line,
                    f'column "{col.colname}" added to existing table {table} with {reason} rewrites the table',
                    about(self.fix, {"lessons": bare(table), "public_id": col.colname or "<column>"}),
                )
