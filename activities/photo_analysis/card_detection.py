"""OPEN-1: where is the ID card? Found by its shape, whatever its colours.
Over 400 lines: one detector whose stages (edges, quadrilaterals, straightening, text lines) are tuned together.

An ID card is a flat ID-1 rectangle (85.6 x 54 mm) with printed text. In a photo it is a convex
quadrilateral whose sides are edges (the card against whatever is behind it), which straightens
(homography) to the ID-1 aspect ratio, and which holds lines of text. Nothing here depends on the card's
colours: a dark card with white print, a guilloche card without a header and a plain white card on a
white wall are all quadrilaterals with edges and text.

Hypotheses come from two independent segmentations of an edge map (at two Canny sensitivities):
  * regions the edges enclose (the card's printed background, around its text and portrait), and
  * outlines of edge blobs (the card's border, with whatever touches it).
Each hypothesis's convex hull is reduced to a quadrilateral by intersecting its four longest sides, so a
corner hidden by a thumb is put back where the two sides meet. Every quadrilateral is then scored on
its own evidence: the straightened aspect ratio, image gradient along each side (edge support), support
near each corner, and the number of text lines that a text detector finds inside it. The best is kept;
the others tell a second card, a card cut off by the frame, or a card held too obliquely apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from activities.photo_analysis import card_print
from activities.photo_analysis.card_corners import (
    ID1_ASPECT,
    CornerOutline,
    beyond_side,
    corner_outline,
    straightened,
)

# Verdicts of the scan, in the reason codes' words.
FOUND = "found"
NOT_FOUND = "card_not_found"
OUT_OF_FRAME = "card_out_of_frame"
CORNER_MISSING = "card_corner_missing"
TWO_DOCUMENTS = "two_documents"
TOO_STEEP = "card_perspective_too_steep"

# a straightened card -> (lines of text found on it, their tilt from level in degrees)
TextLines = Callable[[np.ndarray], tuple[int, float]]


@dataclass(frozen=True)
class DetectionSettings:
    min_area_fraction: float = 0.015  # a card a quarter of the frame wide covers ~4% of it
    aspect_tolerance: float = 0.2  # relative, on the straightened aspect ratio
    steep_side_ratio: float = 0.68  # shorter / longer of two opposite sides below this: too oblique
    steep_max_angle: float = 32.0  # a corner more than this off 90 degrees: too oblique
    edge_strength: float = 40.0  # Sobel response (about a 10-grey-level step) that counts as an edge
    side_support_min: float = 0.55  # share of a side that must be an edge (a thumb hides part of one)
    min_text_lines: int = 2
    frame_margin: float = 0.006  # of the long side: a corner closer than this to the frame is cut off
    # The corners, from their outline (activities/photo_analysis/card_corners.py): a corner whose apex
    # window and arc have at most this share of their outline without a step across it is complete...
    outline_intact_max: float = 0.2
    # ...one whose arc has at least this share broken, and at least `outline_foreign_min` of the break
    # unlike the background beside the card (an object across the outline), is covered; anything
    # between is unsure and goes to review.
    outline_covered_min: float = 0.7
    outline_foreign_min: float = 0.6
    # Corners unlike one another: one corner's inside this much more like what lies around it outside
    # than another's (`CornerOutline.enclosed`; genuine cards on the tune split: at most 0.19, grass).
    enclosed_spread_max: float = 0.4
    # ...counting corners whose apex window is less than this share one edge (strongest step within a
    # pixel from point to point; tune split: clean card edges 0.85-0.97, textured phantom corners 0.55-0.7).
    coherent_edge_min: float = 0.8
    # A side judged print inside the card (a header's lower edge) is the card's border after all when
    # the strip beyond it is like the background beyond its two neighbours (brick: up to 0.26; a band or
    # header beyond it: another colour altogether).
    beyond_side_max: float = 0.35
    candidates_with_text: int = 4  # how many of the best-shaped quadrilaterals get a text count
    # The print of a card straightened from its true outline runs level (tune split: 0 to 1.5 degrees);
    # an outline cut by fingers or run into the background tilts it. A card judged too steep is
    # refused only on an outline that levels its print.
    level_text_max_tilt: float = 3.0
    # Ranking outlines: this much shape score per line of print enclosed (a card with six lines inside
    # outranks a header band holding one by 0.4, a third of a side's edge support).
    print_line_weight: float = 0.08


@dataclass
class Quad:
    corners: np.ndarray  # 4x2 float32: top-left, top-right, bottom-right, bottom-left (long side on top)
    aspect: float
    side_ratio: float
    max_angle_off: float
    side_support: list[float]
    corner_support: list[float]
    area_fraction: float
    touches_frame: bool
    text_lines: int = -1
    text_tilt: float = 90.0  # degrees off level of its print, straightened from these corners
    shape_score: float = 0.0
    completed: int = -1  # the side that was not seen and was put back from the ID-1 shape (-1: none)
    # per corner: (edge share along the side leaving it, edge share along the side arriving at it)
    corner_sides: list[tuple[float, float]] = field(default_factory=list)
    interior: int = -1  # a side that is print inside the card, whose border beyond was not found
    inside: int = 0  # lines of the frame's print inside it
    cuts: int = 0  # lines of the frame's print its outline splits (card_print.cut_lines)
    seeded: bool = False  # found outward from the print (card_print.seeded_quads)
    left_out: int = 0  # rows of a print block it partly holds left outside it (card_print.left_out)
    spans: bool = True  # the print inside spans an ID-1 layout's share of it (card_print.spans_layout)

    @property
    def misfit(self) -> bool:
        """Its outline is not a card's around this print: it splits a line or leaves rows out."""
        return bool(self.cuts or self.left_out)

    @property
    def support(self) -> float:
        return float(np.mean(self.side_support))


