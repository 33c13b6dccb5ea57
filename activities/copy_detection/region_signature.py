"""ASSOC-3 image copies without texture: the picture's colour regions, their shapes, and where they sit.

Local features (image_signature.py) need texture: corners and blobs of print at a fine scale. Flat
artwork (a few coloured shapes on a plain ground: T-shirts, stickers, phone cases, posters) and smooth
photographs (blurred, defocused, soft gradients) have little, and the perceptual hash they fell back on
survives no crop or mirror. What they have is regions: areas of one colour, and shapes drawn by their
outlines. So:

- regions: the picture's colours are grouped (k-means in Lab, on a median-filtered frame, so thin
  overlaid strokes such as a tiled watermark's letters are filtered out first) and each group's
  connected pieces are the regions. Which colours form a group is the picture's own: a hue or
  saturation shift moves every colour together and leaves the grouping, and so the regions, alone.
  Regions touching the picture's edge are dropped (a crop, a border or a new canvas changes them).
- each region's shape, by numbers that rotation, scale and mirroring leave unchanged: its spread (Hu's
  first moment invariant, normalised by a disc's), its elongation (from the second), its convexity
  (area over its convex hull) and how much of it is holes (area over its filled outline);
- candidates: integer keys for pairs of the largest regions (both shapes, their size ratio, their
  distance over their size), which no similarity or mirror changes; they sit in the candidate index
  beside the text bands and visual words (from REGION_KEY_BASE up);
- the decision on a candidate: one similarity (rotation, scale, shift, with or without a mirror) must
  carry the stored regions onto query regions of the same shape and of the area the scale predicts, and
  the regions so carried must be most of the stored regions the query still shows (inside its frame).
  A repeated motif (a dot pattern) counts once: regions of one shape share their evidence.

Why two designs on one template cannot both pass: the template (the T-shirt's outline, the sticker's
disc, the poster's sheet) is one or two regions; the print is the rest. A copy brings the print's
regions back at the places one transform predicts; another print's shapes are elsewhere, other
shapes, or other sizes, so the share of stored regions carried over stays near the template's.
"""

from __future__ import annotations

from dataclasses import dataclass
from zlib import crc32

import cv2
import numpy as np

REGION_KEY_BASE = 1 << 20  # region keys follow the 20-bit visual words in one integer key space
REGION_KEY_BITS = 20
COLOURS = 8  # k-means groups
MEDIAN = 5  # px in the feature frame: overlaid strokes up to ~2 px wide are filtered out
MIN_AREA = 60  # px in the feature frame (384 on the long side)
MAX_REGIONS = 32  # the largest kept, stored with the row
KEY_REGIONS = 10  # pairs of the largest give the stored keys
PROBE_REGIONS = 14  # the query probes more: new regions (a tag, a canvas) may push stored ones down
# Quantisation of the pair keys: bins wide enough that a re-upload keeps most values in their bin;
# the query also probes the neighbouring bin of its least certain values.
SPREAD_BIN = 0.3  # log of Hu's first invariant over a disc's
ELONGATION_BIN = 0.25
RATIO_BIN = 0.7  # log area ratio
DISTANCE_BIN = 0.4  # log of centroid distance over the larger region's radius
PROBE_DIMS = 3  # the least certain values probed both ways
# Shape agreement for a correspondence (each within its tolerance)
SHAPE_TOL = np.array([0.25, 0.22, 0.12, 0.12], np.float32)  # spread, elongation, convexity, holes
AREA_TOL = 1.45  # a region's area against the scale squared, either way
PLACE_TOL = 0.3  # centroid error, in the region's own radius
ALIKE = 4  # query regions considered for each stored region
HYPOTHESES = 3000  # pairs of correspondences tried, at most
MIN_SEPARATION = 12.0  # px: two correspondences closer than this fix no rotation
# The decision
MIN_EVIDENCE = 1.5  # regions carried over (a repeated shape counts once) before the pictures are laid over
MIN_SHARE = 0.4  # of the stored regions the query frame still shows


@dataclass
class Regions:
    """A picture's regions in the feature frame: centroids (n, 2), areas (n,), shapes (n, 4)."""

    centroids: np.ndarray
    areas: np.ndarray
    shapes: np.ndarray
    size: tuple[int, int]  # (width, height) of the frame

    def __len__(self) -> int:
        return len(self.areas)


