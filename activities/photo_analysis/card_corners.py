"""OPEN-1: is each corner of the card there? Judged from the card's outline.

A corner is complete when the card's boundary near it (the two sides and the rounded arc between them)
is continuous against what lies outside the card. Two physical properties, measured on the card
straightened with a margin around it (`straightened`), along that boundary:

* **step across the outline** (`step`): the card is an object of its own, with a cut edge, in front of
  whatever is behind it; where nothing lies over its edge, what is just inside the outline differs from
  what is just outside it (another surface, another depth, a shadow under the card). The step is looked
  for across the outline, a few pixels either way (the corner found a pixel off, a corner radius other
  than ID-1's 3.18 mm). Print inside the card lies wholly inside: it changes what the step is between,
  never whether the card's edge is there; a busy background lies wholly outside, likewise. Only
  something lying across the outline (a thumb, fingers, a sleeve, a reflection) covers both sides of
  it with one surface and takes the step away.
* **what lies across a break** (`foreign`): where there is no step, the pixels just outside the outline
  are either like the background beside the card further along the same two sides (the card's print
  happens to be the background's colour there: a red header on a red wall; the card's edge is
  invisible, not covered) or unlike it (an object in front of card and background). Print on the card
  cannot make the outside unlike the background; a busy background can only where its odd colour
  also matches the card's edge colour exactly at that spot, which contiguity over the corner's apex
  (below) makes unlikely, and which still yields `review`, never `refused`, unless it is foreign along
  most of the apex.

* **the card inside each corner** (`enclosed`): just inside the outline, past the pixels it may be
  off, lies the card's face; around the corner outside lies whatever is behind the card. Where the
  inside is among the colours around it outside, the outline there encloses the background (a corner
  put where the card is not, whose "steps" were the background's texture) or runs inside the card.
  The four corners are one object's, so it is their spread that counts (light, white balance and the
  background's kind apply to all four alike), over the corners whose steps are not one edge along the
  outline (`coherent`: a card's plain face the colour of a pale wall still shows its cut edge as one
  line; a background's texture is strongest here and there). Print the background's colour at one
  corner is camouflage: what this cue yields is review, never a refusal.

Per corner the apex window (the arc and a short stretch of each side) is scored: the share of its
outline without a step (`broken`), the share of the arc itself (`arc`: an object over the corner
covers the arc, whatever else it covers; fingers along a side near the corner do not), and of the
broken points the share foreign. A corner whose arc is broken and whose break is foreign is covered
(refused); one with its apex window intact is complete; anything between, or a break that is
camouflage rather than an object, is unsure (review with these measures). The colour
statistics of an earlier version ("the corner is unlike the card") are gone: print reaching a corner
and a thumb over it both made the corner unlike the card.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

ID1_ASPECT = 85.6 / 54.0
WIDTH = 400  # the straightened card's width in pixels: the measure is taken at one scale for every photo
MARGIN = 0.15  # of the width, around the card, so the background beside it is in view
RADIUS = 0.037  # an ID-1 card's corner radius (3.18 mm of 85.6 mm), of the width
APEX = 0.06  # the apex window: the arc and this much (of the width) of each side beyond it
REACH = 6  # px the outline is looked for either way of where the corners put it
HALF = 3  # px either side of the outline that are compared
STEP = 14.0  # Lab distance (a and b doubled) across the outline that is an edge (noise: about 3)
UNLIKE = 20.0  # Lab distance from every reference colour: not the same surface
COLOUR_CELL = 12.0  # Lab grid for telling a strip's common colours
COMMON_SHARE = (
    0.08  # a colour this share of a strip is the background's own (a holding finger in the strip is less)
)
CLIPPED = 250.0  # Lab lightness (8-bit) of an over-exposed pixel
INNER = REACH + HALF + 2  # px inside the outline: on the card's face even with the corner found REACH off


@dataclass(frozen=True)
class Canvas:
    """The card straightened to WIDTH with a margin around it, in Lab (a and b doubled: OpenCV's 8-bit
    Lab compresses colour steps), and which canvas pixels lie inside the photo."""

    lab: np.ndarray
    inside_photo: np.ndarray

    @property
    def valid(self) -> np.ndarray:
        return self.inside_photo & (self.lab[..., 0] < CLIPPED)


@dataclass(frozen=True)
class CornerOutline:
    """Per corner (top-left, top-right, bottom-right, bottom-left of the straightened card), over its
    apex window: the share of the outline with no step across it, the share of those that is foreign
    (unlike the background beside the card), and the share clipped white (a reflection)."""

    broken: list[float]
    foreign: list[float]
    clipped: list[float]
    arc: list[
        float
    ]  # the share of the rounded arc itself without a step: what an object over the corner covers
    # the share of the apex window whose inside (INNER px in) is like what lies around it outside
    enclosed: list[float] = field(default_factory=list)
    # the share of the apex window whose strongest step sits within a pixel of its neighbours': one edge
    coherent: list[float] = field(default_factory=list)


def straightened(rgb: np.ndarray, corners: np.ndarray) -> Canvas:
    """`corners`: the card's corners in `rgb` (top-left, top-right, bottom-right, bottom-left). One
    canvas serves every look at the corners and sides."""
    h_card = WIDTH / ID1_ASPECT
    m = MARGIN * WIDTH
    size = (int(round(WIDTH + 2 * m)), int(round(h_card + 2 * m)))
    target = np.array([[m, m], [m + WIDTH, m], [m + WIDTH, m + h_card], [m, m + h_card]], np.float32)
    matrix = cv2.getPerspectiveTransform(corners.astype(np.float32), target)
    warped = cv2.warpPerspective(rgb, matrix, size, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
    # Sensor noise and JPEG blocks are not steps: a light blur before comparing across the outline.
    lab = cv2.cvtColor(cv2.GaussianBlur(warped, (3, 3), 0), cv2.COLOR_RGB2LAB).astype(np.float32)
    lab[..., 1:] *= 2.0
    # Canvas pixels mapped back into the photo: the margin may run past the frame's edge.
    ys, xs = np.mgrid[0 : size[1], 0 : size[0]].astype(np.float32)
    back = cv2.perspectiveTransform(np.stack([xs, ys], -1).reshape(-1, 1, 2), np.linalg.inv(matrix))
    back = back.reshape(size[1], size[0], 2)
    h, w = rgb.shape[:2]
    inside = (back[..., 0] >= 0) & (back[..., 0] < w) & (back[..., 1] >= 0) & (back[..., 1] < h)
    return Canvas(lab, inside)


def _nearest(pixels: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Each pixel's distance to the nearest reference colour."""
    if len(reference) == 0:
        return np.full(len(pixels), np.inf, np.float32)
    d = (pixels[:, None, :] - reference[None, :, :]) ** 2
    return np.sqrt(d.sum(-1).min(1))


