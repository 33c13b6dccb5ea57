"""OPEN-1: read the ID card. The number printed on it must be the one the seller registered.

OCR is rapidocr-onnxruntime (PP-OCRv4 detection and recognition, ONNX models inside the wheel, so
nothing is downloaded at run time). One engine per process, created on first use; onnxruntime sessions
may be called from several threads, but the engine's own settings are not, so calls take turns.

The number read never leaves this module in clear: candidates are fingerprinted with the registry's
own fingerprints (`candidate_fingerprints("id_card", ...)`, which canonicalise them) and only the verdict comes out.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from activities.identity_registry import candidate_fingerprints

DETECT_WIDTH = 480
NUMBER_MIN_DIGITS = 12  # an ID number's digits at least (15 or 18 on a resident ID; a date has 8)
MATCH = "match"
MISMATCH = "id_number_mismatch"
UNREADABLE = "card_text_unreadable"

_engine: Any = None
_engine_lock = threading.Lock()
_call_lock = threading.Lock()

# Characters OCR confuses with digits, in the places where a digit belongs.
_AS_DIGIT = str.maketrans(
    {
        "O": "0",
        "o": "0",
        "D": "0",
        "Q": "0",
        "I": "1",
        "l": "1",
        "|": "1",
        "Z": "2",
        "S": "5",
        "B": "8",
        "G": "6",
    }
)
# A run of letters and digits (spaces and dashes inside allowed) with at least six digits.
_RUN = re.compile(r"[0-9A-Za-z|][0-9A-Za-z| \-]{5,}[0-9A-Za-z]")


def engine() -> Any:
    global _engine
    if _engine is None:
        with _engine_lock:
            if _engine is None:
                from rapidocr_onnxruntime import (
                    RapidOCR,  # imported late: a worker that never reads pays nothing
                )

                # The card arrives straightened at a known size: no need for the default upscaling to
                # 736 px on the short side, which triples the detection work.
                # One thread per session: photo checks take turns in a worker process anyway (the
                # face work holds a lock), and on a busy machine onnxruntime's spinning thread pool
                # loses more to contention than it gains (0.76 s against 0.95 s for a card's
                # detection and one line's reading, load average 10 on 2 cores). Throughput comes
                # from more worker processes.
                _engine = RapidOCR(
                    det_limit_side_len=640,
                    det_limit_type="max",
                    print_verbose=False,
                    intra_op_num_threads=1,
                    inter_op_num_threads=1,
                )
    return _engine


def text_lines(card: np.ndarray) -> int:
    """How many lines of text a straightened card (or any picture) holds (detection only, no reading)."""
    return len(text_boxes(card))


def text_boxes(picture: np.ndarray) -> list[np.ndarray]:
    """The lines of text in a picture (detection only): each a 4x2 box, top-left, top-right,
    bottom-right, bottom-left; a line is wider than tall and not the size of the whole picture."""
    ocr = engine()
    with _call_lock:
        boxes, _ = ocr.text_det(np.ascontiguousarray(picture[..., ::-1]))  # the engine expects BGR
    if boxes is None:
        return []
    h = picture.shape[0]
    out = []
    for b in boxes:
        b = np.asarray(b, np.float64)
        bw = float(np.linalg.norm(b[1] - b[0]))
        bh = float(np.linalg.norm(b[3] - b[0]))
        if bw > 1.5 * bh and bh < 0.3 * h:
            out.append(b)
    return out


def text_layout(card: np.ndarray) -> tuple[int, float]:
    """(lines of text, their tilt): how many lines a straightened card holds, and how far from level
    they run (degrees, the median over the lines, weighted by width). An ID card's print runs parallel
    to its long sides, so the card straightened from its true outline shows it level; an outline cut
    by fingers or run into the background straightens the card askew and tilts its lines."""
    boxes = text_boxes(card)
    if not boxes:
        return 0, 90.0
    tilts = np.array([abs(float(np.degrees(np.arctan2(*(b[1] - b[0])[::-1])))) for b in boxes])
    widths = np.array([float(np.linalg.norm(b[1] - b[0])) for b in boxes])
    order = np.argsort(tilts)
    cumulative = np.cumsum(widths[order])
    return len(boxes), float(tilts[order][int(np.searchsorted(cumulative, cumulative[-1] / 2))])


@dataclass
class Reading:
    verdict: str  # MATCH, MISMATCH or UNREADABLE
    lines: int  # text lines read
    confidence: float  # of the best number-like line
    number_like: int = 0  # lines read with an ID number's length of digits (none: blank or hidden)


def _candidates(text: str) -> set[str]:
    out = set()
    for run in _RUN.findall(text):
        compact = re.sub(r"[\s\-]", "", run)
        for cand in {compact, compact.translate(_AS_DIGIT)}:
            if sum(ch.isdigit() for ch in cand) >= 6:
                out.add(cand)
                # A label glued to the number ("IDNo.440305...") leaves letters in front.
                stripped = re.sub(r"^[A-Za-z]+", "", cand)
                if sum(ch.isdigit() for ch in stripped) >= 6:
                    out.add(stripped)
        # Keep a trailing check letter (X) but drop letters OCR turned digits into.
        digits = re.sub(r"[^0-9Xx]", "", run.translate(_AS_DIGIT))
        if len(digits) >= 6:
            out.add(digits)
    return out


def _plausible_number(cand: str) -> bool:
    """A number read well enough to say it is someone else's: the shape of an ID number, check
    character included where the format has one."""
    from stdnum.iso7064 import mod_11_2

    if re.fullmatch(r"\d{17}[\dXx]", cand):
        # The resident ID number's check character (ISO 7064 MOD 11-2): a misread digit breaks it.
        return bool(mod_11_2.is_valid(cand.upper()))
    # Without a check character nothing tells a different number from a misread one (or from another
    # line: "BORN 1990-01-01" reads as BORN19900101): that is unreadable, which a new photo can fix,
    # never the final "not your card".
    return False


def read_number(card: np.ndarray, id_fingerprint: str, *, min_confidence: float = 0.8) -> Reading:
    """Finds the card's text lines, then reads them widest first (an ID number is a long line) and
    stops at the first that carries the registered number; the rest, and the card turned upside down,
    are read only when it is not found there."""
    ocr = engine()
    bgr = np.ascontiguousarray(card[..., ::-1])
    # Lines are found on a 480 px copy (a card's print is large enough there) and read from the
    # full-resolution card, where the digits are sharpest.
    factor = min(1.0, DETECT_WIDTH / bgr.shape[1])
    small = cv2.resize(bgr, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA) if factor < 1 else bgr
    with _call_lock:
        boxes, _ = ocr.text_det(small)
        if boxes is not None and len(boxes):
            boxes = [np.asarray(b, np.float32) / factor for b in ocr.sorted_boxes(boxes)]
            crops = ocr.get_crop_img_list(bgr, boxes)
        else:
            crops = []
    if not crops:
        return Reading(UNREADABLE, 0, 0.0)
    crops.sort(key=lambda c: -c.shape[1] / max(1, c.shape[0]))
    best_conf, plausible, read, number_like = 0.0, False, 0, 0
    # The widest line alone first: recognition pads a batch to its widest line, so reading one line
    # costs a third of reading three, and the number is usually the widest. A mismatch is only
    # declared once every upright line has been read.
    batches = [crops[:1], crops[1:3], crops[3:], [np.ascontiguousarray(c[::-1, ::-1]) for c in crops]]
    for n, batch in enumerate(batches):
        if n == 3 and plausible:
            break  # a number was read well, upright: no need to turn the card over
        if not batch:
            continue
        with _call_lock:
            lines, _ = ocr.text_rec(batch)
        read += len(batch)
        for text, conf in lines:
            cands = _candidates(text)
            # An ID number's length (a date or a phone number is shorter)
            number_like += any(sum(ch.isdigit() for ch in c) >= NUMBER_MIN_DIGITS for c in cands)
            for cand in cands:
                # The registry's own canonical forms (mainland, then other documents' strict pattern);
                # a run with none is not an ID number at all.
                prints = candidate_fingerprints("id_card", cand)
                if id_fingerprint in prints:
                    return Reading(MATCH, read, float(conf))
                if prints and conf >= min_confidence and _plausible_number(cand.upper()):
                    plausible = True
                    best_conf = max(best_conf, float(conf))
    if plausible:
        return Reading(MISMATCH, read, best_conf, number_like)
    return Reading(UNREADABLE, read, best_conf, number_like)