def _empty(size: tuple[int, int]) -> Regions:
    return Regions(np.zeros((0, 2), np.float32), np.zeros(0, np.float32), np.zeros((0, 4), np.float32), size)


def regions(frame: np.ndarray) -> Regions:
    """The regions of an RGB feature frame, largest first."""
    h, w = frame.shape[:2]
    if frame.ndim != 3 or h < 32 or w < 32:
        return _empty((w, h))
    a = cv2.medianBlur(np.ascontiguousarray(frame), MEDIAN)
    lab = cv2.cvtColor(a, cv2.COLOR_RGB2LAB).astype(np.float32)
    sample = np.ascontiguousarray(lab[::3, ::3].reshape(-1, 3))
    cv2.setRNGSeed(20260601)  # k-means starts from seeded centres: the same picture, the same regions
    if float(sample.std(axis=0).max()) < 2.0:  # one colour: no regions
        return _empty((w, h))
    k = COLOURS
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    _, _, centres = cv2.kmeans(sample, k, None, criteria, 2, cv2.KMEANS_PP_CENTERS)  # type: ignore[call-overload]
    flat = lab.reshape(-1, 3)
    dist = (centres * centres).sum(axis=1)[None, :] - 2 * flat @ centres.T  # + |x|^2, the same for all
    labels = dist.argmin(axis=1).reshape(h, w).astype(np.uint8)
    kernel = np.ones((3, 3), np.uint8)
    cents, areas, shapes = [], [], []
    for c in range(k):
        mask = cv2.morphologyEx((labels == c).astype(np.uint8), cv2.MORPH_OPEN, kernel)
        n, cc, stats, centroid = cv2.connectedComponentsWithStats(mask, connectivity=8)
        for i in range(1, n):
            x, y, bw, bh, area = stats[i]
            if area < MIN_AREA or x <= 1 or y <= 1 or x + bw >= w - 1 or y + bh >= h - 1:
                continue
            piece = (cc[y : y + bh, x : x + bw] == i).astype(np.uint8)
            shape = _shape(piece, float(area))
            if shape is None:
                continue
            cents.append(centroid[i])
            areas.append(float(area))
            shapes.append(shape)
    if not areas:
        return _empty((w, h))
    order = np.argsort(-np.array(areas), kind="stable")[:MAX_REGIONS]
    return Regions(
        np.array(cents, np.float32)[order],
        np.array(areas, np.float32)[order],
        np.array(shapes, np.float32)[order],
        (w, h),
    )


