"""Row level security rules (Supabase roles anon, authenticated, service_role) over the whole feature."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from pglast import ast
from pglast.enums import AlterTableType, ConstrType, ObjectType, RoleSpecType
from pglast.stream import RawStream

from orchestrator.checks.model import CheckContext, Rule, SqlStatement, Violation
from orchestrator.checks.rules._examples import about, revision, revision_path
from orchestrator.checks.rules._sql import (
    MIGRATION_KINDS,
    feature_ids,
    statement_alter_cmds,
    statements_of,
    upgrade_migrations,
)
from orchestrator.report import Severity
from orchestrator.sql.tree import column_refs, const_value, dotted_name, is_constant_true, is_temp, table_of, walk

PUBLIC = "public"  # the pseudo-role of a policy or grant with no TO clause / TO PUBLIC
CLIENT_ROLES = frozenset({"anon", "authenticated", PUBLIC})  # roles a browser holds a token for


@dataclass
class Policy:
    stmt: SqlStatement
    name: str
    table: str
    command: str  # all | select | insert | update | delete
    roles: frozenset[str]
    permissive: bool
    using: object
    with_check: object


def role_names(specs: object) -> frozenset[str]:
    """Role names of a TO clause; no clause (or PUBLIC) is the pseudo-role public, which every role belongs to."""
    names: set[str] = set()
    for spec in specs or ():  # type: ignore[attr-defined]
        if not isinstance(spec, ast.RoleSpec):
            continue
        if spec.roletype == RoleSpecType.ROLESPEC_PUBLIC:
            names.add(PUBLIC)
        elif spec.rolename:
            names.add(spec.rolename)
    return frozenset(names or {PUBLIC})


@dataclass
class RlsFacts:
    """The feature's tables, RLS switches and policies, computed once per context."""

    created: dict[str, SqlStatement] = field(default_factory=dict)  # table -> its CREATE TABLE (feature)
    enabled: dict[str, SqlStatement] = field(default_factory=dict)  # table -> first ENABLE RLS (feature)
    enabled_anywhere: set[str] = field(default_factory=set)
    policies: list[Policy] = field(default_factory=list)  # every policy of the checked SQL
    by_table: dict[str, list[Policy]] = field(default_factory=dict)


def rls_facts(ctx: CheckContext) -> RlsFacts:
    return ctx.memo("rls_facts", lambda: _rls_facts(ctx))


def _rls_facts(ctx: CheckContext) -> RlsFacts:
    out = RlsFacts()
    ours = feature_ids(ctx)
    dropped: set[str] = set()
    # Every policy file counts as context (an old table's SELECT policy lives in its own feature's file); only
    # findings are limited to the feature.
    for stmt in statements_of(ctx, ast.CreateStmt, ast.AlterTableStmt, ast.CreatePolicyStmt, ast.DropStmt):
        if stmt.direction == "downgrade" or stmt.kind not in MIGRATION_KINDS:
            continue
        node = stmt.node
        in_feature = id(stmt) in ours
        if isinstance(node, ast.CreateStmt) and in_feature and not is_temp(node.relation):
            table = table_of(node.relation)
            out.created.setdefault(table, stmt)
            dropped.discard(table)
        elif isinstance(node, ast.AlterTableStmt):
            for table, cmd in statement_alter_cmds(stmt):
                if cmd.subtype in (AlterTableType.AT_EnableRowSecurity, AlterTableType.AT_ForceRowSecurity):
                    out.enabled_anywhere.add(table)
                    if in_feature:
                        out.enabled.setdefault(table, stmt)
        elif isinstance(node, ast.CreatePolicyStmt):
            policy = Policy(
                stmt=stmt,
                name=node.policy_name or "",
                table=table_of(node.table),
                command=(node.cmd_name or "all").lower(),
                roles=role_names(node.roles),
                permissive=bool(node.permissive),
                using=node.qual,
                with_check=node.with_check,
            )
            out.policies.append(policy)
            out.by_table.setdefault(policy.table, []).append(policy)
        elif isinstance(node, ast.DropStmt) and node.removeType == ObjectType.OBJECT_TABLE and in_feature:
            dropped.update(dotted_name(o) for o in node.objects or ())
    for table in dropped:
        out.created.pop(table, None)
    return out


