#!/usr/bin/env bash
# Creates or updates .venv from uv.lock (runtime and dev dependencies); a no-op when nothing changed.
# uv itself is pinned and kept in .tools/ so that a fresh machine needs only Python 3.11.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if ! "$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "Python 3.11 is required (found $("$PY" --version 2>&1))" >&2
  exit 1
fi
UV_VERSION=0.13.9
if ! .tools/bin/uv --version 2>/dev/null | grep -q "$UV_VERSION"; then
  echo "installing uv $UV_VERSION into .tools/ ..."
  "$PY" -m venv .tools
  .tools/bin/python -m pip install --quiet "uv==$UV_VERSION"
fi
# --frozen: install exactly the lock (hashes included), never re-resolve; --python: the 3.11 found above.
UV_PROJECT_ENVIRONMENT=.venv .tools/bin/uv sync --frozen --quiet --python "$(command -v "$PY")"
# The Node client (clients/node, tested by tests/clients/test_node_client.py): exactly its lock file, when
# npm is installed and the lock changed since the last install.
NODE_CLIENT=clients/node
if command -v npm >/dev/null && { [ ! -d "$NODE_CLIENT/node_modules" ] \
    || [ "$NODE_CLIENT/package-lock.json" -nt "$NODE_CLIENT/node_modules/.package-lock.json" ]; }; then
  (cd "$NODE_CLIENT" && npm ci --no-audit --no-fund --loglevel=error)
fi