@dataclass
class CardScan:
    verdict: str
    card: Quad | None = None
    measures: dict[str, float] = field(default_factory=dict)
    # FOUND, but a cue could not decide: its name (the photo goes to review if nothing else refuses it)
    unsure: str = ""
    # the reason the unsure cue would give if it were sure
    suspected: str = ""


# ---------------------------------------------------------------- geometry


def order_corners(corners: np.ndarray) -> np.ndarray:
    """Top-left, top-right, bottom-right, bottom-left, with the long side horizontal."""
    c = np.asarray(corners, dtype=np.float32).reshape(4, 2)
    centre = c.mean(axis=0)
    angles = np.arctan2(c[:, 1] - centre[1], c[:, 0] - centre[0])
    c = c[np.argsort(angles)]  # clockwise in image coordinates, starting at the top left quadrant
    start = int(np.argmin(c.sum(axis=1)))
    c = np.roll(c, -start, axis=0)
    if np.linalg.norm(c[0] - c[1]) + np.linalg.norm(c[2] - c[3]) < np.linalg.norm(
        c[1] - c[2]
    ) + np.linalg.norm(c[3] - c[0]):
        c = np.roll(c, -1, axis=0)  # held upright: turn it to landscape
    return c


def _intersect(p1: np.ndarray, p2: np.ndarray, p3: np.ndarray, p4: np.ndarray) -> np.ndarray | None:
    d1, d2 = p2 - p1, p4 - p3
    den = d1[0] * d2[1] - d1[1] * d2[0]
    if abs(den) < 1e-6:
        return None
    t = ((p3[0] - p1[0]) * d2[1] - (p3[1] - p1[1]) * d2[0]) / den
    return p1 + t * d1


def quad_from_polygon(poly: np.ndarray) -> np.ndarray | None:
    """Four corners from a convex polygon: where its four longest sides, in order, meet."""
    pts = poly.reshape(-1, 2).astype(np.float64)
    n = len(pts)
    if n < 4:
        return None
    if n == 4:
        return pts.astype(np.float32)
    lengths = np.linalg.norm(np.roll(pts, -1, axis=0) - pts, axis=1)
    keep = sorted(np.argsort(lengths)[-4:])
    corners = []
    for a, b in zip(keep, keep[1:] + keep[:1], strict=True):
        p = _intersect(pts[a], pts[(a + 1) % n], pts[b], pts[(b + 1) % n])
        if p is None:
            return None
        corners.append(p)
    return np.array(corners, dtype=np.float32)


def geometry(c: np.ndarray) -> tuple[float, float, float]:
    """(aspect of the straightened card, shorter/longer opposite side, worst corner angle off 90)."""
    sides = [float(np.linalg.norm(c[(i + 1) % 4] - c[i])) for i in range(4)]
    top, right, bottom, left = sides
    # Foreshortening shrinks the sides leaning away; the longer of each opposite pair is nearer the truth.
    aspect = max(top, bottom) / max(1e-6, max(left, right))
    side_ratio = min(min(top, bottom) / max(top, bottom, 1e-6), min(left, right) / max(left, right, 1e-6))
    worst = 0.0
    for i in range(4):
        a, b = c[i - 1] - c[i], c[(i + 1) % 4] - c[i]
        cos = float(np.dot(a, b) / max(1e-6, np.linalg.norm(a) * np.linalg.norm(b)))
        worst = max(worst, abs(np.degrees(np.arccos(np.clip(cos, -1, 1))) - 90))
    return aspect, side_ratio, worst


