"""ASSOC-3 on copies made the way copycats make them, through the real activity on a real database.

The corpus is devtools/product_corpus.py's held-out split (thresholds were chosen on the "tune" split),
every draw seeded. Look-alikes (same category and photo template, another object) must pass.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from PIL import Image

from activities.copy_detection.text_signature import exact_jaccard, normalise, shingles
from activities.product_index import _open_product_image, list_product
from activities.storage.blobs import put_bytes
from devtools import product_corpus as pc
from devtools import product_fixtures as pf
from models.activity_io import ListProductInput, ListProductResult
from models.contract import ProductInput
from models.policy import load_policy
from models.refusals import Refusal

POLICY = load_policy().association
NOW = datetime(2026, 6, 1, tzinfo=UTC)
ORIGINALS = [pc.split("heldout", 1000 + k) for k in range(5)]


def release(
    member: str, product_id: str, title: str, description: str, img: Image.Image
) -> ListProductResult:
    ref = put_bytes(pf.encode(img))
    return list_product(
        ListProductInput(
            member_id=member,
            product_id=product_id,
            product=ProductInput(title, description, "19.90", "home", ref),
            at=NOW,
            text_threshold=POLICY.text_similarity_threshold,
            image_max_distance=POLICY.image_hash_max_distance,
        )
    )


@pytest.fixture(scope="module")
def catalogue() -> dict[int, str]:
    """Each original listed by its own store, and two look-alikes of it by two others."""
    ids = {}
    for n in ORIGINALS:
        title, description, _ = pf.listing(n)
        ids[n] = f"SORIG{n}-P1"
        assert release(f"SORIG{n}", ids[n], title, description, pc.studio_photo(n)).accepted
        for v in (1, 2):
            t, d, _ = pf.listing(n * 10 + v)
            assert release(f"SLOOK{n}x{v}", f"SLOOK{n}x{v}-P1", t, d, pc.studio_photo(n, v)).accepted
    return ids


def test_look_alikes_are_not_copies(catalogue: dict[int, str]) -> None:
    matched = []
    for n in catalogue:
        for v in (3, 4):
            t, d, _ = pf.listing(n * 10 + 5 + v)
            result = release(f"SNEW{n}x{v}", f"SNEW{n}x{v}-P1", t, d, pc.studio_photo(n, v))
            if not result.accepted:
                matched.append((n, v, result.duplicate_of_product_id))
    # same silhouette, same label layout, another label: the interior comparison tells them apart
    assert not matched, matched


def test_image_copies_with_new_text_are_refused(catalogue: dict[int, str]) -> None:
    caught: dict[str, int] = {}
    for n, original in catalogue.items():
        t, d, _ = pf.listing(n * 10 + 7)
        for kind in pc.COPY_KINDS:
            member = f"SCOPY{n}{kind[:4].upper()}"
            result = release(member, f"{member}-P1", t, d, pc.copy_of(pc.studio_photo(n), kind, n))
            ok = result.refusal is not None and result.refusal.code == "duplicate_product"
            if ok:  # the original, or an earlier copy of it that slipped through
                assert result.duplicate_of_product_id in (
                    original,
                    *(f"SCOPY{n}{k[:4].upper()}-P1" for k in caught),
                )
            caught[kind] = caught.get(kind, 0) + ok
    # every kind caught at least 3 times in 5 (strong downsizing leaves few label blocks to compare),
    # and 96% overall; the bench measures per kind on more originals
    assert all(k >= 3 for k in caught.values()), caught
    assert sum(caught.values()) >= 0.96 * len(catalogue) * len(pc.COPY_KINDS), caught


def test_text_copies_with_a_new_image_are_refused_on_exact_similarity(catalogue: dict[int, str]) -> None:
    for n, original in catalogue.items():
        title, description, _ = pf.listing(n)
        for kind in pc.TEXT_KINDS:
            t2, d2 = pc.text_copy(title, description, kind, n)
            member = f"STEXT{n}{kind[:4].upper()}"
            result = release(member, f"{member}-P1", t2, d2, pc.studio_photo(n + 10**7))
            assert result.refusal is not None and result.refusal.code == "duplicate_product", (n, kind)
            assert result.duplicate_of_product_id == original
            exact = exact_jaccard(
                shingles(normalise(f"{title} {description}"), ""), shingles(normalise(f"{t2} {d2}"), "")
            )
            assert (
                result.text_similarity == pytest.approx(exact) and exact >= POLICY.text_similarity_threshold
            )


def test_normalisation_undoes_units_emoji_spacing_and_synonyms() -> None:
    assert normalise("12 inch  🔥 B O T T L E!!") == normalise("30 cm bottle")
    assert normalise("Cordless retro lamp, 16 oz") == normalise("wireless vintage lamp 454 g")
    assert normalise("ＳＴＡＩＮＬＥＳＳ steel") == normalise("stainless")


def test_normalisation_reads_look_alike_letters_accents_and_zero_width_characters_as_latin() -> None:
    """Cyrillic and Greek look-alikes (capitals too), accents, zero-width characters and soft hyphens
    inside words: each would make every word a new shingle. Line breaks still separate words."""
    plain = normalise("Picture frame, oak, Scandinavian design")
    assert normalise("Рiсturе fr\u200bame, оаk, Ѕϲandinavian dé\u00adsign") == plain
    assert normalise("PІСTURE\u2060 FRAME\nOAK — scandinavian design") == plain
    assert normalise("oak\nframe") == "oak frame"


def test_malformed_exif_is_a_refusal_or_an_image_never_an_error() -> None:
    img = pc.studio_photo(3)
    for exif in (
        b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff" + b"\x01" * 40,
        b"Exif\x00\x00II*\x00" + b"\xff" * 30,
    ):
        buf = io.BytesIO()
        img.save(buf, "JPEG", exif=exif)
        out = _open_product_image(buf.getvalue())
        assert isinstance(out, Image.Image) or (isinstance(out, Refusal) and out.code == "image_damaged")


def test_an_index_in_another_process_catches_up_with_the_table(catalogue: dict[int, str]) -> None:
    """A second worker's index sees listings made through the first, and ones committed out of order."""
    from sqlmodel import Session, select

    from activities.copy_detection import key_index
    from activities.product_index import _IndexHolder, listing_signature
    from activities.storage.db import engine
    from models.products import ProductSignature

    if key_index.in_database(engine()):
        pytest.skip("the candidates are PostgreSQL's (product_key): there is no in-process copy to catch up")

    n = ORIGINALS[0]
    title, description, _ = pf.listing(n)
    sig = listing_signature(title, description, pc.studio_photo(n))
    other = _IndexHolder()
    with Session(engine()) as session:
        seq_of = {r.product_id: r.seq for r in session.exec(select(ProductSignature)).all()}
        found = other.candidates(session, sig)
        assert seq_of[catalogue[n]] in found.text and seq_of[catalogue[n]] in found.image
        # a row that took a lower seq than the newest but committed later (as under concurrent listings)
        late = ProductSignature.model_validate(
            {
                **session.get(ProductSignature, seq_of[catalogue[n]]).model_dump(),
                "seq": None,
                "product_id": "SLATE-P1",
            }  # type: ignore[union-attr]
        )
        late.seq = -5  # below every seq the index has seen, inside its re-checked window
        session.add(late)
        session.commit()
        assert -5 in other.candidates(session, sig).text
        assert len(other.index or []) == len(seq_of) + 1  # nothing indexed twice
        session.delete(late)
        session.commit()
