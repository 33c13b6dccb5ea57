"""ASSOC-3 duplicate distribution: is this product the same as, or highly similar to, another store's?
Over 400 lines: the one ASSOC-3 decision (candidates, judgement, the locked re-check, the insert) in one place.

Text (activities/copy_detection/text_signature.py): the title and description normalised against copycats' disguises,
MinHash LSH bands for candidates, the exact Jaccard of the shingle sets against the policy threshold.
Image (activities/copy_detection/image_signature.py): SIFT visual words for candidates, a RANSAC-confirmed match of
local features for the decision (crops, flips, rotations, overlays, borders, backgrounds, colours);
the perceptual-hash distance is kept as evidence for operators and as a second image test.
Candidates come from the in-process index (activities/copy_detection/duplicate_index.py), kept in step with the
ProductSignature table; only the candidates' rows are read and compared, in stages (text, then where
each evidence places the picture, then pixels for the placed ones only: _staged_match).

A store's own listings never count against it; only other stores' listed products do.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import imagehash
import numpy as np
from PIL import Image
from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from temporalio import activity

from activities.copy_detection import image_signature as vis
from activities.copy_detection import key_index
from activities.copy_detection import region_signature as rsig
from activities.copy_detection import text_signature as txt
from activities.copy_detection.duplicate_index import Candidates, DuplicateIndex
from activities.identity_registry import link_accounts
from activities.images.safe_image import ImageLimits, ImageRefusal, decode_image
from activities.products.checks import MAX_DESCRIPTION, MAX_TITLE, price_cents
from activities.storage.blobs import BlobError, BlobMissing, BlobTooLarge, blobs
from activities.storage.db import engine
from activities.storage.decision_locks import ASSOC3_LISTING, hold
from models.activity_io import ListProductInput, ListProductResult, UnlistProductInput
from models.products import Product, ProductSignature
from models.refusals import Refusal

MAX_IMAGE_BYTES = 8_000_000
MAX_IMAGE_PIXELS = 40_000_000
# The signatures look at 384 px (image_signature.MAX_SIDE) and phash at 32: decoding no larger than
# 1024 px is plenty, and JPEGs decode straight to it by DCT scaling.
PRODUCT_IMAGE_LIMITS = ImageLimits(max_bytes=MAX_IMAGE_BYTES, max_pixels=MAX_IMAGE_PIXELS, max_side=1024)
_DECODE_CODES = {
    "empty_file": "image_empty",
    "file_too_large": "image_too_large",
    "unsupported_format": "image_unsupported",
    "animated_image": "image_unsupported",
    "image_malformed": "image_damaged",
}


# ---------------------------------------------------------------- the image, opened once


def _open_product_image(data: bytes) -> Image.Image | Refusal:
    """Every product image is opened here, and nowhere else: the decoded, upright RGB picture, or why it
    is not a usable product image. Any decoding error (EXIF included) is a refusal, never an exception."""
    if not data:
        return Refusal("OPEN-3", "image_empty", "The product image is empty.")
    if len(data) > MAX_IMAGE_BYTES:
        return Refusal(
            "OPEN-3", "image_too_large", f"The product image is larger than {MAX_IMAGE_BYTES // 10**6} MB."
        )
    decoded = decode_image(data, PRODUCT_IMAGE_LIMITS)  # bounded: activities/images/safe_image.py
    if isinstance(decoded, ImageRefusal):
        return Refusal("OPEN-3", _DECODE_CODES.get(decoded.code, decoded.code), decoded.message)
    rgb = decoded.image
    if min(decoded.original_size) < 100:
        return Refusal(
            "OPEN-3", "image_too_small", "The product image must be at least 100 pixels on each side."
        )
    return rgb


def image_phash(data: bytes) -> str | Refusal:
    """The image's 64-bit perceptual hash (hex), or why it is not a usable product image."""
    img = _open_product_image(data)
    return img if isinstance(img, Refusal) else str(imagehash.phash(img))


def hamming(a_hex: str, b_hex: str) -> int:
    return (int(a_hex, 16) ^ int(b_hex, 16)).bit_count()


# ---------------------------------------------------------------- a listing's signature


@dataclass
class ListingSignature:
    shingles: set[str]
    minhash: np.ndarray  # uint64[128]
    bands: np.ndarray  # uint32[25]
    phash: str
    image: vis.QuerySignature
    text: str  # normalised


