"""ASSOC-3 duplicate distribution: is this product the same as, or highly similar to, another store's?

Text: MinHash (datasketch) over word 1- and 2-grams of the normalised title and description, with
LSH banding (25 bands x 5 rows: a pair at 0.7 Jaccard shares a band with probability 0.99, at 0.6
with 0.87, at 0.2 with 0.008), then
the estimated Jaccard against the policy threshold. Image: the 64-bit perceptual hash (imagehash),
cut into 4 slices of 16 bits and probed with every 1-bit variant of each slice (multi-index
hashing): two hashes within 7 bits are within 1 bit on some slice, so the probes find every
candidate within the policy distance (at most 7), and few others.

A store's own listings never count against it; only other stores' listed products do.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache

import imagehash
import numpy as np
from datasketch import MinHash
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from temporalio import activity

from activities.blobs import path_for
from activities.identity_registry import link_accounts
from activities.safe_image import ImageLimits, ImageRefusal, decode_image
from models.contract import ListProductInput, ListProductResult, ProductInput, UnlistProductInput
from models.db import engine
from models.products import Product, ProductBand
from models.refusals import Refusal

NUM_PERM = 128
BANDS, ROWS = 25, 5  # 125 of the 128 values; S-curve midpoint ~0.53
IMAGE_SLICES = 4
CATEGORIES = (
    "apparel", "beauty", "electronics", "home", "garden", "toys", "sports", "tools", "jewellery", "food",
    "books", "automotive", "pets", "office", "health",
)  # fmt: skip
MAX_TITLE, MAX_DESCRIPTION = 200, 5000
MAX_PRICE = Decimal("1000000")
MAX_IMAGE_BYTES = 8_000_000
MAX_IMAGE_PIXELS = 40_000_000
# phash looks at a 32 x 32 greyscale copy: 512 px is plenty, and JPEGs decode straight to it.
PRODUCT_IMAGE_LIMITS = ImageLimits(max_bytes=MAX_IMAGE_BYTES, max_pixels=MAX_IMAGE_PIXELS, max_side=512)
_DECODE_CODES = {
    "empty_file": "image_empty",
    "file_too_large": "image_too_large",
    "unsupported_format": "image_unsupported",
    "animated_image": "image_unsupported",
    "image_malformed": "image_damaged",
}
_WORD = re.compile(r"[^\W_]+")


# ---------------------------------------------------------------- input (pure: used by the validator)


def product_refusal(p: ProductInput) -> Refusal | None:
    def bad(code: str, message: str) -> Refusal:
        return Refusal("OPEN-3", code, message)

    for name, value in (("title", p.title), ("description", p.description), ("category", p.category)):
        if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co") and c not in "\n\t" for c in value):
            return bad("control_characters", f"The {name} contains control characters.")
    if not p.title.strip():
        return bad("empty_title", "A product needs a title.")
    if len(p.title) > MAX_TITLE:
        return bad("title_too_long", f"The title is longer than {MAX_TITLE} characters.")
    if len(p.description) > MAX_DESCRIPTION:
        return bad("description_too_long", f"The description is longer than {MAX_DESCRIPTION} characters.")
    if p.category not in CATEGORIES:
        return bad("bad_category", f"The category must be one of: {', '.join(CATEGORIES)}.")
    cents = price_cents(p.price)
    if cents is None:
        return bad(
            "bad_price", f"The price must be a positive amount up to {MAX_PRICE} with at most 2 decimals."
        )
    if not re.fullmatch(r"sha256:[0-9a-f]{64}", p.image_ref):
        return bad("bad_image_ref", "Upload the product image first and send its sha256 reference.")
    return None


def price_cents(price: str) -> int | None:
    try:
        value = Decimal(price.strip())
    except (InvalidOperation, AttributeError):
        return None
    if not value.is_finite() or value <= 0 or value > MAX_PRICE or value.as_tuple().exponent < -2:  # type: ignore[operator]
        return None
    return int(value * 100)


# ---------------------------------------------------------------- fingerprints


def shingles(title: str, description: str) -> set[str]:
    words = _WORD.findall(unicodedata.normalize("NFKC", f"{title} {description}").casefold())
    return set(words) | {f"{a} {b}" for a, b in zip(words, words[1:], strict=False)}


@cache
def _permutations() -> MinHash:
    return MinHash(num_perm=NUM_PERM)  # seed 1: every process draws the same permutations


def text_minhash(title: str, description: str) -> MinHash:
    # Reusing the permutations halves the cost of a signature (they are drawn per MinHash otherwise).
    base = _permutations()
    m = MinHash(num_perm=NUM_PERM, permutations=base.permutations, scheme=base.scheme)
    m.update_batch([s.encode() for s in shingles(title, description)])
    return m


def text_bands(hashvalues: np.ndarray) -> list[str]:
    keys = []
    for b in range(BANDS):
        chunk = hashvalues[b * ROWS : (b + 1) * ROWS].astype("<u8").tobytes()
        keys.append(f"t{b}:{hashlib.blake2b(chunk, digest_size=8).hexdigest()}")
    return keys


def image_bands(phash_hex: str) -> list[str]:
    """The keys a product is stored under: its hash cut into 4 slices of 16 bits."""
    return [f"i{k}:{phash_hex[4 * k : 4 * k + 4]}" for k in range(IMAGE_SLICES)]


def image_probes(phash_hex: str) -> list[str]:
    """The keys to look up: each slice as it is and with any one of its 16 bits flipped. Two hashes
    within 7 bits differ in at most 1 bit in some slice (4 slices x 2 bits > 7), so every product
    within the policy distance (6) shares at least one key with the query."""
    keys = []
    for k in range(IMAGE_SLICES):
        value = int(phash_hex[4 * k : 4 * k + 4], 16)
        keys += [f"i{k}:{v:04x}" for v in (value, *(value ^ (1 << b) for b in range(16)))]
    return keys


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.count_nonzero(a == b)) / len(a)


def hamming(a_hex: str, b_hex: str) -> int:
    return (int(a_hex, 16) ^ int(b_hex, 16)).bit_count()


def image_phash(data: bytes) -> str | Refusal:
    """The image's perceptual hash, or why it is not a usable product image."""
    if not data:
        return Refusal("OPEN-3", "image_empty", "The product image is empty.")
    if len(data) > MAX_IMAGE_BYTES:
        return Refusal(
            "OPEN-3", "image_too_large", f"The product image is larger than {MAX_IMAGE_BYTES // 10**6} MB."
        )
    decoded = decode_image(data, PRODUCT_IMAGE_LIMITS)
    if isinstance(decoded, ImageRefusal):
        return Refusal("OPEN-3", _DECODE_CODES.get(decoded.code, decoded.code), decoded.message)
    img = decoded.image
    if min(decoded.original_size) < 100:
        return Refusal(
            "OPEN-3", "image_too_small", "The product image must be at least 100 pixels on each side."
        )
    return str(imagehash.phash(img.convert("RGB")))


