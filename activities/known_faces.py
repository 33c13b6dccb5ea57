"""Known faces and known photos: one face, one main account (ASSOC-2 shared_face); one photo, one
account (OPEN-1 photo_reused).

The registry (models/known_faces.py) is the source of truth: one 128-d template per authenticated
account and the hashes of the photo that authenticated it. Lookups go through an in-process ANN
index (usearch HNSW, f16) built from the table on first use and kept in step on every enrolment and
before every lookup (rows another worker enrolled are added by id order). The index only proposes
candidates; each is re-checked exactly against its stored template and the policy distance, so a
deleted account (retention) or an approximate neighbour never links anyone.

Templates never leave this module: the activity result carries member ids only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

import imagehash
import numpy as np
from sqlalchemy import delete, or_
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from usearch.index import Index

from activities.identity_registry import link_accounts
from activities.safe_image import DecodedImage, ImageLimits, decode_image
from models.activity_io import PhotoCheckInput, PhotoCheckResult
from models.known_faces import AuthenticationPhoto, FaceTemplate
from models.policy import AuthenticationPolicy
from models.refusals import Refusal
from models.tables import Account, IdentityFingerprint

DIMENSIONS = 128
EXPANSION_SEARCH = 1024
CANDIDATES = 32  # nearest templates the index proposes; more than 32 accounts sharing one face is moot
PHOTO_REUSED = Refusal(
    "OPEN-1",
    "photo_reused",
    "This photo has already been used to authenticate another seller account. Take a new photo of"
    " yourself holding your own ID card.",
)


class FaceIndex:
    """usearch HNSW over the templates, keyed by FaceTemplate.id. Thread-safe (one lock: a search
    takes well under a millisecond, an enrolment adds one vector)."""

    def __init__(self) -> None:
        # f16 halves the memory of f32 with no loss at face distances (the bench measures recall).
        # expansion_add 64 (default 128) halves the build. expansion_search trades latency for recall:
        # at a million templates 64 / 256 / 1024 found 0.86 / 0.97 / 0.99 of the faces within the
        # distance (bench/face_registry_bench.py), so lookups search wide: a few ms beside a 0.5 s check.
        self.index = Index(
            ndim=DIMENSIONS,
            metric="l2sq",
            dtype="f16",
            connectivity=16,
            expansion_add=64,
            expansion_search=EXPANSION_SEARCH,
        )
        self.synced_to = 0  # highest FaceTemplate.id added
        self.lock = threading.Lock()

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        with self.lock:
            fresh = [i for i, k in enumerate(keys) if not self.index.contains(int(k))]
            if fresh:
                self.index.add(np.asarray(keys)[fresh], np.asarray(vectors, dtype=np.float32)[fresh])
            if len(keys):
                self.synced_to = max(self.synced_to, int(np.max(keys)))

    def search(self, vector: np.ndarray, k: int = CANDIDATES) -> list[int]:
        with self.lock:
            if len(self.index) == 0:
                return []
            found = self.index.search(np.asarray(vector, dtype=np.float32), min(k, len(self.index)))
            return [int(key) for key in found.keys]

    def sync(self, session: Session, batch: int = 50_000) -> None:
        """Add the templates enrolled since the last sync (by any worker), in id order."""
        while True:
            rows = session.exec(
                select(FaceTemplate.id, FaceTemplate.template)
                .where(FaceTemplate.id > self.synced_to)  # type: ignore[operator]
                .order_by(FaceTemplate.id)  # type: ignore[arg-type]
                .limit(batch)
            ).all()
            if not rows:
                return
            keys = np.array([r[0] for r in rows], dtype=np.uint64)
            self.add(keys, np.stack([as_vector(r[1]) for r in rows]))

    def forget(self, key: int) -> None:
        with self.lock:
            if self.index.contains(key):
                self.index.remove(key)


_INDEXES: dict[str, FaceIndex] = {}
_INDEXES_LOCK = threading.Lock()


def face_index(eng: Engine) -> FaceIndex:
    """One index per database per process, built lazily (the first lookup after a worker starts)."""
    with _INDEXES_LOCK:
        return _INDEXES.setdefault(str(eng.url), FaceIndex())


def warm_face_index() -> None:
    """Build the index from the table now (worker start, in a background thread), so that the first
    photo check does not pay for it. Lookups sync again anyway; this only moves the cost."""
    from models.db import engine

    eng = engine()
    with Session(eng) as session:
        face_index(eng).sync(session)


def as_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def as_vector(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f4")


def family(session: Session, member_id: str) -> str:
    """REG-9: a sub-account belongs to its main account's family; a main account is its own."""
    account = session.get(Account, member_id)
    return (account.main_member_id or account.member_id) if account is not None else member_id