def _shape(piece: np.ndarray, area: float) -> np.ndarray | None:
    """Spread, elongation, convexity, holes: unchanged by rotation, scale and mirroring."""
    hu = cv2.HuMoments(cv2.moments(piece, binaryImage=True)).ravel()
    if hu[0] <= 0:
        return None
    spread = float(np.log(hu[0] * 2 * np.pi))  # 0 for a disc, more for anything else
    elongation = float(np.sqrt(max(hu[1], 0.0)) / hu[0])  # 0 for a disc or a square, towards 1 for a bar
    contours, _ = cv2.findContours(piece, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    outline = max(contours, key=cv2.contourArea)
    hull = cv2.contourArea(cv2.convexHull(outline))
    filled = np.zeros_like(piece)
    cv2.drawContours(filled, [outline], -1, 1, thickness=-1)
    filled_area = float(filled.sum())
    if hull <= 0 or filled_area <= 0:
        return None
    return np.array([spread, elongation, min(1.0, filled_area / hull), min(1.0, area / filled_area)], np.float32)


# ---------------------------------------------------------------- keys


def _pair_values(r: Regions, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """For each pair (i < j) of the `limit` largest regions: 6 similarity- and mirror-free values, in bins."""
    n = min(limit, len(r))
    i, j = np.triu_indices(n, 1)
    if not len(i):
        return np.zeros((0, 6), np.float32), np.zeros((0, 6), np.float32)
    d = np.linalg.norm(r.centroids[i] - r.centroids[j], axis=1)
    radius = np.sqrt(r.areas[i] / np.pi)  # i is the larger: regions are sorted by area
    values = np.stack(
        [
            r.shapes[i, 0] / SPREAD_BIN,
            r.shapes[i, 1] / ELONGATION_BIN,
            r.shapes[j, 0] / SPREAD_BIN,
            r.shapes[j, 1] / ELONGATION_BIN,
            np.log(r.areas[i] / r.areas[j]) / RATIO_BIN,
            np.log(np.maximum(d, 1.0) / radius) / DISTANCE_BIN,
        ],
        axis=1,
    )
    return np.floor(values), values


def _hash(bins: np.ndarray) -> np.ndarray:
    b = np.ascontiguousarray(bins.astype(np.int32))
    return np.array(
        [REGION_KEY_BASE + (crc32(row.tobytes()) & ((1 << REGION_KEY_BITS) - 1)) for row in b], np.uint32
    )


def index_keys(r: Regions) -> np.ndarray:
    """The stored keys: one per pair of the KEY_REGIONS largest regions."""
    bins, _ = _pair_values(r, KEY_REGIONS)
    return np.unique(_hash(bins)) if len(bins) else np.zeros(0, np.uint32)


def probe_keys(r: Regions) -> np.ndarray:
    """A query's keys, with the neighbouring bin of each pair's PROBE_DIMS least certain values."""
    bins, values = _pair_values(r, PROBE_REGIONS)
    if not len(bins):
        return np.zeros(0, np.uint32)
    frac = values - bins  # where in its bin each value sits
    toward = np.where(frac < 0.5, -1, 1)
    doubt = np.argsort(np.abs(frac - 0.5), axis=1)[:, ::-1][:, :PROBE_DIMS]  # nearest a bin edge
    probes = [bins]
    for m in range(1, 1 << PROBE_DIMS):
        moved = bins.copy()
        for b in range(PROBE_DIMS):
            if m >> b & 1:
                rows = np.arange(len(bins))
                moved[rows, doubt[:, b]] += toward[rows, doubt[:, b]]
        probes.append(moved)
    return np.unique(_hash(np.concatenate(probes)))


# ---------------------------------------------------------------- storage


def pack(r: Regions) -> bytes:
    """Stored after the SIFT features in the row's features column: n, frame size, then per region
    centroid (2), area (1), shape (4) as float32."""
    head = np.array([len(r), r.size[0], r.size[1]], "<u2").tobytes()
    body = np.concatenate([r.centroids, r.areas[:, None], r.shapes], axis=1).astype("<f4")
    return head + body.tobytes()


def unpack(blob: bytes) -> Regions | None:
    if len(blob) < 6:
        return None
    n, w, h = np.frombuffer(blob, "<u2", count=3).tolist()
    if len(blob) < 6 + n * 28:
        return None
    body = np.frombuffer(blob, "<f4", count=n * 7, offset=6).reshape(n, 7).astype(np.float32)
    return Regions(body[:, :2].copy(), body[:, 2].copy(), body[:, 3:].copy(), (w, h))


# ---------------------------------------------------------------- the decision


@dataclass
class RegionMatch:
    evidence: float  # stored regions carried over, a repeated shape counted once
    share: float  # of the stored regions the query's frame still shows (same counting)
    mirrored: bool = False
    transform: np.ndarray | None = None  # stored frame -> query frame (mirrored first when `mirrored`)

    @property
    def holds(self) -> bool:
        """Enough regions in place for the transform to be laid over and checked."""
        return self.transform is not None and self.evidence >= MIN_EVIDENCE and self.share >= MIN_SHARE


def _weights(r: Regions) -> np.ndarray:
    """1 / how many regions of this picture have this shape (and about this size): a repeated motif is
    one piece of evidence."""
    same = (np.abs(r.shapes[:, None, :] - r.shapes[None, :, :]) <= SHAPE_TOL).all(axis=2)
    ratio = r.areas[:, None] / r.areas[None, :]
    same &= (ratio < AREA_TOL**2) & (ratio > AREA_TOL**-2)
    return 1.0 / same.sum(axis=1)


def mirrored(r: Regions) -> Regions:
    """The regions of the mirrored frame (shapes do not change)."""
    c = r.centroids.copy()
    c[:, 0] = r.size[0] - 1 - c[:, 0]
    return Regions(c, r.areas, r.shapes, r.size)


def match(stored: Regions, query: Regions) -> RegionMatch:
    """The best similarity carrying stored regions onto query regions, the query as it is or mirrored."""
    a = _match(stored, query)
    b = _match(stored, mirrored(query))
    b.mirrored = True
    return a if (a.holds, a.evidence, a.share) >= (b.holds, b.evidence, b.share) else b


def _match(stored: Regions, query: Regions) -> RegionMatch:
    if len(stored) < 3 or len(query) < 3:
        return RegionMatch(0.0, 0.0)
    diff = np.abs(stored.shapes[:, None, :] - query.shapes[None, :, :]) / SHAPE_TOL
    alike = (diff <= 1).all(axis=2)
    # each stored region's ALIKE nearest query regions of its shape: bounded work for repeated motifs
    score = np.where(alike, diff.sum(axis=2), np.inf)
    k = min(ALIKE, len(query))
    alike &= score <= np.sort(score, axis=1)[:, k - 1 : k]
    si, qi = np.nonzero(alike)
    if len(si) < 2:
        return RegionMatch(0.0, 0.0)
    weight = _weights(stored)
    zs = stored.centroids[:, 0] + 1j * stored.centroids[:, 1]
    zq = query.centroids[:, 0] + 1j * query.centroids[:, 1]
    rs = np.sqrt(stored.areas / np.pi)
    a_idx, b_idx = np.triu_indices(len(si), 1)
    ok = (si[a_idx] != si[b_idx]) & (qi[a_idx] != qi[b_idx])
    a_idx, b_idx = a_idx[ok], b_idx[ok]
    if len(a_idx) > HYPOTHESES:  # bounded work: a picture with many alike regions (a pattern) is sampled
        pick = np.random.default_rng(0).choice(len(a_idx), HYPOTHESES, replace=False)
        a_idx, b_idx = a_idx[pick], b_idx[pick]
    ds = zs[si[b_idx]] - zs[si[a_idx]]
    dq = zq[qi[b_idx]] - zq[qi[a_idx]]
    keep = (np.abs(ds) >= MIN_SEPARATION) & (np.abs(dq) >= MIN_SEPARATION)
    a_idx, b_idx = a_idx[keep], b_idx[keep]
    m = dq[keep] / ds[keep]
    if not len(m):
        return RegionMatch(0.0, 0.0)
    t = zq[qi[a_idx]] - m * zs[si[a_idx]]
    s2 = np.abs(m) ** 2
    # both correspondences' areas must agree with the scale
    ra = query.areas[qi[a_idx]] / (stored.areas[si[a_idx]] * s2)
    rb = query.areas[qi[b_idx]] / (stored.areas[si[b_idx]] * s2)
    fine = (ra < AREA_TOL) & (ra > 1 / AREA_TOL) & (rb < AREA_TOL) & (rb > 1 / AREA_TOL)
    fine &= (np.abs(m) > 0.15) & (np.abs(m) < 6)
    if not fine.any():
        return RegionMatch(0.0, 0.0)
    m, t, s2 = m[fine], t[fine], s2[fine]
    # every correspondence under every hypothesis: placed and sized as predicted
    pred = m[:, None] * zs[si][None, :] + t[:, None]
    err = np.abs(pred - zq[qi][None, :]) / (rs[si][None, :] * np.abs(m)[:, None])
    area = query.areas[qi][None, :] / (stored.areas[si][None, :] * s2[:, None])
    hit = (err < PLACE_TOL) & (area < AREA_TOL) & (area > 1 / AREA_TOL)
    carried = np.zeros((len(m), len(stored)), bool)
    rows = np.broadcast_to(np.arange(len(m))[:, None], hit.shape)
    carried[rows[hit], np.broadcast_to(si, hit.shape)[hit]] = True
    evidence = carried.astype(np.float32) @ weight
    top = int(np.argmax(evidence))
    # the stored regions this hypothesis puts inside the query's frame, whole
    w, h = query.size
    centre = m[top] * zs + t[top]
    r_q = rs * abs(m[top])
    visible = (
        (centre.real - r_q > 0) & (centre.imag - r_q > 0) & (centre.real + r_q < w) & (centre.imag + r_q < h)
    ) | carried[top]
    share = min(1.0, float(evidence[top] / max(float(weight[visible].sum()), 1e-6)))
    # the transform refitted on every correspondence in place (least squares, no outliers left)
    pairs = hit[top]
    src = stored.centroids[si[pairs]]
    dst = query.centroids[qi[pairs]]
    transform = None
    if len(src) >= 2:
        transform, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.LMEDS)
    if transform is None:
        mt, tt = m[top], t[top]
        transform = np.array([[mt.real, -mt.imag, tt.real], [mt.imag, mt.real, tt.imag]])
    return RegionMatch(float(evidence[top]), share, False, transform)
