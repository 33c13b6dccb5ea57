"""OPEN-1: the card found from its print outward.

An ID card is a printed object: its lines of print (a header, the name and dates, the number) are
parallel to one another and to the card's long sides, of one size (one layout, one distance from the
lens), stacked within a few line heights of one another, and all of them lie inside the card's cut
edge. The text detector (PP-OCR, `card_reading.text_boxes`) gives those lines in the frame. Three
physical cues follow, none of them about colour:

* **a cluster of parallel lines of one height** (`clusters`) is one printed layout: lines of a poster,
  a mug or a shirt in the background are not parallel to the card's and not at its scale, and a lamp,
  bricks or a face are not lines of glyphs at all.
* **the card's edge encloses its print** (`seeded_quads`): the card's outline is looked for outward from
  the cluster, each side a straight edge parallel (top, bottom) or square (sides) to the print within
  a perspective's few degrees, no further out than an ID-1 layout allows (the print spans at least 45%
  of the card's width: the portrait beside it takes at most the rest). Print inside the card (a band,
  a header's lower edge) lies between the lines or beside them, never all around them; a busy
  background's lines beyond the card are held off by the ID-1 bound.
* **an outline that cuts a line of print is not the card's** (`cut_lines`): print cannot run past the
  edge of what it is printed on, and the card hides whatever lies behind it, so no line of glyphs is
  ever split by the card's true outline. An outline run into the background, or cut short by a
  finger or a header's edge, splits them.
* **an outline holds the whole of a layout it holds part of** (`left_out`): a card's print block (rows
  stacked above one another, one layout) lies wholly on the card, so an outline that encloses some of
  its rows and leaves others of the same block outside, above or below them, is a part of the card (a
  band, a portrait's edge and a finger's outline taken for sides), not the card. Print beside the block
  along its lines (a second card's lines at the same height) is not counted: it is another block.
* **the print spans the card** (`spans_layout`): straightened from the card's outline, the print spans
  at least the ID-1 layout's share of its width and height (the bound `seeded_quads` searches within).
  An outline that also takes in the background above the card (a seat, a shelf edge) holds the print in
  a corner of itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

ID1_ASPECT = 85.6 / 54.0
# The print of an ID-1 layout spans at least this share of the card's width (the portrait takes at most
# 40% of it, the margins the rest) and of its height (a header above, the number below).
PRINT_MIN_WIDTH_SHARE = 0.45
PRINT_MIN_HEIGHT_SHARE = 0.4


@dataclass(frozen=True)
class PrintCluster:
    """Lines of print of one layout: parallel, of one height, stacked near one another."""

    boxes: tuple[np.ndarray, ...]  # each 4x2: top-left, top-right, bottom-right, bottom-left
    angle: float  # radians, the lines' direction (within +-90 degrees of the frame's horizontal)
    height: float  # the lines' median height, pixels

    @property
    def lines(self) -> int:
        return len(self.boxes)

    def frame(self) -> tuple[np.ndarray, np.ndarray]:
        """(u, v): unit vectors along the lines and across them (downwards)."""
        u = np.array([np.cos(self.angle), np.sin(self.angle)])
        return u, np.array([-u[1], u[0]])

    def extent(self) -> tuple[float, float, float, float]:
        """(u0, u1, v0, v1): the lines' extent along and across them."""
        u, v = self.frame()
        pts = np.concatenate(self.boxes)
        pu, pv = pts @ u, pts @ v
        return float(pu.min()), float(pu.max()), float(pv.min()), float(pv.max())

    def stacked(self) -> bool:
        """Several rows, not one line: the shape of a card's print block (a sign's word is one row)."""
        u0, u1, v0, v1 = self.extent()
        return self.lines >= 3 and v1 - v0 >= 2.5 * self.height


def _geometry(box: np.ndarray) -> tuple[float, float, float, np.ndarray]:
    direction = box[1] - box[0]
    angle = float(np.arctan2(direction[1], direction[0]))
    if angle > np.pi / 2:  # the same line read the other way
        angle -= np.pi
    elif angle <= -np.pi / 2:
        angle += np.pi
    return angle, float(np.linalg.norm(box[3] - box[0])), float(np.linalg.norm(direction)), box.mean(axis=0)


