"""OPEN-1 cues that the photo is not a live photo of the original card: a greyscale copy, a screen
photographed, a face covered. Each returns a measure; the thresholds are policy."""

from __future__ import annotations

import cv2
import numpy as np


def skin_mask(rgb: np.ndarray) -> np.ndarray:
    """Skin-toned pixels (the usual YCrCb box, which holds light and dark skin alike)."""
    ycrcb = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)
    y, cr, cb = ycrcb[..., 0], ycrcb[..., 1], ycrcb[..., 2]
    return (y > 50) & (cr >= 135) & (cr <= 178) & (cb >= 80) & (cb <= 130)


def colourfulness(rgb: np.ndarray, *, ignore_skin: bool = False) -> float:
    """Spread of colour (Lab a and b, in OpenCV's 8-bit units) across the pixels. A greyscale copy
    under a coloured light still has one colour everywhere: its spread is near zero, whatever the cast.
    `ignore_skin`: leave out skin-toned pixels (the thumb holding a copy is not the copy's colour)."""
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    a, b = lab[..., 1].ravel(), lab[..., 2].ravel()
    if ignore_skin:
        keep = ~skin_mask(rgb).ravel()
        if keep.sum() > 0.3 * keep.size:
            a, b = a[keep], b[keep]
    # The 97th percentile of the distance from the median colour: a small colour portrait or a thin
    # coloured band is enough (a plain white card is a real card), stray JPEG chroma noise is not.
    d = np.hypot(a - np.median(a), b - np.median(b))
    return float(np.percentile(d, 97))


def chroma_spread(rgb: np.ndarray, *, ignore_skin: bool = False) -> float:
    """Spread of chromaticity (r/(r+g+b), g/(r+g+b), x300) across the pixels: the 97th percentile of
    the distance from the median. A greyscale copy reflects every wavelength alike: under any light,
    white balance or exposure (gains that multiply each channel) all its pixels share one
    chromaticity, light and dark alike, where a cast makes Lab a/b grow with lightness (a sepia cast
    over a grey copy's light and dark parts reads as colour in Lab). A colour print has chromaticities
    of its own (a portrait's skin, a band). Dark pixels are left out: their chromaticity is noise."""
    f = rgb.reshape(-1, 3).astype(np.float32) + 1
    total = f.sum(axis=1)
    keep = total > 90
    if ignore_skin:
        keep &= ~skin_mask(rgb).ravel()
    if keep.sum() < 0.1 * len(keep):
        return float("inf") if ignore_skin else 0.0  # nothing left to judge: no evidence of a copy
    r, g = f[keep, 0] / total[keep], f[keep, 1] / total[keep]
    return float(np.percentile(np.hypot(r - np.median(r), g - np.median(g)), 97)) * 300


