"""Mutation score of the judge's core: cosmic-ray mutates one module at a time, a test selection must catch it.

    python benchmarks/mutation.py [--modules suppress revisions ...] [--timeout 60] [--list]

Each module runs in a throwaway copy of the repo (cosmic-ray edits the file it mutates in place), with the few
test files that speak about it. cosmic-ray's test command asks a warm fork server in that copy to run pytest, so
a mutant costs a fork and the tests, not an interpreter start-up and pytest's imports. Prints the kill rate per
module and every survivor; writes benchmarks/results/mutation.json. Survivors that no test can tell apart from
the original (equivalent mutants) are listed in EQUIVALENT with the reason and counted apart. Not part of .ci/run:
it takes minutes per module (see "seconds" in the results file).

Needs `pip install cosmic-ray` (in the dev extras) and, for the live modules, the PostgreSQL the tests use.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "mutation.json"
LOCK = Path(tempfile.gettempdir()) / "delegate-mutation.lock"  # two runs of this script may share the results file

# Operators left out: a binary operator replaced by every other one (eleven each) mostly yields type errors; one
# replacement of each kind (to + or -) keeps the signal at a fraction of the cost. Same for `is` turned into an
# ordering, and the variable inserter/replacer, which rewrite names at random.
EXCLUDED_OPERATORS = [
    r"core/ReplaceBinaryOperator_\w+_(Mul|Div|FloorDiv|Mod|Pow|RShift|LShift|BitOr|BitAnd|BitXor)$",
    r"core/ReplaceComparisonOperator_(Is|IsNot)_(Lt|LtE|Gt|GtE)$",
    r"core/ReplaceUnaryOperator_.*",
    r"core/Variable(Inserter|Replacer)",
]

RULES = "orchestrator/checks/rules"
_RULE_TESTS = "tests/test_gaps_mutation_rules.py"
TIMED_OUT = 124  # the fork server's exit code for a test run it ended at the timeout


@dataclass
class Module:
    """One mutated module and the tests that must catch its mutants (pytest arguments, run from the repo root)."""

    path: str
    tests: list[str]
    live: bool = False  # the tests need PostgreSQL
    note: str = ""


def _rule(name: str, *keywords: str, extra: tuple[str, ...] = ()) -> Module:
    """A rule's tests: its own bad/good examples, the SQL rule tests and the extra files, all selected by its id
    (a test that speaks about the rule names it: `pytest -k drop-column` finds them)."""
    tests = [*extra, "tests/test_rules_examples.py", "tests/test_rules_sql.py"]
    rule_id = name.replace("_", "-")
    return Module(f"{RULES}/{name}.py", [*tests, "-k", " or ".join([rule_id, name, *keywords])])


MODULES: dict[str, Module] = {
    "suppress": Module(
        "orchestrator/checks/suppress.py",
        [
            "tests/test_gaps_mutation_suppress.py",
            "tests/test_static_suppress.py",
            "tests/test_gaps_static.py::test_a_suppression_on_the_closing_line_of_a_sql_statement_silences_it",
            "tests/test_gaps_static.py::test_a_suppression_on_the_closing_line_of_an_op_execute_call_silences_it",
        ],
    ),
    "revisions": Module(
        "orchestrator/revisions.py",
        ["tests/test_gaps_mutation_revisions.py", "tests/test_rules_alembic.py"],
    ),
    "require_concurrent_index": _rule(
        "require_concurrent_index", "index", extra=("tests/test_gaps_mutation_rules.py", "tests/test_gaps_static.py")
    ),
    "drop_table": _rule("drop_table", extra=("tests/test_gaps_mutation_rules.py",)),
    "drop_column": _rule("drop_column", extra=("tests/test_gaps_mutation_rules.py",)),
    "set_not_null": _rule("set_not_null", extra=("tests/test_gaps_mutation_rules.py",)),
    "unbounded_dml": _rule("unbounded_dml", extra=("tests/test_gaps_mutation_rules.py",)),
    "concurrent_index_in_transaction": _rule("concurrent_index_in_transaction", extra=(_RULE_TESTS,)),
    "unique_constraint_existing_table": _rule("unique_constraint_existing_table", extra=(_RULE_TESTS,)),
    "constraint_missing_not_valid": _rule("constraint_missing_not_valid", extra=(_RULE_TESTS,)),
    "fingerprint": Module(
        "orchestrator/verify/fingerprint.py",
        [
            "tests/test_gaps_mutation_fingerprint.py",
            "tests/test_gaps_static.py",
            "tests/test_gaps_live.py",
            "-k",
            "fingerprint or attribute",
        ],
        live=True,
    ),
    "seeds": Module(
        "orchestrator/verify/seeds.py",
        ["tests/test_gaps_mutation_seeds.py", "tests/test_gaps_live.py", "-k", "seed"],
        live=True,
    ),
    "rls": Module(
        "orchestrator/verify/rls.py",
        ["tests/test_gaps_mutation_rls.py", "tests/test_gaps_live.py", "-k", "rls or leak or cells"],
        live=True,
    ),
    "scratch_guard": Module(
        "orchestrator/verify/_scratch_guard.py",
        ["tests/test_gaps_mutation_scratch_guard.py", "tests/test_scratch_guard.py"],
        live=True,
    ),
}
FAST = [
    "suppress",
    "revisions",
    "require_concurrent_index",
    "drop_table",
    "unbounded_dml",
    "set_not_null",
    "drop_column",
    "concurrent_index_in_transaction",
    "unique_constraint_existing_table",
    "constraint_missing_not_valid",
    "fingerprint",
]

# Mutants no test can tell apart from the original: (module, operator, the mutated line's text) -> why.
_KEYS_SORT = (
    "only the four REVISION_KEYS reach this test, and none left at this point sorts above the one compared with"
)
_INTERNED = "ast gives identifiers as interned strings, as are string constants: `is` and `==` agree on them"
_INDEGREE = "an in-degree counts a revision's parents not yet placed and never goes below 0: `<= 0` is `== 0`"
_INTERNED_ROLE = "an Actor's role is the interned literal it was built from: `is` and `==` agree on it"
_AUTHENTICATED_SORTS = "service_role returned above; of anon and authenticated only authenticated sorts at or above it"
_DELETE_OWN = 'if actor.role == "authenticated" and owned and action == "delete_own":'
_OWN = 'if actor.role == "authenticated" and owned and action.endswith("_own"):'
_CHECK_ONLY = "if c.contype != ConstrType.CONSTR_CHECK or not isinstance(expr, ast.NullTest):"
_ONLY_CHECK_HAS_EXPR = (
    "of the constraints ADD CONSTRAINT can add only a CHECK has an expression: for the others the isinstance test "
    "returns None alone, whatever the order of the enum"
)
_ADD = "if cmd.subtype == AlterTableType.AT_AddConstraint and isinstance(cmd.def_, ast.Constraint):"
_VALIDATE = "elif cmd.subtype == AlterTableType.AT_ValidateConstraint and (table, cmd.name) in pending:"
_TWO_SUBTYPES = (
    "only ADD CONSTRAINT (always with a Constraint) and VALIDATE CONSTRAINT (never with one) reach this test: "
    "the mutated comparison sends each the same way"
)
_PROOF_UNIT = "return proof.unit != stmt.unit or proof.index < stmt.index"
_NOT_NULL_TEST = "if expr.nulltesttype != NullTestType.IS_NOT_NULL or not isinstance(expr.arg, ast.ColumnRef):"
_COPY_BEFORE = "if any(c.unit != stmt.unit or c.index < stmt.index for c in index.get((table, column), ())):"
_RELATION_TABLE = 'if difference.kind == "relation" and name in tables:'
_ONLY_RELATION_NAMED = (
    "only a relation can bear a table's name: indexes share the tables' namespace, the table's row type takes "
    "that name among types, and columns, functions, schemas and the other kinds are named otherwise"
)
_INTERNED_KIND = "the kinds are the interned keys of _QUERIES: `is` and `==` agree on them"
_PK_KIND = 'kind = "PRIMARY KEY" if c.contype == ConstrType.CONSTR_PRIMARY else "UNIQUE"'
_FK_KIND = 'kind = "FOREIGN KEY" if c.contype == ConstrType.CONSTR_FOREIGN else "CHECK"'
_NOT_IN_TXN = "if not in_do and (stmt.kind is FileKind.REVISION or not stmt.in_transaction):"
_DROP_CONCURRENTLY = (
    "elif isinstance(node, ast.DropStmt) and node.concurrent and node.removeType == ObjectType.OBJECT_INDEX:"
)
_ONLY_INDEX = "only DROP INDEX can be CONCURRENTLY: a concurrent DropStmt is always OBJECT_INDEX, any order agrees"
_ENUM_EQ = "enum members compare equal only to themselves: `==` is `is` on them"
_ENUM_IS = "pglast gives enum members, which are singletons: `is` agrees with `==` (and `is not` with `!=`) on them"
EQUIVALENT: dict[tuple[str, str, str], str] = {
    (
        "suppress",
        "core/ReplaceOrWithAnd",
        "if file is None or line is None:",
    ): "with only one of them None the lookup below finds nothing either (no file is None, no line is None)",
    ("drop_table", "core/ReplaceComparisonOperator_NotEq_IsNot", "if node.removeType != ObjectType.OBJECT_TABLE:"): (
        _ENUM_IS
    ),
    ("revisions", "core/ReplaceComparisonOperator_Eq_GtE", 'if target.id == "revision":'): _KEYS_SORT,
    ("revisions", "core/ReplaceComparisonOperator_Eq_GtE", 'elif target.id == "down_revision":'): _KEYS_SORT,
    ("revisions", "core/ReplaceComparisonOperator_Eq_Is", 'if target.id == "revision":'): _INTERNED,
    ("revisions", "core/ReplaceComparisonOperator_Eq_Is", 'elif target.id == "down_revision":'): _INTERNED,
    (
        "revisions",
        "core/ReplaceComparisonOperator_Eq_LtE",
        "ready = sorted(r for r, d in indegree.items() if d == 0)",
    ): _INDEGREE,
    ("revisions", "core/ReplaceComparisonOperator_Eq_LtE", "if indegree[kid] == 0:"): _INDEGREE,
    ("set_not_null", "core/ReplaceComparisonOperator_NotEq_Lt", _CHECK_ONLY): _ONLY_CHECK_HAS_EXPR,
    ("set_not_null", "core/ReplaceComparisonOperator_NotEq_Gt", _CHECK_ONLY): _ONLY_CHECK_HAS_EXPR,
    ("set_not_null", "core/ReplaceComparisonOperator_Eq_LtE", _ADD): _TWO_SUBTYPES,
    ("set_not_null", "core/ReplaceComparisonOperator_Eq_GtE", _ADD): _TWO_SUBTYPES,
    ("set_not_null", "core/ReplaceAndWithOr", _ADD): _TWO_SUBTYPES,
    ("set_not_null", "core/ReplaceComparisonOperator_Eq_LtE", _VALIDATE): _TWO_SUBTYPES,
    ("set_not_null", "core/ReplaceComparisonOperator_Eq_GtE", _VALIDATE): _TWO_SUBTYPES,
    ("set_not_null", "core/ReplaceComparisonOperator_Eq_Is", _VALIDATE): _ENUM_IS,
    ("set_not_null", "core/ReplaceComparisonOperator_NotEq_IsNot", _PROOF_UNIT): (
        "the statements of one unit share one unit string, and different units are different strings: "
        "`is not` agrees with `!=` on them"
    ),
    ("set_not_null", "core/ReplaceComparisonOperator_NotEq_IsNot", _CHECK_ONLY): _ENUM_IS,
    ("set_not_null", "core/ReplaceComparisonOperator_NotEq_IsNot", _NOT_NULL_TEST): _ENUM_IS,
    ("set_not_null", "core/ReplaceComparisonOperator_NotEq_Lt", _NOT_NULL_TEST): (
        "NullTestType has two members, IS_NULL below IS_NOT_NULL: `<` is `!=` on them"
    ),
    ("set_not_null", "core/ReplaceComparisonOperator_Eq_Is", _ADD): _ENUM_IS,
    ("drop_column", "core/ReplaceComparisonOperator_NotEq_IsNot", _COPY_BEFORE): (
        "the statements of one unit share one unit string, and different units are different strings: "
        "`is not` agrees with `!=` on them"
    ),
    ("drop_column", "core/ReplaceComparisonOperator_Lt_LtE", _COPY_BEFORE): (
        "a copy is an UPDATE, INSERT ... SELECT or CREATE TABLE AS, never the ALTER TABLE that drops the column: "
        "their indexes in a unit are never equal"
    ),
    ("fingerprint", "core/ReplaceComparisonOperator_Eq_Is", 'if self.change == "missing":'): (
        "change is one of three interned literals: `is` and `==` agree on it"
    ),
    ("fingerprint", "core/ReplaceComparisonOperator_Eq_GtE", 'if self.change == "missing":'): (
        "extra returned above; of missing and changed only missing sorts at or above it"
    ),
    ("fingerprint", "core/ReplaceComparisonOperator_Eq_GtE", _RELATION_TABLE): _ONLY_RELATION_NAMED,
    ("seeds", "core/NumberReplacer", 'return text.count("\\n", 0, max(position - 1, 0)) + 1'): (
        "the survivors here are max(..., -1) (position is >= 1 past the early return: the floor never applies) "
        "and position - 0 (counting through the error's own character: PostgreSQL points at a token, never at a "
        "newline); the other replacements of this line are killed"
    ),
    ("fingerprint", "core/ReplaceComparisonOperator_Eq_Is", 'if self.change == "extra":'): (
        "change is one of three interned literals: `is` and `==` agree on it"
    ),
    ("fingerprint", "core/ReplaceComparisonOperator_Eq_Is", 'if kind == "relation":'): _INTERNED_KIND,
    ("fingerprint", "core/ReplaceComparisonOperator_Eq_Is", _RELATION_TABLE): _INTERNED_KIND,
    ("fingerprint", "core/ReplaceComparisonOperator_Eq_LtE", _RELATION_TABLE): _ONLY_RELATION_NAMED,
    ("fingerprint", "core/ReplaceTrueWithFalse", "with psycopg.connect(conn_or_url, autocommit=True) as conn:"): (
        "a read-only look: in a transaction instead it is rolled back at the end (the branch below), same result"
    ),
    ("rls", "core/ReplaceComparisonOperator_Eq_Is", 'if actor.role == "authenticated" and owned:'): _INTERNED_ROLE,
    ("rls", "core/ReplaceComparisonOperator_Eq_Is", "other = user_b if actor.user == user_a else user_a"): (
        "the Actor holds the very string user_a names: `is` and `==` agree on it"
    ),
    ("unique_constraint_existing_table", "core/ReplaceComparisonOperator_Eq_Is", _PK_KIND): _ENUM_IS,
    ("unique_constraint_existing_table", "core/ReplaceComparisonOperator_Eq_LtE", _PK_KIND): (
        "only UNIQUE (7) and PRIMARY KEY (6) reach this test: `<=` PRIMARY KEY is `==` on them"
    ),
    ("constraint_missing_not_valid", "core/ReplaceComparisonOperator_Eq_Is", _FK_KIND): _ENUM_IS,
    ("constraint_missing_not_valid", "core/ReplaceComparisonOperator_Eq_GtE", _FK_KIND): (
        "only CHECK (5) and FOREIGN KEY (9) reach this test: `>=` FOREIGN KEY is `==` on them"
    ),
    (
        "concurrent_index_in_transaction",
        "core/ReplaceComparisonOperator_Is_Eq",
        "in_do = stmt.origin is Origin.DO_BODY",
    ): (_ENUM_EQ),
    ("concurrent_index_in_transaction", "core/ReplaceComparisonOperator_Is_Eq", _NOT_IN_TXN): _ENUM_EQ,
    ("concurrent_index_in_transaction", "core/ReplaceComparisonOperator_Eq_Is", _DROP_CONCURRENTLY): _ENUM_IS,
    ("concurrent_index_in_transaction", "core/ReplaceComparisonOperator_Eq_GtE", _DROP_CONCURRENTLY): _ONLY_INDEX,
    ("concurrent_index_in_transaction", "core/ReplaceComparisonOperator_Eq_LtE", _DROP_CONCURRENTLY): _ONLY_INDEX,
    ("rls", "core/NumberReplacer", "return bool(row and row[0])"): "the query selects one column: row[-1] is row[0]",
    ("rls", "core/ReplaceComparisonOperator_Eq_GtE", 'if actor.role == "service_role":'): (
        "the roles are anon, authenticated and service_role: none sorts above service_role"
    ),
    ("rls", "core/ReplaceComparisonOperator_Eq_Is", 'if actor.role == "service_role":'): _INTERNED_ROLE,
    ("rls", "core/ReplaceComparisonOperator_Eq_Is", _DELETE_OWN): _INTERNED_ROLE,
    ("rls", "core/ReplaceComparisonOperator_Eq_Is", _OWN): _INTERNED_ROLE,
    ("rls", "core/ReplaceComparisonOperator_Eq_GtE", _DELETE_OWN): _AUTHENTICATED_SORTS,
    ("rls", "core/ReplaceComparisonOperator_Eq_GtE", _OWN): _AUTHENTICATED_SORTS,
    ("rls", "core/NumberReplacer", "count = (got.fetchone() or (0,))[0]"): (
        "SELECT count(*) returns exactly one row of one column: the fallback is never taken and [-1] is [0]"
    ),
    ("rls", "core/ReplaceComparisonOperator_Eq_GtE", 'if verb == "update":'): (
        "select and insert returned above; of update and delete only update sorts at or above it"
    ),
}
ANNOTATION = "inside a type annotation, which `from __future__ import annotations` leaves a string never evaluated"


def annotation_spans(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(start, end) positions (line, column) of every annotation in `source`: mutants there change nothing."""
    spans = []
    for node in ast.walk(ast.parse(source)):
        found: list[ast.expr | None] = []
        if isinstance(node, ast.arg):
            found.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            found.append(node.annotation)
        for a in found:
            if a is not None and a.end_lineno is not None and a.end_col_offset is not None:
                spans.append(((a.lineno, a.col_offset), (a.end_lineno, a.end_col_offset)))
    return spans


