"""ASSOC-3 image confirmation details: colour edges and the stored thumbnail's formats (seeded corpus)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from activities.copy_detection import image_signature as vis
from devtools import product_corpus as pc


def test_an_edge_between_two_colours_of_one_luminance_is_still_an_edge() -> None:
    """A recolouring turns many edges into edges between colours of about one grey: the keypoint check
    compares edge strength over the colour channels, where they remain."""
    a = np.zeros((40, 40, 3), np.uint8)
    a[:, :20] = (255, 0, 0)  # luminance 76
    a[:, 20:] = (0, 130, 0)  # luminance 76
    gray_edge = vis._edges(vis._gray(a), 0.5)[:, 18:22].max()
    colour_edge = vis._edges(a, 0.5)[:, 18:22].max()
    assert gray_edge < 5 < 100 < colour_edge


def _older_row_thumbnail(frame: np.ndarray) -> bytes:
    """How rows stored before kept the picture: a PNG at half the feature frame (grayscale at first)."""
    half = cv2.resize(frame, (frame.shape[1] // 2, frame.shape[0] // 2), interpolation=cv2.INTER_AREA)
    return cv2.imencode(".png", cv2.cvtColor(half, cv2.COLOR_RGB2BGR) if half.ndim == 3 else half)[1].tobytes()


def test_thumbnails_of_every_format_stored_confirm_a_copy_and_refuse_a_look_alike() -> None:
    n = pc.split("heldout", 2000)
    original = vis.query_signature(pc.studio_photo(n))
    stored = vis.stored_features(original)
    copy = vis.query_signature(pc.copy_of(pc.studio_photo(n), "colour_shift", n))
    lookalike = vis.query_signature(pc.studio_photo(n, 4))
    thumbs = [
        vis.unthumbnail(vis.thumbnail(original.colour)),
        vis.unthumbnail(_older_row_thumbnail(original.colour)),
        vis.unthumbnail(_older_row_thumbnail(original.gray)),
    ]
    assert [(t.scale, t.pixels.ndim) for t in thumbs if t is not None] == [(1.0, 3), (0.5, 3), (0.5, 2)]
    for thumb in thumbs:
        assert vis.confirm_copy(stored, thumb, copy).is_copy
        assert not vis.confirm_copy(stored, thumb, lookalike).is_copy


def test_a_new_background_that_took_the_light_label_with_it_is_still_a_copy() -> None:
    """Keying out a white studio background also keys out a near-white label: the copy keeps the print
    (its contrast inverted where the new background is darker than the print) but loses the outline's
    and the label frame's features; few matches agree, the appearance tests decide, and the product's
    own look-alike still fails them."""
    n = pc.split("heldout", 24)
    original = vis.query_signature(pc.studio_photo(n))
    stored, thumb = vis.stored_features(original), vis.unthumbnail(vis.thumbnail(original.colour))
    copy = vis.query_signature(pc.copy_of(pc.studio_photo(n), "background", n))
    c = vis.confirm_copy(stored, thumb, copy)
    assert c.inliers < 10 and c.is_copy
    assert not vis.confirm_copy(stored, thumb, vis.query_signature(pc.studio_photo(n, 4))).is_copy


def test_few_matches_are_decided_by_the_appearance_tests() -> None:
    agreeing = vis.Confirmation(5, 0.01, agreement=0.9, blocks=30, patch_agreement=0.9, patches=30)
    unlike = vis.Confirmation(5, 0.01, agreement=0.4, blocks=30, patch_agreement=0.3, patches=30)
    assert agreeing.is_copy and not unlike.is_copy
    assert not vis.Confirmation(4, 0.01, agreement=1.0, blocks=30, patch_agreement=1.0, patches=30).is_copy


def test_a_label_as_light_as_the_studio_background_is_inside_the_product() -> None:
    """The interior is what the background cannot reach from the picture's edge: a near-white label
    enclosed by the product is compared (its print is what tells look-alikes apart), the studio
    background beside the product is not."""
    thumb = np.full((96, 96), 250, np.uint8)
    thumb[16:80, 24:72] = 90  # the product
    thumb[32:64, 32:64] = 252  # its label, within FG_DIFF of the background
    fg = vis.foreground(thumb)
    assert fg is not None
    assert fg[48, 48] == 1  # the label's centre
    assert fg[48, 8] == 0 and fg[4, 48] == 0  # the background
    assert fg[17, 48] == 0  # the outline, eroded away


@pytest.mark.parametrize(
    ("query", "listed"),
    [
        ((pc.split("heldout", 5), 4), (pc.split("heldout", 59), 0)),  # two bottles of one size
        ((pc.split("tune", 64), 5), (pc.split("tune", 32), 1)),  # two round tins, scaled
    ],
)
def test_look_alikes_whose_outline_label_frame_and_stripes_coincide_are_not_copies(
    query: tuple[int, int], listed: tuple[int, int]
) -> None:
    """Pairs that once matched: the outline, the label's frame and the stripes agree on one transform
    (the geometry holds), the label's print does not."""
    original = vis.query_signature(pc.studio_photo(*listed))
    stored, thumb = vis.stored_features(original), vis.unthumbnail(vis.thumbnail(original.colour))
    c = vis.confirm_copy(stored, thumb, vis.query_signature(pc.studio_photo(*query)))
    assert c.inliers >= vis.MIN_INLIERS and c.spread >= vis.MIN_SPREAD
    assert not c.is_copy


def test_print_with_its_contrast_inverted_still_matches() -> None:
    """A hue shift or a new colour under the print can make light what was dark: SIFT descriptors of
    the inverted patch are the same cells turned round, so the features still match."""
    img = pc.studio_photo(pc.split("heldout", 7))
    stored = vis.stored_features(vis.query_signature(img))
    negative = vis.query_signature(Image.eval(img, lambda v: 255 - v))
    si, _ = vis.polarity_free_matches(stored.descriptors, negative.upright.descriptors)
    plain = vis._matcher().knnMatch(stored.descriptors, negative.upright.descriptors, k=2)
    plain_good = [p for p in plain if len(p) == 2 and p[0].distance < vis.RATIO * p[1].distance]
    assert len(si) >= 0.8 * len(stored.descriptors) > 4 * len(plain_good)
    assert vis.confirm(stored, negative.upright).inliers >= 0.5 * len(stored.descriptors)