def exposed(ctx: CheckContext, table: str) -> bool:
    return table.split(".", 1)[0] in set(ctx.config.exposed_schemas)


def covers(policy_roles: frozenset[str], role: str) -> bool:
    return PUBLIC in policy_roles or role in policy_roles


_TABLE = """
op.create_table(
    "lesson_notes",
    sa.Column("id", sa.BigInteger(), sa.Identity(always=True), primary_key=True),
    sa.Column("student_id", sa.Uuid(), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
)
"""
_OWNER = "(select auth.uid()) = student_id"
_OWNED_TABLE = _TABLE.replace(
    'sa.Column("student_id", sa.Uuid(), nullable=False)',
    'sa.Column("student_id", sa.Uuid(), sa.ForeignKey("auth.users.id"), nullable=False)',
)


def _policies(*lines: str) -> str:
    return "\n".join(f'op.execute("{line}")' for line in lines)


_ENABLE = "ALTER TABLE public.lesson_notes ENABLE ROW LEVEL SECURITY"
_FULL_POLICIES = (
    f"CREATE POLICY lesson_notes_select_own ON public.lesson_notes FOR SELECT TO authenticated USING ({_OWNER})",
    f"CREATE POLICY lesson_notes_write_own ON public.lesson_notes FOR ALL TO authenticated USING ({_OWNER}) "
    f"WITH CHECK ({_OWNER})",
    "CREATE POLICY lesson_notes_anon_none ON public.lesson_notes FOR SELECT TO anon USING (false)",
    "CREATE POLICY lesson_notes_service ON public.lesson_notes FOR ALL TO service_role USING (true) WITH CHECK (true)",
)
_DOWN = 'op.drop_table("lesson_notes")'
_PATH = revision_path("lesson_notes")


class RlsNotEnabled(Rule):
    id = "rls-not-enabled"
    supabase_only = True
    severity = Severity.ERROR
    family = "rls"
    summary = (
        "a table created in an exposed schema (public by default) with no `ENABLE ROW LEVEL SECURITY` in the feature"
    )
    why = (
        "Supabase serves every table of an exposed schema through its REST and GraphQL APIs to anyone holding the "
        "anon key, which ships inside the web app. Without row level security the table is readable and writable "
        "by the whole internet. Enabling RLS (anywhere in the feature: the revision or the policy SQL) makes "
        "access deny-by-default until policies open it."
    )
    fix = (
        "Enable RLS where the table is created, and add policies:\n"
        '    op.execute("ALTER TABLE public.lesson_notes ENABLE ROW LEVEL SECURITY")\n'
        "or in api/sql/policies/<feature>.sql: ALTER TABLE public.lesson_notes ENABLE ROW LEVEL SECURITY;"
    )
    example_path = _PATH
    bad = revision(_TABLE, _DOWN, message="lesson notes")
    good = revision(_TABLE + _policies(_ENABLE, *_FULL_POLICIES), _DOWN, message="lesson notes")

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        rf = rls_facts(ctx)
        for table, stmt in rf.created.items():
            if exposed(ctx, table) and table not in rf.enabled_anywhere:
                yield Violation(
                    stmt.file,
                    stmt.line,
                    f"table {table} is created in an exposed schema without row level security",
                    self.fix.replace("public.lesson_notes", table),
                )