def equivalent_reason(name: str, operator: str, code: str, start: tuple[int, int], annotations: list) -> str | None:
    if any(first <= start < last for first, last in annotations):
        return ANNOTATION
    return EQUIVALENT.get((name, operator, code))


# -- the warm test runner ------------------------------------------------------------------------------------------


def serve(sock_path: str, root: str) -> None:
    """Fork server: third-party imports done once; each request is a fresh child that imports the (mutated)
    project from disk and runs pytest. Never imports the project itself, so every child sees the file as it is."""
    import alembic  # noqa: F401
    import pglast  # noqa: F401
    import psycopg  # noqa: F401
    import pydantic  # noqa: F401
    import pytest
    import sqlalchemy  # noqa: F401

    sys.dont_write_bytecode = True
    os.chdir(root)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(sock_path)
    server.listen(1)
    while True:
        conn, _ = server.accept()
        with conn:
            request = json.loads(conn.makefile("r").readline())
            if request.get("stop"):
                return
            pid = os.fork()
            if pid == 0:  # the child: its own process group, so a timeout takes its subprocesses too
                os.setsid()
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 1)
                os.dup2(devnull, 2)
                sys.path.insert(0, root)
                code = pytest.main(["-x", "-q", "-p", "no:cacheprovider", *request["args"]])
                os._exit(int(code))
            deadline = time.monotonic() + float(request["timeout"])
            status = None
            while time.monotonic() < deadline:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    break
                time.sleep(0.02)
            else:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                status = None
            code = os.waitstatus_to_exitcode(status) if status is not None else TIMED_OUT
            conn.sendall(f"{code}\n".encode())