def listing_signature(title: str, description: str, img: Image.Image) -> ListingSignature:
    text = txt.normalise(f"{title} {description}")[: MAX_TITLE + MAX_DESCRIPTION + 1]
    sh = txt.shingles(text, "")  # the stored text gives the same shingles: candidates compare alike
    mh = txt.minhash(sh)
    return ListingSignature(
        shingles=sh,
        minhash=mh,
        bands=txt.band_keys(mh),
        phash=str(imagehash.phash(img)),
        image=vis.query_signature(img),
        text=text,
    )


def signature_row(product_id: str, sig: ListingSignature) -> ProductSignature:
    stored = vis.stored_features(sig.image)
    regions = sig.image.regions if sig.image.regions is not None else rsig.regions(sig.image.colour)
    coarse = vis.stored_coarse(sig.image)
    # one key list: the visual words (20-bit), then the texture-free keys (from rsig.REGION_KEY_BASE up):
    # the regions' and the coarse features'
    keys = [vis.index_words(stored), rsig.index_keys(regions), vis.coarse_keys(coarse)]
    words = np.concatenate(keys).astype("<u4")
    return ProductSignature(
        product_id=product_id,
        text=sig.text,
        bands=sig.bands.astype("<u4").tobytes(),
        words=words.tobytes(),
        features=vis.pack_row(stored, regions, coarse),
        thumb=vis.thumbnail(sig.image.colour),
    )


# ---------------------------------------------------------------- the in-process index


CATCH_UP_WINDOW = 1000  # seqs are taken at insert but seen at commit, so a little out of order


