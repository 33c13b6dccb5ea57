"""ASSOC-3 copies of smooth pictures: features at the scale of the picture's soft objects.

A smooth photograph (motion-blurred, defocused, soft colour fields, a microscope's stain, a colour
wheel) has no texture at the 384-pixel feature frame's scale: its outlines are ramps 10 to 40 pixels
wide, where SIFT's detector finds little and what it finds sits on the ramps' noise. Its colour regions
(region_signature.py) need whole regions away from the frame's edge, and a crop of 12-15% a side cuts
most of a picture's three to eight soft objects. What the picture does have is its objects' outlines at
their own scale:

- **the scale**: the frame shrunk to SIDE (192) pixels on its long side, where a blur of 6 to 16 source
  pixels is 2 to 6 pixels wide: the objects' corners and blobs become ordinary scale-space extrema, found
  by SIFT's detector with a low contrast floor (CONTRAST: soft fields differ by little);
- **the channels**: HSV value and saturation, taken apart. A hue edit (every colour turned by one
  angle) leaves value, the largest of the three channels, unchanged and saturation too; a saturation
  edit multiplies saturation by one gain, which SIFT's normalised descriptor ignores. Lightness or grey
  would not do: turning a hue changes how light a colour looks, and the blobs' contrast with it;
- **why crop, mirror, rotation, overlays and borders leave them**: they are local (a crop keeps those
  inside, a border adds its own); the query is also described mirrored (SIFT is not mirror-free) and
  SIFT's orientation follows a rotation; a tag or a watermark covers a few.

They go through the same index and the same decision as everything else: their 20-bit words, hashed
into the region keys' range (from REGION_KEY_BASE: texture-free evidence, voted apart from the fine
visual words, which a textured listing has many of), and, for a candidate they place (RANSAC, like
local features), the stored picture laid over the query and judged by the region evidence's tests
(image_signature._appraise_regions). Stored only for pictures too plain for local features (fewer
than image_signature.FEW_FEATURES fine ones): a textured picture's copies are found by its fine
features. A query always probes them (a copy may have gained texture: a watermark, a tag).
"""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np

from activities.copy_detection.region_signature import REGION_KEY_BASE, REGION_KEY_BITS

SIDE = 192
CONTRAST = 0.005  # SIFT's contrast floor (default 0.04): soft fields differ by little
LIMIT = 120  # per channel, strongest first
STORED = 96  # stored with the row, both channels
INDEXED = 32  # the strongest stored give the index's keys
WORD_BITS = 20


@cache
def _sift() -> cv2.SIFT:
    return cv2.SIFT_create(nfeatures=LIMIT, contrastThreshold=CONTRAST)  # type: ignore[attr-defined]


@cache
def _projection() -> np.ndarray:
    # Fixed seed (another than the fine words'): every process hashes descriptors the same way.
    return np.random.default_rng(20261208).standard_normal((128, WORD_BITS)).astype(np.float32)


def features(colour: np.ndarray, *, mirror: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Points (n, 2) in the feature frame's pixels and RootSIFT descriptors (n, 128) of an RGB feature
    frame: value's and saturation's, interleaved, each strongest first."""
    if colour.ndim != 3:
        return np.zeros((0, 2), np.float32), np.zeros((0, 128), np.float32)
    h, w = colour.shape[:2]
    k = min(1.0, SIDE / max(h, w))
    small = cv2.resize(colour, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA)
    if mirror:
        small = small[:, ::-1]
    hsv = cv2.cvtColor(np.ascontiguousarray(small), cv2.COLOR_RGB2HSV)
    points, descriptors, rank = [], [], []
    for channel in (2, 1):  # value, saturation
        keypoints, des = _sift().detectAndCompute(np.ascontiguousarray(hsv[..., channel]), None)
        if des is None or not keypoints:
            continue
        order = np.argsort([-kp.response for kp in keypoints], kind="stable")[:LIMIT]
        des = des[order]
        descriptors.append(np.sqrt(des / (des.sum(axis=1, keepdims=True) + 1e-7)))
        points.append(np.array([keypoints[i].pt for i in order], np.float32) / k)
        rank.append(np.arange(len(order)) * 2 + (channel == 1))
    if not points:
        return np.zeros((0, 2), np.float32), np.zeros((0, 128), np.float32)
    # the channels interleaved, each strongest first: the first n kept or indexed hold both channels
    order = np.argsort(np.concatenate(rank), kind="stable")
    return np.concatenate(points)[order].astype(np.float32), np.concatenate(descriptors)[order].astype(np.float32)


def _key(words: np.ndarray) -> np.ndarray:
    # a fixed bijection of the 20-bit word into the region keys' range: texture-free evidence, voted apart
    mixed = (words.astype(np.uint64) * np.uint64(0x9E3779B1) + np.uint64(0x5BD1E995)) & np.uint64(
        (1 << REGION_KEY_BITS) - 1
    )
    return (np.uint64(REGION_KEY_BASE) + mixed).astype(np.uint32)


def _projected(des: np.ndarray) -> np.ndarray:
    return (des - des.mean(axis=1, keepdims=True)) @ _projection()


def index_keys(descriptors: np.ndarray) -> np.ndarray:
    if not len(descriptors):
        return np.zeros(0, np.uint32)
    bits = (_projected(descriptors[:INDEXED]) > 0).astype(np.uint32)
    return np.unique(_key((bits << np.arange(WORD_BITS, dtype=np.uint32)).sum(axis=1).astype(np.uint32)))


def probe_keys(descriptors: np.ndarray) -> np.ndarray:
    """A query's keys, each also with its one or two least certain bits flipped (multi-probe LSH)."""
    if not len(descriptors):
        return np.zeros(0, np.uint32)
    proj = _projected(descriptors)
    w = ((proj > 0).astype(np.uint32) << np.arange(WORD_BITS, dtype=np.uint32)).sum(axis=1).astype(np.uint32)
    weakest = np.argsort(np.abs(proj), axis=1)[:, :2].astype(np.uint32)
    b0, b1 = np.uint32(1) << weakest[:, 0], np.uint32(1) << weakest[:, 1]
    return np.unique(_key(np.concatenate([w, w ^ b0, w ^ b1, w ^ b0 ^ b1])))


def pack(points: np.ndarray, descriptors: np.ndarray) -> bytes:
    """Stored after the regions in the row's features column: n, points float16, descriptors as bytes."""
    n = len(points)
    q = np.clip(np.rint(descriptors * 510), 0, 255).astype(np.uint8)
    return b"CF" + n.to_bytes(2, "little") + points.astype("<f2").tobytes() + q.tobytes()


def unpack(blob: bytes) -> tuple[np.ndarray, np.ndarray] | None:
    """None when the row has none (stored before, or a textured picture)."""
    if len(blob) < 4 or blob[:2] != b"CF":
        return None
    n = int.from_bytes(blob[2:4], "little")
    if len(blob) < 4 + 132 * n:
        return None
    points = np.frombuffer(blob, "<f2", count=2 * n, offset=4).reshape(n, 2).astype(np.float32)
    des = np.frombuffer(blob, np.uint8, count=128 * n, offset=4 + 4 * n).reshape(n, 128).astype(np.float32) / 510
    return points, des