def ask(sock_path: str, timeout: float, args: list[str]) -> int:
    """cosmic-ray's test command: one pytest run in the fork server; exit code 0 = the mutant survived."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(sock_path)
        conn.sendall((json.dumps({"args": args, "timeout": timeout}) + "\n").encode())
        reply = conn.makefile("r").readline().strip()
    return int(reply or 1)


@contextlib.contextmanager
def fork_server(root: Path) -> Iterator[str]:
    sock_path = str(root / ".mutation.sock")
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.Popen([sys.executable, __file__, "--serve", sock_path, "--root", str(root)], env=env)
    try:
        for _ in range(600):
            if os.path.exists(sock_path):
                break
            time.sleep(0.05)
        yield sock_path
    finally:
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(sock_path)
            conn.sendall(b'{"stop": true}\n')
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- one module --------------------------------------------------------------------------------------------------


@dataclass
class Survivor:
    line: int
    column: int
    operator: str
    code: str  # the original line
    occurrence: int
    equivalent: str | None = None


@dataclass
class ModuleResult:
    name: str
    path: str
    tests: list[str]
    mutants: int = 0
    killed: int = 0
    timeouts: int = 0
    skipped: int = 0
    incompetent: int = 0
    survivors: list[Survivor] = field(default_factory=list)
    seconds: float = 0.0
    baseline_seconds: float = 0.0
    timeout: float = 0.0
    error: str | None = None

    @property
    def equivalent(self) -> int:
        return sum(1 for s in self.survivors if s.equivalent)

    @property
    def kill_rate(self) -> float | None:
        """Killed / (mutants that ran, less the equivalent ones)."""
        judged = self.killed + len(self.survivors) - self.equivalent
        return round(self.killed / judged, 4) if judged else None


def _copy_repo(dest: Path) -> None:
    ignore = shutil.ignore_patterns(".git", "__pycache__", "*.pyc", ".mypy_cache", ".ruff_cache", ".pytest_cache")
    for item in ("orchestrator", "tests", "examples", "prompts", "agents", "docs", "pyproject.toml"):
        src = ROOT / item
        if src.is_dir():
            shutil.copytree(src, dest / item, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, dest / item)


def _cosmic(args: list[str], cwd: Path) -> tuple[int, str, str]:
    """One cosmic-ray command in the copy; stopped with us (a SIGTERM to this script reaches it in `finally`)."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate()
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait()
    return proc.returncode, out, err


