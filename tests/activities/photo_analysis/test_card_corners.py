"""OPEN-1: a thumb over only the tip of a corner is seen whatever its colour (activities/photo_analysis/card_corners.py),
on real photos: a genuine photo of the reporting split (real portrait, real background), with a finger of
one colour or another laid over one corner's tip, the rest of the card untouched."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from activities.photo_analysis import card_detection, card_reading
from activities.photo_analysis.card_corners import beyond_side, corner_cover, straightened
from devtools import photo_corpus

# Skin, a blue glove, a dark sleeve, a pale grey glove: the cue must not depend on skin tones.
COLOURS = {"skin": (205, 150, 120), "blue": (40, 70, 170), "dark": (45, 40, 40), "grey": (185, 185, 190)}


@pytest.fixture(scope="module")
def genuine() -> tuple[np.ndarray, np.ndarray]:
    """A genuine photo (full resolution) and its card's corners, found on the 800 px copy."""
    photo = next(p for p in photo_corpus.corpus("report", 1, 2, 3100) if p.kind == "genuine")
    full = np.asarray(Image.open(io.BytesIO(photo_corpus.jpeg(photo))).convert("RGB"))
    small = _small(full)
    scan = card_detection.scan(small, card_reading.text_lines, full=full)
    assert scan.verdict == card_detection.FOUND, scan.measures
    assert scan.card is not None
    return full, scan.card.corners * (full.shape[1] / small.shape[1])


def _small(full: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(full).resize((800, 600), Image.Resampling.BILINEAR))


def _thumb_over(
    full: np.ndarray, corners: np.ndarray, corner: int, colour: tuple[int, int, int]
) -> np.ndarray:
    """A finger-shaped occluder centred on the corner's tip, about a tenth of the card wide."""
    width = int(0.1 * float(np.linalg.norm(corners[1] - corners[0])))
    finger = Image.new("RGBA", (width, int(width * 1.5)), (0, 0, 0, 0))
    ImageDraw.Draw(finger).rounded_rectangle(
        (0, 0, finger.width - 1, finger.height - 1), radius=width // 2, fill=(*colour, 255)
    )
    finger = finger.filter(ImageFilter.GaussianBlur(1.5))
    scene = Image.fromarray(full)
    x, y = corners[corner]
    scene.paste(finger, (int(x - finger.width / 2), int(y - finger.height / 2)), finger)
    return np.asarray(scene)


def test_visible_corners_are_not_covered(genuine: tuple[np.ndarray, np.ndarray]) -> None:
    full, corners = genuine
    assert max(corner_cover(straightened(full, corners)).covered) <= card_detection.DetectionSettings().corner_cover_max


@pytest.mark.parametrize("corner", [0, 2])
@pytest.mark.parametrize("colour", sorted(COLOURS))
def test_a_thumb_over_a_corner_tip_of_any_colour_is_a_missing_corner(
    genuine: tuple[np.ndarray, np.ndarray], colour: str, corner: int
) -> None:
    full, corners = genuine
    covered = _thumb_over(full, corners, corner, COLOURS[colour])
    cover = corner_cover(straightened(covered, corners))
    assert int(np.argmax(cover.covered)) == corner
    scan = card_detection.scan(_small(covered), card_reading.text_lines, full=covered)
    assert scan.verdict == card_detection.CORNER_MISSING, scan.measures


@pytest.mark.parametrize("side", [0, 3])
@pytest.mark.parametrize("colour", ["blue", "dark"])
def test_more_card_beyond_a_side_is_not_background(
    genuine: tuple[np.ndarray, np.ndarray], side: int, colour: str
) -> None:
    """A side that is print inside the card (a header's lower edge) has more card beyond it: here a
    band of another colour running on past the side, as the card's header would."""
    full, corners = genuine
    a, b = corners[side], corners[(side + 1) % 4]
    across = corners[(side + 2) % 4] - b  # from this side towards the opposite one
    outward = -0.25 * across
    scene = Image.fromarray(full)
    ImageDraw.Draw(scene).polygon(
        [tuple(a), tuple(b), tuple(b + outward), tuple(a + outward)], fill=COLOURS[colour]
    )
    banded = np.asarray(scene)
    limit = card_detection.DetectionSettings().beyond_side_max
    as_photographed, with_band = straightened(full, corners), straightened(banded, corners)
    assert beyond_side(as_photographed, side) <= limit  # the wall or the room beyond it, as photographed
    assert beyond_side(with_band, side) > limit
    # The opposite side is untouched: the measure is the side's own.
    assert beyond_side(with_band, (side + 2) % 4) == pytest.approx(beyond_side(as_photographed, (side + 2) % 4))