def _common_colours(pixels: np.ndarray) -> np.ndarray:
    """The colours that make up a good share of the strip (each the mean of its cell on a coarse Lab
    grid): a textured background's several surfaces, not the blends along their borders."""
    if len(pixels) == 0:
        return pixels
    cells = np.floor(pixels / COLOUR_CELL).astype(np.int64)
    _, inverse, counts = np.unique(cells, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    keep = np.flatnonzero(counts >= COMMON_SHARE * len(pixels))
    return np.array([pixels[inverse == k].mean(axis=0) for k in keep], np.float32).reshape(-1, 3)


def _apex_outline() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points of a top-left corner's outline over its apex window (canvas pixels, card at the origin)
    and the inward normal at each: the left side going up, the rounded arc, the top side going right."""
    r = RADIUS * WIDTH
    reach = (APEX + RADIUS) * WIDTH
    pts, normals, arc = [], [], []
    for y in np.arange(reach, r, -1.0):
        pts.append((0.0, y))
        normals.append((1.0, 0.0))
        arc.append(False)
    for phi in np.linspace(0, np.pi / 2, max(8, int(np.pi / 2 * r))):
        u = np.array([-np.cos(phi), -np.sin(phi)])
        pts.append(tuple(np.array([r, r]) + r * u))
        normals.append(tuple(-u))
        arc.append(True)
    for x in np.arange(r, reach, 1.0):
        pts.append((x, 0.0))
        normals.append((0.0, 1.0))
        arc.append(False)
    return np.array(pts, np.float32), np.array(normals, np.float32), np.array(arc)


def _turned(canvas: Canvas, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The canvas flipped so that corner k is at the top left: one geometry serves all four."""
    L, inside, valid = canvas.lab, canvas.inside_photo, canvas.valid
    if k in (1, 2):
        L, inside, valid = L[:, ::-1], inside[:, ::-1], valid[:, ::-1]
    if k in (2, 3):
        L, inside, valid = L[::-1], inside[::-1], valid[::-1]
    return np.ascontiguousarray(L), inside, valid


def corner_outline(canvas: Canvas) -> CornerOutline:
    m = MARGIN * WIDTH
    pts, normals, on_arc = _apex_outline()
    pts = pts + m
    offsets = np.arange(-REACH, REACH + 1, dtype=np.float32)
    broken, foreign, clipped, arc, enclosed, coherent = [], [], [], [], [], []
    for k in range(4):
        L, inside, valid = _turned(canvas, k)

        def sample(at: np.ndarray, L: np.ndarray = L) -> np.ndarray:
            mx, my = at[..., 0].astype(np.float32), at[..., 1].astype(np.float32)
            return cv2.remap(L, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

        # (points, offsets, 2): the outline moved along its normal by each offset
        centres = pts[:, None, :] + offsets[None, :, None] * normals[:, None, :]
        inner = sample(centres + HALF * normals[:, None, :])
        outer = sample(centres - HALF * normals[:, None, :])
        steps = np.sqrt(((inner - outer) ** 2).sum(-1))
        step = steps.max(axis=1)
        # The card's cut edge is one line along the outline: its strongest step moves at most a pixel
        # from one point to the next. A textured background's steps (stars, woodwork, mortar) are
        # strongest here and there across the reach.
        strongest = steps.argmax(axis=1)
        still = np.zeros(len(step), bool)
        jumps = np.abs(np.diff(strongest))
        still[1:-1] = (jumps[:-1] <= 1) & (jumps[1:] <= 1)
        out_at = np.round(pts - (HALF + 1) * normals).astype(int)
        ox = np.clip(out_at[:, 0], 0, L.shape[1] - 1)
        oy = np.clip(out_at[:, 1], 0, L.shape[0] - 1)
        seen = inside[oy, ox]
        white = seen & ~valid[oy, ox]
        outside = L[oy, ox]
        in_at = np.round(pts + INNER * normals).astype(int)
        ix = np.clip(in_at[:, 0], 0, L.shape[1] - 1)
        iy = np.clip(in_at[:, 1], 0, L.shape[0] - 1)
        within = valid[iy, ix] & seen
        far_at = np.round(pts - INNER * normals).astype(int)
        fx = np.clip(far_at[:, 0], 0, L.shape[1] - 1)
        fy = np.clip(far_at[:, 1], 0, L.shape[0] - 1)
        # What lies around the corner outside the outline: just across it and INNER px out.
        around = _common_colours(
            np.concatenate([outside[seen & valid[oy, ox]], L[fy, fx][inside[fy, fx] & valid[fy, fx]]])
        )

        def strip(
            x0: float, x1: float, y0: float, y1: float, L: np.ndarray = L, valid: np.ndarray = valid
        ) -> np.ndarray:
            rows = slice(int(m + y0 * WIDTH), int(m + y1 * WIDTH))
            cols = slice(int(m + x0 * WIDTH), int(m + x1 * WIDTH))
            return L[rows, cols][valid[rows, cols]]

        # The background beside the card further along the same two sides, clear of a thumb on the tip.
        back = _common_colours(
            np.concatenate([strip(0.2, 0.45, -0.05, -0.015), strip(-0.05, -0.015, 0.2, 0.45)])
        )
        gone = seen & (step < STEP)
        n = max(1, int(seen.sum()))
        broken.append(float(gone.sum()) / n)
        unlike = _nearest(outside, back) >= UNLIKE
        foreign.append(float((gone & (unlike | white)).sum()) / max(1, int(gone.sum())))
        clipped.append(float(white.sum()) / n)
        # What lies just inside the corner: the card's face, whatever its print, unless the outline
        # there encloses the background (a corner put where the card is not) or the print there is
        # the background's very colour (camouflage).
        enclosed.append(
            float((within & (_nearest(L[iy, ix], around) < UNLIKE)).sum()) / max(1, int(within.sum()))
        )
        arc.append(float((gone & on_arc).sum()) / max(1, int((seen & on_arc).sum())))
        coherent.append(float((seen & (step >= STEP) & still).sum()) / n)
    return CornerOutline(broken, foreign, clipped, arc, enclosed, coherent)


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
    beyond its two neighbouring sides. Physical property: what lies beyond a card's border is what lies
    beside its other borders (the background), however busy; beyond a line of print inside the card
    (a header's lower edge, a band's inner edge) lies more card, or a hand over the card's end."""
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