def run_module(name: str, module: Module, timeout: float | None) -> ModuleResult:
    """`timeout`: seconds per mutant's test run; None: four times the unmutated run, at least 20 s (a mutant
    that loops forever is killed by it, and costs that much)."""
    result = ModuleResult(name=name, path=module.path, tests=module.tests)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"delegate-mutation-{name}-") as tmp:
        root = Path(tmp)
        _copy_repo(root)
        with fork_server(root) as sock:
            t0 = time.monotonic()
            if ask(sock, 600, module.tests) != 0:
                result.error = "the test selection fails on the unmutated code"
                return result
            result.baseline_seconds = round(time.monotonic() - t0, 2)
            timeout = timeout or max(20.0, round(4 * result.baseline_seconds))
            result.timeout = timeout
            command = " ".join(
                [sys.executable, str(Path(__file__).resolve()), "--ask", sock, "--timeout", str(timeout), "--"]
                + [f"'{a}'" if " " in a else a for a in module.tests]
            )
            config = root / "cosmic-ray.toml"
            config.write_text(
                "[cosmic-ray]\n"
                f'module-path = "{module.path}"\n'
                f"timeout = {timeout + 15}\n"
                "excluded-modules = []\n"
                f"test-command = {json.dumps(command)}\n"
                '[cosmic-ray.distributor]\nname = "local"\n'
                "[cosmic-ray.filters.operators-filter]\n"
                f"exclude-operators = {json.dumps(EXCLUDED_OPERATORS)}\n",
                encoding="utf-8",
            )
            db = root / "session.sqlite"
            for step in (
                ["cosmic-ray", "init", str(config), str(db)],
                ["cr-filter-operators", str(db), str(config)],
                ["cosmic-ray", "exec", str(config), str(db)],
            ):
                rc, out, err = _cosmic(step, root)
                if rc != 0:
                    result.error = f"{step[0]} {step[1]} failed: {(err or out)[-500:]}"
                    return result
            dump = _cosmic(["cosmic-ray", "dump", str(db)], root)[1]
        text = (ROOT / module.path).read_text(encoding="utf-8")
        source, annotations = text.splitlines(), annotation_spans(text)
        for line in dump.splitlines():
            item, outcome = json.loads(line)
            mutation = item["mutations"][0]
            result.mutants += 1
            if outcome is None:
                continue
            if outcome.get("worker_outcome") == "skipped":
                result.skipped += 1
                continue
            if outcome.get("worker_outcome") != "normal":
                result.incompetent += 1
                continue
            if outcome.get("test_outcome") == "killed":
                result.killed += 1
                if (outcome.get("output") or "").strip() == "timeout":
                    result.timeouts += 1
                continue
            if outcome.get("test_outcome") == "incompetent":
                result.incompetent += 1
                continue
            lineno = mutation["start_pos"][0]
            code = source[lineno - 1].strip() if lineno <= len(source) else ""
            operator = mutation["operator_name"]
            result.survivors.append(
                Survivor(
                    line=lineno,
                    column=mutation["start_pos"][1],
                    operator=operator,
                    code=code,
                    occurrence=mutation["occurrence"],
                    equivalent=equivalent_reason(name, operator, code, tuple(mutation["start_pos"]), annotations),
                )
            )
    result.mutants -= result.skipped
    result.survivors.sort(key=lambda s: (s.line, s.operator))
    result.seconds = round(time.monotonic() - started, 1)
    return result


