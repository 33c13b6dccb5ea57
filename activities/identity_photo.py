"""OPEN-1: is there a real person holding their own ID card, face and all four corners clearly visible?

The checks run in the order a person would fix them, and stop at the first failure so the seller
gets one clear thing to do:

    file      empty_file, file_too_large, not_an_image, unsupported_format, truncated_image,
              decompression_bomb, resolution_too_low          (Pillow, limits set explicitly)
    light     too_dark, too_bright                            (mean luminance of the frame)
    card      card_not_found, card_corner_missing             (OpenCV: a card-shaped quadrilateral)
    quality   too_blurry, glare                               (variance of the Laplacian; clipped
                                                               highlights, on the card region)
    faces     no_face, multiple_people, face_not_clear        (face_recognition HOG, downscaled)
    portrait  card_portrait_missing                           (full resolution, card region only)
    match     face_mismatch                                   (128-d encodings within policy tolerance)

Speed (see bench/photo_bench.py): faces are found on a copy no larger than `detect_max_side`;
only the two faces found are encoded, at full resolution, from their scaled-up boxes.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image
from temporalio import activity

from activities.blobs import path_for
from activities.heartbeat import heartbeating
from activities.known_faces import check_against_registry
from activities.safe_image import ImageLimits, ImageRefusal, decode_image
from models.contract import PhotoCheckInput, PhotoCheckResult
from models.db import engine
from models.policy import AuthenticationPolicy
from models.refusals import Refusal

with warnings.catch_warnings():  # face_recognition_models imports pkg_resources, deprecated upstream
    warnings.simplefilter("ignore")
    import face_recognition

# face_recognition keeps one dlib detector, landmark model and encoder per process, and they are not
# safe to call from two threads at once (concurrent checks saw faces that were not there). Photo
# checks therefore take turns within a worker process; more throughput means more worker processes.
DLIB_LOCK = threading.Lock()
SUPPORTED_FORMATS = {"JPEG", "PNG", "WEBP"}
ID1_ASPECT = 85.6 / 54.0
MESSAGES = {
    "empty_file": "The file is empty. Take the photo again and upload it.",
    "file_too_large": "The file is larger than we accept. Send a normal phone photo (JPEG or PNG).",
    "not_an_image": "The file is not a picture. Upload a photo (JPEG, PNG or WebP).",
    "unsupported_format": "This picture format is not accepted. Upload a JPEG, PNG or WebP photo.",
    "truncated_image": "The picture is damaged or incomplete. Upload it again.",
    "decompression_bomb": "The picture's dimensions are far larger than any photo. Upload a normal photo.",
    "resolution_too_low": "The photo is too small to read. Use your phone camera at normal resolution.",
    "too_dark": "The photo is too dark. Take it again in better light.",
    "too_bright": "The photo is too bright. Avoid direct light and take it again.",
    "card_not_found": "We cannot see your ID card. Hold it beside your face, facing the camera.",
    "card_corner_missing": "A corner of the ID card is cut off or covered. All four corners must show.",
    "too_blurry": "The photo is blurred. Hold still and make sure the card is in focus.",
    "glare": "Light reflects on the ID card. Tilt the card slightly to remove the glare.",
    "no_face": "We cannot see your face. Face the camera with your face uncovered.",
    "multiple_people": "More than one person is in the photo. Only you and your ID card may appear.",
    "face_not_clear": "Your face is not clear: come closer to the camera with your whole face in the frame.",
    "card_portrait_missing": "We cannot see the portrait on your ID card. Show the side with your photo.",
    "face_mismatch": "Your face does not match the portrait on the ID card.",
}


def fail(code: str, **measures: float) -> PhotoCheckResult:
    return PhotoCheckResult(passed=False, refusal=Refusal("OPEN-1", code, MESSAGES[code]), measures=measures)


@dataclass
class CardFound:
    corners: np.ndarray  # 4x2 float, in the detection image's pixels
    fill: float  # card-coloured share of the quadrilateral
    corner_cover: list[float] = field(default_factory=list)  # card-coloured share near each corner


# ---------------------------------------------------------------- 1. the file


def decode(data: bytes, policy: AuthenticationPolicy) -> Image.Image | PhotoCheckResult:
    """Open under explicit limits (activities/safe_image.py); returns the upright RGB image, no
    larger than `decode_max_side`, or the failure."""
    decoded = decode_image(data, photo_limits(policy))
    if isinstance(decoded, ImageRefusal):
        code = _DECODE_CODES.get(decoded.code, decoded.code)
        message = MESSAGES.get(code) or decoded.message
        return PhotoCheckResult(
            passed=False, refusal=Refusal("OPEN-1", code, message), measures=decoded.measures
        )
    # A portrait photo is fine: compare the long and short sides, of the photo as taken.
    long_side, short_side = max(decoded.original_size), min(decoded.original_size)
    if long_side < max(policy.min_width, policy.min_height) or short_side < min(
        policy.min_width, policy.min_height
    ):
        return fail("resolution_too_low", width=decoded.original_size[0], height=decoded.original_size[1])
    return decoded.image


def photo_limits(policy: AuthenticationPolicy) -> ImageLimits:
    return ImageLimits(
        max_bytes=policy.max_photo_bytes,
        max_pixels=policy.max_image_pixels,
        max_decode_bytes=policy.max_decode_bytes,
        max_side=policy.decode_max_side,
        max_jpeg_scans=policy.max_jpeg_scans,
    )


# The decoder's reason codes under the names OPEN-1 has always given them; new ones pass through.
_DECODE_CODES = {
    "image_too_large": "decompression_bomb",
    "image_malformed": "truncated_image",
    "animated_image": "unsupported_format",
}


# ---------------------------------------------------------------- 2. the card


def card_mask(rgb: np.ndarray) -> np.ndarray:
    """Pixels that look like an ID card's printed background: light and nearly colourless."""
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    mask = ((hsv[..., 1] < 45) & (hsv[..., 2] > 165)).astype(np.uint8) * 255
    return cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))