# ---------------------------------------------------------------- evidence


class Gradients:
    """Sobel gradients of the L, a and b channels: an edge is a step in lightness or in colour."""

    def __init__(self, rgb: np.ndarray) -> None:
        lab = cv2.cvtColor(cv2.GaussianBlur(rgb, (3, 3), 0), cv2.COLOR_RGB2LAB).astype(np.float32)
        lab[..., 1:] *= 2.0  # colour steps are compressed in OpenCV's 8-bit Lab
        self.gx = cv2.Sobel(lab, cv2.CV_32F, 1, 0, ksize=3)
        self.gy = cv2.Sobel(lab, cv2.CV_32F, 0, 1, ksize=3)
        self.h, self.w = rgb.shape[:2]

    def snap(
        self, p: np.ndarray, q: np.ndarray, reach: int, strength: float, *, robust: bool = False
    ) -> np.ndarray | None:
        """The side p->q moved onto the edge it lies near: a line fitted to the strongest gradient
        across it, point by point. None when too little of it is an edge."""
        d = q - p
        length = float(np.linalg.norm(d))
        if length < 8:
            return None
        normal = np.array([-d[1], d[0]]) / length
        ts = np.linspace(0.1, 0.9, 32)
        offsets = np.arange(-reach, reach + 1)
        pts = p[None, :] + ts[:, None] * d[None, :]
        cand = pts[:, None, :] + offsets[None, :, None] * normal[None, None, :]
        xy = np.round(cand).astype(int)
        xs, ys = np.clip(xy[..., 0], 0, self.w - 1), np.clip(xy[..., 1], 0, self.h - 1)
        g = np.abs(self.gx[ys, xs] * normal[0] + self.gy[ys, xs] * normal[1]).max(axis=2)
        inside = (xy[..., 0] >= 0) & (xy[..., 0] < self.w) & (xy[..., 1] >= 0) & (xy[..., 1] < self.h)
        g = np.where(inside, g, 0)
        # The card's border is its outermost strong edge: print inside the card (a portrait, a coloured
        # band along a side) can be as strong, so of the strong responses the outermost wins. With the
        # corners in clockwise order the normal points into the card, so outward is the lowest offset.
        peak = g.max(axis=1, keepdims=True)
        strong = g >= np.maximum(strength, 0.5 * peak)
        best = np.where(strong.any(axis=1), strong.argmax(axis=1), 0)
        good = g[np.arange(len(ts)), best] >= strength
        if good.sum() < 8:
            return None
        found = cand[np.arange(len(ts)), best][good]
        if robust:
            return straight_run(found)
        vx, vy, x0, y0 = cv2.fitLine(found.astype(np.float32), cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()
        return np.array([[x0, y0], [x0 + vx, y0 + vy]], np.float64)

    def along(self, p: np.ndarray, q: np.ndarray, t0: float, t1: float, n: int, strength: float) -> float:
        """Share of points on p->q (between fractions t0 and t1) with an edge across the line."""
        d = q - p
        length = float(np.linalg.norm(d))
        if length < 1:
            return 0.0
        normal = np.array([-d[1], d[0]]) / length
        ts = np.linspace(t0, t1, n)
        offsets = np.arange(-3, 4)
        cand = p[None, None, :] + ts[:, None, None] * d[None, None, :] + offsets[None, :, None] * normal
        xy = np.round(cand).astype(int)
        inside = (xy[..., 0] >= 0) & (xy[..., 0] < self.w) & (xy[..., 1] >= 0) & (xy[..., 1] < self.h)
        xs, ys = np.clip(xy[..., 0], 0, self.w - 1), np.clip(xy[..., 1], 0, self.h - 1)
        g = np.abs(self.gx[ys, xs] * normal[0] + self.gy[ys, xs] * normal[1]).max(axis=2)
        best = np.where(inside, g, 0).max(axis=1)
        return float((best >= strength).mean())


def straight_run(points: np.ndarray, tolerance: float = 1.5) -> np.ndarray:
    """The line through most of `points` (within `tolerance` px), fitted to those: a card's side is
    straight, and the edge points that leave it (a thumb's rounded outline over a corner, a shadow)
    must not bend it towards them, as a least-squares or Huber fit over all points would."""
    pts = np.asarray(points, np.float64)
    i, j = np.triu_indices(len(pts), k=1)
    d = pts[j] - pts[i]
    norm = np.hypot(d[:, 0], d[:, 1])
    ok = norm > 1e-6
    i, j, d, norm = i[ok], j[ok], d[ok], norm[ok]
    normals = np.stack([-d[:, 1], d[:, 0]], axis=1) / norm[:, None]
    # distance of every point to every pair's line
    dist = np.abs(
        (pts[None, :, 0] - pts[i][:, None, 0]) * normals[:, None, 0]
        + (pts[None, :, 1] - pts[i][:, None, 1]) * normals[:, None, 1]
    )
    inliers = dist <= tolerance
    best = int(np.argmax(inliers.sum(axis=1))) if len(i) else -1
    chosen = pts[inliers[best]] if best >= 0 and inliers[best].sum() >= 2 else pts
    vx, vy, x0, y0 = cv2.fitLine(chosen.astype(np.float32), cv2.DIST_L2, 0, 0.01, 0.01).ravel()
    return np.array([[x0, y0], [x0 + vx, y0 + vy]], np.float64)


def edge_maps(rgb: np.ndarray) -> list[np.ndarray]:
    grey = cv2.GaussianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (5, 5), 0)
    colour = cv2.GaussianBlur(rgb, (5, 5), 0)
    kernel = np.ones((3, 3), np.uint8)
    maps = []
    for img, lo, hi in ((grey, 12, 36), (grey, 40, 120), (colour, 30, 90)):
        edges = cv2.Canny(img, lo, hi)
        maps.append(cv2.dilate(edges, kernel))
    return maps


