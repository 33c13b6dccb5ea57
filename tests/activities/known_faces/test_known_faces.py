"""Known faces and known photos (OPEN-1 photo_reused, ASSOC-2 shared_face) through the real photo
activity: generated authentication photos of real people, the registry on SQLite or PostgreSQL."""

from __future__ import annotations

import dataclasses
import io
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlmodel import Session, select

import activities.known_faces.index as known_faces
from activities.identity_photo import check_authentication_photo, verify_photo
from activities.storage.blobs import put_bytes
from activities.storage.db import engine
from devtools import photo_fixtures
from models.activity_io import PhotoCheckInput, PhotoCheckResult
from models.known_faces import AuthenticationPhoto, FaceTemplate
from models.policy import load_policy
from models.tables import AccountLink
from tests.support.draws import hex_id
from tests.support.registry_rows import new_account

POLICY = load_policy().authentication
NOW = datetime(2026, 11, 25, tzinfo=UTC)


def photo(name: str) -> bytes:
    return photo_fixtures.jpeg_bytes(next(v for v in photo_fixtures.VARIANTS if v.name == name))


def account(main: str | None = None) -> str:
    return new_account("F", store_name="Face Shop", main=main, at=NOW)


def authenticate(member: str, data: bytes) -> PhotoCheckResult:
    return check_authentication_photo(
        PhotoCheckInput(photo_ref=put_bytes(data), policy=POLICY, member_id=member)
    )


def links(member: str) -> list[tuple[str, str, str]]:
    with Session(engine()) as session:
        rows = session.exec(
            select(AccountLink).where((AccountLink.member_a == member) | (AccountLink.member_b == member))
        )
        return sorted((r.member_a, r.member_b, r.reason) for r in rows)


def test_two_accounts_of_one_person_are_linked_by_their_faces(data_dir: Path) -> None:
    first, second, other = account(), account(), account()
    alone = authenticate(first, photo("pass_obama"))
    assert alone.passed and alone.linked_member_ids == []
    again = authenticate(second, photo("pass_obama2"))  # another photo of the same man
    assert again.passed and again.linked_member_ids == [first]
    assert links(second) == [(*sorted((first, second)), "shared_face")]
    someone_else = authenticate(other, photo("pass_biden"))
    assert someone_else.passed and someone_else.linked_member_ids == [] and links(other) == []


def test_the_same_photo_cannot_authenticate_two_accounts(data_dir: Path) -> None:
    first, second = account(), account()
    original = photo("pass_obama")
    assert authenticate(first, original).passed
    same = authenticate(second, original)
    assert not same.passed and same.refusal is not None
    assert (same.refusal.rule, same.refusal.code) == ("OPEN-1", "photo_reused")
    # Re-saved smaller and at another quality: other bytes, the same photo.
    img = Image.open(io.BytesIO(original)).resize((1400, 1050))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=70)
    near = authenticate(second, out.getvalue())
    assert near.refusal is not None and near.refusal.code == "photo_reused"
    with Session(engine()) as session:  # nothing of the refused account was enrolled
        assert session.exec(select(FaceTemplate).where(FaceTemplate.member_id == second)).first() is None
    assert links(second) == []


def test_sub_accounts_of_one_main_are_exempt_others_are_not(data_dir: Path) -> None:
    main = account()
    sub = account(main=main)
    assert authenticate(main, photo("pass_obama")).linked_member_ids == []
    by_sub = authenticate(sub, photo("pass_obama"))  # REG-9: the same person, the same photo even
    assert by_sub.passed and by_sub.linked_member_ids == []
    stranger = account()
    found = authenticate(stranger, photo("pass_obama2"))
    assert found.passed and found.linked_member_ids == sorted([main, sub])


def test_a_retry_after_success_answers_the_same_and_stores_once(data_dir: Path) -> None:
    first, second = account(), account()
    authenticate(first, photo("pass_obama"))
    one = authenticate(second, photo("pass_obama2"))
    two = authenticate(second, photo("pass_obama2"))
    assert (one.passed, one.linked_member_ids) == (two.passed, two.linked_member_ids) == (True, [first])
    with Session(engine()) as session:
        assert len(session.exec(select(FaceTemplate).where(FaceTemplate.member_id == second)).all()) == 1
        assert (
            len(
                session.exec(select(AuthenticationPhoto).where(AuthenticationPhoto.member_id == second)).all()
            )
            == 1
        )
    assert len(links(second)) == 1


def test_templates_never_leave_the_registry(data_dir: Path) -> None:
    member = account()
    result = authenticate(member, photo("pass_astronaut"))
    assert result.passed
    # The activity's answer holds verdict, measures and member ids: no vector of any kind.
    assert set(dataclasses.asdict(result)) == {"passed", "refusal", "measures", "linked_member_ids", "review"}
    assert all(isinstance(v, float) for v in result.measures.values()) and len(result.measures) < 128
    with Session(engine()) as session:
        stored = session.exec(select(FaceTemplate).where(FaceTemplate.member_id == member)).one()
    assert len(stored.template) == 128 * 4


def test_a_fresh_worker_rebuilds_the_index_and_a_forgotten_account_links_no_one(data_dir: Path) -> None:
    first = account()
    authenticate(first, photo("pass_obama"))
    probe = verify_photo(photo("pass_obama2"), POLICY).live_encoding
    assert probe is not None
    known_faces._INDEXES.clear()  # what a worker that starts now has: the table only
    with Session(engine()) as session:
        assert known_faces.shared_faces(session, account(), probe, POLICY.shared_face_max_distance) == [first]
        known_faces.forget_member(session, first)
        assert known_faces.shared_faces(session, account(), probe, POLICY.shared_face_max_distance) == []


def test_the_exact_recheck_holds_the_policy_distance(data_dir: Path) -> None:
    """The index proposes; only templates within the distance link, whatever the index returns."""
    members = [account() for _ in range(3)]
    base = np.random.default_rng(5).normal(0, 0.1, 128).astype(np.float32)
    with Session(engine()) as session:
        for i, member in enumerate(members):
            shifted = base.copy()
            shifted[0] += (0.3, 0.44, 0.46)[i]  # inside, at the edge of, and past 0.45
            known_faces.enroll(session, member, shifted, hex_id(), None, NOW)
        found = known_faces.shared_faces(session, account(), base, 0.45)
    assert found == sorted(members[:2])


@pytest.mark.parametrize("name", ["pass_obama", "pass_biden"])
def test_verify_photo_hands_back_the_live_encoding_only_on_a_pass(name: str) -> None:
    verdict = verify_photo(photo(name), POLICY)
    assert (
        verdict.result.passed and verdict.live_encoding is not None and verdict.live_encoding.shape == (128,)
    )
    failed = verify_photo(photo("other_portrait"), POLICY)
    assert not failed.result.passed and failed.live_encoding is None


def test_a_photo_enrolled_by_another_account_since_the_check_is_refused_at_enrolment(data_dir: Path) -> None:
    """The race: both accounts passed the reuse check before either enrolled. The first enrolment
    wins; the second is told so, and stores nothing."""
    first, second = account(), account()
    face = np.random.default_rng(9).normal(0, 0.1, 128).astype(np.float32)
    with Session(engine()) as session:
        assert known_faces.enroll(session, first, face, "ab" * 32, "0123456789abcdef", NOW)
        assert not known_faces.enroll(session, second, face, "ab" * 32, "0123456789abcdef", NOW)
        assert session.exec(select(FaceTemplate).where(FaceTemplate.member_id == second)).first() is None
        assert known_faces.enroll(session, first, face, "ab" * 32, "0123456789abcdef", NOW)  # its own retry
