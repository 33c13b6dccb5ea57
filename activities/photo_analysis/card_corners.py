"""OPEN-1: is each corner of the card there, or is something over its tip?

A thumb over only the tip of a corner leaves both sides' edges visible almost to the corner, so edge
support cannot see it, and a thumb of any colour must be seen, not only a skin-toned one. What it
cannot hide is that it is an object of its own, lying across the card's outline: on the straightened
card, at a hidden corner, the pixels inside the card's rounded corner are unlike the card's own face
near that corner, and the pixels just outside it are unlike the background beside the card near that
corner. At a visible corner the card's face runs into its rounded corner and the background runs
around it. Print at a corner only breaks the first (the background outside is still background), a
busy background only the second (the card's corner is still card): an occluder breaks both at once.

The references are taken along the two sides that meet at the corner, from 20% to 40% of the card's
width away from it (clear of a thumb on the tip, near enough to share the corner's print and
background); each pixel is compared with the nearest reference colour, so a multi-coloured card or
background is its own reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

ID1_ASPECT = 85.6 / 54.0
WIDTH = 400  # the straightened card's width in pixels: the measure is taken at one scale for every photo
MARGIN = 0.15  # of the width, around the card, so the background beside it is in view
RADIUS = 0.037  # an ID-1 card's corner radius (3.18 mm of 85.6 mm), of the width
WINDOW = 0.07  # the corner window reaches this far from the corner (of the width), both ways
TIP = 0.045  # on the card, only the tip counts: print a little further in (a logo) is not a thumb
BAND = 0.018  # pixels this near the rounded outline are neither (its rim and shadow; a corner a pixel off)
UNLIKE = 20.0  # Lab distance (a and b doubled) from every reference colour: not the same surface
COLOUR_CELL = 12.0  # Lab grid for telling a strip's common colours
COMMON_SHARE = 0.03  # a colour this share of a strip is the card's (or the background's) own
CLIPPED = 250.0  # Lab lightness (8-bit) of an over-exposed pixel


@dataclass(frozen=True)
class CornerCover:
    """Per corner (top-left, top-right, bottom-right, bottom-left of the straightened card): the share
    of the corner's inside, and of its outside, that is foreign (unlike both the card and the
    background near that corner)."""

    inside: list[float]
    outside: list[float]

    @property
    def covered(self) -> list[float]:
        """Per corner, how much of both: an occluder over the tip breaks both."""
        return [min(i, o) for i, o in zip(self.inside, self.outside, strict=True)]


@dataclass(frozen=True)
class Canvas:
    """The card straightened to WIDTH with a margin around it, in Lab (a and b doubled: OpenCV's 8-bit
    Lab compresses colour steps), and which canvas pixels lie inside the photo (and are not glare)."""

    lab: np.ndarray
    valid: np.ndarray


def straightened(rgb: np.ndarray, corners: np.ndarray) -> Canvas:
    """`corners`: the card's corners in `rgb` (top-left, top-right, bottom-right, bottom-left). One
    canvas serves every look at the corners and sides."""
    h_card = WIDTH / ID1_ASPECT
    m = MARGIN * WIDTH
    size = (int(round(WIDTH + 2 * m)), int(round(h_card + 2 * m)))
    target = np.array([[m, m], [m + WIDTH, m], [m + WIDTH, m + h_card], [m, m + h_card]], np.float32)
    matrix = cv2.getPerspectiveTransform(corners.astype(np.float32), target)
    warped = cv2.warpPerspective(rgb, matrix, size, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
    lab = cv2.cvtColor(warped, cv2.COLOR_RGB2LAB).astype(np.float32)
    lab[..., 1:] *= 2.0
    # Canvas pixels mapped back into the photo: the margin may run past the frame's edge.
    ys, xs = np.mgrid[0 : size[1], 0 : size[0]].astype(np.float32)
    back = cv2.perspectiveTransform(np.stack([xs, ys], -1).reshape(-1, 1, 2), np.linalg.inv(matrix))
    back = back.reshape(size[1], size[0], 2)
    h, w = rgb.shape[:2]
    valid = (back[..., 0] >= 0) & (back[..., 0] < w) & (back[..., 1] >= 0) & (back[..., 1] < h)
    # Clipped white is a reflection, not a surface: whatever lies under it is judged as glare.
    return Canvas(lab, valid & (lab[..., 0] < CLIPPED))


def _nearest(pixels: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Each pixel's distance to the nearest reference colour."""
    if len(reference) == 0:
        return np.full(len(pixels), np.inf, np.float32)
    d = (pixels[:, None, :] - reference[None, :, :]) ** 2
    return np.sqrt(d.sum(-1).min(1))