class RlsNoPolicy(Rule):
    id = "rls-no-policy"
    supabase_only = True
    severity = Severity.ERROR
    family = "rls"
    summary = "RLS enabled but the table has no policy at all"
    why = (
        "With RLS on and no policy, every query by anon and authenticated sees zero rows and every write fails: "
        "the feature looks deployed but the app cannot use the table (only service_role and the owner, which "
        "bypass RLS, still work, so tests run as a superuser pass). If the table is meant for the server only, "
        "say so with a suppression and its reason."
    )
    fix = (
        "Add the policies the feature needs, e.g.:\n"
        "    CREATE POLICY lesson_notes_select_own ON public.lesson_notes FOR SELECT TO authenticated\n"
        "        USING ((select auth.uid()) = student_id);"
    )
    example_path = _PATH
    bad = revision(_TABLE + _policies(_ENABLE), _DOWN, message="lesson notes")
    good = revision(_TABLE + _policies(_ENABLE, *_FULL_POLICIES[:2]), _DOWN, message="lesson notes")

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        rf = rls_facts(ctx)
        for table, stmt in rf.enabled.items():
            if not rf.by_table.get(table):
                owners = owner_columns(ctx, table, rf.created.get(table), [])
                yield Violation(
                    stmt.file,
                    stmt.line,
                    f"row level security is enabled on {table} but it has no policy",
                    about(
                        self.fix,
                        {
                            "lesson_notes_select_own": f"{table.rpartition('.')[2]}_select_own",
                            "public.lesson_notes": table,
                            "student_id": owners[0] if owners else "<owner column>",
                        },
                    ),
                )


AUTH_USERS = "auth.users"
BYPASS_RLS = frozenset({"service_role"})  # Supabase's service_role has BYPASSRLS: policies never bind it


def owner_columns(ctx: CheckContext, table: str, create: SqlStatement | None, policies: list[Policy]) -> list[str]:
    """The columns that make `table` owner-scoped: a foreign key to auth.users, a column named in owner_columns
    of [tool.delegate], or a column that one of its policies compares with auth.uid()."""
    found: list[str] = []

    def add(name: str | None) -> None:
        if name and name not in found:
            found.append(name)

    node = create.node if create is not None else None
    configured = set(ctx.config.owner_columns)
    for elt in node.tableElts or () if isinstance(node, ast.CreateStmt) else ():
        if isinstance(elt, ast.ColumnDef):
            if elt.colname in configured or f"{table}.{elt.colname}" in configured:
                add(elt.colname)
            for con in elt.constraints or ():
                if _references_auth_users(con):
                    add(elt.colname)
        elif _references_auth_users(elt):
            for attr in elt.fk_attrs or ():
                add(getattr(attr, "sval", None))
    for policy in policies:
        for expr in (policy.using, policy.with_check):
            for n in walk(expr) if expr is not None else ():
                if isinstance(n, ast.A_Expr) and any(
                    isinstance(side, (ast.FuncCall, ast.SubLink)) and _calls_auth_uid(side)
                    for side in (n.lexpr, n.rexpr)
                ):
                    for side in (n.lexpr, n.rexpr):
                        if isinstance(side, ast.ColumnRef):
                            add(next(iter(column_refs(side)), None))
    return found


def _references_auth_users(con: object) -> bool:
    return (
        isinstance(con, ast.Constraint)
        and con.contype == ConstrType.CONSTR_FOREIGN
        and con.pktable is not None
        and table_of(con.pktable) == AUTH_USERS
    )


def _calls_auth_uid(node: object) -> bool:
    return any(isinstance(n, ast.FuncCall) and dotted_name(n.funcname or ()) == "auth.uid" for n in walk(node))


def public_read(ctx: CheckContext, table: str) -> bool:
    """Declared public-read: public_read_tables of [tool.delegate] or the feature's plan/data model."""
    declared = set(ctx.config.public_read_tables) | set(getattr(ctx.spec, "public_read_tables", None) or ())
    return table in declared or table.split(".")[-1] in declared


def _lets(policy: Policy, role: str, commands: tuple[str, ...]) -> bool:
    """The policy lets `role` reach some rows with one of `commands` (a USING (false) policy lets it reach none)."""
    if not policy.permissive or not covers(policy.roles, role) or policy.command not in commands:
        return False
    expr = policy.with_check if policy.command == "insert" else policy.using
    return expr is None or const_value(expr) is not False


