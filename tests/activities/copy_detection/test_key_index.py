"""The ASSOC-3 candidate index in PostgreSQL (activities/copy_detection/key_index.py) proposes what the
in-process index proposes, on the same listings: the same text candidates in the same order, the same
image candidates and the same region candidates (voted apart from the visual words); written in the
listing's transaction, and backfilled for listings written before."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import sqlalchemy
from sqlalchemy.engine import Engine
from sqlmodel import Session

from activities.copy_detection import key_index
from activities.copy_detection.duplicate_index import DuplicateIndex
from activities.copy_detection.region_signature import REGION_KEY_BASE, REGION_KEY_BITS
from activities.copy_detection.text_signature import BANDS
from activities.storage import backfills
from activities.storage.db import create_tables, make_engine
from models.products import ProductSignature
from tests.support.draws import hex_id

LISTINGS = 1000


@pytest.fixture
def pg(pgvector_url: str) -> Iterator[Engine]:
    """A database of its own on the PostgreSQL server, so that the seqs are 1..n."""
    name = f"keys_{hex_id(8)}"
    admin = sqlalchemy.create_engine(pgvector_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    eng = make_engine(pgvector_url.rsplit("/", 1)[0] + f"/{name}")
    create_tables(eng)
    yield eng
    eng.dispose()
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE {name}")
    admin.dispose()


def catalogue(rng: np.random.Generator) -> tuple[np.ndarray, list[np.ndarray]]:
    """Band keys from a small range (bands collide, as similar texts do), visual words with a
    heavy-tailed frequency (some words are stop words), and region keys after them (a flat picture has
    few words and some region keys; a textured one many words and a few region keys)."""
    bands = rng.integers(0, 150, (LISTINGS, BANDS)).astype(np.uint32)
    words = []
    for i in range(LISTINGS):
        visual = np.minimum(rng.zipf(1.3, 48 if i % 2 else 4), (1 << 20) - 1)
        # region keys: some shared by many listings (common shape pairs), most rare
        region = REGION_KEY_BASE + np.concatenate(
            [rng.integers(0, 40, 10), rng.integers(0, 1 << REGION_KEY_BITS, 20)]
        )
        words.append(np.concatenate([visual, region]).astype(np.uint32))
    return bands, words


def store(session: Session, seq: int, bands: np.ndarray, words: np.ndarray) -> None:
    session.add(
        ProductSignature(
            seq=seq, product_id=f"P{seq}", text="", bands=bands.astype("<u4").tobytes(),
            words=words.astype("<u4").tobytes(), features=b"", thumb=b"",
        )
    )  # fmt: skip


def test_the_database_proposes_what_the_in_process_index_proposes(pg: Engine) -> None:
    rng = np.random.default_rng(27)
    bands, words = catalogue(rng)
    half = LISTINGS // 2
    with Session(pg) as session:
        for i in range(half):  # written before the index was in the database: backfilled
            store(session, i + 1, bands[i], words[i])
        session.commit()
        key_index._READY.pop(str(pg.url), None)
        backfills.forget(pg, key_index.BACKFILL)  # a database from before the index
        assert key_index.in_database(pg)
        for i in range(half, LISTINGS):  # written with their postings, as insert_product does
            store(session, i + 1, bands[i], words[i])
            session.flush()
            key_index.add(session, i + 1, bands[i], words[i])
        session.commit()
        memory = DuplicateIndex()
        memory.add_many(np.arange(1, LISTINGS + 1), bands, words)
        for q in rng.integers(0, LISTINGS, 20).tolist():
            probe_bands = bands[q].copy()
            probe_bands[rng.integers(0, BANDS, 10)] = rng.integers(0, 150, 10)  # a reworded copy
            visual = words[q][words[q] < REGION_KEY_BASE]
            region = words[q][words[q] >= REGION_KEY_BASE]
            probe_words = np.concatenate(
                [visual[: len(visual) * 2 // 3], rng.integers(0, 1 << 20, 10), region[:24]]
            ).astype(np.uint32)
            db = key_index.candidates(session, probe_bands, probe_words)
            mem = memory.candidates(probe_bands, probe_words)
            assert db.text == mem.text
            assert set(db.image) == set(mem.image)
            assert set(db.regions) == set(mem.regions)
            assert q + 1 in db.text and q + 1 in db.regions  # the original is among them
            if len(visual) > 10:
                assert q + 1 in db.image


def test_region_keys_written_in_the_image_family_move_to_their_own(pg: Engine) -> None:
    """Postings written before region keys had a family of their own are moved on first use."""
    rng = np.random.default_rng(28)
    bands, words = catalogue(rng)
    with Session(pg) as session:
        key_index.in_database(pg)
        store(session, 1, bands[0], words[0])
        session.flush()
        old = [(key_index.IMAGE << key_index.FAMILY_SHIFT) | int(w) for w in words[0].tolist()]
        session.execute(
            sqlalchemy.text("INSERT INTO product_key (key, seq) VALUES (:k, 1)"), [{"k": k} for k in old]
        )
        session.commit()
        key_index._READY.pop(str(pg.url), None)
        backfills.forget(pg, key_index.BACKFILL)  # a database from before the index
        assert key_index.in_database(pg)
        stored = sorted(r[0] for r in session.execute(sqlalchemy.text("SELECT key FROM product_key")))
        assert stored == sorted(key_index.image_keys(words[0]))
        assert 1 in key_index.candidates(session, bands[0], words[0][words[0] >= REGION_KEY_BASE]).regions