class _IndexHolder:
    """One candidate index per process and database, caught up with the table before each lookup."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.index: DuplicateIndex | None = None
        self.engine_url: str | None = None
        self.recent: set[int] = set()  # seqs indexed within the last CATCH_UP_WINDOW

    def candidates(self, session: Session, sig: ListingSignature) -> Candidates:
        """Caught up with the table, then looked up, under one lock: activity threads share the index."""
        eng: Engine = session.get_bind()  # type: ignore[assignment]
        if key_index.in_database(eng):  # PostgreSQL: the index is the database's, nothing held here
            return key_index.candidates(session, sig.bands, sig.image.probes)
        url = str(eng.url)
        with self.lock:
            top = session.exec(select(func.max(ProductSignature.seq))).one() or 0
            if self.index is None or self.engine_url != url or top < self.index.last_seq:
                self.index, self.engine_url = DuplicateIndex(), url  # first use, or the table was emptied
                self.recent = set()
            index = self.index
            # A seq is taken at insert and seen at commit, so listings can appear a little out of order:
            # the trailing window is re-checked (seq numbers only) for any that came in late.
            columns = select(ProductSignature.seq, ProductSignature.bands, ProductSignature.words)
            if not len(index):  # first use: the whole table
                rows = session.exec(columns.order_by(ProductSignature.seq)).all()  # type: ignore[arg-type]
            else:
                floor = index.last_seq - CATCH_UP_WINDOW
                window = session.exec(
                    select(ProductSignature.seq).where(ProductSignature.seq > floor)  # type: ignore[operator]
                ).all()
                missing = [s for s in window if s is not None and s not in self.recent]
                rows = (
                    session.exec(columns.where(ProductSignature.seq.in_(missing))).all()  # type: ignore[union-attr]
                    if missing
                    else []
                )
            if rows:
                seqs = np.array([r[0] for r in rows], np.int64)
                bands = np.stack([np.frombuffer(r[1], "<u4") for r in rows])
                words = [np.frombuffer(r[2], "<u4").astype(np.uint32) for r in rows]
                if len(rows) > 1000:
                    index.add_many(seqs, bands, words)
                else:
                    for seq, b, w in zip(seqs.tolist(), bands, words, strict=True):
                        index.add(seq, b, w)
                self.recent |= set(seqs.tolist())
                self.recent = {s for s in self.recent if s > index.last_seq - CATCH_UP_WINDOW}
            return index.candidates(sig.bands, sig.image.probes)


_HOLDER = _IndexHolder()


# ---------------------------------------------------------------- lookup


@dataclass
class Match:
    product_id: str
    member_id: str
    text_similarity: float
    image_distance: int
    image_inliers: int = 0
    # what decided, for operators: "text", "local_features", "regions", "coarse_features" or "perceptual_hash"
    evidence: str = "text"


def find_duplicate(
    session: Session,
    member_id: str,
    sig: ListingSignature,
    *,
    text_threshold: float,
    image_max_distance: int,
    index: DuplicateIndex | None = None,
) -> Match | None:
    """The most similar listed product of another store that is a copy, found through the index:
    exact text Jaccard at or above the threshold, or an image confirmed by local features (or within the
    perceptual-hash distance)."""
    found = (
        _HOLDER.candidates(session, sig) if index is None else index.candidates(sig.bands, sig.image.probes)
    )
    return judge_candidates(session, member_id, sig, found, text_threshold, image_max_distance)


def find_duplicate_since(
    session: Session,
    member_id: str,
    sig: ListingSignature,
    watermark: int,
    *,
    text_threshold: float,
    image_max_distance: int,
) -> Match | None:
    """The same decision against only the listings committed after `watermark` (those the first search
    could not see), under the ASSOC-3 decision lock: a handful of rows, indexed on the spot."""
    rows = session.exec(
        select(ProductSignature.seq, ProductSignature.bands, ProductSignature.words).where(
            ProductSignature.seq > watermark  # type: ignore[operator]
        )
    ).all()
    if not rows:
        return None
    recent = DuplicateIndex()
    recent.add_many(
        np.array([r[0] for r in rows], np.int64),
        np.stack([np.frombuffer(r[1], "<u4") for r in rows]),
        [np.frombuffer(r[2], "<u4").astype(np.uint32) for r in rows],
    )
    found = recent.candidates(sig.bands, sig.image.probes)
    return judge_candidates(session, member_id, sig, found, text_threshold, image_max_distance)


def judge_candidates(
    session: Session,
    member_id: str,
    sig: ListingSignature,
    found: Candidates,
    text_threshold: float,
    image_max_distance: int,
) -> Match | None:
    """Read the candidates that are other stores' listed products, and decide on them."""
    seqs = list(dict.fromkeys(found.image + found.regions + found.text))  # image candidates by their votes
    if not seqs:
        return None
    rows = session.execute(  # seven columns: beyond sqlmodel's typed select
        sa_select(  # type: ignore[call-overload]
            ProductSignature.seq,
            ProductSignature.text,
            ProductSignature.features,
            ProductSignature.thumb,
            Product.product_id,
            Product.member_id,
            Product.phash,
        )
        .join(Product, Product.product_id == ProductSignature.product_id)  # type: ignore[arg-type]
        .where(
            ProductSignature.seq.in_(seqs),  # type: ignore[union-attr]
            Product.member_id != member_id,
            Product.listed,
        )
    ).all()
    rank = {s: i for i, s in enumerate(seqs)}
    return best_match(
        sig,
        sorted((tuple(r) for r in rows), key=lambda r: rank[r[0]]),
        set(found.image) | set(found.regions),
        text_threshold,
        image_max_distance,
    )