class RlsRoleCoverage(Rule):
    id = "rls-role-coverage"
    supabase_only = True
    severity = Severity.WARNING
    family = "rls"
    summary = (
        "a role that the plan or config expects to reach a new table (anon on a `public_read_tables` table, the "
        "owner through `authenticated`) has no policy that lets it; deny-by-default (RLS on, no policy for a role) "
        "is not a finding"
    )
    why = (
        "With RLS on, a role that no policy names is denied: that is the safe default, not a defect (Supabase's "
        "own advisor rates it as info), so a table without an anon policy is not reported. What is reported is "
        "the role that should reach the table and cannot: anon (and authenticated) on a table the plan or "
        "public_read_tables declares public-read, the owner (authenticated) on an owner-scoped table (a column "
        "referencing auth.users, one of owner_columns, or one its policies compare with auth.uid()), and each "
        "role of expected_roles in [tool.delegate] (default: none; service_role bypasses RLS and needs no policy). "
        "Such a gap shows up as an empty screen in production. It is also reported where a SELECT policy grants "
        "more than the owner model allows: USING (true) for anon, authenticated or PUBLIC on an owner-scoped table "
        "that is not declared public-read lets every signed-in user read everyone's rows. A policy with no TO "
        "clause applies to PUBLIC and covers every role; tables with no policy at all are rls-no-policy. "
        "(expected_roles used to list the roles every new table needed some policy for, all three by default, "
        "which reported deny-by-default on every table; it now lists roles that must reach every new table.)"
    )
    fix = (
        "Add the policy that lets the expected role reach its rows, e.g. `CREATE POLICY lesson_notes_select_own ON "
        "public.lesson_notes FOR SELECT TO authenticated USING ((select auth.uid()) = student_id);`, or scope a "
        "blanket SELECT policy to the owner; declare really public tables in public_read_tables."
    )
    example_path = _PATH
    bad = revision(
        _OWNED_TABLE
        + _policies(
            _ENABLE,
            "CREATE POLICY lesson_notes_read ON public.lesson_notes FOR SELECT TO authenticated USING (true)",
            f"CREATE POLICY lesson_notes_insert_own ON public.lesson_notes FOR INSERT TO authenticated "
            f"WITH CHECK ({_OWNER})",
        ),
        _DOWN,
        message="lesson notes",
    )
    good = revision(_OWNED_TABLE + _policies(_ENABLE, *_FULL_POLICIES[:2]), _DOWN, message="lesson notes")

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        rf = rls_facts(ctx)
        for table, stmt in rf.created.items():
            policies = rf.by_table.get(table, [])
            if not policies or not exposed(ctx, table):
                continue
            owners = owner_columns(ctx, table, stmt, policies)
            is_public = public_read(ctx, table)
            bare = table.split(".")[-1]
            owner_test = f"(select auth.uid()) = {owners[0]}" if owners else "<who may read the row>"
            expected: dict[str, tuple[str, tuple[str, ...]]] = {}  # role -> (why, commands that count)
            if is_public:
                for role in ("anon", "authenticated"):
                    expected[role] = ("the table is declared public-read", ("select", "all"))
            if owners:
                expected.setdefault(
                    "authenticated", (f"owners sign in as authenticated ({owners[0]})", ("select", "all"))
                )
            for role in ctx.config.expected_roles:
                if role not in BYPASS_RLS:
                    expected.setdefault(
                        role, ("expected_roles in [tool.delegate]", ("select", "insert", "update", "delete", "all"))
                    )
            for role, (why, commands) in expected.items():
                if any(_lets(p, role, commands) for p in policies):
                    continue
                using = "true" if is_public and role == "anon" else owner_test
                yield Violation(
                    stmt.file,
                    stmt.line,
                    f"{role} should reach {table} ({why}) but no policy lets it: its queries see no rows",
                    fix=f"Add a policy for {role} on {table}, e.g. `CREATE POLICY {bare}_{role}_select ON {table} "
                    f"FOR SELECT TO {role} USING ({using});`"
                    + ("" if role not in ctx.config.expected_roles else ", or drop it from expected_roles"),
                )
            if not owners or is_public:
                continue
            for p in policies:
                roles = sorted(p.roles & CLIENT_ROLES)
                if p.command != "select" or not p.permissive or not roles or p.using is None:
                    continue
                if is_constant_true(p.using):
                    yield Violation(
                        p.stmt.file,
                        p.stmt.line,
                        f'SELECT policy "{p.name}" on {table} lets {", ".join(roles)} read every row, but {table} '
                        f"is owner-scoped ({', '.join(owners)}): each user would read everyone's rows",
                        fix=f'Scope "{p.name}" on {table} to the owner: USING ({owner_test}); or, if everyone may '
                        f"read {table}, declare it in public_read_tables.",
                    )


