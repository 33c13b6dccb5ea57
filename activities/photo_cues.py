"""OPEN-1 cues that the photo is not a live photo of the original card: a greyscale copy, a screen
photographed, a face covered. Each returns a measure; the thresholds are policy."""

from __future__ import annotations

import cv2
import numpy as np


def colourfulness(rgb: np.ndarray) -> float:
    """Spread of colour (Lab a and b, in OpenCV's 8-bit units) across the pixels. A greyscale copy
    under a coloured light still has one colour everywhere: its spread is near zero, whatever the cast."""
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    a, b = lab[..., 1].ravel(), lab[..., 2].ravel()
    # Robust spread: the 90th percentile of the distance from the median colour.
    d = np.hypot(a - np.median(a), b - np.median(b))
    return float(np.percentile(d, 90))


def moire(grey: np.ndarray, patch: int = 256) -> float:
    """How far the strongest fine periodic pattern stands above the photo's own fine detail.

    A screen photographed shows its pixel grid as a fine periodic pattern over the whole frame: a
    sharp peak in the spectrum at high frequency. Natural texture spreads its energy instead. Patches
    are taken at the frame's four quarters (the card occupies at most one of them); the median over
    the patches is kept, so one patterned object cannot make a photo look like a screen."""
    h, w = grey.shape
    if h < 2 * patch or w < 2 * patch:
        return 0.0
    window = np.outer(np.hanning(patch), np.hanning(patch)).astype(np.float32)
    yy, xx = np.mgrid[-patch // 2 : patch // 2, -patch // 2 : patch // 2]
    radius = np.hypot(yy, xx) / patch
    band = (radius > 0.12) & (radius < 0.48)
    scores = []
    for cy, cx in ((h // 4, w // 4), (h // 4, 3 * w // 4), (3 * h // 4, w // 4), (3 * h // 4, 3 * w // 4)):
        tile = grey[cy - patch // 2 : cy + patch // 2, cx - patch // 2 : cx + patch // 2].astype(np.float32)
        tile = (tile - tile.mean()) * window
        spectrum = np.abs(np.fft.fftshift(np.fft.fft2(tile)))
        values = spectrum[band]
        scores.append(float(values.max() / (np.median(values) + 1e-6)))
    return float(np.median(scores))


def screen_border(grey: np.ndarray) -> float:
    """A monitor's bezel: a dark, flat band along all four edges of the frame. Returns the weakest
    side's contrast between the band and the picture just inside it (0 when any side is not dark and flat)."""
    h, w = grey.shape
    b = max(4, int(0.025 * min(h, w)))
    g = grey.astype(np.float32)
    bands = [g[:b, b:-b], g[-b:, b:-b], g[b:-b, :b], g[b:-b, -b:]]
    inner = [g[3 * b : 5 * b, 5 * b : -5 * b], g[-5 * b : -3 * b, 5 * b : -5 * b], g[5 * b : -5 * b, 3 * b : 5 * b], g[5 * b : -5 * b, -5 * b : -3 * b]]
    contrast = []
    for band, near in zip(bands, inner, strict=True):
        if band.mean() > 45 or band.std() > 10:
            return 0.0
        contrast.append(float(near.mean() - band.mean()))
    return min(contrast)


def face_cover(rgb: np.ndarray, landmarks: dict[str, list[tuple[int, int]]]) -> float:
    """Colour distance (CIE76 delta E) between the lower face (nose tip, lips, chin) and the upper
    face (the nose bridge and the skin under the eyes). A hand, a mask or a phone held over the mouth
    puts another colour there; lips and shadows stay near the skin's own."""
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    lab[..., 0] *= 100 / 255
    lab[..., 1:] -= 128

    def mean_in(points: list[tuple[int, int]], grow: float = 1.0) -> np.ndarray | None:
        pts = np.array(points, np.float32)
        centre = pts.mean(axis=0)
        pts = centre + (pts - centre) * grow
        mask = np.zeros(rgb.shape[:2], np.uint8)
        cv2.fillConvexPoly(mask, cv2.convexHull(pts.astype(np.int32)), 1)
        if mask.sum() < 12:
            return None
        return lab[mask > 0].mean(axis=0)

    left_eye, right_eye = np.array(landmarks["left_eye"]), np.array(landmarks["right_eye"])
    nose_bridge = landmarks["nose_bridge"]
    eye_gap = float(np.linalg.norm(left_eye.mean(axis=0) - right_eye.mean(axis=0)))
    down = np.array([0, int(0.35 * eye_gap)])
    # Cheeks under each eye, and the bridge of the nose: skin that a mask or a hand leaves uncovered.
    cheeks = [tuple(p + down) for p in left_eye] + [tuple(p + down) for p in right_eye]
    upper = mean_in(nose_bridge + cheeks)
    lower = mean_in(landmarks["nose_tip"] + landmarks["top_lip"] + landmarks["bottom_lip"] + landmarks["chin"][5:12], 0.8)
    if upper is None or lower is None:
        return 0.0
    return float(np.linalg.norm(upper - lower))