def clusters(boxes: list[np.ndarray], *, max_turn_deg: float = 8.0) -> list[PrintCluster]:
    """Lines linked when parallel (within `max_turn_deg`), of one height (ratio within 2) and near:
    within 2.5 line heights across and 3 along them. Largest cluster first."""
    if not boxes:
        return []
    geo = [_geometry(np.asarray(b, np.float64)) for b in boxes]
    n = len(boxes)
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(n):
        ai, hi, wi, ci = geo[i]
        for j in range(i + 1, n):
            aj, hj, wj, cj = geo[j]
            turn = abs(ai - aj)
            turn = min(turn, np.pi - turn)
            if np.degrees(turn) > max_turn_deg or max(hi, hj) > 2 * max(1e-6, min(hi, hj)):
                continue
            u = np.array([np.cos(ai), np.sin(ai)])
            d = cj - ci
            gap_along = max(0.0, abs(float(d @ u)) - (wi + wj) / 2)
            gap_across = max(0.0, abs(float(d @ np.array([-u[1], u[0]]))) - (hi + hj) / 2)
            h = max(hi, hj)
            if gap_across <= 2.5 * h and gap_along <= 3 * h:
                parent[root(j)] = root(i)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(root(i), []).append(i)
    out = []
    for members in groups.values():
        widths = np.array([geo[i][2] for i in members])
        angles = np.array([geo[i][0] for i in members])
        order = np.argsort(angles)
        cum = np.cumsum(widths[order])
        angle = float(angles[order][int(np.searchsorted(cum, cum[-1] / 2))])
        out.append(
            PrintCluster(
                tuple(np.asarray(boxes[i], np.float64) for i in members),
                angle,
                float(np.median([geo[i][1] for i in members])),
            )
        )
    out.sort(key=lambda c: c.lines, reverse=True)
    return out