class PermissiveWritePolicy(Rule):
    id = "permissive-write-policy"
    supabase_only = True
    severity = Severity.ERROR
    family = "rls"
    summary = "an INSERT/UPDATE/DELETE/ALL policy whose `USING`/`WITH CHECK` is `true` for anon or authenticated"
    why = (
        "A write policy that is always true lets any visitor (anon) or any signed-in user (authenticated) insert, "
        "change or delete every row, other people's included, straight from the browser with the public anon key. "
        "Constant-true expressions such as `1 = 1` or `true OR ...` count, and so does a policy with no TO clause "
        "(it applies to PUBLIC). service_role policies are not reported: that key never leaves the server."
    )
    fix = (
        "Scope writes to the row's owner: USING ((select auth.uid()) = student_id) WITH CHECK ((select auth.uid()) "
        "= student_id), and grant blanket writes only TO service_role."
    )
    example_path = "api/sql/policies/lesson_notes.sql"
    bad = (
        "ALTER TABLE public.lesson_notes ENABLE ROW LEVEL SECURITY;\n\n"
        "CREATE POLICY lesson_notes_write ON public.lesson_notes\n"
        "    FOR ALL TO authenticated\n"
        "    USING (true)\n"
        "    WITH CHECK (true);\n"
    )
    good = (
        "ALTER TABLE public.lesson_notes ENABLE ROW LEVEL SECURITY;\n\n"
        "CREATE POLICY lesson_notes_write_own ON public.lesson_notes\n"
        "    FOR ALL TO authenticated\n"
        "    USING ((select auth.uid()) = student_id)\n"
        "    WITH CHECK ((select auth.uid()) = student_id);\n\n"
        "CREATE POLICY lesson_notes_service ON public.lesson_notes\n"
        "    FOR ALL TO service_role USING (true) WITH CHECK (true);\n"
    )

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        policies = rls_facts(ctx).policies
        ours = feature_ids(ctx)
        for p in policies:
            if id(p.stmt) not in ours or p.command == "select" or not p.permissive:
                continue
            roles = sorted(p.roles & CLIENT_ROLES)
            if not roles:
                continue
            clauses = [
                name
                for name, expr in (("USING", p.using), ("WITH CHECK", p.with_check))
                if expr is not None and is_constant_true(expr)
            ]
            if clauses:
                yield Violation(
                    p.stmt.file,
                    p.stmt.line,
                    f'{p.command.upper()} policy "{p.name}" on {p.table} lets {", ".join(roles)} write any row '
                    f"({' and '.join(clauses)} is always true)",
                    self._fix(ctx, p),
                )

    def _fix(self, ctx: CheckContext, p: Policy) -> str:
        rf = rls_facts(ctx)
        owners = owner_columns(ctx, p.table, rf.created.get(p.table), rf.by_table.get(p.table, []))
        text = about(self.fix, {"student_id": owners[0] if owners else "<owner column>"})
        return f'Policy "{p.name}" on {p.table}: ' + text[0].lower() + text[1:]