def find_card(rgb: np.ndarray) -> CardFound | None:
    """The most card-like region: a filled quadrilateral with the ID-1 aspect ratio."""
    h, w = rgb.shape[:2]
    mask = card_mask(rgb)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    best: tuple[float, CardFound] | None = None
    for contour in contours:
        area = cv2.contourArea(contour)
        if area < 0.015 * w * h:
            continue
        (cx, cy), (rw, rh), angle = cv2.minAreaRect(contour)
        if min(rw, rh) < 1:
            continue
        aspect = max(rw, rh) / min(rw, rh)
        fill = area / (rw * rh)
        if abs(aspect - ID1_ASPECT) > 0.25 or fill < 0.72:
            continue
        score = fill - abs(aspect - ID1_ASPECT)
        corners = cv2.boxPoints(((cx, cy), (rw, rh), angle))
        if best is None or score > best[0]:
            best = (score, CardFound(corners=corners, fill=fill))
    if best is None:
        return None
    found = best[1]
    found.corner_cover = [corner_cover(mask, found.corners, i) for i in range(4)]
    return found


def corner_cover(mask: np.ndarray, corners: np.ndarray, i: int) -> float:
    """Share of card-coloured pixels in the small square just inside corner i."""
    centre = corners.mean(axis=0)
    corner = corners[i]
    side = 0.07 * float(np.linalg.norm(corners[0] - corners[1]) + np.linalg.norm(corners[1] - corners[2])) / 2
    # Step inside along the diagonal so that the rounded corner and the edge blur do not count.
    inner = corner + (centre - corner) / np.linalg.norm(centre - corner) * side * 1.1
    x0, y0 = int(inner[0] - side / 2), int(inner[1] - side / 2)
    x1, y1 = int(inner[0] + side / 2), int(inner[1] + side / 2)
    h, w = mask.shape
    if x0 < 0 or y0 < 0 or x1 > w or y1 > h:
        return 0.0
    patch = mask[y0:y1, x0:x1]
    return float((patch > 0).mean()) if patch.size else 0.0


def corners_refusal(
    card: CardFound, shape: tuple[int, ...], policy: AuthenticationPolicy
) -> PhotoCheckResult | None:
    h, w = shape[:2]
    margin = policy.corner_margin_fraction * max(w, h)
    for x, y in card.corners:
        if x < margin or y < margin or x > w - 1 - margin or y > h - 1 - margin:
            return fail("card_corner_missing", corner_x=float(x), corner_y=float(y))
    covered = min(card.corner_cover)
    if covered < 0.6:
        return fail("card_corner_missing", corner_cover=covered)
    return None


def warp_card(rgb: np.ndarray, corners: np.ndarray, width: int = 480) -> np.ndarray:
    """The card, straightened to a fixed size: quality is measured on the same scale for every photo."""
    pts = order_corners(corners)
    height = int(round(width / ID1_ASPECT))
    target = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], np.float32)
    matrix = cv2.getPerspectiveTransform(pts.astype(np.float32), target)
    return cv2.warpPerspective(rgb, matrix, (width, height))