def _common_colours(pixels: np.ndarray) -> np.ndarray:
    """The colours that make up a good share of the strip (each the mean of its cell on a coarse Lab
    grid): the card's ground and its print's ink, not the blend of the two along every letter's edge,
    which would make a continuum of colours where any occluder finds a near neighbour."""
    if len(pixels) == 0:
        return pixels
    cells = np.floor(pixels / COLOUR_CELL).astype(np.int64)
    _, inverse, counts = np.unique(cells, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    keep = np.flatnonzero(counts >= COMMON_SHARE * len(pixels))
    return np.array([pixels[inverse == k].mean(axis=0) for k in keep], np.float32).reshape(-1, 3)


def corner_cover(canvas: Canvas) -> CornerCover:
    lab, valid = canvas.lab, canvas.valid
    m = int(round(MARGIN * WIDTH))
    s = int(round(WINDOW * WIDTH))
    n = 2 * s
    # Signed distance (of the width) from the rounded corner's outline, positive on the card.
    ys, xs = np.mgrid[0:n, 0:n]
    x, y = (xs - s) / WIDTH, (ys - s) / WIDTH
    arc = RADIUS - np.hypot(RADIUS - x, RADIUS - y)
    signed = np.where((x < RADIUS) & (y < RADIUS), arc, np.minimum(x, y))
    on_card, off_card = (signed > BAND) & (x < TIP) & (y < TIP), signed < -BAND
    inside, outside = [], []
    for k in range(4):
        # Each corner turned to the top left, so one geometry serves all four.
        L, V = lab, valid
        if k in (1, 2):
            L, V = L[:, ::-1], V[:, ::-1]
        if k in (2, 3):
            L, V = L[::-1], V[::-1]

        def strip(
            x0: float, x1: float, y0: float, y1: float, L: np.ndarray = L, V: np.ndarray = V
        ) -> np.ndarray:
            rows = slice(m + int(y0 * WIDTH), m + int(y1 * WIDTH))
            cols = slice(m + int(x0 * WIDTH), m + int(x1 * WIDTH))
            return L[rows, cols][V[rows, cols]]

        card = _common_colours(np.concatenate([strip(0.2, 0.4, 0.02, 0.045), strip(0.02, 0.045, 0.2, 0.4)]))
        back = _common_colours(np.concatenate([strip(0.2, 0.4, -0.05, -0.02), strip(-0.05, -0.02, 0.2, 0.4)]))
        window, seen = L[m - s : m + s, m - s : m + s], V[m - s : m + s, m - s : m + s]
        pixels = window.reshape(-1, 3)
        # Foreign: unlike the card and unlike the background near this corner. A corner placed a
        # pixel or two off puts background on the card's side or card outside it: neither is foreign.
        foreign = ((_nearest(pixels, card) >= UNLIKE) & (_nearest(pixels, back) >= UNLIKE)).reshape(n, n)
        ins, outs = on_card & seen, off_card & seen
        inside.append(float(foreign[ins].mean()) if ins.sum() else 0.0)
        outside.append(float(foreign[outs].mean()) if outs.sum() > 20 else 0.0)
    return CornerCover(inside, outside)


def _side_on_top(lab: np.ndarray, valid: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
    """The canvas turned so that side `side` (0 top, 1 right, 2 bottom, 3 left) is on top."""
    if side == 1:
        return lab.transpose(1, 0, 2)[::-1], valid.T[::-1]
    if side == 2:
        return lab[::-1], valid[::-1]
    if side == 3:
        return lab.transpose(1, 0, 2), valid.T
    return lab, valid


def beyond_side(canvas: Canvas, side: int) -> float:
    """Share of the strip just beyond side `side` (along its middle) that is unlike the background just
    beyond its two neighbouring sides. A side that is print inside the card (a header's lower edge, a
    band's inner edge) has more card beyond it, or a hand over the card's end: foreign. The card's own
    border has the background beyond it, however busy (mortar lines running on past a corner)."""
    L, V = _side_on_top(canvas.lab, canvas.valid, side)
    m = int(round(MARGIN * WIDTH))
    length = L.shape[1] - 2 * m
    depth = L.shape[0] - 2 * m
    near, far = int(0.02 * WIDTH), int(0.05 * WIDTH)

    def take(rows: slice, cols: slice) -> np.ndarray:
        return L[rows, cols][V[rows, cols]]

    beyond = take(slice(m - far, m - near), slice(m + int(0.2 * length), m + int(0.8 * length)))
    rows = slice(m + int(0.1 * depth), m + int(0.5 * depth))
    back = _common_colours(
        np.concatenate(
            [take(rows, slice(m - far, m - near)), take(rows, slice(m + length + near, m + length + far))]
        )
    )
    if len(beyond) < 20:
        return 0.0
    return float((_nearest(beyond, back) >= UNLIKE).mean())