class UpdateWithoutSelectPolicy(Rule):
    id = "update-without-select-policy"
    severity = Severity.WARNING
    family = "rls"
    summary = "an UPDATE policy on a table with no SELECT policy for that role (updates silently hit 0 rows)"
    why = (
        "PostgreSQL only lets UPDATE (and DELETE ... WHERE) touch rows the role can also SELECT. With an UPDATE "
        "policy but no SELECT (or ALL) policy for the same role, every update matches zero rows and reports "
        "success: the app's save button does nothing, with no error anywhere."
    )
    fix = (
        "Add a SELECT policy for the same role with the same ownership test, e.g. CREATE POLICY "
        "lesson_notes_select_own ON public.lesson_notes FOR SELECT TO authenticated USING ((select auth.uid()) = "
        "student_id);"
    )
    example_path = "api/sql/policies/lesson_notes.sql"
    bad = (
        "ALTER TABLE public.lesson_notes ENABLE ROW LEVEL SECURITY;\n\n"
        "CREATE POLICY lesson_notes_update_own ON public.lesson_notes\n"
        "    FOR UPDATE TO authenticated\n"
        "    USING ((select auth.uid()) = student_id)\n"
        "    WITH CHECK ((select auth.uid()) = student_id);\n"
    )
    good = (
        "ALTER TABLE public.lesson_notes ENABLE ROW LEVEL SECURITY;\n\n"
        "CREATE POLICY lesson_notes_select_own ON public.lesson_notes\n"
        "    FOR SELECT TO authenticated\n"
        "    USING ((select auth.uid()) = student_id);\n\n"
        "CREATE POLICY lesson_notes_update_own ON public.lesson_notes\n"
        "    FOR UPDATE TO authenticated\n"
        "    USING ((select auth.uid()) = student_id)\n"
        "    WITH CHECK ((select auth.uid()) = student_id);\n"
    )

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        rf = rls_facts(ctx)
        ours = feature_ids(ctx)
        for p in rf.policies:
            if p.command != "update" or id(p.stmt) not in ours:
                continue
            readers = [q.roles for q in rf.by_table.get(p.table, []) if q.command in ("select", "all")]
            if PUBLIC in p.roles:
                missing = [] if readers else [PUBLIC]
            else:
                missing = sorted(r for r in p.roles if not any(covers(roles, r) for roles in readers))
            if missing:
                yield Violation(
                    p.stmt.file,
                    p.stmt.line,
                    f'UPDATE policy "{p.name}" on {p.table} has no SELECT policy for {", ".join(missing)}: its '
                    "updates will match no rows",
                    about(
                        self.fix,
                        {
                            "lesson_notes_select_own": f"{p.table.rpartition('.')[2]}_select_own",
                            "public.lesson_notes": p.table,
                            "TO authenticated": "" if PUBLIC in missing else f"TO {', '.join(missing)}",
                            "(select auth.uid()) = student_id": RawStream()(p.using)
                            if isinstance(p.using, ast.Node)
                            else "...",
                        },
                    ).replace("  ", " "),
                )


class GrantToPublic(Rule):
    id = "grant-to-public"
    severity = Severity.ERROR
    family = "rls"
    summary = "`GRANT ... TO PUBLIC`"
    why = (
        "PUBLIC is every role in the database, present and future, anon included. A grant to PUBLIC bypasses the "
        "role model the policies are written for, and it is never revoked by revoking from anon or authenticated."
    )
    fix = "Grant to the roles that need it: GRANT SELECT ON public.lessons TO authenticated, service_role;"
    example_path = "api/sql/policies/lessons_grants.sql"
    bad = "GRANT SELECT, INSERT ON public.lessons TO PUBLIC;\n"
    good = "GRANT SELECT, INSERT ON public.lessons TO authenticated, service_role;\n"

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        for stmt in upgrade_migrations(ctx, ast.GrantStmt, ast.AlterDefaultPrivilegesStmt):
            node = stmt.node.action if isinstance(stmt.node, ast.AlterDefaultPrivilegesStmt) else stmt.node
            if not isinstance(node, ast.GrantStmt) or not node.is_grant:
                continue
            if any(
                isinstance(g, ast.RoleSpec) and g.roletype == RoleSpecType.ROLESPEC_PUBLIC for g in node.grantees or ()
            ):
                privileges = ", ".join((p.priv_name or "").upper() for p in node.privileges or ()) or "ALL"
                what = _grant_target(node)
                yield Violation(
                    stmt.file,
                    stmt.line,
                    f"{privileges} on {what} is granted to PUBLIC (every role)",
                    f"Grant to the roles that need it: GRANT {privileges} ON {what} TO authenticated, service_role;",
                )


