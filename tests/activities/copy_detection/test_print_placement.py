"""ASSOC-3 on flat artwork: a print that comes back must come back where the product's outline puts it,
seen from either picture, and geometry on the outline alone says nothing of the print. Pinned on the
look-alikes the held-out bench once linked (seeded corpus, held-out numbers): a phone case whose dot grid
sits a few pixels off on the same case, a poster whose badge is the stored one at 1.3 times, a sticker
whose lettering is one luminance with its disc, and a sticker whose faint badge another badge replaced.
Their copies still link."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from activities.copy_detection import image_signature as vis
from activities.product_index import Match, best_match, hamming, listing_signature, signature_row
from devtools import picture_corpus as pc
from devtools import product_corpus as studio
from models.policy import load_policy
from models.products import ProductSignature

POLICY = load_policy().association
PHONE_CASE = (pc.split("heldout", 6), 2, 16)  # (original, stored variant, look-alike variant)
POSTER = (pc.split("heldout", 8), 1, 20)
STICKER = (pc.split("heldout", 23), 0, 13)
BADGE = (pc.split("heldout", 33), 3, 20)


def _stored(n: int, variant: int) -> ProductSignature:
    return signature_row("P1", listing_signature("Printed case", "Bright print", pc.flat_artwork(n, variant)))


def _decide(row: ProductSignature, img: Image.Image) -> Match | None:
    """The decision on the one stored row, by the picture alone (another text; the pHash never decides)."""
    sig = listing_signature("Summer deal", "Ships tomorrow from the warehouse", img)
    rows = [(1, row.text, row.features, row.thumb, "P1", "S1", sig.phash)]
    return best_match(sig, rows, {1}, POLICY.text_similarity_threshold, -1)


def _judged(row: ProductSignature, img: Image.Image) -> vis.Confirmation:
    q = vis.query_signature(img)
    stored = vis.unpack(row.features)
    p = vis.placed(stored, q, vis.unpack_regions(row.features), vis.unpack_coarse(row.features))
    thumb = vis.unthumbnail(row.thumb)
    assert p.placed and thumb is not None
    return vis.judged(p, stored, thumb, q)


@pytest.fixture(scope="module")
def phone_case() -> ProductSignature:
    n, v, _ = PHONE_CASE
    assert pc.flat_template(n)[0] == "phone_case" and pc.flat_template(n)[3] == "pattern"
    return _stored(n, v)


@pytest.fixture(scope="module")
def poster() -> ProductSignature:
    n, v, _ = POSTER
    assert pc.flat_template(n)[0] == "poster" and pc.flat_template(n)[3] == "logo"
    return _stored(n, v)


@pytest.fixture(scope="module")
def sticker() -> ProductSignature:
    n, v, _ = STICKER
    assert pc.flat_template(n)[0] == "sticker" and pc.flat_template(n)[3] == "lettering"
    return _stored(n, v)


def test_a_dot_grid_shifted_on_the_same_case_is_not_linked(phone_case: ProductSignature) -> None:
    """Local features place the stored print on the look-alike's dots and every test of the print passes;
    the case's outline, under that placement, is elsewhere."""
    n, _, look = PHONE_CASE
    img = pc.flat_artwork(n, look)
    c = _judged(phone_case, img)
    assert c.evidence == "local_features" and c.inliers >= vis.MIN_INLIERS
    assert c.patch_agreement >= vis.MIN_PATCH_AGREEMENT and c.agreement >= vis.MIN_AGREEMENT
    assert c.outline_points >= vis.MIN_OUTLINE_POINTS and c.outline < vis.OUTLINE_FLOOR
    assert not c.is_copy
    assert _decide(phone_case, img) is None


def test_a_badge_at_another_scale_on_the_same_poster_is_not_linked(poster: ProductSignature) -> None:
    """The regions carry the badge, its ring and its disc over at 1.3 times and their outlines come back;
    the stored poster's outline falls outside the query's frame, and the query's poster outline, taken
    back into the stored picture, lands on flat colour."""
    n, _, look = POSTER
    img = pc.flat_artwork(n, look)
    q = vis.query_signature(img)
    stored = vis.unpack(poster.features)
    thumb = vis.unthumbnail(poster.thumb)
    assert thumb is not None
    c = vis.confirm_regions(stored, vis.unpack_regions(poster.features), thumb, q)
    assert c.transform is not None and c.patch_agreement >= vis.REGION_PATCH_FLOOR
    assert c.outline_points < vis.MIN_OUTLINE_POINTS
    assert c.outline_back_points >= vis.MIN_OUTLINE_POINTS and c.outline_back < vis.OUTLINE_FLOOR
    assert not c.is_copy
    assert _decide(poster, img) is None


