"""The known-faces index under the lookup (activities/known_faces/index.FaceIndex): the bound that lets the
lookup skip the exact re-check of far candidates, and templates whose id commits out of order.
Speed and recall at scale are bench/face_registry_bench.py's."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, text
from sqlmodel import Session, select

from activities.known_faces import index as known_faces
from activities.known_faces import vectors as face_vectors
from activities.known_faces.index import as_bytes, new_usearch_index, recheck_radius, shared_faces
from activities.storage.db import engine
from models.known_faces import FaceTemplate
from tests.support.registry_rows import new_account

NOW = datetime(2026, 11, 25, tzinfo=UTC)
SEQUENCE_NEXT = "SELECT nextval(pg_get_serial_sequence('facetemplate', 'id'))"
SEQUENCE_SET = "SELECT setval(pg_get_serial_sequence('facetemplate', 'id'), :n)"


def account() -> str:
    return new_account("X", store_name="Index Shop", at=NOW)


@pytest.mark.parametrize("scale", [0.003, 0.12, 2.0])  # tiny (float16 subnormals), face-like, large
def test_the_index_distances_stay_within_the_recheck_radius(scale: float) -> None:
    """Every template within d of the probe has an index distance within recheck_radius(probe, d),
    so dropping the candidates beyond recheck_radius(probe, max_distance) loses no match."""
    rng = np.random.default_rng(14)
    templates = rng.normal(0, scale, (3000, 128)).astype(np.float32)
    templates[:1000] = templates[0] + rng.normal(0, scale / 4, (1000, 128))  # near the probe
    probe = (templates[0] + rng.normal(0, scale / 8, 128)).astype(np.float32)
    index = new_usearch_index()
    index.add(np.arange(len(templates), dtype=np.uint64), templates, threads=1)
    found = index.search(probe, len(templates), exact=True, threads=1)
    exact = np.linalg.norm(templates[found.keys.astype(np.int64)] - probe, axis=1)
    slack = np.array([recheck_radius(probe, float(d)) for d in exact]) - np.sqrt(found.distances)
    assert len(exact) == len(templates) and slack.min() >= 0
    # The distances do differ (float16), and the bound stays small beside the face distances.
    assert np.abs(np.sqrt(found.distances) - exact).max() > 0


def test_the_recheck_radius_is_a_small_margin_at_face_scale() -> None:
    face = np.random.default_rng(3).normal(0, 0.12, 128).astype(np.float32)  # |face| ~ 1.4, like dlib's
    assert 0.45 < recheck_radius(face, 0.45) < 0.455


def test_a_template_that_commits_after_a_later_id_is_still_found(data_dir: Path) -> None:
    """Ids are drawn before commit: on PostgreSQL an enrolment can commit after a later one that a
    lookup has already read. The index asks for the missing id again, so the late face links."""
    early, late, probe_member = account(), account(), account()
    rng = np.random.default_rng(21)
    face = rng.normal(0, 0.12, 128).astype(np.float32)
    stranger = face + rng.normal(0, 0.1, 128).astype(np.float32)  # ~1.1 away
    eng = engine()
    if face_vectors.in_database(eng):
        pytest.skip("the index is pgvector's, in the database: there is no in-process copy to catch up")
    index = known_faces.face_index(eng)
    with Session(eng) as session:
        index.sync(session)
        # Two ids above every id drawn so far, whatever earlier tests left in the index or sequence.
        top = max(index.synced_to, session.exec(select(func.max(FaceTemplate.id))).one() or 0)
        if eng.dialect.name == "postgresql":
            top = max(top, session.exec(text(SEQUENCE_NEXT)).one()[0])  # type: ignore[call-overload]
        session.add(FaceTemplate(id=top + 2, member_id=early, template=as_bytes(stranger), enrolled_at=NOW))
        session.commit()
        assert shared_faces(session, probe_member, face, 0.45) == []
        assert index.synced_to == top + 2
        # The enrolment that drew top + 1 commits only now.
        session.add(FaceTemplate(id=top + 1, member_id=late, template=as_bytes(face + 0.02), enrolled_at=NOW))
        session.commit()
        assert shared_faces(session, probe_member, face, 0.45) == [late]
        if eng.dialect.name == "postgresql":  # the sequence stays ahead of the ids written here
            session.exec(text(SEQUENCE_SET).bindparams(n=top + 2))  # type: ignore[call-overload]
            session.commit()
