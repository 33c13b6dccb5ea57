"""OPEN-1 refuses only on strong evidence (issue 26): the physical properties behind the cues added for
it, on real generated photos (real portraits, the card as printed): print in the frame tells "no card"
from "a card the outline finder missed", print cut by the frame's edge tells a card off the frame, the
card's print straightened from its true outline runs level and tilts on a wrong one, and the corpus's
phone clips a reflection at the sensor, after the lens."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageOps

from activities.identity_photo import FRAME_TEXT_LINES_UNSURE
from activities.photo_analysis import card_detection, card_reading
from devtools import photo_corpus, photo_fixtures


def _upright(data: bytes) -> np.ndarray:
    return np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))


def _small(full: np.ndarray) -> np.ndarray:
    h, w = full.shape[:2]
    return np.asarray(Image.fromarray(full).resize((800, round(800 * h / w)), Image.Resampling.BILINEAR))


def _variant(name: str) -> np.ndarray:
    return _upright(photo_fixtures.jpeg_bytes(next(v for v in photo_fixtures.VARIANTS if v.name == name)))


def test_a_frame_without_a_card_holds_no_print_and_one_with_a_card_does() -> None:
    # A background may hold a stray line-like stroke; a card holds lines of print.
    assert card_reading.text_lines(_small(_variant("no_card"))) < FRAME_TEXT_LINES_UNSURE
    assert card_reading.text_lines(_small(_variant("pass_obama"))) >= FRAME_TEXT_LINES_UNSURE


def test_print_cut_by_the_frame_edge_marks_a_card_off_the_frame() -> None:
    small = _small(_variant("corner_cut_off"))
    h, w = small.shape[:2]
    boxes = card_reading.text_boxes(small)
    assert any((b[:, 0] >= w - 5).any() or b.min() <= 4 or (b[:, 1] >= h - 5).any() for b in boxes)
    inside = card_reading.text_boxes(_small(_variant("pass_obama")))
    assert inside and not any(b.min() <= 4 or (b[:, 0] >= w - 5).any() for b in inside)


@pytest.fixture(scope="module")
def card() -> tuple[np.ndarray, np.ndarray]:
    """A genuine photo of the tune split (full resolution) and its card's corners as found."""
    photo = next(p for p in photo_corpus.corpus("tune", 0, 3, 4200) if p.kind == "genuine")
    full = _upright(photo_corpus.encoded(photo))
    scan = card_detection.scan(_small(full), card_reading.text_layout, full=full)
    assert scan.card is not None, scan.verdict
    return full, scan.card.corners * (full.shape[1] / 800)


def test_print_straightened_from_the_true_outline_runs_level_and_tilts_on_a_wrong_one(
    card: tuple[np.ndarray, np.ndarray],
) -> None:
    full, corners = card
    lines, tilt = card_reading.text_layout(card_detection.straighten(full, corners, 360))
    assert lines >= 2 and tilt <= card_detection.DetectionSettings().level_text_max_tilt
    # The outline cut short along one side, as fingers along it make it: the far end of that side
    # pulled a third of the way in. The card straightens askew and its print tilts.
    wrong = corners.copy()
    wrong[2] = corners[2] + (corners[1] - corners[2]) * 0.35
    wrong_lines, wrong_tilt = card_reading.text_layout(card_detection.straighten(full, wrong, 360))
    assert wrong_lines >= 1 and wrong_tilt > card_detection.DetectionSettings().level_text_max_tilt


def test_the_corpus_phone_keeps_a_reflection_clipped_under_vignetting_and_white_balance() -> None:
    photo = next(p for p in photo_corpus.corpus("report", 1, 0, 0) if p.kind == "glare")
    plan = photo_corpus.plan(photo.seed, photo.split, photo.kind)
    dimmed = photo_corpus.Plan(
        **{**plan.__dict__, "vignette": 0.45, "wb_red": 0.85, "wb_blue": 0.85, "megapixels12": False}
    )
    scene = np.full((1200, 1600, 3), 120.0, np.float32)
    scene[500:700, 1100:1400] = 420.0  # a lamp's reflection, beyond the sensor's full scale
    scene[500:700, 200:500] = 240.0  # white paper, within it
    out = np.asarray(photo_corpus.phone(scene, dimmed, 1))
    # the reflection near the frame's corner still reads full scale; the paper is dimmed and tinted
    assert (out[500:700, 1100:1400] == 255).all()
    assert out[550:650, 250:450].max() < 250
