"""The ASSOC-3 candidate index in PostgreSQL, so that workers hold no catalogue (the in-process
DuplicateIndex of duplicate_index.py stays for SQLite).

Key-agnostic: a listing is a list of integer keys per family, stored as postings `(key, seq)` with the
family in the key's high bits (FAMILY_SHIFT), one btree over (key, seq). A family is either voted by
count (text: the 25 MinHash band keys, the band number in the key as well, so that a value only meets
the same band) or by rarity (image: visual words; regions: the region pair keys of
region_signature.py, from REGION_KEY_BASE up in the stored key list; each key worth log(N / df), keys
in more than STOP_FRACTION of the listings ignored), exactly as the in-process index ranks them: the
top MAX_TEXT_CANDIDATES by shared bands, the top MAX_IMAGE_CANDIDATES by the visual words' idf votes
and, voted apart, the top MAX_REGION_CANDIDATES by the region keys' (a textured listing's many words
would outvote the few region keys of a flat picture's copy), ties by seq. A new family of keys is a new
FAMILY number and a call to `postings`.

The postings of a listing are written in the transaction that writes its signature row, so every
worker sees them at the same commit; deleting the row deletes them (foreign key). N for the idf is the
highest seq (listings are never deleted, only unlisted; the index proposes, the decision reads).
"""

from __future__ import annotations

import threading

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from activities.copy_detection.duplicate_index import (
    MAX_IMAGE_CANDIDATES,
    MAX_REGION_CANDIDATES,
    MAX_TEXT_CANDIDATES,
    STOP_FRACTION,
    Candidates,
)
from activities.copy_detection.region_signature import REGION_KEY_BASE
from activities.storage import backfills

FAMILY_SHIFT = 40
TEXT, IMAGE, REGION = 1, 2, 3
BACKFILL = "product_key"

DDL = [
    "CREATE TABLE IF NOT EXISTS product_key ("
    " key bigint NOT NULL, seq integer NOT NULL REFERENCES productsignature(seq) ON DELETE CASCADE)",
    "CREATE INDEX IF NOT EXISTS product_key_key ON product_key (key, seq)",
    "CREATE INDEX IF NOT EXISTS product_key_seq ON product_key (seq)",
    # Region keys written in the image family before they had their own: moved (a range of the btree;
    # nothing matches once done, so every start runs it for free)
    f"UPDATE product_key SET key = key + {(REGION - IMAGE) << FAMILY_SHIFT}"
    f" WHERE key >= {(IMAGE << FAMILY_SHIFT) | REGION_KEY_BASE} AND key < {(IMAGE + 1) << FAMILY_SHIFT}",
]
_READY: dict[str, bool] = {}
_LOCK = threading.Lock()


def text_keys(bands: np.ndarray) -> list[int]:
    return [(TEXT << FAMILY_SHIFT) | (b << 32) | int(v) for b, v in enumerate(bands.tolist())]


def image_keys(words: np.ndarray) -> list[int]:
    """The stored key list's keys: visual words in the image family, region keys in their own."""
    return [((REGION if w >= REGION_KEY_BASE else IMAGE) << FAMILY_SHIFT) | w for w in words.tolist()]


def postings(seq: int, bands: np.ndarray, words: np.ndarray) -> list[dict[str, int]]:
    return [{"k": k, "s": seq} for k in text_keys(bands) + image_keys(words)]


def in_database(eng: Engine) -> bool:
    """Whether this database holds the candidate index (PostgreSQL): set up on first ask."""
    if eng.dialect.name != "postgresql":
        return False
    url = str(eng.url)
    with _LOCK:
        if url not in _READY:
            with eng.begin() as conn:
                conn.execute(text("SELECT pg_advisory_xact_lock(7235)"))  # workers starting together
                for ddl in DDL:
                    conn.execute(text(ddl))
            backfills.once(eng, BACKFILL, backfill)
            _READY[url] = True
        return _READY[url]


def backfill(eng: Engine, batch: int = 5000) -> int:
    """Postings for listings written before the index was in the database (once per database)."""
    done = 0
    while True:
        with eng.begin() as conn:
            rows = conn.execute(
                text(
                    "SELECT s.seq, s.bands, s.words FROM productsignature s WHERE NOT EXISTS"
                    " (SELECT 1 FROM product_key k WHERE k.seq = s.seq) ORDER BY s.seq LIMIT :n"
                ),
                {"n": batch},
            ).all()
            if not rows:
                return done
            conn.execute(
                text("INSERT INTO product_key (key, seq) VALUES (:k, :s)"),
                [
                    p
                    for r in rows
                    for p in postings(r[0], np.frombuffer(r[1], "<u4"), np.frombuffer(r[2], "<u4"))
                ],
            )
            done += len(rows)


def add(session: Session, seq: int, bands: np.ndarray, words: np.ndarray) -> None:
    """A listing's postings, in the transaction that writes its signature row."""
    session.execute(text("INSERT INTO product_key (key, seq) VALUES (:k, :s)"), postings(seq, bands, words))


def candidates(session: Session, bands: np.ndarray, probes: np.ndarray) -> Candidates:
    words = probes < REGION_KEY_BASE
    return Candidates(
        text_candidates(session, bands),
        image_candidates(session, probes[words]),
        image_candidates(session, probes[~words], MAX_REGION_CANDIDATES),
    )


def text_candidates(session: Session, bands: np.ndarray) -> list[int]:
    rows = session.execute(
        text(
            "SELECT seq FROM product_key WHERE key = ANY(:keys)"
            " GROUP BY seq ORDER BY count(*) DESC, seq LIMIT :n"
        ),
        {"keys": text_keys(bands), "n": MAX_TEXT_CANDIDATES},
    ).all()
    return [int(r[0]) for r in rows]


def image_candidates(session: Session, probes: np.ndarray, limit: int = MAX_IMAGE_CANDIDATES) -> list[int]:
    """Listings whose keys the probes hit, by idf votes: called once with the visual words and once with
    the region keys (one family per call), as the in-process index is."""
    if not len(probes):
        return []
    total = max(2, session.execute(text("SELECT coalesce(max(seq), 0) FROM productsignature")).scalar_one())
    cap = int(max(50, STOP_FRACTION * total))
    distinct = sorted(set(image_keys(probes)))
    # Document frequencies, each counted no further than the stop-word cap (a common word costs no more
    # than a rare one).
    df = dict(
        session.execute(
            text(
                "SELECT q.key, (SELECT count(*) FROM (SELECT 1 FROM product_key p WHERE p.key = q.key"
                " LIMIT :cap + 1) x) FROM unnest(CAST(:keys AS bigint[])) AS q(key)"
            ),
            {"keys": distinct, "cap": cap},
        ).all()
    )
    keys, weights = [], []
    for key in image_keys(probes):  # a word the query holds twice votes twice, as in memory
        n = int(df.get(key, 0))
        if 0 < n <= cap:
            keys.append(key)
            weights.append(float(np.log(np.float32(total / n))))
    if not keys:
        return []
    rows = session.execute(
        text(
            "SELECT p.seq FROM product_key p"
            " JOIN unnest(CAST(:keys AS bigint[]), CAST(:weights AS float8[])) AS q(key, w) ON p.key = q.key"
            " GROUP BY p.seq ORDER BY sum(q.w) DESC, p.seq LIMIT :n"
        ),
        {"keys": keys, "weights": weights, "n": limit},
    ).all()
    return [int(r[0]) for r in rows]
