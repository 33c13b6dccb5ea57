"""OPEN-1: is there a real person holding their own ID card, face and all four corners clearly visible?
Over 400 lines: the OPEN-1 checks in the order a seller fixes them, each with its reason code, in one place.

The checks run in the order a person would fix them, and stop at the first failure so the seller
gets one clear thing to do:

    file      empty_file, file_too_large, not_an_image, unsupported_format, truncated_image,
              decompression_bomb, resolution_too_low          (Pillow, limits set explicitly)
    light     too_dark, too_bright                            (mean luminance of the frame)
    capture   photocopy_or_greyscale, screen_recapture        (colour spread; moire and bezel)
    card      card_not_found, card_out_of_frame, card_corner_missing, two_documents,
              card_perspective_too_steep                      (card_detection: shape, edges, text)
    quality   too_blurry, glare                               (on the straightened card)
    copy      photocopy_or_greyscale                          (colour spread on the card)
    faces     no_face, multiple_people, face_not_clear, face_covered   (face_recognition, downscaled)
    portrait  card_portrait_missing                           (full resolution, the straightened card)
    number    card_text_unreadable, id_number_mismatch        (card_reading: OCR, fingerprints)
    match     face_mismatch                                   (128-d encodings within policy tolerance)

Every reason code has a sentence for the seller and says whether a new photo can fix it (REASONS).
The ID number read on the card and the face encodings never leave this module, except the live
encoding handed back in memory (PhotoVerdict) for the known-faces registry.

Speed (see bench/photo_bench.py): the card and faces are found on a copy no larger than
`detect_max_side`; the card is read, and the two faces encoded, at full resolution from what was found.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime

import cv2
import numpy as np
from PIL import Image
from sqlmodel import Session
from temporalio import activity

from activities.identity.consents import consented
from activities.images.safe_image import ImageLimits, ImageRefusal, decode_image
from activities.known_faces.index import (
    PHOTO_REUSED,
    check_against_registry,
    id_card_fingerprint,
    photo_holder,
)
from activities.photo_analysis import card_detection, card_reading, photo_cues
from activities.retention import note_refused_photo
from activities.storage.blobs import BlobError, BlobMissing, BlobTooLarge, blobs
from activities.storage.db import engine
from activities.worker_support.heartbeat import heartbeating
from models.activity_io import PhotoCheckInput, PhotoCheckResult, PhotoReview
from models.contract import account_workflow_id
from models.policy import AuthenticationPolicy
from models.refusals import Refusal
from models.review import OPEN1_REFUSALS

with warnings.catch_warnings():  # face_recognition_models imports pkg_resources, deprecated upstream
    warnings.simplefilter("ignore")
    import face_recognition

# face_recognition keeps one dlib detector, landmark model and encoder per process, and they are not
# safe to call from two threads at once (concurrent checks saw faces that were not there). Photo
# checks therefore take turns within a worker process; more throughput means more worker processes.
DLIB_LOCK = threading.Lock()
SUPPORTED_FORMATS = {"JPEG", "PNG", "WEBP", "HEIF"}
ID1_ASPECT = card_detection.ID1_ASPECT

# code -> (sentence for the seller, whether a new photo can fix it). The codes an operator may give too
# are the rule's own vocabulary (models/review.py OPEN1_REFUSALS), so a seller reads one sentence
# whoever refused; photo_reused is the registry's (activities/known_faces/index.py), not this check's.
REASONS: dict[str, tuple[str, bool]] = {
    "empty_file": ("The file is empty. Take the photo again and upload it.", True),
    "file_too_large": ("The file is larger than we accept. Send a normal phone photo (JPEG or PNG).", True),
    "not_an_image": ("The file is not a picture. Upload a photo (JPEG, HEIC, PNG or WebP).", True),
    "unsupported_format": ("This picture format is not accepted. Upload a JPEG, HEIC, PNG or WebP photo.", True),
    "truncated_image": ("The picture is damaged or incomplete. Upload it again.", True),
    "decompression_bomb": (
        "The picture's dimensions are far larger than any photo. Upload a normal photo.",
        True,
    ),
    "resolution_too_low": (
        "The photo is too small to read. Use your phone camera at normal resolution.",
        True,
    ),
    **{code: reason for code, reason in OPEN1_REFUSALS.items() if code != "photo_reused"},
    "photo_needs_review": (
        "We could not decide on this photo automatically: a person will look at it. You may also take it"
        " again with the whole card in view, all four corners uncovered.",
        True,
    ),
    "no_face_consent": (
        "You did not consent to face processing, so no automatic face check runs: a person will compare"
        " your photo with your ID card.",
        False,
    ),
}
MESSAGES = {code: sentence for code, (sentence, _) in REASONS.items()}


def review(cue: str, suspected: str, measures: dict[str, float]) -> PhotoCheckResult:
    """Neither pass nor refusal: `cue` was unsure; the photo goes to a person with its measures."""
    sentence, retryable = REASONS["photo_needs_review"]
    unsure = {k: v for k, v in measures.items() if k.startswith(_CUE_MEASURES.get(cue, cue))}
    return PhotoCheckResult(
        passed=False,
        refusal=Refusal("OPEN-1", "photo_needs_review", sentence, retryable=retryable),
        measures=measures,
        review=PhotoReview(cue, suspected, unsure),
    )


# The measures that belong to each unsure cue (their names' common prefix).
_CUE_MEASURES: dict[str, str | tuple[str, ...]] = {
    "card_frame_text": "card_frame_text",
    "card_portrait": "card_portrait",
    "card_number": "card_lines",
    "face_count": ("faces", "face_second_height_ratio"),
    "card_corner_outline": "card_corner_",
    "card_end_beyond_print": "card_beyond_side",
    "card_perspective": ("card_side_ratio", "card_text_tilt"),
    "card_sharpness": "card_sharpness",
    "card_chroma_spread": "card_chroma_spread",
    "card_second_print": "card_second_print",
    "frame_edge_steepness": "frame_edge_steepness",
}


def face_consent(member_id: str) -> bool:
    with Session(engine()) as session:
        return consented(session, member_id, "face")


def without_face_consent(data: bytes, policy: AuthenticationPolicy) -> PhotoCheckResult:
    """DATA-1: face must not be the only way. Without face consent no face is looked for, encoded or
    compared: an image is handed to an operator, who compares it with the ID card by eye."""
    decoded = decode(data, policy)
    if isinstance(decoded, PhotoCheckResult):  # not an image at all: the seller can fix that alone
        return decoded
    sentence, retryable = REASONS["no_face_consent"]
    return PhotoCheckResult(
        passed=False,
        refusal=Refusal("DATA-1", "no_face_consent", sentence, retryable=retryable),
        review=PhotoReview("no_face_consent", "", {}),
    )


def fail(code: str, **measures: float) -> PhotoCheckResult:
    sentence, retryable = REASONS[code]
    return PhotoCheckResult(
        passed=False, refusal=Refusal("OPEN-1", code, sentence, retryable=retryable), measures=measures
    )


@dataclass
class PhotoVerdict:
    """The check's result, and on a pass the seller's live face encoding (128 floats) for the
    known-faces registry. The encoding stays in memory: it is never serialised into a result."""

    result: PhotoCheckResult
    live_encoding: np.ndarray | None = None


# ---------------------------------------------------------------- 1. the file


def decode(data: bytes, policy: AuthenticationPolicy) -> Image.Image | PhotoCheckResult:
    """Open under explicit limits (activities/images/safe_image.py); returns the upright RGB image, no
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

