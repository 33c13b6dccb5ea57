"""OPEN-1: each corner judged from the card's outline (activities/photo_analysis/card_corners.py), on a
genuine photo of the reporting split (real portrait, real background): a finger of any colour over a
corner breaks the outline; print reaching the corner (inside the card) and a busy background beside it
(outside the card) do not."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from activities.identity_photo import check_photo
from activities.identity_registry import fingerprint
from activities.photo_analysis import card_detection, card_reading
from activities.photo_analysis.card_corners import (
    MARGIN,
    RADIUS,
    WIDTH,
    Canvas,
    beyond_side,
    corner_outline,
    straightened,
)
from devtools import photo_corpus
from models.policy import load_policy

# Skin, a blue glove, a dark sleeve, a pale grey glove: the cue must not depend on skin tones.
COLOURS = {"skin": (205, 150, 120), "blue": (40, 70, 170), "dark": (45, 40, 40), "grey": (185, 185, 190)}


@pytest.fixture(scope="module")
def genuine() -> tuple[np.ndarray, np.ndarray]:
    """A genuine photo (full resolution) and its card's corners, found on the 800 px copy."""
    photo = next(p for p in photo_corpus.corpus("report", 1, 2, 3100) if p.kind == "genuine")
    assert photo_corpus.SIDES.index(dict(photo.params)["hold_side"]) == HOLD_SIDE
    full = np.asarray(
        ImageOps.exif_transpose(Image.open(io.BytesIO(photo_corpus.encoded(photo)))).convert("RGB")
    )
    small = _small(full)
    scan = card_detection.scan(small, card_reading.text_layout, full=full)
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


SETTINGS = card_detection.DetectionSettings()
POLICY = load_policy().authentication
HOLD_SIDE = 3  # the side the fixture photo's fingers hold


def test_visible_corners_have_an_unbroken_outline(genuine: tuple[np.ndarray, np.ndarray]) -> None:
    full, corners = genuine
    assert max(corner_outline(straightened(full, corners)).broken) <= SETTINGS.outline_intact_max


def _painted(canvas: Canvas, corner: int, colour: tuple[int, int, int], *, on_card: bool) -> Canvas:
    """The canvas with a patch of `colour` at `corner`: on the card only (print reaching the corner,
    up to its rounded outline) or outside it only (a busy background running past the corner)."""
    lab = canvas.lab.copy()
    h, w = lab.shape[:2]
    m = MARGIN * WIDTH
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    # distance from the card's rounded rectangle (negative inside), corner k turned to the top left
    x = xs if corner in (0, 3) else w - 1 - xs
    y = ys if corner in (0, 1) else h - 1 - ys
    r = RADIUS * WIDTH
    cx, cy = np.maximum(m + r - x, 0), np.maximum(m + r - y, 0)
    outside = np.hypot(cx, cy) > r
    near = (x < m + 0.2 * WIDTH) & (y < m + 0.2 * WIDTH)
    patch = near & (~outside if on_card else outside & ((x < m - 2) | (y < m - 2)))
    value = cv2.cvtColor(np.array([[colour]], np.uint8), cv2.COLOR_RGB2LAB).astype(np.float32)[0, 0]
    value[1:] *= 2.0
    lab[patch] = value
    return Canvas(lab, canvas.inside_photo)


@pytest.mark.parametrize("colour", sorted(COLOURS))
def test_print_reaching_a_corner_or_a_background_past_it_leaves_the_outline_whole(
    genuine: tuple[np.ndarray, np.ndarray], colour: str
) -> None:
    full, corners = genuine
    canvas = straightened(full, corners)
    for corner in range(4):
        printed = corner_outline(_painted(canvas, corner, COLOURS[colour], on_card=True))
        assert max(printed.broken[corner], printed.arc[corner]) <= SETTINGS.outline_intact_max, (
            corner,
            printed,
        )
        busy = corner_outline(_painted(canvas, corner, COLOURS[colour], on_card=False))
        assert max(busy.broken[corner], busy.arc[corner]) <= SETTINGS.outline_intact_max, (corner, busy)


@pytest.mark.parametrize("corner", [0, 2])
@pytest.mark.parametrize("colour", sorted(COLOURS))
def test_a_finger_of_any_colour_over_a_corner_breaks_its_outline(
    genuine: tuple[np.ndarray, np.ndarray], colour: str, corner: int
) -> None:
    full, corners = genuine
    covered = _thumb_over(full, corners, corner, COLOURS[colour])
    outline = corner_outline(straightened(covered, corners))
    assert outline.arc[corner] >= SETTINGS.outline_covered_min, outline
    assert outline.foreign[corner] >= SETTINGS.outline_foreign_min, outline
    scan = card_detection.scan(_small(covered), card_reading.text_layout, full=covered)
    assert scan.verdict == card_detection.CORNER_MISSING or scan.unsure, scan.measures


@pytest.mark.parametrize("turn", [1, 2])
@pytest.mark.parametrize("colour", ["blue", "dark"])
def test_more_card_beyond_a_side_is_not_background(
    genuine: tuple[np.ndarray, np.ndarray], turn: int, colour: str
) -> None:
    """A side that is print inside the card (a header's lower edge) has more card beyond it: here a
    band of another colour running on past the side, as the card's header would. (Not the side the
    fingers hold: the hand beyond it is not background either.)"""
    full, corners = genuine
    side = (HOLD_SIDE + turn) % 4
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
    assert beyond_side(with_band, (side + 2) % 4) == pytest.approx(
        beyond_side(as_photographed, (side + 2) % 4)
    )


def test_a_card_has_the_same_face_inside_each_corner(genuine: tuple[np.ndarray, np.ndarray]) -> None:
    """The four corners are one object's: whatever lies around each outside, inside each is the card,
    and each shows the card's cut edge as one line."""
    full, corners = genuine
    outline = corner_outline(straightened(full, corners))
    assert min(outline.coherent) >= SETTINGS.coherent_edge_min, outline
    assert card_detection.enclosed_spread(outline, SETTINGS) < SETTINGS.enclosed_spread_max, outline


# Two failing photos that passed on the report draw at seed offset 930000 (issue 26, fourth pass):
# outlines put partly where the card is not (a grey copy's taken with the starfield above it; a card's
# run on past its corner into a garage's blurred woodwork), whose corners there found "steps" in the
# background's texture, not one edge. A corner whose inside is what lies around it, while the others'
# is the card, and whose steps are not one edge, is no corner seen to be the card's: a person looks.
@pytest.mark.parametrize("name", ["report_photocopy_930016", "report_corner_covered_930029"])
def test_a_corner_put_where_the_card_is_not_is_never_passed(name: str) -> None:
    photo = next(p for p in photo_corpus.corpus("report", 34, 60, 930000) if p.name == name)
    result = check_photo(
        photo_corpus.encoded(photo), POLICY, id_fingerprint=fingerprint("id_card", photo.registered_id)
    )
    assert result.verdict in ("refused", "review"), result.measures
    if result.verdict == "review":
        assert result.review is not None and result.review.cue == "card_corner_outline", result.review
        assert result.review.measures["card_corner_enclosed_spread"] >= SETTINGS.enclosed_spread_max