def _intersect(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> np.ndarray | None:
    (p, d), (q, e) = a, b
    den = d[0] * e[1] - d[1] * e[0]
    if abs(den) < 1e-9:
        return None
    t = ((q[0] - p[0]) * e[1] - (q[1] - p[1]) * e[0]) / den
    return p + t * d


def seeded_quads(
    gx: np.ndarray,
    gy: np.ndarray,
    cluster: PrintCluster,
    *,
    strength: float,
    keep: int = 4,
) -> list[np.ndarray]:
    """Card outlines around `cluster`: per side, the straight edges found outward from the print
    (`gx`, `gy`: the frame's Sobel gradients per channel, card_detection.Gradients), within the ID-1
    bound; the four sides' combinations whose shape is nearest ID-1 with the most edge, best first."""
    fh, fw = gx.shape[:2]
    u, v = cluster.frame()
    u0, u1, v0, v1 = cluster.extent()
    width, height = u1 - u0, v1 - v0
    h = cluster.height
    # The card is at most this wide and tall (the print spans at least its share of each).
    max_w = max(width / PRINT_MIN_WIDTH_SHARE, ID1_ASPECT * height)
    max_h = max(max_w / ID1_ASPECT, height / PRINT_MIN_HEIGHT_SHARE)
    step = max(1.0, 0.25 * h)
    tilts = np.radians(np.arange(-6.0, 6.1, 2.0))

    def side_lines(
        normal: np.ndarray, start: float, reach: float, span: tuple[float, float], axis: np.ndarray
    ) -> list[tuple[float, tuple[np.ndarray, np.ndarray]]]:
        """Edges found moving a line (along `axis`, across `span`) outward along `normal`: per offset
        and tilt, the share of its points with an edge across it within 3 px (as Gradients.along)."""
        centre_along = (span[0] + span[1]) / 2
        half = (span[1] - span[0]) / 2
        ts = np.linspace(-0.9, 0.9, 24) * half
        # From a little inside the lines' boxes (drawn larger than the glyphs, a header's may reach the
        # card's edge) outward, every pixel; the line's support counts an edge 3 px either way.
        offsets = np.arange(start - 0.3 * h - 3, start + reach + 4, 1.0)
        best_support = np.zeros(len(offsets))
        best_tilt = np.zeros(len(offsets))
        for tilt in tilts:
            direction = axis * np.cos(tilt) + normal * np.sin(tilt)
            across = np.array([-direction[1], direction[0]])
            pts = (
                (axis * centre_along)[None, None, :]
                + offsets[:, None, None] * normal[None, None, :]
                + ts[None, :, None] * direction[None, None, :]
            )
            xy = np.round(pts).astype(int)
            inside = (xy[..., 0] >= 0) & (xy[..., 0] < fw) & (xy[..., 1] >= 0) & (xy[..., 1] < fh)
            xs, ys = np.clip(xy[..., 0], 0, fw - 1), np.clip(xy[..., 1], 0, fh - 1)
            g = np.abs(gx[ys, xs] * across[0] + gy[ys, xs] * across[1]).max(axis=2)
            edge = (g >= strength) & inside
            # an edge within 3 px of the line, either way
            near = np.zeros_like(edge)
            for k in range(-3, 4):
                near[max(0, k) : len(edge) + min(0, k)] |= edge[max(0, -k) : len(edge) - max(0, k)]
            support = near.mean(axis=1)
            better = support > best_support
            best_support[better], best_tilt[better] = support[better], tilt
        # Offsets every `step`, from 0.3 line heights inside the print's boxes.
        picks = np.arange(3, len(offsets) - 3, max(1, int(round(step))))
        best: dict[float, tuple[float, tuple[np.ndarray, np.ndarray]]] = {}
        for i in picks:
            if best_support[i] >= 0.5:
                direction = axis * np.cos(best_tilt[i]) + normal * np.sin(best_tilt[i])
                centre = axis * centre_along + normal * offsets[i]
                best[float(offsets[i])] = (float(best_support[i]), (centre, direction))
        if not best:
            return []
        # Local maxima: offsets that beat their neighbours.
        offs = sorted(best)
        peaks = [
            (best[o][0], o, best[o][1])
            for k, o in enumerate(offs)
            if (k == 0 or best[offs[k - 1]][0] <= best[o][0])
            and (k == len(offs) - 1 or best[offs[k + 1]][0] < best[o][0])
        ]
        # The strongest three, and the outermost strong one (print bands lie inside the border).
        chosen = sorted(peaks, key=lambda t: t[0], reverse=True)[:3]
        strong = [pk for pk in peaks if pk[0] >= 0.75]
        if strong and strong[-1][1] not in {c[1] for c in chosen}:
            chosen.append(strong[-1])
        return [(support, line) for support, _, line in chosen]

    # Top and bottom run along the print across its width; the sides square to it across its height.
    # Offsets are measured from the origin along -v (top), v (bottom), -u (left), u (right).
    top = side_lines(-v, -v0, max_h - height, (u0, u1), u)
    bottom = side_lines(v, v1, max_h - height, (u0, u1), u)
    left = side_lines(-u, -u0, max_w - width, (v0, v1), v)
    right = side_lines(u, u1, max_w - width, (v0, v1), v)
    quads = []
    for st, t in top:
        for sb, b in bottom:
            for sl, lft in left:
                for sr, r in right:
                    corners = [_intersect(t, lft), _intersect(t, r), _intersect(b, r), _intersect(b, lft)]
                    if any(c is None for c in corners):
                        continue
                    c = np.array(corners, np.float64)
                    if (c[:, 0] < -0.5 * fw).any() or (c[:, 0] > 1.5 * fw).any():
                        continue
                    if (c[:, 1] < -0.5 * fh).any() or (c[:, 1] > 1.5 * fh).any():
                        continue
                    # Around the whole print (a side found on an edge within a line's box splits it).
                    if cut_lines(c.astype(np.float32), list(cluster.boxes)):
                        continue
                    # No larger than the ID-1 layout around this print allows, across both sides.
                    if np.ptp(c @ u) > 1.05 * max_w or np.ptp(c @ v) > 1.05 * max_h:
                        continue
                    w_ = (np.linalg.norm(c[1] - c[0]) + np.linalg.norm(c[2] - c[3])) / 2
                    h_ = (np.linalg.norm(c[3] - c[0]) + np.linalg.norm(c[2] - c[1])) / 2
                    if h_ < 1:
                        continue
                    fit = abs(float(np.log(w_ / h_ / ID1_ASPECT)))
                    if fit > 0.25:
                        continue
                    # An edge along most of a side is as good as one along all of it (fingers hold
                    # the card by its sides); of outlines with their edges, the nearest around the
                    # print is the card's (its margins are a few millimetres; a background's lines
                    # are further out).
                    edges = sum(min(x, 0.8) for x in (st, sb, sl, sr))
                    spread = float(np.log(w_ * h_ / max(1.0, width * height)))
                    quads.append((edges - 2 * fit - 0.3 * spread, c.astype(np.float32)))
    quads.sort(key=lambda t: t[0], reverse=True)
    return [q for _, q in quads[:keep]]


def _inside_share(box: np.ndarray, polygon: np.ndarray) -> float:
    """Share of the box's area inside the polygon (both convex)."""
    inter, _ = cv2.intersectConvexConvex(box.astype(np.float32), polygon.astype(np.float32))
    return float(inter) / max(1e-6, float(cv2.contourArea(box.astype(np.float32))))


def lines_inside(quad: np.ndarray, boxes: list[np.ndarray]) -> int:
    return sum(_inside_share(b, quad) >= 0.75 for b in boxes)


def cut_lines(quad: np.ndarray, boxes: list[np.ndarray]) -> int:
    """Lines of print the outline splits: a quarter or more of the line on each side of it (a line's
    box is drawn a little larger than its glyphs, so a line printed near the card's edge may cross it
    by less)."""
    return sum(0.25 <= _inside_share(b, quad) <= 0.75 for b in boxes)


def left_out(quad: np.ndarray, cluster: PrintCluster) -> int:
    """Rows of `cluster` outside `quad` stacked with rows inside it (above or below them, overlapping
    them along the lines); 0 when the outline holds none of the cluster."""
    inside = [b for b in cluster.boxes if _inside_share(b, quad) >= 0.75]
    if not inside:
        return 0
    u, _ = cluster.frame()
    lo = min(float((b @ u).min()) for b in inside)
    hi = max(float((b @ u).max()) for b in inside)
    out = 0
    for b in cluster.boxes:
        if _inside_share(b, quad) <= 0.25:
            bu = b @ u
            # overlapping the inside rows along the lines by half its own length: the same column
            overlap = min(hi, float(bu.max())) - max(lo, float(bu.min()))
            out += overlap >= 0.5 * float(np.ptp(bu))
    return out


def spans_layout(quad: np.ndarray, boxes: list[np.ndarray]) -> bool:
    """Whether the lines inside `quad`, straightened from it, span the ID-1 layout's share of its width
    and height (True when fewer than two lines are inside: nothing to tell)."""
    inside = [b for b in boxes if _inside_share(b, quad) >= 0.75]
    if len(inside) < 2:
        return True
    target = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float32)
    matrix = cv2.getPerspectiveTransform(quad.astype(np.float32), target)
    pts = cv2.perspectiveTransform(
        np.concatenate(inside).reshape(-1, 1, 2).astype(np.float32), matrix
    ).reshape(-1, 2)
    # The outline's corners come long side first (card_detection.order_corners): x along the lines.
    span = np.ptp(pts, axis=0)
    return bool(span[0] >= PRINT_MIN_WIDTH_SHARE and span[1] >= PRINT_MIN_HEIGHT_SHARE)


def tilt_on_card(quad: np.ndarray, boxes: list[np.ndarray]) -> float:
    """How far from level (degrees, width-weighted median) the lines inside `quad` run once the card
    is straightened from it: an ID card's print is parallel to its long sides, so the card's own
    outline levels it (card_reading.text_layout measures the same on a straightened picture)."""
    inside = [b for b in boxes if _inside_share(b, quad) >= 0.75]
    if not inside:
        return 90.0
    target = np.array([[0, 0], [ID1_ASPECT * 100, 0], [ID1_ASPECT * 100, 100], [0, 100]], np.float32)
    matrix = cv2.getPerspectiveTransform(quad.astype(np.float32), target)
    tilts, widths = [], []
    for b in inside:
        p = cv2.perspectiveTransform(b.reshape(-1, 1, 2).astype(np.float32), matrix).reshape(-1, 2)
        d = p[1] - p[0]
        a = abs(float(np.degrees(np.arctan2(d[1], d[0]))))
        tilts.append(min(a, 180 - a))
        widths.append(float(np.linalg.norm(d)))
    order = np.argsort(tilts)
    cum = np.cumsum(np.array(widths)[order])
    return float(np.array(tilts)[order][int(np.searchsorted(cum, cum[-1] / 2))])