def id_card_fingerprint(session: Session, member_id: str) -> str | None:
    """The registered ID card's fingerprint (sub-accounts use their main account's, REG-9)."""
    return session.exec(
        select(IdentityFingerprint.digest).where(
            IdentityFingerprint.member_id == family(session, member_id), IdentityFingerprint.kind == "id_card"
        )
    ).first()


def photo_phash(data: bytes, policy: AuthenticationPolicy) -> str | None:
    limits = ImageLimits(
        max_bytes=policy.max_photo_bytes,
        max_pixels=policy.max_image_pixels,
        max_decode_bytes=policy.max_decode_bytes,
        max_side=512,  # phash looks at 32 x 32
        max_jpeg_scans=policy.max_jpeg_scans,
    )
    decoded = decode_image(data, limits)
    return str(imagehash.phash(decoded.image)) if isinstance(decoded, DecodedImage) else None


def _slices(phash: str) -> list[int]:
    value = int(phash, 16)
    return [(value >> (16 * i)) & 0xFFFF for i in range(4)]


def photo_holder(
    session: Session, member_id: str, sha256: str, phash: str | None, max_bits: int
) -> str | None:
    """Another family's account that this photo (same bytes, or a near-duplicate) authenticated."""
    mine = family(session, member_id)
    clauses: list[Any] = [AuthenticationPhoto.sha256 == sha256]
    if phash is not None:
        s = _slices(phash)
        clauses += [
            AuthenticationPhoto.slice0 == s[0],
            AuthenticationPhoto.slice1 == s[1],
            AuthenticationPhoto.slice2 == s[2],
            AuthenticationPhoto.slice3 == s[3],
        ]
    for row in session.exec(select(AuthenticationPhoto).where(or_(*clauses))):
        same = row.sha256 == sha256 or (
            phash is not None and (int(row.phash, 16) ^ int(phash, 16)).bit_count() <= max_bits
        )
        if same and family(session, row.member_id) != mine:
            return row.member_id
    return None


def enroll(
    session: Session,
    member_id: str,
    template: np.ndarray,
    sha256: str,
    phash: str | None,
    at: datetime,
    *,
    again: bool = True,
) -> bool:
    """Store the account's face and photo; False if another account took this photo first (a race
    the unique index decides). Idempotent: a retry after success changes nothing."""
    holder = session.exec(select(AuthenticationPhoto).where(AuthenticationPhoto.sha256 == sha256)).first()
    if holder is not None and family(session, holder.member_id) != family(session, member_id):
        return False  # another account enrolled this photo since our check
    if session.exec(select(FaceTemplate).where(FaceTemplate.member_id == member_id)).first() is None:
        session.add(FaceTemplate(member_id=member_id, template=as_bytes(template), enrolled_at=at))
    if holder is None:
        s = _slices(phash) if phash is not None else [0, 0, 0, 0]
        session.add(
            AuthenticationPhoto(
                member_id=member_id,
                sha256=sha256,
                phash=phash or "0" * 16,
                slice0=s[0],
                slice1=s[1],
                slice2=s[2],
                slice3=s[3],
                enrolled_at=at,
            )
        )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        holder = session.exec(select(AuthenticationPhoto).where(AuthenticationPhoto.sha256 == sha256)).first()
        if holder is not None and family(session, holder.member_id) != family(session, member_id):
            return False
        if not again:
            raise
        # The race was with this account's own retry: the rows are there now, so this adds nothing.
        return enroll(session, member_id, template, sha256, phash, at, again=False)
    return True