# The unsure cues that doubt the card's outline itself.
OUTLINE_CUES = ("card_corner_outline", "card_end_beyond_print", "card_perspective")
# No card's outline found, but this many lines of print in the frame: a person looks (no_card photos of
# the tune split: 0 lines; genuine photos whose card was missed: 4 to 11).
FRAME_TEXT_LINES_UNSURE = 2
# The frame's sharpest edges, their steepness against their own contrast (photo_cues.edge_steepness):
# an in-focus step measures about 0.4 (0.5 at most), a lens spread of 2 px (800 px copy) about 0.2.
# Below FRAME_BLUR_SURE the whole frame is blurred (tune split: blurred 0.16-0.18, every other kind
# 0.32 or more); between the two, a card not found may be the blur's doing: review.
FRAME_BLUR_SURE = 0.22
FRAME_BLUR_UNSURE = 0.28


def detection_settings(policy: AuthenticationPolicy) -> card_detection.DetectionSettings:
    return card_detection.DetectionSettings(
        aspect_tolerance=policy.card_aspect_tolerance, steep_side_ratio=policy.card_steep_side_ratio
    )


def print_in_frame(
    small: np.ndarray, lines: list[np.ndarray], measures: dict[str, float]
) -> tuple[int, int]:
    """(lines of print in the frame, how many of them the frame's edge cuts). A line of print cut by the
    frame's edge belongs to something that runs past the frame: the card, when it is a card's print."""
    edge = 0.005 * max(small.shape[:2])
    sh, sw = small.shape[:2]
    cut = [
        b
        for b in lines
        if b.min() <= edge or (b[:, 0] >= sw - 1 - edge).any() or (b[:, 1] >= sh - 1 - edge).any()
    ]
    measures.update(card_frame_text_lines=float(len(lines)), card_frame_text_cut=float(len(cut)))
    return len(lines), len(cut)