def best_match(
    sig: ListingSignature,
    rows: list[tuple[int, str, bytes, bytes, str, str, str]],
    image_seqs: set[int],
    text_threshold: float,
    image_max_distance: int,
    *,
    with_regions: bool = True,
    staged: bool = True,
    with_coarse: bool = True,
) -> Match | None:
    """The decision on the candidates' rows (seq, text, features, thumb, product_id, member_id, phash;
    image candidates best voted first): exact text Jaccard, and for the image candidates local features
    confirmed, else the colour regions confirmed (rows stored before regions have none: local features
    and pHash decide for them as before); the perceptual-hash distance decides only for pictures too
    plain for both. The match names the evidence that decided. `with_regions=False` is the detector
    before region evidence; `staged=False` judges every candidate with every test and aligns the regions
    at full resolution only, the decision as it was before it was staged (the bench measures both in
    the same run); `with_coarse=False`, the detector before coarse features (coarse_features.py)."""
    if staged:
        return _staged_match(sig, rows, image_seqs, text_threshold, image_max_distance, with_regions, with_coarse)
    best: Match | None = None
    for seq, text, features, thumb, product_id, owner, phash in rows:
        sim = txt.exact_jaccard(sig.shingles, txt.shingles(text, ""))
        dist = hamming(sig.phash, phash)
        inliers, image_copy, evidence = 0, False, "text"
        if seq in image_seqs and sim < text_threshold:
            stored = vis.unpack(features)
            regions = vis.unpack_regions(features) if with_regions else None
            coarse = vis.unpack_coarse(features) if with_coarse else None
            c = vis.judged(
                vis.placed(stored, sig.image, regions, coarse), stored, vis.unthumbnail(thumb), sig.image, False
            )
            inliers, image_copy, evidence = c.inliers, c.is_copy, c.evidence
            plain = min(len(stored.points), len(sig.image.upright.points)) < vis.FEW_FEATURES
            q_regions = sig.image.regions
            # regions speak for a plain picture when both pictures have enough of them
            mute = regions is None or q_regions is None or min(len(regions), len(q_regions)) < 3
            if not image_copy and plain and mute and dist <= image_max_distance and not sig.image.on_plain_ground:
                # too plain a picture for local features or regions to decide: a near-identical pHash does
                image_copy, evidence = True, "perceptual_hash"
        if sim >= text_threshold or image_copy:
            m = Match(product_id, owner, sim, dist, inliers, evidence)
            # the strongest evidence wins: the text decision, then the most features confirmed
            if best is None or (m.text_similarity >= text_threshold, m.image_inliers, m.text_similarity) > (
                best.text_similarity >= text_threshold,
                best.image_inliers,
                best.text_similarity,
            ):
                best = m
    return best


def _staged_match(
    sig: ListingSignature,
    rows: list[tuple[int, str, bytes, bytes, str, str, str]],
    image_seqs: set[int],
    text_threshold: float,
    image_max_distance: int,
    with_regions: bool,
    with_coarse: bool = True,
) -> Match | None:
    """best_match in stages, cheapest first, so a listing that copies nothing (most listings) costs
    little per candidate: the text of every candidate (a text match wins over any image evidence, so the
    pictures need not be compared at all); then every image candidate placed without its thumbnail
    (features matched, the regions' similarity); only those some evidence places are compared pixel by
    pixel, the most geometric inliers first, and the first confirmed copy decides (the one the most
    features confirm when local features decide, as before)."""
    best_text: Match | None = None
    sims: dict[int, float] = {}
    for seq, text, _f, _t, product_id, owner, phash in rows:
        sim = sims[seq] = txt.exact_jaccard(sig.shingles, txt.shingles(text, ""))
        if sim >= text_threshold and (best_text is None or sim > best_text.text_similarity):
            best_text = Match(product_id, owner, sim, hamming(sig.phash, phash), 0, "text")
    if best_text is not None:
        return best_text
    placed: list[tuple[vis.Placement, vis.Features, bytes, Match, bool]] = []
    q_regions = sig.image.regions
    for seq, _text, features, thumb, product_id, owner, phash in rows:
        if seq not in image_seqs:
            continue
        stored = vis.unpack(features)
        regions = vis.unpack_regions(features) if with_regions else None
        coarse = vis.unpack_coarse(features) if with_coarse else None
        p = vis.placed(stored, sig.image, regions, coarse)
        dist = hamming(sig.phash, phash)
        plain = min(len(stored.points), len(sig.image.upright.points)) < vis.FEW_FEATURES
        mute = regions is None or q_regions is None or min(len(regions), len(q_regions)) < 3
        # the pHash's 32x32 DCT is the picture's layout; of a product on a plain ground, that is the template's,
        # which look-alikes share (held-out bench: two lettering posters at distance 4), so it cannot decide there
        by_phash = plain and mute and dist <= image_max_distance and not sig.image.on_plain_ground
        if p.placed or by_phash:
            placed.append((p, stored, thumb, Match(product_id, owner, sims[seq], dist, p.inliers), by_phash))
    placed.sort(key=lambda x: -x[0].inliers)  # stable: ties keep the candidates' order
    for p, stored, thumb, m, by_phash in placed:
        c = vis.judged(p, stored, vis.unthumbnail(thumb), sig.image) if p.placed else None
        if c is not None and c.is_copy:
            m.image_inliers, m.evidence = c.inliers, c.evidence
            return m
        if by_phash:  # too plain a picture for local features or regions to decide: a near-identical pHash does
            m.evidence = "perceptual_hash"
            return m
    return None