def hypotheses(rgb: np.ndarray, settings: DetectionSettings) -> list[np.ndarray]:
    h, w = rgb.shape[:2]
    min_area = settings.min_area_fraction * w * h
    hulls = []
    for edges in edge_maps(rgb):
        # Regions the edges enclose: the card's printed background, in one piece around its text.
        count, labels, stats, _ = cv2.connectedComponentsWithStats(255 - edges, connectivity=4)
        for i in range(1, count):
            if stats[i, cv2.CC_STAT_AREA] < min_area or stats[i, cv2.CC_STAT_AREA] > 0.6 * w * h:
                continue
            x, y, bw, bh = stats[i, :4]
            sub = (labels[y : y + bh, x : x + bw] == i).astype(np.uint8)
            contours, _ = cv2.findContours(sub, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            for contour in contours:
                hulls.append(cv2.convexHull(contour + np.array([x, y])))
        # Outlines of edge blobs: the card's border, closed.
        contours, _ = cv2.findContours(edges, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        for contour in contours:
            if cv2.contourArea(cv2.convexHull(contour)) >= min_area:
                hulls.append(cv2.convexHull(contour))
    quads, seen = [], set()
    for hull in hulls:
        peri = cv2.arcLength(hull, True)
        for eps in (0.01, 0.02, 0.04):
            approx = cv2.approxPolyDP(hull, eps * peri, True)
            if 4 <= len(approx) <= 8:
                quad = quad_from_polygon(approx)
                if quad is not None:
                    key = tuple(np.round(order_corners(quad) / 6).astype(int).ravel())
                    if key not in seen:
                        seen.add(key)
                        quads.append(quad)
                if len(approx) == 4:
                    break
    return quads


def refine(grads: Gradients, c: np.ndarray, strength: float, *, robust: bool = False) -> np.ndarray:
    """Each side snapped to its edge, corners re-intersected: an outline traced from a polygon
    approximation cuts rounded corners and drifts by a few pixels. `robust`: each side is the straight
    line through most of its edge points (a thumb's outline near a corner left out)."""
    reach = max(3, int(0.03 * float(np.linalg.norm(c[0] - c[2]))))
    lines = []
    for i in range(4):
        line = grads.snap(
            c[i].astype(np.float64), c[(i + 1) % 4].astype(np.float64), reach, strength, robust=robust
        )
        lines.append(line if line is not None else np.array([c[i], c[(i + 1) % 4]], np.float64))
    out = []
    for i in range(4):
        a, b = lines[i - 1], lines[i]
        p = _intersect(a[0], a[1], b[0], b[1])
        if p is None or np.linalg.norm(p - c[i]) > 3 * reach:
            return c
        out.append(p)
    return np.array(out, np.float32)


def measure(
    rgb_shape: tuple[int, ...], grads: Gradients, quad: np.ndarray, settings: DetectionSettings
) -> Quad | None:
    h, w = rgb_shape[:2]
    c = order_corners(quad)
    if not cv2.isContourConvex(c.reshape(-1, 1, 2)) or not 0.5 < geometry(c)[0] < 4:
        return None
    c = refine(grads, c, settings.edge_strength)
    if not cv2.isContourConvex(c.reshape(-1, 1, 2)):
        return None
    area = float(cv2.contourArea(c)) / (w * h)
    if area < settings.min_area_fraction or area > 0.7:
        return None
    # A corner reconstructed far outside the frame is not a card we can judge.
    if (
        (c[:, 0] < -0.5 * w).any()
        or (c[:, 0] > 1.5 * w).any()
        or (c[:, 1] < -0.5 * h).any()
        or (c[:, 1] > 1.5 * h).any()
    ):
        return None
    aspect, side_ratio, worst = geometry(c)
    sides = [grads.along(c[i], c[(i + 1) % 4], 0.08, 0.92, 40, settings.edge_strength) for i in range(4)]
    corner_support, corner_sides = [], []
    for i in range(4):
        nxt, prv = c[(i + 1) % 4], c[i - 1]
        a = grads.along(c[i], nxt, 0.07, 0.2, 10, settings.edge_strength)
        b = grads.along(c[i], prv, 0.07, 0.2, 10, settings.edge_strength)
        corner_support.append(min(a, b))
        corner_sides.append((a, b))
    margin = settings.frame_margin * max(w, h)
    touches = bool(
        (c[:, 0] < margin).any()
        or (c[:, 1] < margin).any()
        or (c[:, 0] > w - 1 - margin).any()
        or (c[:, 1] > h - 1 - margin).any()
    )
    q = Quad(c, aspect, side_ratio, worst, sides, corner_support, area, touches, corner_sides=corner_sides)
    aspect_fit = max(0.0, 1 - abs(np.log(aspect / ID1_ASPECT)) / 0.4)
    q.shape_score = float(np.mean(sides) + 0.5 * min(sides) + aspect_fit + 0.2 * min(area / 0.05, 1))
    return q


def widen(rgb_shape: tuple[int, ...], grads: Gradients, q: Quad, settings: DetectionSettings) -> Quad:
    """The card around a quadrilateral that is only part of it: a band printed along one side (a
    coloured strip, the edge of a header) is a strong straight edge parallel to the card's border. Each
    side is tried further out, parallel to itself; a border found there that brings the shape nearer
    to ID-1 is taken."""
    best = q
    lo, hi = ID1_ASPECT * (1 - settings.aspect_tolerance), ID1_ASPECT * (1 + settings.aspect_tolerance)
    for i in range(4):
        c = best.corners.astype(np.float64)
        p0, p1 = c[i], c[(i + 1) % 4]
        # Both neighbouring sides carry on past this side's ends: it is print inside the card (a
        # header's lower edge, a band's inner edge), and the card's border is further out. Then any
        # border that keeps the ID-1 shape is taken, and none found means the card's end is hidden.
        interior = inner_side(grads, c, i, settings.edge_strength)
        d = p1 - p0
        inward = np.array([-d[1], d[0]]) / max(1e-6, float(np.linalg.norm(d)))
        depth = float(np.linalg.norm(c[(i + 2) % 4] - c[(i + 1) % 4]))
        left_edge = False  # a new border only counts once the current one is behind
        for k in np.arange(2, 0.35 * depth, 1.0):
            moved = c.copy()
            # Slide the side outward along its two neighbours, so the shape stays a quadrilateral.
            for j, nb in ((i, (i - 1) % 4), ((i + 1) % 4, (i + 2) % 4)):
                along = c[j] - c[nb]
                cos = abs(float(np.dot(along, -inward))) / max(1e-6, float(np.linalg.norm(along)))
                moved[j] = c[j] + along / max(1e-6, float(np.linalg.norm(along))) * k / max(cos, 0.3)
            support = grads.along(moved[i], moved[(i + 1) % 4], 0.08, 0.92, 30, settings.edge_strength)
            if not left_edge:
                left_edge = support < 0.5
                continue
            if support < 0.8:
                continue
            m = measure(rgb_shape, grads, moved.astype(np.float32), settings)
            if m is not None and (
                abs(np.log(m.aspect / ID1_ASPECT)) < abs(np.log(best.aspect / ID1_ASPECT)) - 0.02
                or (interior and lo <= m.aspect <= hi)
            ):
                m.shape_score, m.completed = best.shape_score, best.completed
                # Its print is measured again, straightened from the new outline (scan's `levelled`).
                m.text_lines, m.text_tilt, m.inside, m.seeded = best.text_lines, -1.0, best.inside, best.seeded
                best = m
                interior = False
            elif interior:
                continue  # print inside the card (a line of the header's text): the border is further
            break
        if interior and best.interior < 0:
            best.interior = i
    return best


def inner_side(grads: Gradients, c: np.ndarray, i: int, strength: float) -> bool:
    """Whether side i is print inside the card rather than its border: both neighbouring sides' edges
    go on a little past its corners and then stop (the card's border running on to the real corners),
    where lines in the background would run on."""

    def runs_on(a: np.ndarray, b: np.ndarray) -> bool:  # the side a->b, past b
        return (
            grads.along(a, b, 1.015, 1.05, 8, strength) >= 0.75
            and grads.along(a, b, 1.3, 1.5, 10, strength) < 0.5
        )

    return runs_on(c[i - 1], c[i]) and runs_on(c[(i + 2) % 4], c[(i + 1) % 4])


def overlap(a: Quad, b: Quad, *, union: bool = False) -> float:
    """Intersection over the smaller of the two (or over their union)."""
    inter, _ = cv2.intersectConvexConvex(a.corners.astype(np.float32), b.corners.astype(np.float32))
    area_a, area_b = cv2.contourArea(a.corners), cv2.contourArea(b.corners)
    return float(inter) / max(1e-6, (area_a + area_b - inter) if union else min(area_a, area_b))


def completions(q: Quad) -> list[np.ndarray]:
    """The whole card, when one side of it was not seen (a header band the colour of the wall):
    the quadrilateral extended across its short dimension, either way, to the ID-1 aspect ratio."""
    c = q.corners.astype(np.float64)
    out = []
    if q.aspect > ID1_ASPECT:
        k = q.aspect / ID1_ASPECT
        tl, tr, br, bl = c
        out.append(np.array([bl + (tl - bl) * k, br + (tr - br) * k, br, bl]))  # the top was missed
        out.append(np.array([tl, tr, tr + (br - tr) * k, tl + (bl - tl) * k]))  # the bottom was missed
    else:
        k = ID1_ASPECT / q.aspect
        tl, tr, br, bl = c
        out.append(np.array([tl, tr + (tr - tl) * (k - 1), br + (br - bl) * (k - 1), bl]))  # the right
        out.append(np.array([tl + (tl - tr) * (k - 1), tr, br, bl + (bl - br) * (k - 1)]))  # the left
    return [o.astype(np.float32) for o in out]


def straighten(rgb: np.ndarray, corners: np.ndarray, width: int) -> np.ndarray:
    height = int(round(width / ID1_ASPECT))
    target = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], np.float32)
    matrix = cv2.getPerspectiveTransform(order_corners(corners).astype(np.float32), target)
    return cv2.warpPerspective(rgb, matrix, (width, height), flags=cv2.INTER_AREA)