def warp_card(rgb: np.ndarray, corners: np.ndarray, width: int = 480) -> np.ndarray:
    """The card, straightened to a fixed size: quality is measured on the same scale for every photo."""
    return card_detection.straighten(rgb, corners, width)


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


def card_portrait(card: np.ndarray) -> tuple[int, int, int, int] | None:
    """The portrait printed on the card, searched on the straightened card at full resolution: upright
    whatever angle the card is held at (HOG's window tolerates about 15 degrees; the cards turn 25)."""
    card = np.ascontiguousarray(card)
    # At full resolution a card portrait fills HOG's 80 px window; look harder only if it does not.
    boxes = face_recognition.face_locations(
        card, number_of_times_to_upsample=0
    ) or face_recognition.face_locations(card, number_of_times_to_upsample=1)
    if not boxes:
        return None
    return max(boxes, key=lambda b: (b[2] - b[0]) * (b[1] - b[3]))


# A face hidden from the mouth down scores -0.6 to 0.4 (the usual threshold is 0); its box covers the
# upper face, from 0.12 of the frame's height (0.08 allowed) (tune split, draws 0 and 400).
PARTIAL_FACE_THRESHOLD = -0.6
PARTIAL_FACE_MIN_HEIGHT = 0.08
# A second face outside the card at least this share of the largest one's height is a second person
# (a card's printed portrait is a third of a 54 mm card: a tenth of a face's height at the same
# distance, a third when the card is held nearer the camera).
SECOND_FACE_MIN_RATIO = 0.6


def partly_visible_face(small: np.ndarray, card_corners: np.ndarray) -> bool:
    """Whether a face too covered for the detector's usual threshold is there: the upper face (eyes,
    brows, nose) still scores, below the threshold, at a face's size and outside the card. Then the
    seller is told to uncover their face, not that there is none."""
    detector = face_recognition.api.face_detector  # dlib's HOG detector, the one face_locations uses
    sh = small.shape[0]
    for upsample in (0, 1):
        rects, scores, _ = detector.run(small, upsample, PARTIAL_FACE_THRESHOLD)
        for r in rects:
            box = (r.top(), r.right(), r.bottom(), r.left())
            if r.height() >= PARTIAL_FACE_MIN_HEIGHT * sh and not inside(box, card_corners):
                return True
    return False


# ---------------------------------------------------------------- the whole check


def check_photo(
    data: bytes, policy: AuthenticationPolicy, *, id_fingerprint: str | None = None
) -> PhotoCheckResult:
    return verify_photo(data, policy, id_fingerprint=id_fingerprint).result