def order_corners(corners: np.ndarray) -> np.ndarray:
    """Top-left, top-right, bottom-right, bottom-left, with the long side horizontal."""
    c = np.asarray(corners, dtype=np.float32)
    s, d = c.sum(axis=1), np.diff(c, axis=1).ravel()
    ordered = np.array([c[np.argmin(s)], c[np.argmin(d)], c[np.argmax(s)], c[np.argmax(d)]])
    if np.linalg.norm(ordered[0] - ordered[1]) < np.linalg.norm(ordered[1] - ordered[2]):
        ordered = np.roll(ordered, -1, axis=0)  # held upright: turn it to landscape
    return ordered


def sharpness(grey: np.ndarray) -> float:
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


# ---------------------------------------------------------------- 3. the faces


def inside(box: tuple[int, int, int, int], corners: np.ndarray) -> bool:
    top, right, bottom, left = box
    centre = ((left + right) / 2, (top + bottom) / 2)
    return cv2.pointPolygonTest(corners.astype(np.float32).reshape(-1, 1, 2), centre, False) >= 0


def scale_box(
    box: tuple[int, int, int, int], factor: float, size: tuple[int, int]
) -> tuple[int, int, int, int]:
    top, right, bottom, left = box
    w, h = size
    return (
        max(0, int(top * factor)),
        min(w, int(right * factor)),
        min(h, int(bottom * factor)),
        max(0, int(left * factor)),
    )


def card_portrait(full: np.ndarray, corners_full: np.ndarray) -> tuple[int, int, int, int] | None:
    """The portrait printed on the card, searched at full resolution in the card's bounding box only."""
    x0, y0 = np.floor(corners_full.min(axis=0)).astype(int)
    x1, y1 = np.ceil(corners_full.max(axis=0)).astype(int)
    h, w = full.shape[:2]
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    crop = np.ascontiguousarray(full[y0:y1, x0:x1])
    # At full resolution a card portrait fills HOG's 80 px window; look harder only if it does not.
    boxes = face_recognition.face_locations(
        crop, number_of_times_to_upsample=0
    ) or face_recognition.face_locations(crop, number_of_times_to_upsample=1)
    if not boxes:
        return None
    top, right, bottom, left = max(boxes, key=lambda b: (b[2] - b[0]) * (b[1] - b[3]))
    return (top + y0, right + x0, bottom + y0, left + x0)


# ---------------------------------------------------------------- the whole check


@dataclass
class PhotoVerdict:
    """The check's answer and, on a pass, the live face's encoding (biometric: for the known-faces
    registry only, never in a result, history or log)."""

    result: PhotoCheckResult
    live_encoding: np.ndarray | None = None


def verify_photo(
    data: bytes, policy: AuthenticationPolicy, *, id_fingerprint: str | None = None
) -> PhotoVerdict:
    """OPEN-1 on one photo. `id_fingerprint` is the registered ID card's (unused by this pipeline)."""
    out = _check(data, policy)
    return out if isinstance(out, PhotoVerdict) else PhotoVerdict(out)


def check_photo(data: bytes, policy: AuthenticationPolicy) -> PhotoCheckResult:
    return verify_photo(data, policy).result


def _check(data: bytes, policy: AuthenticationPolicy) -> PhotoCheckResult | PhotoVerdict:
    started = time.perf_counter()
    decoded = decode(data, policy)
    if isinstance(decoded, PhotoCheckResult):
        return decoded
    full = np.asarray(decoded)
    factor = min(1.0, policy.detect_max_side / max(decoded.size))
    small_img = (
        decoded
        if factor == 1.0
        else decoded.resize(
            (max(1, round(decoded.width * factor)), max(1, round(decoded.height * factor))), Image.BILINEAR
        )
    )
    small = np.asarray(small_img)
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)

    brightness = float(grey.mean())
    if brightness < policy.dark_max_mean:
        return fail("too_dark", brightness=brightness)
    if brightness > policy.bright_min_mean:
        return fail("too_bright", brightness=brightness)

    card = find_card(small)
    if card is None:
        # A blurred photo smears the card's edges too: say what the seller can fix.
        if sharpness(grey) < policy.blur_min_variance / 4:
            return fail("too_blurry", sharpness=sharpness(grey))
        return fail("card_not_found")
    refusal = corners_refusal(card, small.shape, policy)
    if refusal is not None:
        return refusal

    flat = warp_card(small, card.corners)
    flat_grey = cv2.cvtColor(flat, cv2.COLOR_RGB2GRAY)
    card_sharpness = sharpness(flat_grey)
    if card_sharpness < policy.blur_min_variance:
        return fail("too_blurry", sharpness=card_sharpness)
    clipped = float((flat_grey >= 250).mean())
    if clipped > policy.glare_max_fraction:
        return fail("glare", glare_fraction=clipped)

    with DLIB_LOCK:
        return _faces_and_match(
            small,
            grey,
            full,
            card,
            factor,
            decoded.size,
            policy,
            brightness,
            card_sharpness,
            clipped,
            started,
        )


