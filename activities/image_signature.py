"""ASSOC-3 image copies: local features that survive what copycats do to a stolen product photo.

A copy is cropped, flipped, rotated, relabelled with text, a logo or a price tag, framed, put on another
background or recoloured, then resized and recompressed. A global perceptual hash changes under most of
these; the local features of the product itself (SIFT keypoints: corners and blobs of the label, the
outline, the print) survive them. So:

- candidates: each product is indexed under the "visual words" of its strongest features (a 16-bit
  random-projection hash of the RootSIFT descriptor; no trained vocabulary, so nothing to ship or drift),
  and a query votes with the words of its own features and of its mirror image (SIFT is not
  mirror-invariant), probing the two least certain bits of each word;
- confirmation, on candidates only: descriptor matches (ratio test) that agree on one similarity
  transform (RANSAC: rotation, scale, shift), counted, and spread over the product (not one shared logo).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np
from PIL import Image, ImageOps

MAX_SIDE = 384  # features are taken on this size: copies are re-uploaded at any size
QUERY_FEATURES = 400
STORED_FEATURES = 96  # kept for the confirmation
INDEXED_FEATURES = 48  # the strongest of them give the index's words
WORD_BITS = 16
RATIO = 0.75  # Lowe's ratio test
RANSAC_PX = 4.0
MIN_INLIERS = 14
MIN_SPREAD = 0.02  # inliers' convex hull, as a share of the frame: a shared logo is not a copied photo


@dataclass
class Features:
    points: np.ndarray  # float32 (n, 2), in the MAX_SIDE frame
    descriptors: np.ndarray  # float32 (n, 128), RootSIFT


@cache
def _sift() -> cv2.SIFT:
    return cv2.SIFT_create(nfeatures=QUERY_FEATURES)


@cache
def _projection() -> np.ndarray:
    # Fixed seed: every process, and every index rebuilt from the table, hashes descriptors the same way.
    return np.random.default_rng(20260601).standard_normal((128, WORD_BITS)).astype(np.float32)


def gray_frame(img: Image.Image) -> np.ndarray:
    g = np.asarray(ImageOps.grayscale(img))
    scale = MAX_SIDE / max(g.shape)
    if scale < 1:
        g = cv2.resize(
            g, (round(g.shape[1] * scale), round(g.shape[0] * scale)), interpolation=cv2.INTER_AREA
        )
    return np.ascontiguousarray(g)


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
    points = np.float32([keypoints[i].pt for i in order])
    return Features(points, des.astype(np.float32))


def _projected(des: np.ndarray) -> np.ndarray:
    return (des - des.mean(axis=1, keepdims=True)) @ _projection()


def words(des: np.ndarray) -> np.ndarray:
    """The visual word of each descriptor: the signs of 16 random projections."""
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
    des = np.frombuffer(blob, np.uint8, offset=2 + 4 * n).reshape(n, 128).astype(np.float32) / 510
    return Features(points, des)


@cache
def _matcher() -> cv2.BFMatcher:
    return cv2.BFMatcher(cv2.NORM_L2)


@dataclass
class Confirmation:
    inliers: int
    spread: float

    @property
    def is_copy(self) -> bool:
        return self.inliers >= MIN_INLIERS and self.spread >= MIN_SPREAD


def confirm(stored: Features, query: Features) -> Confirmation:
    """How many of the stored product's features reappear in the query under one similarity transform."""
    if len(stored.descriptors) < 4 or len(query.descriptors) < 4:
        return Confirmation(0, 0.0)
    pairs = _matcher().knnMatch(stored.descriptors, query.descriptors, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < RATIO * p[1].distance]
    if len(good) < 4:
        return Confirmation(len(good) // 2, 0.0)
    src = stored.points[[g.queryIdx for g in good]]
    dst = query.points[[g.trainIdx for g in good]]
    transform, mask = cv2.estimateAffinePartial2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=RANSAC_PX
    )
    if transform is None or mask is None:
        return Confirmation(0, 0.0)
    inl = src[mask.ravel() == 1]
    spread = cv2.contourArea(cv2.convexHull(inl)) / MAX_SIDE**2 if len(inl) >= 3 else 0.0
    return Confirmation(int(len(inl)), float(spread))


@dataclass
class QuerySignature:
    """What a new listing's image is looked up and confirmed with: both orientations."""

    upright: Features
    mirrored: Features
    probes: np.ndarray


def query_signature(img: Image.Image) -> QuerySignature:
    gray = gray_frame(img)
    up, mi = features(gray), features(gray, mirror=True)
    return QuerySignature(up, mi, np.unique(np.concatenate([probe_words(up), probe_words(mi)])))


def stored_features(q: QuerySignature) -> Features:
    return Features(q.upright.points[:STORED_FEATURES], q.upright.descriptors[:STORED_FEATURES])


def confirm_copy(stored: Features, q: QuerySignature) -> Confirmation:
    a, b = confirm(stored, q.upright), confirm(stored, q.mirrored)
    return a if (a.is_copy, a.inliers) >= (b.is_copy, b.inliers) else b