# ---------------------------------------------------------------- the scan


def scan(
    rgb: np.ndarray,
    text_lines: TextLines,
    settings: DetectionSettings | None = None,
    *,
    full: np.ndarray | None = None,
    frame_text: list[np.ndarray] | None = None,
) -> CardScan:
    """The card in `rgb` (the detection copy); `full` (same photo, any larger scale) is what the text
    detector looks at, so small print stays legible. `frame_text`: the lines of print found in `rgb`
    (card_reading.text_boxes); with them the card is also looked for outward from its print, and an
    outline that splits a line of print is not taken for the card's (card_print)."""
    s = settings or DetectionSettings()
    grads = Gradients(rgb)
    measured = [m for q in hypotheses(rgb, s) if (m := measure(rgb.shape, grads, q, s)) is not None]
    lines = frame_text or []
    groups = [g for g in card_print.clusters(lines) if g.lines >= s.min_text_lines][:3]
    for group in groups:
        for c in card_print.seeded_quads(grads.gx, grads.gy, group, strength=s.edge_strength):
            if (m := measure(rgb.shape, grads, c, s)) is not None:
                m.seeded = True
                measured.append(m)
    # Enough edge along three sides (the fourth may be hidden by the holding hand) to be an object.
    lo, hi = ID1_ASPECT * (1 - s.aspect_tolerance), ID1_ASPECT * (1 + s.aspect_tolerance)
    solid = [q for q in measured if sorted(q.side_support)[1] >= s.side_support_min]
    for i, q in enumerate(solid):
        if (
            not lo <= q.aspect <= hi
            and q.side_ratio >= s.steep_side_ratio
            and 0.55 * ID1_ASPECT < q.aspect < 1.8 * ID1_ASPECT
        ):
            done = [
                m
                for c in completions(q)
                if (m := measure(rgb.shape, grads, c, s)) is not None
                and sorted(m.side_support)[1] >= s.side_support_min
                and lo <= m.aspect <= hi
            ]
            if done:
                best_done = max(done, key=lambda m: sorted(m.side_support)[1])
                best_done.completed = int(np.argmin(best_done.side_support))
                best_done.shape_score = q.shape_score  # as good as the evidence it was built from
                solid[i] = best_done
    for q in solid:
        q.inside, q.cuts = card_print.lines_inside(q.corners, lines), card_print.cut_lines(q.corners, lines)
        q.left_out = sum(card_print.left_out(q.corners, g) for g in groups)
        q.spans = card_print.spans_layout(q.corners, lines)
    # An outline that splits a line of print or leaves rows of it out is not the card's; one whose
    # print fills too little of it holds background too; of the others, the one enclosing more of the
    # print is more of the card.
    solid.sort(
        key=lambda q: (
            not q.misfit,
            q.spans,
            q.shape_score + s.print_line_weight * min(q.inside, 12),
        ),
        reverse=True,
    )
    # One quadrilateral per object: the best-shaped wins, near-duplicates are dropped.
    distinct: list[Quad] = []
    for q in solid:
        if all(overlap(q, d, union=True) < 0.6 for d in distinct):
            distinct.append(q)
    scale = 1.0 if full is None else full.shape[1] / rgb.shape[1]
    source = rgb if full is None else full
    budget = [s.candidates_with_text]

    def texty(q: Quad) -> bool:
        """Text lines are counted lazily, within a budget: the text detector is the costly part."""
        if q.text_lines < 0 and q.inside >= s.min_text_lines:
            # The frame's own print counted, no second detection; how level it runs is measured on
            # the straightened card (`levelled`) only for the card taken.
            q.text_lines, q.text_tilt = q.inside, -1.0
        if q.text_lines < 0 and budget[0] > 0 and not groups:
            # No print found in the frame (small print at the frame's scale): the card straightened,
            # at full resolution, is looked at instead.
            budget[0] -= 1
            q.text_lines, q.text_tilt = text_lines(straighten(source, q.corners * scale, 360))
        return q.text_lines >= s.min_text_lines

    def levelled(q: Quad) -> Quad:
        if q.text_tilt < 0:
            q.text_tilt = text_lines(straighten(source, q.corners * scale, 360))[1]
        return q

    def steep(q: Quad) -> bool:
        return q.side_ratio < s.steep_side_ratio or q.max_angle_off > s.steep_max_angle

    measures = {"card_candidates": float(len(distinct))}
    shaped = [
        q for q in distinct if lo <= q.aspect <= hi and not q.touches_frame and not steep(q) and not q.misfit
    ]
    best = next((q for q in shaped if texty(q)), None)
    if best is None:
        budget[0] = s.candidates_with_text  # a fresh budget for cards cut off or held obliquely
        for q in distinct:
            if q.text_lines < 0 and (q.touches_frame or (steep(q) and not q.misfit)) and texty(q):
                verdict = OUT_OF_FRAME if q.touches_frame else TOO_STEEP
                return CardScan(verdict, q, {**measures, **describe(levelled(q))})
        return CardScan(NOT_FOUND, None, measures)
    best = levelled(widen(rgb.shape, grads, best, s))
    measures.update(describe(best))
    others = [
        q
        for q in distinct
        if q is not best
        and overlap(q, best) < 0.1
        and q.area_fraction > 0.4 * best.area_fraction
        and (lo <= q.aspect <= hi or q.touches_frame or steep(q))
        and not q.cuts
        and texty(q)
    ]
    if others:
        return CardScan(TWO_DOCUMENTS, best, {**measures, "documents": float(1 + len(others))})
    second = second_print(best, groups)
    measures["card_second_print_lines"] = float(second)
    # Its corners where the card's straight sides meet: a side drawn across the thumb's outline would
    # put the corner beside the thumb instead of under it. Twice: the first fit brings the whole side
    # within reach.
    exact = refine(grads, best.corners, s.edge_strength, robust=True)
    exact = refine(grads, exact, s.edge_strength, robust=True)
    if np.abs(exact - best.corners).max() > 0.15 * float(np.linalg.norm(best.corners[0] - best.corners[1])):
        exact = best.corners
    canvas = straightened(source, exact * scale)
    verdict, unsure = judge_corners(corner_outline(canvas), s, measures)
    if verdict == FOUND and best.interior >= 0 and not unsure:
        # A side judged print inside the card whose border beyond was not found: the card's end may be
        # hidden, or its border the background's colour. Background beyond it settles it; otherwise a
        # person looks.
        foreign = beyond_side(canvas, best.interior)
        measures["card_beyond_side_foreign"] = foreign
        if foreign > s.beyond_side_max:
            unsure = "card_end_beyond_print"
    suspected = CORNER_MISSING if unsure else ""
    if second:
        # Another card's print, stacked rows at the card's own scale, outside the card, with no outline
        # of its own found: a person looks. Before the corners: a second card is the first thing to fix,
        # and an outline that ran from one card into what lies behind it reads as covered corners.
        verdict, unsure, suspected = FOUND, "card_second_print", TWO_DOCUMENTS
    return CardScan(verdict, best, measures, unsure=unsure, suspected=suspected)


