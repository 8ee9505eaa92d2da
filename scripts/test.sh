#!/usr/bin/env bash
# The project's test command (the README's): install with the dev extras, lint, format check, type check, tests.
# Works on a fresh clone; tests that need PostgreSQL use DATABASE_URL, the local server, or a throwaway one.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python}"

echo "== install"
"$PYTHON" -m pip install -q -e '.[dev]'

echo "== ruff check"
"$PYTHON" -m ruff check .

echo "== ruff format --check"
"$PYTHON" -m ruff format --check .

echo "== mypy"
"$PYTHON" -m mypy

echo "== pytest"
status=0
"$PYTHON" -m pytest -q "$@" || status=$?
if [ "$status" -eq 5 ]; then
  # pytest's 5 means it collected nothing: a broken test layout must not pass as green.
  echo "scripts/test.sh: pytest collected no tests (exit 5); treating that as a failure" >&2
  exit 1
fi
exit "$status"