def shared_faces(session: Session, member_id: str, template: np.ndarray, max_distance: float) -> list[str]:
    """Other families' accounts whose enrolled face is within `max_distance` of this one."""
    index = face_index(session.get_bind())  # type: ignore[arg-type]
    index.sync(session)
    keys = index.search(template)
    if not keys:
        return []
    mine = family(session, member_id)
    rows = session.exec(
        select(FaceTemplate).where(FaceTemplate.id.in_(keys), FaceTemplate.member_id != member_id)  # type: ignore[union-attr]
    ).all()
    found = []
    for row in rows:  # the exact re-check: the index is approximate and may hold deleted keys
        close = float(np.linalg.norm(as_vector(row.template) - template)) <= max_distance
        if close and family(session, row.member_id) != mine:
            found.append(row.member_id)
    return sorted(found)


def forget_member(session: Session, member_id: str) -> None:
    """Retention: the account's face and photo hashes go with its data."""
    template = session.exec(select(FaceTemplate).where(FaceTemplate.member_id == member_id)).first()
    if template is not None and template.id is not None:
        face_index(session.get_bind()).forget(template.id)  # type: ignore[arg-type]
    session.exec(delete(FaceTemplate).where(col(FaceTemplate.member_id) == member_id))  # type: ignore[call-overload]
    session.exec(delete(AuthenticationPhoto).where(col(AuthenticationPhoto.member_id) == member_id))  # type: ignore[call-overload]
    session.commit()


class Verdict(Protocol):
    """What the registry needs from the photo check (identity_photo.PhotoVerdict)."""

    result: PhotoCheckResult
    live_encoding: np.ndarray | None


def check_against_registry(
    inp: PhotoCheckInput,
    data: bytes,
    eng: Engine,
    verify: Callable[..., Verdict],
) -> PhotoCheckResult:
    """OPEN-1 with the registry: refuse a photo another account used, run the checks with the
    registered ID card, then enrol the face and link the accounts that share it (ASSOC-2)."""
    policy = inp.policy
    sha256 = inp.photo_ref.removeprefix("sha256:")  # the blob ref is the content's sha256
    phash = photo_phash(data, policy)
    with Session(eng) as session:
        if photo_holder(session, inp.member_id, sha256, phash, policy.photo_reuse_max_distance):
            return PhotoCheckResult(passed=False, refusal=PHOTO_REUSED)
        # OPEN-1 reads the card's number against the registered one: someone else's card is refused
        # (id_number_mismatch). Only the fingerprint goes in; the number read never comes out.
        registered = id_card_fingerprint(session, inp.member_id)
    verdict = verify(data, policy, id_fingerprint=registered)
    result = verdict.result
    if not result.passed or verdict.live_encoding is None:
        return result
    at = datetime.now(UTC)
    with Session(eng) as session:
        # Enrol first, then look: two accounts of one face authenticating at once both see the other.
        if not enroll(session, inp.member_id, verdict.live_encoding, sha256, phash, at):
            return PhotoCheckResult(passed=False, refusal=PHOTO_REUSED)
        linked = shared_faces(session, inp.member_id, verdict.live_encoding, policy.shared_face_max_distance)
        for other in linked:
            link_accounts(
                session, inp.member_id, other, rule="ASSOC-2", reason="shared_face", evidence="face", at=at
            )
    return PhotoCheckResult(passed=True, measures=result.measures, linked_member_ids=linked)