def second_print(card: Quad, groups: list[card_print.PrintCluster]) -> int:
    """Lines of another card's print: a cluster of stacked rows wholly outside `card`, at the scale of
    the print inside it (the same layout at the same distance; a poster's lines are another size)."""
    heights = [g.height for g in groups if card_print.lines_inside(card.corners, list(g.boxes))]
    if not heights:
        return 0
    for g in groups:
        if (
            g.stacked()
            and not card_print.lines_inside(card.corners, list(g.boxes))
            and not card_print.cut_lines(card.corners, list(g.boxes))
            and 0.7 <= g.height / heights[0] <= 1.4
        ):
            return g.lines
    return 0


def judge_corners(
    outline: CornerOutline, s: DetectionSettings, measures: dict[str, float]
) -> tuple[str, str]:
    """(verdict, the unsure cue or ""): each corner complete, covered, or unsure, from its outline."""
    worst = int(
        np.argmax(
            [
                a + b + f * (a > 0)
                for a, b, f in zip(outline.arc, outline.broken, outline.foreign, strict=True)
            ]
        )
    )
    arc, broken, foreign = outline.arc[worst], outline.broken[worst], outline.foreign[worst]
    measures.update(
        card_corner_outline_arc=arc,
        card_corner_outline_broken=broken,
        card_corner_outline_foreign=foreign,
        card_corner_clipped=outline.clipped[worst],
        card_corner_enclosed_spread=enclosed_spread(outline, s),
    )
    if arc >= s.outline_covered_min and foreign >= s.outline_foreign_min:
        return CORNER_MISSING, ""
    if max(outline.broken) > s.outline_intact_max or max(outline.arc) > s.outline_intact_max:
        return FOUND, "card_corner_outline"
    if enclosed_spread(outline, s) >= s.enclosed_spread_max:
        # The four corners are one object's: the same card face inside, the same cut edge. One corner
        # whose inside is what lies around it outside while another's is not encloses background (a
        # corner put where the card is not: its steps were the background's texture) or print the
        # background's colour at that corner only. Not a corner seen to be the card's: a person looks.
        return FOUND, "card_corner_outline"
    return FOUND, ""


def enclosed_spread(outline: CornerOutline, s: DetectionSettings) -> float:
    """How much more one corner's inside is like what lies around it outside than another's, counting
    only corners whose steps are not one edge along the outline: a corner that shows the card's cut
    edge as one line is the card's, whatever its face's colour there (a white card's plain corner on a
    pale wall beside a coloured corner patch)."""
    low = min(outline.enclosed)
    return max(
        (e - low for e, c in zip(outline.enclosed, outline.coherent, strict=True) if c < s.coherent_edge_min),
        default=0.0,
    )


def describe(q: Quad) -> dict[str, float]:
    return {
        "card_aspect": q.aspect,
        "card_side_ratio": q.side_ratio,
        "card_edge_support": q.support,
        "card_side_support_min": float(min(q.side_support)),
        "card_corner_support": float(min(q.corner_support)),
        "card_text_lines": float(q.text_lines),
        "card_text_tilt": q.text_tilt,
        "card_area": q.area_fraction,
    }
