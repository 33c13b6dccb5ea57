"""Over 400 lines: one engine (the ANN index, its catch-up from the table, the exact re-check) kept in step in one place.

Known faces and known photos: one face, one main account (ASSOC-2 shared_face); one photo, one
account (OPEN-1 photo_reused).

The registry (models/known_faces.py) is the source of truth: one 128-d template per authenticated
account and the hashes of the photo that authenticated it. Lookups go through an in-process ANN
index (usearch HNSW, f16) built from the table on first use and kept in step on every enrolment and
before every lookup (rows another worker enrolled are added by id order). The index only proposes
candidates; each is re-checked exactly against its stored template and the policy distance, so a
deleted account (retention) or an approximate neighbour never links anyone.

With PostgreSQL and pgvector the index is the database's instead (activities/known_faces/vectors.py):
`shared_faces` asks it for the candidates and nothing is built or held here; the exact re-check is the
same. Enrolment runs under the known-faces decision lock (activities/storage/decision_locks.py).

Templates never leave this module: the activity result carries member ids only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

import imagehash
import numpy as np

# onnxruntime (the card reader's OCR) before usearch: loaded after usearch's native library, onnxruntime's
# own crashes the process on import (a segmentation fault, in any thread), and the card reader imports it
# late, in the middle of a photo check. Loaded first, both work in either order of use.
import onnxruntime  # noqa: F401
from sqlalchemy import delete, or_
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from usearch.index import Index

from activities.identity_registry import link_accounts
from activities.images.safe_image import DecodedImage, ImageLimits, decode_image
from activities.known_faces import vectors as face_vectors
from activities.storage.decision_locks import KNOWN_FACES, hold
from models.activity_io import PhotoCheckInput, PhotoCheckResult
from models.known_faces import AuthenticationPhoto, FaceTemplate
from models.policy import AuthenticationPolicy
from models.refusals import Refusal
from models.review import OPEN1_REFUSALS
from models.tables import Account, IdentityFingerprint

DIMENSIONS = 128
# The HNSW graph: connectivity 32 (usearch's default is 16), expansion_add 128. Face templates spread
# over all 128 dimensions, with nothing low-rank for the graph to lean on, and at connectivity 16
# (expansion_add 64) some templates were left hard to reach from their neighbours: recall stalled at
# 0.994 at 100,000 templates whatever the search width, and a million needed expansion_search 1024
# (57 ms p99) for 0.989. With twice the links, a million templates take 760 MB instead of 504 and
# expansion_search 64 / 128 / 256 find 0.993 / 0.998 / 0.999 of the faces within the distance at
# 0.9 / 1.4 / 2.3 ms CPU p99 (bench/face_registry_bench.py): 128 keeps a margin over 0.99.
CONNECTIVITY = 32
EXPANSION_ADD = 128
EXPANSION_SEARCH = 128
CANDIDATES = 32  # nearest templates the index proposes; more than 32 accounts sharing one face is moot
# The relative rounding error of float16 (10-bit mantissa): the index's distances are within
# F16_EPSILON * (|probe| + |template|) of the exact ones (plus float16's subnormal floor).
F16_EPSILON = 2.0**-11
GAP_WINDOW = 1024  # ids below the newest read that may still be in an open enrolment transaction
GAP_WAIT = 120.0  # seconds an id missing below the newest read is asked for again
PHOTO_REUSED = Refusal("OPEN-1", "photo_reused", *OPEN1_REFUSALS["photo_reused"])


def new_usearch_index() -> Index:
    # f16 halves the memory of f32; the index only proposes, and the bound on its rounding
    # (recheck_radius) decides which proposals are worth an exact re-check.
    return Index(
        ndim=DIMENSIONS,
        metric="l2sq",
        dtype="f16",
        connectivity=CONNECTIVITY,
        expansion_add=EXPANSION_ADD,
        expansion_search=EXPANSION_SEARCH,
    )


def recheck_radius(probe: np.ndarray, max_distance: float) -> float:
    """The index distance beyond which no template can be within `max_distance` exactly.

    Rounding to float16 moves the probe by at most F16_EPSILON * |probe| and a template within the
    distance by at most F16_EPSILON * (|probe| + max_distance); twice that bound (and the float16
    subnormal floor) leaves room for the kernel's float32 arithmetic. It is ~0.003 at face scale,
    against ~0.3 between one person and the next, so almost no stranger is re-checked."""
    norm = float(np.linalg.norm(probe))
    return max_distance + 2 * F16_EPSILON * (2 * norm + max_distance) + 1e-5


class FaceIndex:
    """usearch HNSW over the templates, keyed by FaceTemplate.id.

    `lock` guards every call into usearch (an Index is not safe across threads, usearch issue 441);
    a search holds it for a fraction of a millisecond. `sync_lock` lets one thread at a time read
    new rows, so no row is added twice, and is held across the database read without stopping
    searches. A lookup syncs first, so lookups wait for the first build (worker start): an index
    that has not seen every row could miss a face.

    Rows come in id order, but ids are drawn before commit: on PostgreSQL an enrolment can commit
    after a later id was already read. Ids missing from just below the newest one read are kept
    (`gaps`) and asked for again by every sync for GAP_WAIT seconds, longer than an enrolment
    transaction lasts; after that they are ids that never committed (a rolled-back insert, a
    retried enrolment) or rows deleted since."""

    def __init__(self) -> None:
        self.index = new_usearch_index()
        self.synced_to = 0  # highest FaceTemplate.id read
        self.gaps: dict[int, float] = {}  # ids below synced_to not read yet -> when first missed
        self.lock = threading.Lock()
        self.sync_lock = threading.Lock()

    def add(self, keys: np.ndarray, vectors: np.ndarray, threads: int = 1) -> None:
        keys = np.asarray(keys, dtype=np.uint64)
        if not len(keys):
            return
        vectors = np.asarray(vectors, dtype=np.float32)
        with self.lock:
            fresh = ~np.asarray(self.index.contains(keys), dtype=bool)
            if fresh.any():
                self.index.add(keys[fresh], vectors[fresh], threads=threads)

    def search(self, vector: np.ndarray, k: int = CANDIDATES) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest keys and their index (float16, squared) distances."""
        with self.lock:
            if len(self.index) == 0:
                return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.float32)
            found = self.index.search(
                np.asarray(vector, dtype=np.float32), min(k, len(self.index)), threads=1
            )
        return found.keys, found.distances

    def candidates(self, probe: np.ndarray, max_distance: float) -> list[int]:
        """Keys of the templates that may be within `max_distance`: the index's proposals that its
        rounding cannot rule out. Each still needs the exact re-check."""
        keys, distances = self.search(probe)
        limit = recheck_radius(probe, max_distance) ** 2
        return [int(key) for key, d in zip(keys, distances, strict=True) if d <= limit]

    def sync(self, session: Session, batch: int = 50_000) -> None:
        """Add the templates enrolled since the last sync (by any worker)."""
        with self.sync_lock:
            while True:
                now = time.monotonic()
                self.gaps = {key: t for key, t in self.gaps.items() if now - t < GAP_WAIT}
                wanted = col(FaceTemplate.id) > self.synced_to
                if self.gaps:
                    wanted = or_(wanted, col(FaceTemplate.id).in_(list(self.gaps)))
                rows = session.exec(
                    select(FaceTemplate.id, FaceTemplate.template)
                    .where(wanted)
                    .order_by(FaceTemplate.id)  # type: ignore[arg-type]
                    .limit(batch)
                ).all()
                if not rows:
                    return
                keys = np.array([r[0] for r in rows], dtype=np.uint64)
                # The first build goes on every core; later rows are a few at a time.
                self.add(keys, np.stack([as_vector(r[1]) for r in rows]), threads=0 if len(rows) > 64 else 1)
                newest = int(keys[-1])
                read = {int(k) for k in keys}
                for key in read:
                    self.gaps.pop(key, None)
                for key in range(max(self.synced_to, newest - GAP_WINDOW) + 1, newest):
                    if key not in read:
                        self.gaps.setdefault(key, now)
                self.synced_to = max(self.synced_to, newest)
                if len(rows) < batch:
                    return

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
    from activities.storage.db import engine

    eng = engine()
    if face_vectors.in_database(eng):
        return  # the index is the database's: nothing to build
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
        row = FaceTemplate(member_id=member_id, template=as_bytes(template), enrolled_at=at)
        session.add(row)
        if face_vectors.in_database(session.get_bind()):  # type: ignore[arg-type]
            session.flush()  # the row's id, for its vector in the same transaction
            assert row.id is not None
            face_vectors.add(session, row.id, template)
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
    eng: Engine = session.get_bind()  # type: ignore[assignment]
    probe = np.asarray(template, dtype=np.float32)
    if face_vectors.in_database(eng):  # PostgreSQL: the HNSW index is the database's
        keys = face_vectors.candidates(session, probe, max_distance)
    else:
        index = face_index(eng)
        index.sync(session)
        keys = index.candidates(probe, max_distance)
    if not keys:
        return []
    rows = session.exec(
        select(FaceTemplate.member_id, FaceTemplate.template).where(
            col(FaceTemplate.id).in_(keys), FaceTemplate.member_id != member_id
        )
    ).all()
    # The exact re-check, against the stored templates: the index is approximate and may still
    # hold the key of an account that retention has since deleted.
    close = [other for other, blob in rows if float(np.linalg.norm(as_vector(blob) - probe)) <= max_distance]
    if not close:
        return []
    mine = family(session, member_id)
    return sorted(other for other in close if family(session, other) != mine)


