"""OPEN-1 decided by a person (issues 25, 26): a photo the check sent to review and an operator passed is
enrolled as a passing photo would have been, so that one photo and one face still make one account.

The check hands back no face encoding for a `review` photo (nothing is enrolled before a decision), so
the encoding is taken here, from the photo's largest face outside the card: the operator has looked and
says it is the seller's. The photo is refused only for what a person's approval cannot change: another
account used it (`photo_reused`), or no face in it can be enrolled (`no_face`: the operator refuses it
instead, and the seller sends another).
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime

import numpy as np
from sqlmodel import Session
from temporalio import activity

from activities.identity_photo import PHOTO_CHECKS, decode
from activities.identity_registry import link_accounts
from activities.known_faces.index import (
    PHOTO_REUSED,
    enroll,
    photo_holder,
    photo_phash,
    shared_faces,
)
from activities.storage.blobs import BlobError, blobs
from activities.storage.db import engine
from activities.storage.decision_locks import KNOWN_FACES, hold
from activities.worker_support.heartbeat import heartbeating
from models.activity_io import PhotoCheckInput, PhotoCheckResult
from models.contract import account_workflow_id
from models.refusals import Refusal

with warnings.catch_warnings():  # face_recognition_models imports pkg_resources, deprecated upstream
    warnings.simplefilter("ignore", DeprecationWarning)
    import face_recognition

NO_FACE = Refusal(
    "OPEN-1",
    "no_face",
    "No face in this photo can be enrolled (one face, one account): refuse it, the seller sends another.",
    retryable=False,
)
UNREADABLE = Refusal(
    "OPEN-1", "not_an_image", "The photo under review can no longer be read.", retryable=True
)


def largest_face_encoding(data: bytes, inp: PhotoCheckInput) -> np.ndarray | None:
    image = decode(data, inp.policy)
    if isinstance(image, PhotoCheckResult):
        return None
    pixels = np.asarray(image)
    faces = face_recognition.face_locations(pixels, number_of_times_to_upsample=0)
    if not faces:
        return None
    # The live face is the largest one: the card's portrait is a fraction of it.
    box = max(faces, key=lambda f: (f[2] - f[0]) * (f[1] - f[3]))
    encodings = face_recognition.face_encodings(pixels, [box], num_jitters=1)
    return encodings[0] if encodings else None


@activity.defn
def enrol_reviewed_photo(inp: PhotoCheckInput) -> PhotoCheckResult:
    """Enrol the photo an operator passed; links the accounts that share its face (ASSOC-2). Safe to
    retry: enrolment is idempotent for the same account."""
    try:
        data = blobs().read(
            inp.photo_ref, max_bytes=inp.policy.max_photo_bytes, scope=account_workflow_id(inp.member_id)
        )
    except BlobError:
        return PhotoCheckResult(passed=False, refusal=UNREADABLE)
    sha256 = inp.photo_ref.removeprefix("sha256:")
    with heartbeating(), PHOTO_CHECKS:
        encoding = largest_face_encoding(data, inp)
        phash = photo_phash(data, inp.policy)
        at = datetime.now(UTC)
        with Session(engine()) as session:
            hold(session, KNOWN_FACES)  # every enrolment takes the decision lock (known_faces/index.py)
            if photo_holder(session, inp.member_id, sha256, phash, inp.policy.photo_reuse_max_distance):
                session.rollback()
                return PhotoCheckResult(passed=False, refusal=PHOTO_REUSED)
            if encoding is None:
                session.rollback()
                return PhotoCheckResult(passed=False, refusal=NO_FACE)
            if not enroll(session, inp.member_id, encoding, sha256, phash, at):
                return PhotoCheckResult(passed=False, refusal=PHOTO_REUSED)
            linked = shared_faces(session, inp.member_id, encoding, inp.policy.shared_face_max_distance)
            for other in linked:
                link_accounts(
                    session,
                    inp.member_id,
                    other,
                    rule="ASSOC-2",
                    reason="shared_face",
                    evidence="face",
                    at=at,
                )
    return PhotoCheckResult(passed=True, linked_member_ids=linked)