def insert_product(session: Session, product: Product, sig: ListingSignature) -> None:
    session.add(product)
    row = signature_row(product.product_id, sig)
    session.add(row)
    eng: Engine = session.get_bind()  # type: ignore[assignment]
    if key_index.in_database(eng):
        session.flush()  # the row's seq, for its postings in the same transaction
        assert row.seq is not None
        key_index.add(session, row.seq, sig.bands, np.frombuffer(row.words, "<u4"))


@activity.defn
def list_product(inp: ListProductInput) -> ListProductResult:
    """Check the image, look for another store's duplicate, and list the product. Idempotent: a retry
    of an accepted listing finds its own row and answers the same."""
    with Session(engine()) as session:
        if session.get(Product, inp.product_id) is not None:
            return ListProductResult(accepted=True)
        try:
            data = blobs().read(inp.product.image_ref, max_bytes=MAX_IMAGE_BYTES)
        except BlobMissing:
            return ListProductResult(
                accepted=False, refusal=Refusal("OPEN-3", "image_missing", "Upload the image first.")
            )
        except BlobTooLarge:
            return ListProductResult(
                accepted=False,
                refusal=Refusal(
                    "OPEN-3",
                    "image_too_large",
                    f"The product image is larger than {MAX_IMAGE_BYTES // 10**6} MB.",
                ),
            )
        except BlobError:
            return ListProductResult(
                accepted=False,
                refusal=Refusal(
                    "OPEN-3",
                    "image_damaged",
                    "The uploaded image is not the one its reference names: upload it again.",
                ),
            )
        img = _open_product_image(data)
        if isinstance(img, Refusal):
            return ListProductResult(accepted=False, refusal=img)
        sig = listing_signature(inp.product.title, inp.product.description, img)
        # Every listing committed up to here is seen by the search below; those committed during it are
        # judged again under the decision lock, which every listing's insert holds (decision_locks).
        watermark = session.exec(select(func.max(ProductSignature.seq))).one() or 0
        match = find_duplicate(
            session,
            inp.member_id,
            sig,
            text_threshold=inp.text_threshold,
            image_max_distance=inp.image_max_distance,
        )
        if match is None:
            session.rollback()  # the locked transaction starts afresh and sees every commit
            hold(session, ASSOC3_LISTING)
            if session.get(Product, inp.product_id) is not None:
                return ListProductResult(accepted=True)  # a concurrent retry of this very listing won
            match = find_duplicate_since(
                session,
                inp.member_id,
                sig,
                watermark,
                text_threshold=inp.text_threshold,
                image_max_distance=inp.image_max_distance,
            )
        if match is not None:
            # which evidence decided goes with the link and the answer: operators are shown it
            evidence = f"{inp.product_id}~{match.product_id} by {match.evidence}"
            link_accounts(
                session,
                inp.member_id,
                match.member_id,
                rule="ASSOC-3",
                reason="duplicate_product",
                evidence=evidence,
                at=inp.at,
            )
            return ListProductResult(
                accepted=False,
                refusal=Refusal(
                    "ASSOC-3",
                    "duplicate_product",
                    "This product is the same as or highly similar to another store's listing.",
                ),
                duplicate_of_member_id=match.member_id,
                duplicate_of_product_id=match.product_id,
                text_similarity=match.text_similarity,
                image_distance=match.image_distance,
                evidence=match.evidence,
            )
        try:
            insert_product(
                session,
                Product(
                    product_id=inp.product_id,
                    member_id=inp.member_id,
                    title=inp.product.title.strip(),
                    category=inp.product.category,
                    price_cents=price_cents(inp.product.price) or 0,
                    image_ref=inp.product.image_ref,
                    minhash=sig.minhash.tobytes(),
                    phash=sig.phash,
                    created_at=inp.at,
                ),
                sig,
            )
            session.commit()
        except IntegrityError:
            session.rollback()  # a concurrent retry of this very listing won
        return ListProductResult(accepted=True)


@activity.defn
def unlist_product(inp: UnlistProductInput) -> bool:
    """Take a product down (it no longer counts as another store's original). Idempotent."""
    with Session(engine()) as session:
        product = session.get(Product, inp.product_id)
        if product is None or product.member_id != inp.member_id:
            return False
        if product.listed:
            product.listed = False
            session.add(product)
            session.commit()
        return True
