#!/usr/bin/env bash
# The project's test command (the README's): install with the dev extras, lint, format check, type check, tests.
# Works on a fresh clone. Every check runs even when an earlier one fails, and the script fails if any did.
# Tests that need PostgreSQL use DATABASE_URL, else the local server on 127.0.0.1:5432, else a throwaway server.
set -uo pipefail
cd "$(dirname "$0")/.."

# A fresh machine may only have python3; PYTHON=... picks another interpreter (3.11+).
PYTHON="${PYTHON:-$(command -v python || command -v python3)}"
failed=()

step() {
  local name="$1"
  shift
  echo "== $name"
  "$@" || failed+=("$name (exit $?)")
}

echo "== install"
"$PYTHON" -m pip install -q -e '.[dev]' || { echo "scripts/test.sh: pip install failed" >&2; exit 1; }

step "ruff check" "$PYTHON" -m ruff check .
step "ruff format --check" "$PYTHON" -m ruff format --check .
step "mypy" "$PYTHON" -m mypy

echo "== pytest"
"$PYTHON" -m pytest -q "$@"
status=$?
if [ "$status" -eq 5 ]; then
  # pytest's 5 means it collected nothing: a broken test layout must not pass as green.
  failed+=("pytest (exit 5: no tests collected)")
elif [ "$status" -ne 0 ]; then
  failed+=("pytest (exit $status)")
fi

if [ "${#failed[@]}" -gt 0 ]; then
  echo "scripts/test.sh: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "scripts/test.sh: all checks passed"
