"""OPEN-1: the card found from its print outward (activities/photo_analysis/card_print.py), the frame's
blur (photo_cues.edge_steepness) and two cards told by their print, on generated photos of the tune
split (real portraits, real backgrounds) and on lines of print laid out by hand."""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image, ImageOps

from activities.identity_photo import check_photo
from activities.photo_analysis import card_detection, card_print, card_reading, photo_cues
from devtools import photo_corpus
from models.policy import load_policy


def _line(x: float, y: float, w: float, h: float, degrees: float = 0.0) -> np.ndarray:
    """A line of print's box: top-left, top-right, bottom-right, bottom-left, turned about (x, y)."""
    box = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64)
    a = np.radians(degrees)
    turn = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return box @ turn.T + [x, y]


def _photo(kind: str, seed_offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(full resolution, the 800 px detection copy) of a tune-split photo of `kind`."""
    photo = next(p for p in photo_corpus.corpus("tune", 1, 1, seed_offset) if p.kind == kind)
    full = np.asarray(
        ImageOps.exif_transpose(Image.open(io.BytesIO(photo_corpus.encoded(photo)))).convert("RGB")
    )
    scale = 800 / max(full.shape[:2])
    size = (round(full.shape[1] * scale), round(full.shape[0] * scale))
    return full, np.asarray(Image.fromarray(full).resize(size, Image.Resampling.BILINEAR))


def test_one_layout_is_lines_parallel_of_one_height_and_near() -> None:
    card = [_line(100, 100 + 30 * i, 120 - 10 * i, 14, 5) for i in range(4)]
    turned = _line(100, 260, 120, 14, 35)  # a line at another angle: not the card's print
    larger = _line(100, 230, 200, 45, 5)  # a poster's heading: three times the height
    far = _line(600, 100, 120, 14, 5)  # parallel, but far beyond a line height
    groups = card_print.clusters([*card, turned, larger, far])
    assert [g.lines for g in groups] == [4, 1, 1, 1]
    assert abs(np.degrees(groups[0].angle) - 5) < 0.5 and groups[0].stacked()
    # The same lines read right to left are the same direction.
    assert card_print.clusters([c[[2, 3, 0, 1]] for c in card])[0].lines == 4


def test_an_outline_that_splits_a_line_of_print_is_not_the_cards() -> None:
    lines = [_line(100, 100, 200, 16), _line(100, 130, 120, 16)]
    around = np.array([[80, 80], [330, 80], [330, 240], [80, 240]], np.float32)
    across = np.array([[80, 80], [200, 80], [200, 240], [80, 240]], np.float32)  # cuts the first line
    assert (card_print.lines_inside(around, lines), card_print.cut_lines(around, lines)) == (2, 0)
    assert (card_print.lines_inside(across, lines), card_print.cut_lines(across, lines)) == (1, 1)
    # Level on a card straightened from an outline square to the print.
    assert card_print.tilt_on_card(around, lines) < 1.0


def test_an_outline_holds_all_of_a_print_block_it_holds_part_of_and_is_filled_by_it() -> None:
    # A card's block: a header, two rows, the number (rows stacked, one column).
    block = [_line(100, 100, 150, 14), _line(100, 130, 110, 14), _line(100, 160, 110, 14), _line(100, 200, 190, 14)]
    group = card_print.clusters(block)[0]
    card = np.array([[85, 85], [335, 85], [335, 243], [85, 243]], np.float32)  # ID-1 around the block
    band = np.array([[85, 120], [335, 120], [335, 190], [85, 190]], np.float32)  # a band across its middle
    assert card_print.left_out(card, group) == 0
    assert card_print.left_out(band, group) == 2  # the header above it and the number below it
    # A block beside it along its lines (a second card at the same height) is not its rows.
    beside = card_print.clusters([*block, *(b + [300, 0] for b in block)])[0]
    assert card_print.left_out(card, beside) == 0
    assert card_print.spans_layout(card, block)
    # An outline that also holds the background above the card: the print in a third of its height.
    tall = np.array([[85, -150], [335, -150], [335, 243], [85, 243]], np.float32)
    assert not card_print.spans_layout(tall, block)


def test_the_card_is_found_around_its_print() -> None:
    full, small = _photo("genuine")
    lines = card_reading.text_boxes(small)
    main = card_print.clusters(lines)[0]
    grads = card_detection.Gradients(small)
    seeded = card_print.seeded_quads(grads.gx, grads.gy, main, strength=40.0)
    assert seeded, "no outline found around the print"
    # Every seeded outline holds the whole cluster, splits none of its lines, and has the ID-1 shape.
    for quad in seeded:
        assert card_print.lines_inside(quad, list(main.boxes)) == main.lines
        assert card_print.cut_lines(quad, list(main.boxes)) == 0
    scan = card_detection.scan(small, card_reading.text_layout, full=full, frame_text=lines)
    assert scan.verdict == card_detection.FOUND and scan.card is not None, scan.measures
    assert scan.card.cuts == 0 and scan.card.inside >= main.lines
    assert abs(np.log(scan.card.aspect / card_print.ID1_ASPECT)) < 0.12


def test_two_cards_are_two_clusters_of_print_each_in_its_own_outline() -> None:
    full, small = _photo("two_cards")
    lines = card_reading.text_boxes(small)
    stacked = [g for g in card_print.clusters(lines) if g.stacked()]
    assert len(stacked) >= 2
    scan = card_detection.scan(small, card_reading.text_layout, full=full, frame_text=lines)
    assert scan.verdict == card_detection.TWO_DOCUMENTS, scan.measures


def test_blur_is_measured_by_how_steep_the_sharpest_edges_are_whatever_the_light() -> None:
    _, small = _photo("genuine")
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    sharp = photo_cues.edge_steepness(grey)
    assert sharp is not None and sharp > 0.3
    # Half the light (exposure): the same steepness; a lens spread of 2.5 px: far less.
    dim = photo_cues.edge_steepness((grey * 0.5).astype(np.uint8))
    assert dim is not None and abs(dim - sharp) < 0.05
    blurred = photo_cues.edge_steepness(cv2.GaussianBlur(grey, (0, 0), 2.5))
    assert blurred is not None and blurred < 0.2
    assert photo_cues.edge_steepness(np.full((600, 800), 128, np.uint8)) is None  # nothing to judge


def test_a_blurred_photo_is_told_to_hold_still_not_that_there_is_no_card() -> None:
    photo = next(p for p in photo_corpus.corpus("tune", 1, 1, 5) if p.kind == "blurred")
    result = check_photo(photo_corpus.encoded(photo), load_policy().authentication)
    assert result.refusal is not None and result.refusal.code == "too_blurry"
    assert result.refusal.retryable