def test_lettering_of_one_luminance_with_its_sticker_is_not_linked_by_the_outline_alone(
    sticker: ProductSignature,
) -> None:
    """Green letters on a blue disc are one grey: SIFT and the grey blocks see only the disc, whose outline
    gives many inliers (the few-blocks way out); the letters' colour outlines are not where the look-alike's
    letters are."""
    n, _, look = STICKER
    row = sticker
    img = pc.flat_artwork(n, look)
    c = _judged(row, img)
    assert (
        c.evidence == "local_features" and c.inliers >= vis.FEW_BLOCKS_INLIERS and c.blocks < vis.MIN_BLOCKS
    )
    assert c.print_point_count >= vis.MIN_PRINT_POINTS and c.print_points < vis.MIN_PATCH_AGREEMENT
    assert not c.is_copy
    assert _decide(row, img) is None


@pytest.mark.parametrize("kind", ["crop_mirror_tag", "hue_saturation"])
@pytest.mark.parametrize("which", ["phone_case", "poster", "sticker"])
def test_their_copies_still_link(which: str, kind: str, request: pytest.FixtureRequest) -> None:
    row: ProductSignature = request.getfixturevalue(which)
    n, v, _ = {"phone_case": PHONE_CASE, "poster": POSTER, "sticker": STICKER}[which]
    m = _decide(row, pc.copy_of(pc.flat_artwork(n, v), kind, n))
    assert m is not None and m.product_id == "P1" and m.evidence in ("local_features", "regions")


def test_another_badge_under_matches_on_the_sticker_outline_is_not_linked() -> None:
    """The stored badge is a disc barely lighter than the sticker: every strong SIFT feature is on the
    sticker's outline, so no patch judges the print and the grey blocks (the ring, at one place in both)
    agree; the badge's and the word's colour outlines are not in the look-alike."""
    n, v, look = BADGE
    row = _stored(n, v)
    img = pc.flat_artwork(n, look)
    c = _judged(row, img)
    assert c.evidence == "local_features" and c.patches < vis.MIN_PATCHES and c.agreement >= vis.MIN_AGREEMENT
    assert c.print_point_count >= vis.MIN_PRINT_POINTS and c.print_points < vis.MIN_PATCH_AGREEMENT
    assert _decide(row, img) is None
    m = _decide(row, pc.copy_of(pc.flat_artwork(n, v), "hue_saturation", n))
    assert m is not None and m.product_id == "P1"


def test_the_perceptual_hash_does_not_decide_for_a_product_on_a_plain_ground() -> None:
    """Two lettering posters of one template: few features, the look-alike one colour and two regions, so
    neither local features nor regions can speak, and their perceptual hashes are within the policy's
    distance (the poster's layout). The pHash does not decide for a product on a plain ground."""
    n = pc.split("heldout", 40)
    stored = listing_signature("Poster", "Lettering", pc.flat_artwork(n, 3))
    row = signature_row("P1", stored)
    sig = listing_signature("Summer deal", "Ships tomorrow from the warehouse", pc.flat_artwork(n, 17))
    assert hamming(sig.phash, stored.phash) <= POLICY.image_hash_max_distance and sig.image.on_plain_ground
    rows = [(1, row.text, row.features, row.thumb, "P1", "S1", stored.phash)]
    for staged in (True, False):
        assert (
            best_match(
                sig,
                rows,
                {1},
                POLICY.text_similarity_threshold,
                POLICY.image_hash_max_distance,
                staged=staged,
            )
            is None
        )


def test_regions_placed_a_few_dozen_pixels_wide_do_not_decide() -> None:
    """A phone case's regions carried onto a bottle's label at 0.15 of its size (another picture class):
    at that size every edge test passes on blobs."""
    n = pc.split("heldout", 44)
    row = _stored(n, 3)
    q = vis.query_signature(studio.studio_photo(studio.split("heldout", 40), 4))
    c = vis.confirm_regions(
        vis.unpack(row.features), vis.unpack_regions(row.features), vis.unthumbnail(row.thumb), q
    )  # type: ignore[arg-type]
    assert c.transform is not None and np.sqrt(abs(np.linalg.det(c.transform[:, :2]))) < vis.MIN_PLACED_SCALE
    assert not c.is_copy