def as_json(result: ModuleResult) -> dict[str, object]:
    return {
        "module": result.path,
        "tests": result.tests,
        "mutants": result.mutants,
        "killed": result.killed,
        "timeouts": result.timeouts,
        "incompetent": result.incompetent,
        "survived": len(result.survivors),
        "equivalent": result.equivalent,
        "kill_rate": result.kill_rate,
        "seconds": result.seconds,
        "baseline_seconds": result.baseline_seconds,
        "timeout_per_mutant": result.timeout,
        "error": result.error,
        "survivors": [
            {"line": s.line, "column": s.column, "operator": s.operator, "code": s.code, "occurrence": s.occurrence}
            | ({"equivalent": s.equivalent} if s.equivalent else {})
            for s in result.survivors
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", nargs="*", default=None, help=f"names from MODULES (default: {' '.join(FAST)})")
    parser.add_argument("--all", action="store_true", help="every module, the live ones included")
    parser.add_argument(
        "--timeout", type=float, default=None, help="seconds per mutant (default: 4 x the unmutated run, >= 20)"
    )
    parser.add_argument("--list", action="store_true", help="list the modules and their tests")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--reclassify", action="store_true", help="apply EQUIVALENT to the survivors in the results file again"
    )
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--ask", help=argparse.SUPPRESS)
    parser.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.root)
        return 0
    if args.ask:
        code = ask(args.ask, args.timeout or 600, args.rest)
        if code == TIMED_OUT:
            print("timeout")  # what cosmic-ray itself records for a test run it had to kill
        return code
    if args.reclassify:
        reclassify(args.out)
        return 0
    if args.list:
        for name, module in MODULES.items():
            print(f"{name:26} {module.path}  <- {' '.join(module.tests)}")
        return 0
    if shutil.which("cosmic-ray") is None:
        print("cosmic-ray is not installed: pip install cosmic-ray", file=sys.stderr)
        return 2
    names = list(MODULES) if args.all else (args.modules or FAST)
    unknown = [n for n in names if n not in MODULES]
    if unknown:
        print(f"unknown modules: {' '.join(unknown)} (see --list)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _stop)
    for name in names:
        result = run_module(name, MODULES[name], args.timeout)
        rate = f"{result.kill_rate:.1%}" if result.kill_rate is not None else "n/a"
        print(
            f"{name:26} {rate:>7} killed {result.killed}/{result.mutants - result.equivalent}"
            f" (equivalent {result.equivalent}, timeouts {result.timeouts}) in {result.seconds:.0f} s"
            + (f"  ERROR: {result.error}" if result.error else ""),
            flush=True,
        )
        for s in result.survivors:
            mark = f"  [equivalent: {s.equivalent}]" if s.equivalent else ""
            print(f"    survived {module_short(result.path)}:{s.line} {s.operator}  {s.code}{mark}")
        save(args.out, name, as_json(result))
    return 0


def reclassify(out: Path) -> None:
    """Judge the survivors of the results file against the current EQUIVALENT list (reasons added after a run)."""
    import fcntl

    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _reclassify(out)


def _reclassify(out: Path) -> None:
    document = json.loads(out.read_text(encoding="utf-8"))
    for name, entry in document["modules"].items():
        text = (ROOT / entry["module"]).read_text(encoding="utf-8")
        annotations = annotation_spans(text)
        for s in entry["survivors"]:
            start = (s["line"], s["column"]) if "column" in s else (0, 0)
            reason = equivalent_reason(name, s["operator"], s["code"], start, annotations)
            reason = reason or (s.get("equivalent") if s.get("equivalent") == ANNOTATION else None)
            s.pop("equivalent", None)
            if reason:
                s["equivalent"] = reason
        entry["equivalent"] = sum(1 for s in entry["survivors"] if s.get("equivalent"))
        judged = entry["killed"] + entry["survived"] - entry["equivalent"]
        entry["kill_rate"] = round(entry["killed"] / judged, 4) if judged else None
        print(f"{name:26} {entry['kill_rate']:.1%} (equivalent {entry['equivalent']})" if judged else name)
    out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def _stop(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # runs the `finally` blocks: the copy, the fork server, cosmic-ray stop


def save(out: Path, name: str, module: dict[str, object]) -> None:
    """Update one module's entry of the results file (two runs of this script may share it: a lock)."""
    import fcntl

    out.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        previous = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
        modules = dict(previous.get("modules", {}))
        modules[name] = module
        document = {
            "tool": f"cosmic-ray {_cosmic_version()}",
            "command": "python benchmarks/mutation.py --modules NAME... (see --list)",
            "excluded_operators": EXCLUDED_OPERATORS,
            "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
            "modules": dict(sorted(modules.items())),
        }
        out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def _cosmic_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cosmic-ray")
    except PackageNotFoundError:
        return "?"


def module_short(path: str) -> str:
    return path.removeprefix("orchestrator/")


if __name__ == "__main__":
    sys.exit(main())
