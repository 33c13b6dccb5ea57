"""ASSOC-3 coarse features: a smooth photograph copied each way is caught by its soft objects' features
through the index's keys and the decision, which names them; look-alikes and unrelated pictures are not
(seeded corpus, held-out split, drawn from parameter bins the tuning never saw)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from activities.copy_detection import image_signature as vis
from activities.product_index import ListingSignature, listing_signature, signature_row
from devtools import picture_corpus as pc
from devtools import product_corpus as studio
from models.products import ProductSignature

SMOOTH = pc.split("heldout", 4)  # a smooth photograph: its regions place none of the copies below


def _signed(img: object) -> tuple[ListingSignature, ProductSignature]:
    sig = listing_signature("Art print", "Poster, soft colours", img)  # type: ignore[arg-type]
    return sig, signature_row("P1", sig)


def _judged(row: ProductSignature, q: vis.QuerySignature) -> vis.Confirmation:
    stored = vis.unpack(row.features)
    p = vis.placed(stored, q, vis.unpack_regions(row.features), vis.unpack_coarse(row.features))
    return vis.judged(p, stored, vis.unthumbnail(row.thumb), q)


@pytest.fixture(scope="module")
def smooth() -> ProductSignature:
    return _signed(pc.smooth_photo(SMOOTH))[1]


@pytest.mark.parametrize("kind", ["crop_mirror_tag", "rotate_shrink_jpeg", "border_watermark", "hue_saturation"])
def test_a_smooth_photo_copy_is_found_and_caught_by_coarse_features(smooth: ProductSignature, kind: str) -> None:
    """Cropped, mirrored and tagged; turned and shrunk; framed and watermarked; recoloured: the query's
    probes hit the row's coarse keys, and the features place the stored picture, whose edges come back."""
    q, _ = _signed(pc.copy_of(pc.smooth_photo(SMOOTH), kind, SMOOTH))
    stored_keys = np.frombuffer(smooth.words, "<u4")
    assert len(np.intersect1d(stored_keys, q.image.probes)) >= 3
    c = _judged(smooth, q.image)
    assert c.is_copy and c.evidence == "coarse_features" and c.whole


def test_look_alikes_and_an_unrelated_picture_are_not_matched(smooth: ProductSignature) -> None:
    """Other draws of the same palette and blur, and a picture of another template."""
    for img in [pc.smooth_photo(SMOOTH, v) for v in (4, 5, 6)] + [pc.smooth_photo(SMOOTH + 10**7)]:
        assert not _judged(smooth, _signed(img)[0].image).is_copy


def test_one_outline_does_not_explain_a_busy_picture() -> None:
    """A picture whose only outline is one disc brought it back over a disc of an unrelated picture with
    five other shapes (tune split): the query's own edges are mostly not the stored picture's."""
    _, row = _signed(pc.smooth_photo(5, 2))
    c = _judged(row, _signed(pc.smooth_photo(3, 4))[0].image)
    assert not c.is_copy


def test_a_textured_picture_keeps_no_coarse_features_and_old_rows_read_none() -> None:
    textured, row = _signed(studio.studio_photo(studio.split("heldout", 1)))
    assert len(textured.image.upright.points) >= vis.FEW_FEATURES
    assert vis.unpack_coarse(row.features) is None
    sig, _ = _signed(pc.smooth_photo(SMOOTH))
    f = vis.stored_features(sig.image)
    regions = sig.image.regions
    assert regions is not None
    assert vis.unpack_coarse(vis.pack_with_regions(f, regions)) is None  # a row stored before
    coarse = vis.stored_coarse(sig.image)
    assert coarse is not None
    back = vis.unpack_coarse(vis.pack_row(f, regions, coarse))
    assert back is not None and np.allclose(back.points, coarse.points, atol=0.25)


def test_the_smooth_corpus_splits_share_no_parameter_bin() -> None:
    """Blur, object count and object size: tune draws the even bins, held out the odd ones."""
    for split, parity in (("tune", 0), ("heldout", 1)):
        for k in range(40):
            rng = random.Random(k)
            value = pc._binned(rng, 0.0, 6.0, pc.split(split, k))
            assert int(value) % 2 == parity
