"""Shared rule facts: the fast tree walk and the grouped ALTER TABLE subcommands equal their plain versions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pglast import ast
from pglast.enums import AlterTableType

from orchestrator.checks.rules._sql import upgrade_added_columns, upgrade_alter_cmds, upgrade_migrations
from orchestrator.checks.sqltext import parse_raw
from orchestrator.sql.tree import alter_cmds, column_defs, walk
from tests.support.rules import build_context
from tests.support.sql_corpus import CORPUS


def plain_walk(node: Any) -> Iterator[Any]:
    """walk() as it was: every attribute of every node."""
    stack = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, ast.Node):
            yield cur
            for attr in cur:
                value = getattr(cur, attr, None)
                if isinstance(value, (ast.Node, tuple, list)):
                    stack.append(value)
        elif isinstance(cur, (tuple, list)):
            stack.extend(reversed(cur))


def test_walk_visits_the_same_nodes_in_the_same_order_as_a_walk_over_every_attribute() -> None:
    for fast in (True, False):
        raws = parse_raw(CORPUS, fast=fast)
        assert len(raws) > 20
        for raw in raws:
            expected = list(plain_walk(raw.stmt))
            got = list(walk(raw.stmt))
            assert len(got) == len(expected)
            assert all(a is b for a, b in zip(got, expected, strict=True))


MIGRATION = """
CREATE TABLE public.fresh (id int);
ALTER TABLE users ADD COLUMN a int NOT NULL, ALTER COLUMN b SET NOT NULL, ADD CONSTRAINT c CHECK (a > 0) NOT VALID;
ALTER TABLE fresh ADD COLUMN d text, DROP COLUMN e, VALIDATE CONSTRAINT c;
ALTER TABLE users ALTER COLUMN f TYPE bigint, ADD CONSTRAINT g UNIQUE (a), ALTER COLUMN h SET NOT NULL;
ALTER INDEX ix SET (fillfactor = 70);
ALTER TYPE mood ADD ATTRIBUTE x int;
ALTER FOREIGN TABLE ft ADD COLUMN y int;
ALTER TABLE users ENABLE ROW LEVEL SECURITY, VALIDATE CONSTRAINT c, ADD CONSTRAINT k CHECK (b IS NOT NULL);
"""


def test_grouped_subcommands_equal_the_statement_by_statement_iteration() -> None:
    ctx = build_context({"api/sql/one.sql": MIGRATION, "api/sql/two.sql": MIGRATION, "seeds/s.sql": MIGRATION})
    plain = [(s, t, c) for s in upgrade_migrations(ctx, ast.AlterTableStmt) for t, c in alter_cmds(s.node)]
    assert len(plain) > 20
    for subtypes in (
        (AlterTableType.AT_SetNotNull,),
        (AlterTableType.AT_AddConstraint,),
        (AlterTableType.AT_AddConstraint, AlterTableType.AT_ValidateConstraint),
        (AlterTableType.AT_ValidateConstraint, AlterTableType.AT_AddConstraint),
        (AlterTableType.AT_AttachPartition,),
    ):
        expected = [(s, t, c) for s, t, c in plain if c.subtype in subtypes]
        got = upgrade_alter_cmds(ctx, *subtypes)
        assert len(got) == len(expected)
        assert all(a[0] is b[0] and a[1] == b[1] and a[2] is b[2] for a, b in zip(got, expected, strict=True))
    added = [(s, t, c) for s in upgrade_migrations(ctx, ast.AlterTableStmt) for t, c, new in column_defs(s.node) if new]
    assert [(s.file, t, c.colname) for s, t, c in upgrade_added_columns(ctx)] == [
        (s.file, t, c.colname) for s, t, c in added
    ]
    assert {c.colname for _, _, c in added} == {"a", "d", "x", "y"}
