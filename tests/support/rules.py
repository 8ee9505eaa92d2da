"""One small helper for the rule tests: a CheckContext built from files with pglast and ast, without the engine."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from orchestrator.checks.model import CheckContext, FileKind, Origin, SqlStatement, Violation
from orchestrator.checks.rules import get_rule
from orchestrator.checks.sqltext import parse_raw
from orchestrator.config import DelegateConfig
from orchestrator.revisions import RevisionGraph, parse_revision_source


def _sql_statements(sql: str, file: str, kind: FileKind, unit: str, start_index: int = 0, **extra: Any):
    out = []
    for i, raw in enumerate(parse_raw(sql)):
        loc = raw.stmt_location or 0
        length = raw.stmt_len or len(sql) - loc
        text = sql[loc : loc + length].strip()
        line = sql[: loc + (len(sql[loc:]) - len(sql[loc:].lstrip()))].count("\n") + 1
        out.append(
            SqlStatement(
                sql=text,
                node=raw.stmt,
                file=file,
                line=extra.pop("line", None) or line,
                kind=kind,
                origin=extra.pop("origin", Origin.SQL_FILE),
                unit=unit,
                index=start_index + i,
                **extra,
            )
        )
    return out


def _revision_statements(rf: Any) -> list[SqlStatement]:
    """op.execute("...") string constants of upgrade() then downgrade(), with autocommit_block() respected."""
    out: list[SqlStatement] = []
    unit = f"{rf.rel}::{rf.revision}"

    def visit(node: ast.AST, direction: str, autocommit: bool) -> None:
        if isinstance(node, ast.With):
            inner = autocommit or any(
                isinstance(i.context_expr, ast.Call)
                and isinstance(i.context_expr.func, ast.Attribute)
                and i.context_expr.func.attr == "autocommit_block"
                for i in node.items
            )
            for child in node.body:
                visit(child, direction, inner)
            return
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "execute"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            out.extend(
                _sql_statements(
                    node.args[0].value,
                    rf.rel,
                    FileKind.REVISION,
                    unit,
                    start_index=len(out),
                    line=node.lineno,
                    origin=Origin.OP_EXECUTE,
                    revision=rf.revision,
                    direction=direction,
                    in_transaction=not autocommit,
                )
            )
            return
        for child in ast.iter_child_nodes(node):
            visit(child, direction, autocommit)

    for direction in ("upgrade", "downgrade"):
        fn = getattr(rf, direction)
        if fn is not None:
            for stmt in fn.body:
                visit(stmt, direction, False)
    return out


def build_context(
    files: dict[str, str] | str,
    path: str = "migration.sql",
    spec: Any = None,
    feature_revisions: set[str] | None = None,
    config: DelegateConfig | None = None,
) -> CheckContext:
    cfg = config or DelegateConfig()
    if isinstance(files, str):
        files = {path: files}
    statements: list[SqlStatement] = []
    revision_files = []
    sql_files: dict[str, FileKind] = {}
    for rel, text in files.items():
        if rel.endswith(".py") and rel.startswith(cfg.versions_dir):
            rf = parse_revision_source(text, path=Path(rel), rel=rel)
            revision_files.append(rf)
            if rf.tree is not None:
                statements.extend(_revision_statements(rf))
        elif rel.endswith(".sql"):
            if rel.startswith(cfg.policies_dir):
                kind = FileKind.POLICY
            elif any(rel.startswith(d.rstrip("/") + "/") for d in cfg.seeds_dirs):
                kind = FileKind.SEED
            else:
                kind = FileKind.SQL
            sql_files[rel] = kind
            statements.extend(_sql_statements(text, rel, kind, rel))
    ctx = CheckContext(
        repo=Path("/nonexistent"),
        config=cfg,
        statements=statements,
        revision_files=revision_files,
        graph=RevisionGraph(revision_files),
        sql_files=sql_files,
        texts=dict(files),
        spec=spec,
    )
    ctx.feature_revisions = feature_revisions  # type: ignore[attr-defined]
    return ctx


def run_rule(rule_id: str, files: dict[str, str] | str, **kwargs: Any) -> list[Violation]:
    """A string is one .sql migration file (api/sql/migration.sql unless `path` says otherwise)."""
    rule = get_rule(rule_id)
    if isinstance(files, str):
        kwargs.setdefault("path", "api/sql/migration.sql")
    return list(rule.check(build_context(files, **kwargs)))