def _faces_and_match(
    small: np.ndarray,
    grey: np.ndarray,
    full: np.ndarray,
    card: CardFound,
    factor: float,
    size: tuple[int, int],
    policy: AuthenticationPolicy,
    brightness: float,
    card_sharpness: float,
    clipped: float,
    started: float,
) -> PhotoCheckResult | PhotoVerdict:
    # A face at arm's length is large in the downscaled copy; upsampling (4x the work) is only
    # needed to tell "nobody" from "someone too far away".
    faces = face_recognition.face_locations(small, number_of_times_to_upsample=0)
    live = [b for b in faces if not inside(b, card.corners)]
    if not live:
        faces = face_recognition.face_locations(small, number_of_times_to_upsample=1)
        live = [b for b in faces if not inside(b, card.corners)]
    if not live:
        return fail("no_face")
    if len(live) > 1:
        return fail("multiple_people", faces=float(len(live)))
    face = live[0]
    top, right, bottom, left = face
    sh, sw = small.shape[:2]
    face_height = (bottom - top) / sh
    edge = 0.01 * max(sh, sw)
    if face_height < 0.12 or top <= edge or left <= edge or right >= sw - edge or bottom >= sh - edge:
        return fail("face_not_clear", face_height=face_height)
    face_sharpness = sharpness(cv2.resize(grey[top:bottom, left:right], (160, 160)))
    if face_sharpness < policy.blur_min_variance / 2:
        return fail("face_not_clear", sharpness=face_sharpness)

    corners_full = card.corners / factor
    portrait = card_portrait(full, corners_full)
    if portrait is None:
        return fail("card_portrait_missing")

    live_full = scale_box(face, 1 / factor, size)
    live_enc, card_enc = face_recognition.face_encodings(full, [live_full, portrait], num_jitters=1)
    distance = float(face_recognition.face_distance([card_enc], live_enc)[0])
    measures = {
        "distance": distance,
        "brightness": brightness,
        "card_sharpness": card_sharpness,
        "glare_fraction": clipped,
        "seconds": time.perf_counter() - started,
    }
    if distance > policy.face_match_tolerance:
        return PhotoCheckResult(
            passed=False,
            refusal=Refusal("OPEN-1", "face_mismatch", MESSAGES["face_mismatch"]),
            measures=measures,
        )
    return PhotoVerdict(PhotoCheckResult(passed=True, measures=measures), live_enc)


# Photo checks in flight per worker process. Each is bounded (< 150 MB, bench/hostile_image_bench.py)
# and dlib takes turns anyway (DLIB_LOCK), so a few at once keep the cores busy while the worker's
# 16 activity slots cannot hold 16 checks' memory at once; the others wait here, heartbeating.
PHOTO_CHECKS = threading.BoundedSemaphore(int(os.environ.get("PHOTO_CHECKS_AT_ONCE", "4")))


@activity.defn
def check_authentication_photo(inp: PhotoCheckInput) -> PhotoCheckResult:
    """Reads the photo from the blob store by reference; refuses a photo another account used; on a
    pass enrols the face and names the accounts that share it (activities/known_faces.py). Safe to
    retry: a retry after success finds its own enrolment and answers the same. Heartbeats throughout."""
    path = path_for(inp.photo_ref)
    if not path.exists():
        return fail("not_an_image")
    size = path.stat().st_size
    if size > inp.policy.max_photo_bytes:
        return fail("file_too_large", bytes=float(size))  # never read a huge file into memory
    with heartbeating(), PHOTO_CHECKS:
        if not inp.member_id or not inp.policy.known_faces:  # no account to bind: the checks only
            return check_photo(path.read_bytes(), inp.policy)
        return check_against_registry(inp, path.read_bytes(), engine(), verify_photo)
