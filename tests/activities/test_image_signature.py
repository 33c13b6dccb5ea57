"""ASSOC-3 image confirmation details: colour edges and the stored thumbnail's formats (seeded corpus)."""

from __future__ import annotations

import numpy as np

from activities import image_signature as vis
from devtools import product_corpus as pc


def test_an_edge_between_two_colours_of_one_luminance_is_still_an_edge() -> None:
    """A recolouring turns many edges into edges between colours of about one grey: the keypoint check
    compares edge strength over the colour channels, where they remain."""
    a = np.zeros((40, 40, 3), np.uint8)
    a[:, :20] = (255, 0, 0)  # luminance 76
    a[:, 20:] = (0, 130, 0)  # luminance 76
    gray_edge = vis._edges(vis._gray(a))[:, 18:22].max()
    colour_edge = vis._edges(a)[:, 18:22].max()
    assert gray_edge < 5 < 100 < colour_edge


def test_colour_and_older_grayscale_thumbnails_both_confirm_a_copy() -> None:
    n = pc.split("heldout", 2000)
    original = vis.query_signature(pc.studio_photo(n))
    stored = vis.stored_features(original)
    copy = vis.query_signature(pc.copy_of(pc.studio_photo(n), "colour_shift", n))
    lookalike = vis.query_signature(pc.studio_photo(n, 4))
    colour, gray = vis.unthumbnail(vis.thumbnail(original.colour)), vis.unthumbnail(vis.thumbnail(original.gray))
    assert colour is not None and colour.ndim == 3 and gray is not None and gray.ndim == 2
    for thumb in (colour, gray):
        assert vis.confirm_copy(stored, thumb, copy).is_copy
        assert not vis.confirm_copy(stored, thumb, lookalike).is_copy


def test_a_new_background_that_took_the_light_label_with_it_is_still_a_copy() -> None:
    """Keying out a white studio background also keys out a near-white label: the copy keeps the print
    but loses the outline's and the label frame's features (5 agree here); the appearance tests, not
    the count of matches, decide, and the product's own look-alike still fails them."""
    n = pc.split("heldout", 24)
    original = vis.query_signature(pc.studio_photo(n))
    stored, thumb = vis.stored_features(original), vis.unthumbnail(vis.thumbnail(original.colour))
    copy = vis.query_signature(pc.copy_of(pc.studio_photo(n), "background", n))
    c = vis.confirm_copy(stored, thumb, copy)
    assert c.inliers < 6 and c.is_copy
    assert not vis.confirm_copy(stored, thumb, vis.query_signature(pc.studio_photo(n, 4))).is_copy


def test_few_matches_are_decided_by_the_appearance_tests() -> None:
    agreeing = vis.Confirmation(5, 0.01, agreement=0.9, blocks=30, patch_agreement=0.9, patches=30)
    unlike = vis.Confirmation(5, 0.01, agreement=0.4, blocks=30, patch_agreement=0.3, patches=30)
    assert agreeing.is_copy and not unlike.is_copy
    assert not vis.Confirmation(4, 0.01, agreement=1.0, blocks=30, patch_agreement=1.0, patches=30).is_copy