# ---------------------------------------------------------------- lookup


@dataclass
class Match:
    product_id: str
    member_id: str
    text_similarity: float
    image_distance: int


def find_duplicate(
    session: Session,
    member_id: str,
    minhash: np.ndarray,
    phash: str,
    *,
    text_threshold: float,
    image_max_distance: int,
) -> Match | None:
    """The most similar listed product of another store within the thresholds, found through the index."""
    if image_max_distance > 7:
        raise ValueError("the image index finds distances up to 7 bits; image_hash_max_distance is larger")
    keys = text_bands(minhash) + image_probes(phash)
    ids = session.exec(
        select(ProductBand.product_id).where(ProductBand.band_key.in_(keys))  # type: ignore[attr-defined]
    ).all()
    # Only the columns the comparison needs: ORM objects for hundreds of candidates cost more than the query.
    candidates = (
        session.exec(
            select(Product.product_id, Product.member_id, Product.minhash, Product.phash).where(
                Product.product_id.in_(set(ids)),  # type: ignore[attr-defined]
                Product.member_id != member_id,
                Product.listed,
            )
        ).all()
        if ids
        else []
    )
    best: Match | None = None
    for c in candidates:
        sim = jaccard(minhash, np.frombuffer(c.minhash, dtype="<u8"))
        dist = hamming(phash, c.phash)
        if sim >= text_threshold or dist <= image_max_distance:
            m = Match(c.product_id, c.member_id, sim, dist)
            if best is None or (m.text_similarity - m.image_distance / 64) > (
                best.text_similarity - best.image_distance / 64
            ):
                best = m
    return best


def insert_product(session: Session, product: Product) -> None:
    session.add(product)
    keys = text_bands(np.frombuffer(product.minhash, dtype="<u8")) + image_bands(product.phash)
    for key in dict.fromkeys(keys):
        session.add(ProductBand(band_key=key, product_id=product.product_id))


@activity.defn
def list_product(inp: ListProductInput) -> ListProductResult:
    """Check the image, look for another store's duplicate, and list the product. Idempotent: a retry
    of an accepted listing finds its own row and answers the same."""
    with Session(engine()) as session:
        if session.get(Product, inp.product_id) is not None:
            return ListProductResult(accepted=True)
        path = path_for(inp.product.image_ref)
        if not path.exists():
            return ListProductResult(
                accepted=False, refusal=Refusal("OPEN-3", "image_missing", "Upload the image first.")
            )
        if path.stat().st_size > MAX_IMAGE_BYTES:
            return ListProductResult(
                accepted=False,
                refusal=Refusal(
                    "OPEN-3",
                    "image_too_large",
                    f"The product image is larger than {MAX_IMAGE_BYTES // 10**6} MB.",
                ),
            )
        phash = image_phash(path.read_bytes())
        if isinstance(phash, Refusal):
            return ListProductResult(accepted=False, refusal=phash)
        minhash = text_minhash(inp.product.title, inp.product.description).hashvalues.astype("<u8")
        match = find_duplicate(
            session,
            inp.member_id,
            minhash,
            phash,
            text_threshold=inp.text_threshold,
            image_max_distance=inp.image_max_distance,
        )
        if match is not None:
            evidence = f"{inp.product_id}~{match.product_id}"
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
            )
        insert_product(
            session,
            Product(
                product_id=inp.product_id,
                member_id=inp.member_id,
                title=inp.product.title.strip(),
                category=inp.product.category,
                price_cents=price_cents(inp.product.price) or 0,
                image_ref=inp.product.image_ref,
                minhash=minhash.tobytes(),
                phash=phash,
                created_at=inp.at,
            ),
        )
        try:
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