def verify_photo(
    data: bytes, policy: AuthenticationPolicy, *, id_fingerprint: str | None = None
) -> PhotoVerdict:
    """The whole OPEN-1 check of one photo. With `id_fingerprint` (the registered ID card number's
    fingerprint) the number printed on the card is read and must match it."""
    started = time.perf_counter()
    decoded = decode(data, policy)
    if isinstance(decoded, PhotoCheckResult):
        return PhotoVerdict(decoded)
    result, encoding = _verify_image(decoded, policy, id_fingerprint)
    result.measures["seconds"] = time.perf_counter() - started
    return PhotoVerdict(result, encoding if result.passed else None)


def _verify_image(
    decoded: Image.Image, policy: AuthenticationPolicy, id_fingerprint: str | None
) -> tuple[PhotoCheckResult, np.ndarray | None]:
    full = np.asarray(decoded)
    factor = min(1.0, policy.detect_max_side / max(decoded.size))
    small_img = (
        decoded
        if factor == 1.0
        else decoded.resize(
            (max(1, round(decoded.width * factor)), max(1, round(decoded.height * factor))),
            Image.Resampling.BILINEAR,
        )
    )
    small = np.asarray(small_img)
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)

    # A screen photographed first: its bezel and dimmed picture make the frame dark, and better light
    # would not make it a photo of the seller (the pixel grid's moire is there at any exposure).
    full_grey = cv2.cvtColor(full, cv2.COLOR_RGB2GRAY)
    moire = photo_cues.moire(full_grey)
    bezel = photo_cues.screen_border(grey)
    if moire >= policy.screen_moire_min or bezel >= 25:
        return fail("screen_recapture", moire=moire, bezel_contrast=bezel), None

    brightness = float(grey.mean())
    if brightness < policy.dark_max_mean:
        return fail("too_dark", brightness=brightness), None
    if brightness > policy.bright_min_mean:
        return fail("too_bright", brightness=brightness), None

    # A black-and-white photo.
    frame_colour = photo_cues.colourfulness(small)
    if frame_colour < policy.card_min_colourfulness / 2:
        return fail("photocopy_or_greyscale", colourfulness=frame_colour), None

    # A blurred photo before anything is looked for in it: blur smears the card's edges and print
    # (no card would be found in it) and a new, steady photo is what the seller can do.
    steepness = photo_cues.edge_steepness(grey)
    if steepness is not None and steepness < FRAME_BLUR_SURE:
        return fail("too_blurry", frame_edge_steepness=steepness), None

    frame_text = card_reading.text_boxes(small)
    scan = card_detection.scan(
        small, card_reading.text_layout, detection_settings(policy), full=full, frame_text=frame_text
    )
    measures = {"brightness": brightness, "moire": moire, **scan.measures}
    if steepness is not None:
        measures["frame_edge_steepness"] = steepness
    if scan.verdict == card_detection.NOT_FOUND:
        # A reflection is not named here: with no card in sight, showing the card is the first thing
        # to fix (a lamp in the frame is not glare on a card). A frame somewhat soft is not sure to
        # hold no card: a person looks.
        if steepness is not None and steepness < FRAME_BLUR_UNSURE:
            return review("frame_edge_steepness", "too_blurry", measures), None
        # Refused only on strong evidence: an ID card carries lines of print, so a frame in which the
        # text detector finds none holds no card face. Lines of print without a card's outline around
        # them (a card whose edges are lost in a busy background, a poster) are for a person to see.
        lines, cut = print_in_frame(small, frame_text, measures)
        if lines >= FRAME_TEXT_LINES_UNSURE and cut:
            return fail("card_out_of_frame", **measures), None
        if lines >= FRAME_TEXT_LINES_UNSURE:
            return review("card_frame_text", card_detection.NOT_FOUND, measures), None
        return fail("card_not_found", **measures), None
    verdict, unsure, suspected = scan.verdict, scan.unsure, scan.suspected
    settings = detection_settings(policy)
    if (
        verdict == card_detection.TOO_STEEP
        and scan.card is not None
        and scan.card.text_tilt > settings.level_text_max_tilt
    ):
        # The outline that looks steep does not level the card's print: it is not the card's own
        # outline (fingers at a side cut it, or it runs into the background). A person looks.
        return review("card_perspective", card_detection.TOO_STEEP, measures), None
    if (
        verdict == card_detection.TOO_STEEP
        and scan.card is not None
        and scan.card.side_ratio >= policy.card_steep_sure_ratio
    ):
        # Held obliquely, but not far beyond what a straight card's outline found a little off gives:
        # a person looks, if nothing else is wrong.
        verdict, unsure, suspected = card_detection.FOUND, "card_perspective", card_detection.TOO_STEEP
    card_full = None
    if scan.card is not None and verdict in (card_detection.FOUND, card_detection.CORNER_MISSING):
        # A copy of a card is refused as a copy, whatever else is wrong with it: a new photo of the
        # same copy would not pass.
        corners_full = scan.card.corners / factor
        native = float(np.linalg.norm(corners_full[1] - corners_full[0]))
        card_full = warp_card(full, corners_full, int(min(1000, max(640, native))))
        # The card's own face: an inset leaves out its rounded corners, the background beside them and
        # the fingers holding it by its sides (they reach about a tenth of the card in). Averaged over
        # 4x4 pixels: a sensor's colour noise is per pixel, a print's colours are not.
        ch, cw = card_full.shape[:2]
        inset = card_full[int(0.14 * ch) : int(0.86 * ch), int(0.1 * cw) : int(0.9 * cw)]
        inset = cv2.resize(inset, (inset.shape[1] // 4, inset.shape[0] // 4), interpolation=cv2.INTER_AREA)
        # Skin is not left out: the inset already leaves out the holding fingers, and a beige or pink
        # card is skin-toned all over.
        card_colour = photo_cues.chroma_spread(inset)
        measures["card_chroma_spread"] = card_colour
        if card_colour < policy.card_min_chroma_spread / 4:
            return fail("photocopy_or_greyscale", **measures), None
        if card_colour < policy.card_min_chroma_spread and not unsure:
            unsure, suspected = "card_chroma_spread", "photocopy_or_greyscale"
    # A reflection over a corner breaks its outline too (card_corners): glare is what to fix.
    if verdict == card_detection.OUT_OF_FRAME and not print_in_frame(small, frame_text, measures)[1]:
        # An outline touching the frame, but no line of print cut by the frame's edge: the outline may
        # be the card's run into the background, or another object's. A person looks.
        return review("card_frame_text", card_detection.OUT_OF_FRAME, measures), None
    covered_only = verdict == card_detection.CORNER_MISSING and "card_corner_outline_broken" in measures
    if verdict != card_detection.FOUND and not covered_only:
        return fail(verdict, **measures), None
    card = scan.card
    assert card is not None and card_full is not None

    flat = warp_card(small, card.corners)
    flat_grey = cv2.cvtColor(flat, cv2.COLOR_RGB2GRAY)
    # Glare first: a reflection washes out the print, which would otherwise read as blur. Clipped means
    # brighter than the card's own white: a white card in good light is not glare.
    clip_at = min(254.0, max(250.0, float(np.median(flat_grey)) + 25))
    clipped = float((flat_grey >= clip_at).mean())
    if clipped > policy.glare_max_fraction:
        return fail("glare", glare_fraction=clipped), None
    if covered_only and measures.get("card_corner_clipped", 0.0) >= 0.5:
        return fail("glare", **measures), None  # the corner's outline is broken by a reflection
    if covered_only:
        return fail(verdict, **measures), None
    # Sharpness at the card's own resolution (never upsampled: a small card would look blurred).
    native_w = float(np.linalg.norm(corners_full[1] - corners_full[0]))
    sharp_grey = cv2.cvtColor(warp_card(full, corners_full, int(min(480, native_w))), cv2.COLOR_RGB2GRAY)
    card_sharpness = sharpness(sharp_grey)
    measures.update(card_sharpness=card_sharpness, glare_fraction=clipped)
    if card_sharpness < policy.blur_min_variance / 2:
        return fail("too_blurry", sharpness=card_sharpness), None
    if card_sharpness < policy.blur_min_variance and not unsure:
        unsure, suspected = "card_sharpness", "too_blurry"

    with DLIB_LOCK:
        # The outline is in doubt when a cue about the outline is unsure (a one-hued card's chroma
        # is not about its outline), or when it does not level the card's print.
        sure_outline = unsure not in OUTLINE_CUES and card.text_tilt <= settings.level_text_max_tilt
        outcome = _faces_and_match(
            small, grey, full, card_full, card, factor, decoded.size, policy, measures, sure_outline
        )
    if isinstance(outcome, PhotoCheckResult):
        return outcome, None
    distance, live_enc = outcome
    measures["distance"] = distance
    if "face_second_height_ratio" in measures and not unsure:
        unsure, suspected = "face_count", "multiple_people"

    unread = False
    if id_fingerprint is not None:
        reading = card_reading.read_number(
            card_full, id_fingerprint, min_confidence=policy.ocr_min_confidence
        )
        measures.update(card_lines_read=float(reading.lines), card_lines_number_like=float(reading.number_like))
        if reading.verdict == card_reading.MISMATCH:
            return fail(reading.verdict, **measures), None
        if reading.verdict == card_reading.UNREADABLE and not reading.number_like and not unsure:
            # Lines read on a card surely found, and not one of them number-like: the number is blank
            # or hidden (a finger along it), which a new photo fixes.
            return fail(reading.verdict, **measures), None
        unread = reading.verdict == card_reading.UNREADABLE
    if distance > policy.face_match_tolerance:
        return fail("face_mismatch", **measures), None
    if unread:
        # A number-like line read that is not the registered number, nor surely another: a misread (a
        # pattern through it, a small card, a reflection on one digit) is no proof: a person looks. The card's
        # outline in doubt is named first: an unread number may be the outline's fault.
        return review(unsure or "card_number", suspected or card_reading.UNREADABLE, measures), None
    if unsure:
        # Every other check passed and one cue could not decide: a person looks (no encoding handed
        # back: nothing is enrolled before a decision).
        return review(unsure, suspected, measures), None
    return PhotoCheckResult(passed=True, measures=measures), live_enc


def _faces_and_match(
    small: np.ndarray,
    grey: np.ndarray,
    full: np.ndarray,
    card_full: np.ndarray,
    card: card_detection.Quad,
    factor: float,
    size: tuple[int, int],
    policy: AuthenticationPolicy,
    measures: dict[str, float],
    sure_outline: bool,
) -> PhotoCheckResult | tuple[float, np.ndarray]:
    # A face at arm's length is large in the downscaled copy; upsampling (4x the work) is only
    # needed to tell "nobody" from "someone too far away".
    faces = face_recognition.face_locations(small, number_of_times_to_upsample=0)
    live = [b for b in faces if not inside(b, card.corners)]
    if not live:
        faces = face_recognition.face_locations(small, number_of_times_to_upsample=1)
        live = [b for b in faces if not inside(b, card.corners)]
    if not live:
        if partly_visible_face(small, card.corners):
            return fail("face_covered", **measures)
        return fail("no_face", **measures)
    if len(live) > 1:
        # A second person is a face of a person's size at arm's length; a face far smaller than the
        # largest is a portrait in print (the card's own, when its outline was found short of it, or a
        # poster) or someone far behind: a person looks.
        heights = sorted((b[2] - b[0] for b in live), reverse=True)
        measures.update(faces=float(len(live)), face_second_height_ratio=heights[1] / max(1, heights[0]))
        if heights[1] >= SECOND_FACE_MIN_RATIO * heights[0]:
            return fail("multiple_people", **measures)
        live = [max(live, key=lambda b: b[2] - b[0])]
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
    marks = face_recognition.face_landmarks(small, [face])
    if marks:
        cover = photo_cues.face_cover(small, marks[0])
        measures["mouth_detail_ratio"] = cover
        # Much less detail than the eyes have: something smooth over the mouth; much more: the edge
        # of something held across it.
        if not policy.mouth_detail_min <= cover <= policy.mouth_detail_max:
            return fail("face_covered", **measures)

    portrait = card_portrait(card_full)
    if portrait is None:
        # HOG missing a printed portrait at its usual threshold (small, dim, under a pattern) is no
        # proof the card has none: a face-like pattern below it sends the photo to a person, and so does
        # an outline in doubt (the portrait may lie outside it); nothing face-like at all on a card
        # surely found is a card that shows no portrait.
        detector = face_recognition.api.face_detector
        rects, _, _ = detector.run(np.ascontiguousarray(card_full), 1, PARTIAL_FACE_THRESHOLD)
        measures["card_portrait_faint"] = float(len(rects))
        if not rects and sure_outline:
            return fail("card_portrait_missing", **measures)
        return review("card_portrait", "card_portrait_missing", measures)

    live_full = scale_box(face, 1 / factor, size)
    (live_enc,) = face_recognition.face_encodings(full, [live_full], num_jitters=1)
    (card_enc,) = face_recognition.face_encodings(card_full, [portrait], num_jitters=1)
    distance = float(face_recognition.face_distance([card_enc], live_enc)[0])
    return distance, live_enc


# Photo checks in flight per worker process. Each is bounded (< 150 MB, bench/hostile_image_bench.py)
# and dlib takes turns anyway (DLIB_LOCK), so a few at once keep the cores busy while the worker's
# 16 activity slots cannot hold 16 checks' memory at once; the others wait here, heartbeating.
PHOTO_CHECKS = threading.BoundedSemaphore(int(os.environ.get("PHOTO_CHECKS_AT_ONCE", "4")))


@activity.defn
def check_authentication_photo(inp: PhotoCheckInput) -> PhotoCheckResult:
    """Reads the photo from the blob store by reference; refuses a photo another account used; on a
    pass enrols the face and names the accounts that share it (activities/known_faces/index.py). Safe to
    retry: a retry after success finds its own enrolment and answers the same. Heartbeats throughout.
    A refused photo is noted for deletion when DATA-2's period ends (activities/retention.py)."""
    result = _check(inp)
    if not result.passed and result.refusal is not None and inp.member_id:
        # The server's clock (workflow time, also under time skipping); the wall clock outside a worker.
        at = activity.info().current_attempt_scheduled_time if activity.in_activity() else datetime.now(UTC)
        note_refused_photo(inp.photo_ref, inp.member_id, at)
    return result


def _used_by_another(inp: PhotoCheckInput) -> bool:
    with Session(engine()) as session:
        sha256 = inp.photo_ref.removeprefix("sha256:")
        return photo_holder(session, inp.member_id, sha256, None, inp.policy.photo_reuse_max_distance) is not None


def _check(inp: PhotoCheckInput) -> PhotoCheckResult:
    scope = account_workflow_id(inp.member_id) if inp.member_id else None  # the account's blob first
    try:
        # Bounded: a huge file is refused by its stored size, never read into memory.
        data = blobs().read(inp.photo_ref, max_bytes=inp.policy.max_photo_bytes, scope=scope)
    except BlobMissing:
        # Another account's photo is sealed under that account's key: this one cannot read it by its
        # reference, but the reference (its content's hash) is enough to know it was used before.
        if inp.member_id and _used_by_another(inp):
            return PhotoCheckResult(passed=False, refusal=PHOTO_REUSED)
        return fail("not_an_image")
    except BlobTooLarge:
        return fail("file_too_large", bytes=float(blobs().size(inp.photo_ref, scope=scope) or 0))
    except BlobError:  # an upload whose bytes are not those its reference names
        return fail("not_an_image")
    if inp.member_id and not face_consent(inp.member_id):
        return without_face_consent(data, inp.policy)
    with heartbeating(), PHOTO_CHECKS:
        if not inp.member_id:  # no account to bind: the checks only
            return check_photo(data, inp.policy)
        if not inp.policy.known_faces:  # no face registry: the checks, with the registered ID card
            with Session(engine()) as session:
                registered = id_card_fingerprint(session, inp.member_id)
            return check_photo(data, inp.policy, id_fingerprint=registered)
        return check_against_registry(inp, data, engine(), verify_photo)