def forget_template(session: Session, member_id: str) -> int:
    """DATA-1 withdrawal: the account's face template (and its index entry) goes; templates deleted.
    The caller commits."""
    template = session.exec(select(FaceTemplate).where(FaceTemplate.member_id == member_id)).first()
    if template is None:
        return 0
    if template.id is not None:
        face_index(session.get_bind()).forget(template.id)  # type: ignore[arg-type]
    session.exec(delete(FaceTemplate).where(col(FaceTemplate.member_id) == member_id))  # type: ignore[call-overload]
    return 1


def forget_member(session: Session, member_id: str) -> None:
    """Retention: the account's face and photo hashes go with its data."""
    forget_template(session, member_id)
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
        # Under the decision lock (every enrolment takes it, on any worker): a near-duplicate of this
        # photo that another account enrolled while this one was being checked is seen here, so two
        # re-encodings of one photo cannot both pass. The unique index alone only stops equal bytes.
        hold(session, KNOWN_FACES)
        if photo_holder(session, inp.member_id, sha256, phash, policy.photo_reuse_max_distance):
            session.rollback()
            return PhotoCheckResult(passed=False, refusal=PHOTO_REUSED)
        # Enrol first (its commit ends the lock), then look: of two accounts of one face
        # authenticating at once, the one enrolled second sees the first, and the link binds both.
        if not enroll(session, inp.member_id, verdict.live_encoding, sha256, phash, at):
            return PhotoCheckResult(passed=False, refusal=PHOTO_REUSED)
        linked = shared_faces(session, inp.member_id, verdict.live_encoding, policy.shared_face_max_distance)
        for other in linked:
            link_accounts(
                session, inp.member_id, other, rule="ASSOC-2", reason="shared_face", evidence="face", at=at
            )
    return PhotoCheckResult(passed=True, measures=result.measures, linked_member_ids=linked)