def moire(grey: np.ndarray, patch: int = 256) -> float:
    """How far the strongest fine periodic pattern stands above the photo's own fine detail.

    A screen photographed shows its pixel grid as a fine periodic pattern over the whole frame: a
    peak in the spectrum at high frequency that stands above everything at lower frequencies. Natural
    texture has most of its energy low, and a coarse repeating pattern (bricks, tiles, stripes) puts its
    strongest harmonics low too, so the score is the strongest fine peak over the strongest coarse one. Patches
    are taken at the frame's four quarters (the card occupies at most one of them); the median over
    the patches is kept, so one patterned object cannot make a photo look like a screen."""
    h, w = grey.shape
    if h < 2 * patch or w < 2 * patch:
        return 0.0
    window = np.outer(np.hanning(patch), np.hanning(patch)).astype(np.float32)
    yy, xx = np.mgrid[-patch // 2 : patch // 2, -patch // 2 : patch // 2]
    radius = np.hypot(yy, xx) / patch
    band = (radius > 0.12) & (radius < 0.48)
    coarse = (radius > 0.03) & (radius <= 0.12)
    scores = []
    for cy, cx in ((h // 4, w // 4), (h // 4, 3 * w // 4), (3 * h // 4, w // 4), (3 * h // 4, 3 * w // 4)):
        tile = grey[cy - patch // 2 : cy + patch // 2, cx - patch // 2 : cx + patch // 2].astype(np.float32)
        tile = (tile - tile.mean()) * window
        spectrum = np.abs(np.fft.fftshift(np.fft.fft2(tile)))
        scores.append(float(spectrum[band].max() / (spectrum[coarse].max() + 1e-6)))
    return float(np.median(scores))


def screen_border(grey: np.ndarray) -> float:
    """A monitor's bezel: a dark, flat band along all four edges of the frame. Returns the weakest
    side's contrast between the band and the picture just inside it (0 when any side is not dark and
    flat; 100 when all four are dark, even and alike)."""
    h, w = grey.shape
    b = max(4, int(0.025 * min(h, w)))
    g = grey.astype(np.float32)
    bands = [g[:b, b:-b], g[-b:, b:-b], g[b:-b, :b], g[b:-b, -b:]]
    inner = [
        g[3 * b : 5 * b, 5 * b : -5 * b],
        g[-5 * b : -3 * b, 5 * b : -5 * b],
        g[5 * b : -5 * b, 3 * b : 5 * b],
        g[5 * b : -5 * b, -5 * b : -3 * b],
    ]
    # A bezel is flatter than any wall: one even colour on all four sides. The picture next to it may
    # be as dark as the bezel itself, so evenness alone is enough.
    if (
        all(band.std() < 3 and band.mean() < 45 for band in bands)
        and np.ptp([band.mean() for band in bands]) < 6
    ):
        return 100.0
    contrast = []
    for band, near in zip(bands, inner, strict=True):
        if band.mean() > 45 or band.std() > 10:
            return 0.0
        contrast.append(float(near.mean() - band.mean()))
    return min(contrast)


def face_cover(rgb: np.ndarray, landmarks: dict[str, list[tuple[int, int]]]) -> float:
    """Detail around the mouth and nose tip relative to detail around the eyes (mean gradient of
    lightness). An uncovered face has lips, teeth, nostrils: about as much detail as the eyes and brows
    (0.8 to 1.0). A hand, scarf, mask or phone over the mouth is smooth: the ratio falls. The landmark
    model still places a mouth on a covered face, which is what lets the two regions be compared."""
    lightness = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)[..., 0].astype(np.float32)
    magnitude = np.hypot(cv2.Sobel(lightness, cv2.CV_32F, 1, 0), cv2.Sobel(lightness, cv2.CV_32F, 0, 1))

    def region(points: list[tuple[int, int]]) -> np.ndarray:
        mask = np.zeros(lightness.shape, np.uint8)
        cv2.fillConvexPoly(mask, cv2.convexHull(np.array(points, np.int32)), 1)
        return mask > 0

    mouth = region(landmarks["top_lip"] + landmarks["bottom_lip"] + landmarks["nose_tip"])
    eyes = region(
        landmarks["left_eye"]
        + landmarks["right_eye"]
        + landmarks["left_eyebrow"]
        + landmarks["right_eyebrow"]
    )
    if mouth.sum() < 12 or eyes.sum() < 12:
        return 1.0
    return float(magnitude[mouth].mean() / max(1e-6, magnitude[eyes].mean()))


def edge_steepness(grey: np.ndarray, *, min_contrast: float = 40.0) -> float | None:
    """How steep the frame's sharpest edges are against their own contrast: the 99th percentile, over
    pixels within 4 px of a step of at least `min_contrast` grey levels, of gradient / local range.
    A lens out of focus or a hand that shook spreads every step in the scene over its blur width,
    so even the sharpest (hair, an eye, a card's edge, anything in the background) rises slowly; the
    ratio to the step's own height leaves out exposure, light and contrast, and the frame's sharpest
    edges leave out a plain wall or a blurred background beside a sharp subject. About 0.4 in focus
    (0.5 for an ideal step), 1 / (2.5 x the blur's spread in px) when blurred. None: no step that
    high anywhere (nothing to judge). Measured on the detection copy, so the phone's resolution
    does not change it."""
    g = grey.astype(np.float32)
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3) / 8
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3) / 8
    kernel = np.ones((9, 9), np.uint8)
    spread = cv2.dilate(g, kernel) - cv2.erode(g, kernel)
    strong = spread > min_contrast
    if strong.sum() < 50:
        return None
    return float(np.percentile(np.hypot(gx, gy)[strong] / spread[strong], 99))