def _grant_target(node: ast.GrantStmt) -> str:
    names = []
    for obj in node.objects or ():
        if isinstance(obj, ast.RangeVar):
            names.append(table_of(obj))
        elif isinstance(obj, ast.ObjectWithArgs):
            names.append(".".join(n.sval or "" for n in obj.objname or () if isinstance(n, ast.String)))
        elif isinstance(obj, ast.String):
            names.append(obj.sval or "")
    return ", ".join(names) or "default privileges"


class SecurityDefinerSearchPath(Rule):
    id = "security-definer-search-path"
    severity = Severity.ERROR
    family = "rls"
    summary = "a `SECURITY DEFINER` function without `SET search_path`"
    why = (
        "A SECURITY DEFINER function runs with its owner's rights (often postgres, which bypasses RLS). Without a "
        "fixed search_path, a caller who can create objects in any schema on their search_path can plant a "
        "function or table with the same name as one the body uses and run it with those rights. A later ALTER "
        "FUNCTION ... SET search_path in the checked SQL also counts."
    )
    fix = (
        "Pin the search path in the definition: `... SECURITY DEFINER SET search_path = '' AS $$ ... $$` and "
        "schema-qualify every name in the body (public.lessons, auth.uid())."
    )
    example_path = "api/sql/policies/lesson_helpers.sql"
    bad = (
        "CREATE OR REPLACE FUNCTION public.is_lesson_instructor(lesson bigint)\n"
        "RETURNS boolean\nLANGUAGE sql\nSTABLE\nSECURITY DEFINER\nAS $$\n"
        "    SELECT EXISTS (SELECT 1 FROM lessons WHERE id = lesson AND instructor_id = auth.uid())\n$$;\n"
    )
    good = (
        "CREATE OR REPLACE FUNCTION public.is_lesson_instructor(lesson bigint)\n"
        "RETURNS boolean\nLANGUAGE sql\nSTABLE\nSECURITY DEFINER\nSET search_path = ''\nAS $$\n"
        "    SELECT EXISTS (SELECT 1 FROM public.lessons WHERE id = lesson AND instructor_id = auth.uid())\n$$;\n"
    )

    def check(self, ctx: CheckContext) -> Iterator[Violation]:
        pinned_later: set[str] = set()
        for stmt in upgrade_migrations(ctx, ast.AlterFunctionStmt):
            if any(_sets_search_path(a) for a in stmt.node.actions or ()):
                pinned_later.add(_func_name(stmt.node.func.objname if stmt.node.func else ()))
        for stmt in statements_of_functions(ctx):
            node: ast.CreateFunctionStmt = stmt.node
            options = list(node.options or ())
            definer = any(o.defname == "security" and isinstance(o.arg, ast.Boolean) and o.arg.boolval for o in options)
            if not definer or any(_sets_search_path(o) for o in options):
                continue
            name = _func_name(node.funcname)
            if name in pinned_later:
                continue
            yield Violation(
                stmt.file,
                stmt.line,
                f"SECURITY DEFINER function {name} does not set search_path",
                f"Pin the search path in the definition of {name}: `... SECURITY DEFINER SET search_path = '' AS $$ "
                "... $$`, and schema-qualify every name in its body (public.<table>, auth.uid()).",
            )


def statements_of_functions(ctx: CheckContext) -> Iterator[SqlStatement]:
    for stmt in upgrade_migrations(ctx, ast.CreateFunctionStmt):
        if stmt.kind in MIGRATION_KINDS:
            yield stmt


def _sets_search_path(option: object) -> bool:
    return (
        isinstance(option, ast.DefElem)
        and option.defname == "set"
        and isinstance(option.arg, ast.VariableSetStmt)
        and option.arg.name == "search_path"
    )


def _func_name(names: object) -> str:
    parts = [n.sval or "" for n in names or () if isinstance(n, ast.String)]  # type: ignore[attr-defined]
    if len(parts) == 1:
        parts.insert(0, "public")
    return ".".join(parts)
