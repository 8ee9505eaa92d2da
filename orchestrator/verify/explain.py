"""EXPLAIN the plan's query patterns on the seeded database, judged with sequential scans discouraged."""

from __future__ import annotations

import re
from typing import Any

import psycopg
from psycopg import sql

from orchestrator.verification import ExplainSummary
from orchestrator.verify.rows import ColumnInfo, RowSynthesizer

# :name (not a ::cast), %(name)s and %s, as ORMs and drivers write bind parameters.
_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)|%\((\w+)\)s|%s")
_TYPE = """SELECT format_type(t.oid, NULL), bt.typcategory::text, bt.typname,
       (SELECT array_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = bt.oid)
FROM pg_type t JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
WHERE t.oid = %s::regtype"""


def to_positional(query: str) -> str:
    """Rewrite named and driver-style parameters as $1, $2 ... (the same name gets the same number)."""
    numbers: dict[str, int] = {}
    counter = len(set(re.findall(r"\$(\d+)", query)))

    def number(match: re.Match[str]) -> str:
        nonlocal counter
        name = match.group(1) or match.group(2)
        if name is None or name not in numbers:
            counter += 1
            if name is not None:
                numbers[name] = counter
            return f"${counter}"
        return f"${numbers[name]}"

    return _NAMED.sub(number, query.strip().rstrip(";"))


def _seq_scans(node: dict[str, Any], tables: set[str], found: list[str], whole_index: list[str]) -> None:
    """Feature tables read row by row: a Seq Scan, or an index walked end to end (no Index Cond) only to filter
    every row it returns (the planner's way to keep an ORDER BY ... LIMIT when no index serves the WHERE)."""
    kind = node.get("Node Type")
    walked = kind in ("Index Scan", "Index Only Scan") and "Index Cond" not in node and "Filter" in node
    if kind == "Seq Scan" or walked:
        name = f"{node.get('Schema', 'public')}.{node.get('Relation Name')}"
        if name in tables or node.get("Relation Name") in tables:
            if walked:
                whole_index.append(f"{name} (index {node.get('Index Name')})")
            else:
                found.append(name)
    for child in node.get("Plans", []):
        _seq_scans(child, tables, found, whole_index)


def explain_patterns(
    conn: psycopg.Connection[Any], patterns: list[tuple[str, str]], feature_tables: set[str]
) -> tuple[list[ExplainSummary], list[str]]:
    """(name, sql) pairs -> summaries. `conn` must not be in autocommit; each pattern is rolled back.

    Seeded tables are tiny, so the planner rightly prefers sequential scans there; with enable_seqscan off, a
    sequential scan that still appears means no index can serve the query at all, which is what we report.
    """
    conn.prepare_threshold = None  # our own PREPARE is the only prepared statement on this connection
    conn.execute("ANALYZE")
    conn.commit()
    summaries: list[ExplainSummary] = []
    notes: list[str] = []
    synth = RowSynthesizer(conn)
    for name, query in patterns:
        positional = to_positional(query)
        try:
            conn.execute("SET LOCAL enable_seqscan = off")
            conn.execute(sql.SQL("PREPARE delegate_pattern AS {}").format(sql.SQL(positional)))  # type: ignore[arg-type]
            try:
                row = conn.execute(
                    "SELECT parameter_types::text[] FROM pg_prepared_statements WHERE name = 'delegate_pattern'"
                ).fetchone()
                types: list[str] = (row[0] if row else None) or []
                args = [_sample(conn, synth, t) for t in types]
                execute = sql.SQL("EXECUTE delegate_pattern{}").format(
                    sql.SQL("({})").format(sql.SQL(", ").join(args)) if args else sql.SQL("")
                )
                plan_json = conn.execute(sql.SQL("EXPLAIN (FORMAT JSON) {}").format(execute)).fetchone()
                text_rows = conn.execute(sql.SQL("EXPLAIN {}").format(execute)).fetchall()
            finally:
                conn.execute("DEALLOCATE delegate_pattern")
        except psycopg.OperationalError:
            raise
        except psycopg.Error as exc:
            conn.rollback()
            notes.append(f"query pattern {name!r} could not be explained: {(str(exc).strip().splitlines() or [''])[0]}")
            continue
        conn.rollback()
        found: list[str] = []
        whole_index: list[str] = []
        if plan_json and plan_json[0]:
            _seq_scans(plan_json[0][0]["Plan"], feature_tables, found, whole_index)
        summaries.append(
            ExplainSummary(
                query=f"{name}: {' '.join(query.split())}",
                plan="\n".join(r[0] for r in text_rows[:8]),
                seq_scans=sorted(set(found)),
                whole_index_scans=sorted(set(whole_index)),
            )
        )
    return summaries, notes


def _sample(conn: psycopg.Connection[Any], synth: RowSynthesizer, type_name: str) -> sql.Composable:
    row = conn.execute(_TYPE, (type_name,)).fetchone()
    if row is None:
        return sql.SQL("NULL")
    col = ColumnInfo(
        name="p",
        type_sql=row[0],
        category=row[1],
        base_type=row[2],
        not_null=True,
        has_default=False,
        identity=False,
        generated=False,
        labels=row[3] or [],
    )
    return synth.value_expr(col, sql.Literal(1))
