"""Benchmark: `delegate check --static-only` against squawk, on speed (20,000 statements) and on what each catches.

    python benchmarks/lint_vs_squawk.py [--statements 20000] [--runs 5]

Writes benchmarks/results/lint_vs_squawk.json. Both tools run as whole processes (start-up included),
alternating, and the median of the runs is compared: ratio = squawk_seconds / delegate_seconds (>= 1.0 means
delegate is at least as fast). It also times the full static check of the example feature (042).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "lint_vs_squawk.json"

# One small file per hazard, on tables the file does not create (so "existing table" rules fire), with the
# delegate rule expected and the squawk rules that catch the same hazard (empty: squawk has no such rule).
HAZARDS: dict[str, tuple[str, str, list[str]]] = {
    "plain-index": (
        "CREATE INDEX ix_users_email ON users (email);",
        "require-concurrent-index",
        ["require-concurrent-index-creation"],
    ),
    "concurrent-index-in-transaction": (
        "BEGIN;\nCREATE INDEX CONCURRENTLY ix_users_email ON users (email);\nCOMMIT;",
        "concurrent-index-in-transaction",
        ["ban-concurrent-index-creation-in-transaction"],
    ),
    "required-column": (
        "ALTER TABLE users ADD COLUMN plan text NOT NULL;",
        "adding-required-field",
        ["adding-required-field", "adding-not-nullable-field"],
    ),
    "volatile-default": (
        "ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();",
        "volatile-default",
        ["adding-field-with-default"],
    ),
    "set-not-null": (
        "ALTER TABLE users ALTER COLUMN email SET NOT NULL;",
        "set-not-null",
        ["adding-not-nullable-field"],
    ),
    "foreign-key-validated": (
        "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id);",
        "constraint-missing-not-valid",
        ["adding-foreign-key-constraint", "constraint-missing-not-valid"],
    ),
    "unique-constraint": (
        "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);",
        "unique-constraint-existing-table",
        ["disallowed-unique-constraint"],
    ),
    "column-type": (
        "ALTER TABLE users ALTER COLUMN age TYPE bigint;",
        "changing-column-type",
        ["changing-column-type"],
    ),
    "rename-column": ("ALTER TABLE users RENAME COLUMN name TO full_name;", "rename-column", ["renaming-column"]),
    "rename-table": ("ALTER TABLE users RENAME TO accounts;", "rename-table", ["renaming-table"]),
    "drop-column": ("ALTER TABLE users DROP COLUMN legacy_id;", "drop-column", ["ban-drop-column"]),
    "drop-table": ("DROP TABLE audit_log;", "drop-table", ["ban-drop-table"]),
    "unbounded-update": ("UPDATE users SET plan = 'free';", "unbounded-dml", []),
    "no-lock-timeout": ("ALTER TABLE users ADD COLUMN note text;", "require-lock-timeout", ["require-lock-timeout"]),
    "json-column": ("CREATE TABLE private.events (id bigint, payload json);", "prefer-jsonb", []),
    "timestamp-column": (
        "CREATE TABLE private.events (id bigint, at timestamp);",
        "prefer-timestamptz",
        ["prefer-timestamp-tz", "prefer-timestamptz"],
    ),
    "serial-column": ("CREATE TABLE private.events (id serial PRIMARY KEY);", "prefer-identity", ["prefer-identity"]),
    "table-without-rls": ("CREATE TABLE public.notes (id bigint PRIMARY KEY, body text);", "rls-not-enabled", []),
    "grant-to-public": ("GRANT SELECT ON users TO PUBLIC;", "grant-to-public", []),
    "security-definer": (
        "CREATE FUNCTION public.whoami() RETURNS uuid LANGUAGE sql SECURITY DEFINER AS $$ SELECT auth.uid() $$;",
        "security-definer-search-path",
        [],
    ),
    "permissive-write-policy": (
        "ALTER TABLE notes ENABLE ROW LEVEL SECURITY;\n"
        "CREATE POLICY anyone_writes ON notes FOR INSERT TO anon WITH CHECK (true);",
        "permissive-write-policy",
        [],
    ),
    "secret": (
        "ALTER ROLE app_user WITH PASSWORD 'hunter2-prod-Very-Secret';\n"
        "-- reach prod at postgres://admin:s3cretpass@db.example.com:5432/app\n"
        "SELECT 1;",
        "secret-in-migration",
        [],
    ),
    "index-inside-do-block": (
        "DO $$\nBEGIN\n  CREATE INDEX ix_users_plan ON users (plan);\nEND $$;",
        "require-concurrent-index",
        ["require-concurrent-index-creation"],
    ),
    "syntax-error": ("ALTER TABLE users ADD COLUMN;", "sql-syntax-error", ["syntax-error"]),
}

# Seeds are judged by where they sit: these files go under seeds/.
SEED_HAZARDS: dict[str, tuple[str, str, list[str]]] = {
    "seed-plain-insert": ("INSERT INTO plans (id, name) VALUES (1, 'free');", "seed-not-idempotent", []),
    "seed-with-ddl": (
        "CREATE TABLE plans_tmp (id int);\nINSERT INTO plans (id, name) VALUES (1, 'free') ON CONFLICT DO NOTHING;",
        "seed-has-ddl",
        [],
    ),
}

# The big file: a realistic mix of the hazards above (and harmless statements), on existing tables.
MIX = [
    "SET lock_timeout = '5s';",
    "CREATE INDEX ix_{i} ON users (email);",
    "ALTER TABLE users ADD COLUMN c{i} text NOT NULL;",
    "ALTER TABLE orders ADD CONSTRAINT fk_{i} FOREIGN KEY (user_id) REFERENCES users (id);",
    "UPDATE users SET plan = 'free' WHERE id = {i};",
    "ALTER TABLE users ALTER COLUMN c{i} SET NOT NULL;",
    "CREATE TABLE private.t_{i} (id serial PRIMARY KEY, data json, at timestamp);",
    "ALTER TABLE users RENAME COLUMN a{i} TO b{i};",
    "DROP TABLE old_{i};",
    "ALTER TABLE users ALTER COLUMN x{i} TYPE bigint;",
    "INSERT INTO audit (id, note) VALUES ({i}, 'migrated');",
    "CREATE INDEX CONCURRENTLY ix_c_{i} ON orders (created_at);",
    "ALTER TABLE orders ADD COLUMN note_{i} text;",
    "COMMENT ON COLUMN users.c{i} IS 'column {i}';",
    "ALTER TABLE users ADD COLUMN t{i} uuid DEFAULT gen_random_uuid();",
    "DELETE FROM sessions WHERE expires_at < now();",
    "ALTER TABLE users ADD CONSTRAINT u_{i} UNIQUE (email);",
    "GRANT SELECT ON users TO authenticated;",
    "ALTER TABLE users DROP COLUMN legacy_{i};",
    "SELECT count(*) FROM users;",
]


def big_sql(statements: int) -> str:
    lines = [MIX[n % len(MIX)].format(i=n) for n in range(statements)]
    return "\n".join(lines) + "\n"


def delegate_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "orchestrator.cli", "check", "--static-only", *args]


def run(cmd: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    return time.perf_counter() - start, proc


def time_big_file(work: Path, statements: int, runs: int, squawk: str) -> dict[str, object]:
    path = work / "big.sql"
    path.write_text(big_sql(statements), encoding="utf-8")
    delegate_times: list[float] = []
    squawk_times: list[float] = []
    counts: dict[str, int] = {}
    for _ in range(runs):  # alternate, so that a change of machine load hits both tools alike
        seconds, proc = run(delegate_cmd(str(path), "--format", "json"), work)
        if proc.returncode not in (0, 1):
            raise SystemExit(f"delegate failed ({proc.returncode}): {proc.stderr[-2000:]}")
        delegate_times.append(seconds)
        counts["delegate_findings"] = len(json.loads(proc.stdout)["findings"])
        seconds, proc = run([squawk, "--reporter", "json", str(path)], work)
        squawk_times.append(seconds)
        counts["squawk_findings"] = len(json.loads(proc.stdout or "[]"))
    d, s = statistics.median(delegate_times), statistics.median(squawk_times)
    return {
        "statements": statements,
        "runs": runs,
        "delegate_seconds": round(d, 3),
        "squawk_seconds": round(s, 3),
        "ratio_squawk_over_delegate": round(s / d, 3),
        "delegate_runs": [round(t, 3) for t in delegate_times],
        "squawk_runs": [round(t, 3) for t in squawk_times],
        **counts,
    }


# The least a Python checker built on pglast pays for the big file: start the interpreter, import the parser,
# read the file and build its trees (as the engine does), with no rule run and nothing printed.
PARSE_ONLY = (
    "import gc, sys\n"
    "gc.disable()\n"
    "from orchestrator.checks.sqltext import parse_raw\n"
    "parse_raw(open(sys.argv[1], encoding='utf-8').read())\n"
)


# The ceiling of splitting the big file over two processes: each half checked by its own fork as if it were the
# whole file (no facts shared between the halves, which a correct split would need), the two JSON parts joined.
SPLIT_CEILING = """
import gc, json, os, sys
gc.disable()
from pathlib import Path
from orchestrator.check import CheckOptions
from orchestrator.checks.engine import load_rules, run_static
from orchestrator.config import DelegateConfig
load_rules()
big = Path(sys.argv[1])
lines = big.read_text(encoding="utf-8").splitlines(keepends=True)
halves = [big.with_name("half1.sql"), big.with_name("half2.sql")]
halves[0].write_text("".join(lines[: len(lines) // 2]), encoding="utf-8")
halves[1].write_text("".join(lines[len(lines) // 2 :]), encoding="utf-8")
r, w = os.pipe()
pid = os.fork()
mine = halves[1] if pid == 0 else halves[0]
found = run_static(big.parent, DelegateConfig(), CheckOptions(repo=big.parent, static_only=True, paths=[mine]))
encode = json.JSONEncoder(ensure_ascii=False).encode
text = ",\\n".join("    " + encode(f.to_dict()) for f in found)
if pid == 0:
    os.close(r)
    os.write(w, text.encode())
    os._exit(0)
os.close(w)
other = b"".join(iter(lambda: os.read(r, 1 << 20), b"")).decode()
os.waitpid(pid, 0)
sys.stdout.write('{"findings": [\\n' + text + ",\\n" + other + "\\n]}\\n")
"""


def time_floor_and_start(work: Path, runs: int, squawk: str) -> dict[str, object]:
    """Whole-process medians of: parsing the big file and nothing else (the floor under any rule), and each
    tool on a one-statement file (its start-up)."""
    one = work / "one.sql"
    one.write_text("CREATE INDEX ix_users_email ON users (email);\n", encoding="utf-8")
    floor, split, d_one, s_one = [], [], [], []
    for _ in range(runs):
        floor.append(run([sys.executable, "-c", PARSE_ONLY, str(work / "big.sql")], work)[0])
        seconds, proc = run([sys.executable, "-c", SPLIT_CEILING, str(work / "big.sql")], work)
        if proc.returncode != 0:
            raise SystemExit(f"the split ceiling failed: {proc.stderr[-2000:]}")
        split.append(seconds)
        d_one.append(run(delegate_cmd(str(one), "--format", "json"), work)[0])
        s_one.append(run([squawk, "--reporter", "json", str(one)], work)[0])
    return {
        "parse_only_seconds": round(statistics.median(floor), 3),
        "two_process_split_ceiling_seconds": round(statistics.median(split), 3),
        "delegate_one_statement_seconds": round(statistics.median(d_one), 3),
        "squawk_one_statement_seconds": round(statistics.median(s_one), 3),
    }


def catch_table(work: Path, squawk: str) -> list[dict[str, object]]:
    rows = []
    corpus = work / "corpus"
    for folder, hazards in (("", HAZARDS), ("seeds", SEED_HAZARDS)):
        for name, (sql, expected, squawk_rules) in hazards.items():
            path = corpus / folder / f"{name}.sql"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(sql + "\n", encoding="utf-8")
            _, proc = run(delegate_cmd(str(path), "--repo", str(corpus), "--format", "json"), work)
            ours = sorted({f["rule"] for f in json.loads(proc.stdout)["findings"]})
            _, proc = run([squawk, "--reporter", "json", str(path)], work)
            theirs = sorted({f["rule_name"] for f in json.loads(proc.stdout or "[]")})
            rows.append(
                {
                    "hazard": name,
                    "expected_rule": expected,
                    "delegate_catches": expected in ours,
                    "squawk_catches": any(r in theirs for r in squawk_rules),
                    "delegate_rules": ours,
                    "squawk_rules": theirs,
                }
            )
    return rows


def time_example_feature(work: Path, runs: int) -> dict[str, object]:
    """The full static check of examples/cfi-app with feature 042 delivered: the reference solution committed on
    the feature branch of a git copy (tests/support/example_repo.py), so the feature's revisions are the branch's."""
    sys.path.insert(0, str(ROOT))
    from tests.support.example_repo import make_example_repo

    repo = make_example_repo(work, with_solution=True)
    cmd = delegate_cmd("--repo", str(repo), "--spec", "specs/042-lesson-progress", "--format", "json")
    times = []
    findings: list[dict[str, object]] = []
    for _ in range(runs):
        seconds, proc = run(cmd, work)
        if proc.returncode not in (0, 1):
            raise SystemExit(f"delegate failed on the example ({proc.returncode}): {proc.stderr[-2000:]}")
        times.append(seconds)
        findings = json.loads(proc.stdout)["findings"]
    cold, warm = _in_process_seconds(repo, runs)
    return {
        "whole_process_seconds": round(statistics.median(times), 3),
        "in_process_cold_seconds": round(cold, 3),
        "in_process_warm_seconds": round(warm, 3),
        "findings": [f"{f['severity']} {f['rule']} {f['file']}:{f['line']}" for f in findings],
    }


def _in_process_seconds(repo: Path, runs: int) -> tuple[float, float]:
    """run_static alone (imports already paid), as an agent's check tool calls it: cold (the revisions rendered
    by a fresh subprocess) and warm (unchanged revisions served by the rendering cache)."""
    sys.path.insert(0, str(ROOT))
    from orchestrator.check import CheckOptions
    from orchestrator.checks.engine import load_rules, run_static
    from orchestrator.checks.offline import clear_render_cache
    from orchestrator.config import load_config

    options = CheckOptions(repo=repo, static_only=True, spec=Path("specs/042-lesson-progress"))
    cfg = load_config(repo)
    load_rules()
    cold, warm = [], []
    for _ in range(runs):
        clear_render_cache()
        start = time.perf_counter()
        run_static(repo, cfg, options)
        cold.append(time.perf_counter() - start)
        start = time.perf_counter()
        run_static(repo, cfg, options)
        warm.append(time.perf_counter() - start)
    return statistics.median(cold), statistics.median(warm)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--statements", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    squawk = shutil.which("squawk")
    if squawk is None:
        raise SystemExit("squawk is not on PATH: pip install squawk-cli")
    version = subprocess.run([squawk, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="delegate-bench-") as tmp:
        work = Path(tmp)
        speed = time_big_file(work, args.statements, args.runs, squawk)
        speed.update(time_floor_and_start(work, args.runs, squawk))
        table = catch_table(work, squawk)
        example = time_example_feature(work, args.runs)
    counts = {
        "hazards": len(table),
        "delegate": sum(bool(r["delegate_catches"]) for r in table),
        "squawk": sum(bool(r["squawk_catches"]) for r in table),
    }
    result = {
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "squawk": version},
        "speed": speed,
        "catches": table,
        "catch_counts": counts,
        "example_feature": example,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")

    print(f"{speed['statements']} statements, median of {speed['runs']} whole-process runs each:")
    print(
        f"  delegate {speed['delegate_seconds']:.3f} s   squawk {speed['squawk_seconds']:.3f} s   "
        f"ratio squawk/delegate {speed['ratio_squawk_over_delegate']:.2f} (target >= 1.0)"
    )
    print(
        f"  parsing the file with pglast and nothing else: {speed['parse_only_seconds']:.3f} s (the floor under "
        "any rule)"
    )
    print(
        f"  the ceiling of a two-process split (each half checked alone, nothing shared): "
        f"{speed['two_process_split_ceiling_seconds']:.3f} s"
    )
    print(
        f"  one statement (start-up): delegate {speed['delegate_one_statement_seconds']:.3f} s, "
        f"squawk {speed['squawk_one_statement_seconds']:.3f} s"
    )
    print(f"\n{'hazard':34} {'delegate':9} {'squawk':7} rule")
    for row in table:
        mark = {True: "yes", False: "-"}
        print(
            f"{row['hazard']:34} {mark[bool(row['delegate_catches'])]:9} "
            f"{mark[bool(row['squawk_catches'])]:7} {row['expected_rule']}"
        )
    print(f"caught: delegate {counts['delegate']}/{counts['hazards']}, squawk {counts['squawk']}/{counts['hazards']}")
    print(
        f"\nexample feature 042, full static check: {example['whole_process_seconds']:.3f} s whole process; "
        f"in process {example['in_process_cold_seconds']:.3f} s cold, {example['in_process_warm_seconds']:.3f} s warm"
    )
    print(f"results: {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
