"""OPEN-1 on the generated evaluation corpus's reporting split (devtools/photo_corpus.py): card designs,
backgrounds, hands and phone effects drawn from parameter ranges the checks were not tuned on. Prints
the verdicts (pass, refused, review), the done-when figures and the failure rates per parameter bin;
no genuine photo is refused and no failing photo passes. This is a small seeded draw (the suite must
stay lean: 19 photos). The 500-photo evaluation is `test_report_draw_of_500` below, run only when
OPEN1_REPORT_DRAW is set (it takes about an hour of a busy 2-core machine), or the command
`python -m devtools.photo_eval --split report --per-kind 34 --genuine 60 --jobs 2` (README, OPEN-1)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from activities.identity_photo import REASONS, verify_photo
from activities.identity_registry import fingerprint
from activities.photo_analysis import card_detection, card_reading, photo_cues
from devtools import photo_corpus, photo_eval, photo_fixtures
from devtools.identity_factory import id_card_number
from models.policy import load_policy

POLICY = load_policy().authentication
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def outcomes() -> list[photo_eval.Outcome]:
    return photo_eval.evaluate(
        photo_corpus.corpus("report", per_kind=1, genuine=6, seed_offset=70000), POLICY
    )


def test_reporting_split_no_false_accept(outcomes: list[photo_eval.Outcome]) -> None:
    print("\nOPEN-1 on a draw of the reporting split")
    print(photo_eval.summary(outcomes))
    print(photo_eval.report(outcomes))
    print(photo_eval.by_parameter(outcomes, worst=25))
    false_accepts = [o.photo.name for o in outcomes if o.photo.expect != "pass" and o.got == "pass"]
    assert false_accepts == []


def test_reporting_split_no_genuine_photo_refused(outcomes: list[photo_eval.Outcome]) -> None:
    refused = [
        (o.photo.name, o.got)
        for o in outcomes
        if o.photo.expect == "pass" and o.got not in ("pass", "review")
    ]
    assert refused == []


@pytest.mark.skipif(not os.environ.get("OPEN1_REPORT_DRAW"), reason="the 500-photo report draw: set OPEN1_REPORT_DRAW")
def test_report_draw_of_500() -> None:
    """The issue's bar on a fresh report draw of 502 photos: no genuine photo refused, no failing photo
    passed, at least 85% decided automatically, at most 3% of decided failures with the wrong reason."""
    photos = photo_corpus.corpus("report", per_kind=34, genuine=60, seed_offset=int(os.environ["OPEN1_REPORT_DRAW"]))
    outcomes = photo_eval.evaluate_in_parallel(photos, jobs=2)
    print("\nOPEN-1 on a report draw of", len(outcomes), "photos")
    print(photo_eval.summary(outcomes), photo_eval.report(outcomes), photo_eval.by_parameter(outcomes, worst=30), sep="\n\n")
    assert photo_eval.figures(outcomes).done()


def test_the_splits_share_no_parameter_range_background_pattern_or_seed() -> None:
    tune, report = photo_corpus.corpus("tune", 4, 20), photo_corpus.corpus("report", 4, 20)
    assert {p.backdrop for p in tune}.isdisjoint({p.backdrop for p in report})
    assert {p.seed for p in tune}.isdisjoint({p.seed for p in report})
    # Every continuous parameter (its bin reads "lo..hi"): the report split's bins are none of tune's.
    bins = {split: {(n, v) for p in photos for n, v in p.params if ".." in v} for split, photos in
            (("tune", tune), ("report", report))}  # fmt: skip
    assert bins["tune"] and bins["report"] and bins["tune"].isdisjoint(bins["report"])
    assert {v for p in tune for n, v in p.params if n == "pattern"} - {"none"} <= set(
        photo_corpus.SPLITS["tune"].patterns
    )


def test_every_refusal_says_whether_a_new_photo_can_fix_it() -> None:
    final = {code for code, (_, retryable) in REASONS.items() if not retryable}
    # Another card, another face: no new photo fixes those. Nor one without face consent (DATA-1): that
    # photo is not refused but waits for an operator, whatever a new photo shows.
    assert final == {"id_number_mismatch", "face_mismatch", "no_face_consent"}
    # Another registered number than the one the card carries (a photo whose card is found surely).
    photo = photo_fixtures.jpeg_bytes(photo_fixtures.VARIANTS[0], id_card_number(4242))
    result = verify_photo(photo, POLICY, id_fingerprint=fingerprint("id_card", id_card_number(4243)))
    assert result.result.refusal is not None and result.result.refusal.code == "id_number_mismatch"
    assert result.result.refusal.retryable is False and result.live_encoding is None


def test_a_pass_hands_back_the_live_encoding_and_no_number_in_measures() -> None:
    photo = photo_corpus.corpus("report", 1, 1)[0]
    verdict = verify_photo(
        photo_corpus.encoded(photo), POLICY, id_fingerprint=fingerprint("id_card", photo.registered_id)
    )
    assert verdict.result.passed, verdict.result.refusal
    assert verdict.live_encoding is not None and verdict.live_encoding.shape == (128,)
    blob = json.dumps(verdict.result.measures)
    assert photo.registered_id not in blob and photo.registered_id[-6:] not in blob


def _scene(kind: str, seed_offset: int = 0) -> np.ndarray:
    """A photo of the reporting split above (or of another draw of it), as the check receives it."""

    photo = next(p for p in photo_corpus.corpus("report", 1, 6, seed_offset) if p.kind == kind)
    return np.asarray(
        ImageOps.exif_transpose(Image.open(io.BytesIO(photo_corpus.encoded(photo)))).convert("RGB")
    )


# The detector on the reporting split's photos and on other draws of it (other poses, places, designs),
# so that it is not right on one draw only, called as the check calls it: with the lines of print found
# in the frame (card_reading.text_boxes), from which the card is also sought. Draw 1000 has a thumb over
# only the tip of a header card's corner (seed 6006), its sides visible from 7% of their length
# (activities/photo_analysis/card_corners.py).
@pytest.mark.parametrize(
    "seed_offset",
    [
        pytest.param(
            0,
            marks=pytest.mark.xfail(
                reason="issue 26 left this open (measured on this draw): the steep card, a finger at its "
                "portrait side and two of its lines of print found, is taken from a part of it (opposite "
                "sides 0.74: not steep) and goes to review for its corners, not refused as too steep",
                strict=True,
            ),
        ),
        1000,
        2000,
    ],
)
def test_the_detector_tells_a_covered_corner_from_a_cut_one_and_from_no_card(seed_offset: int) -> None:
    expected = {
        "genuine": card_detection.FOUND,
        "corner_covered": card_detection.CORNER_MISSING,
        "out_of_frame": card_detection.OUT_OF_FRAME,
        "no_card": card_detection.NOT_FOUND,
        "two_cards": card_detection.TWO_DOCUMENTS,
        "steep": card_detection.TOO_STEEP,
    }
    verdicts = {}
    for kind in expected:
        full = _scene(kind, seed_offset)
        h, w = full.shape[:2]
        small = np.asarray(Image.fromarray(full).resize((800, round(800 * h / w)), Image.Resampling.BILINEAR))
        scan = card_detection.scan(
            small, card_reading.text_layout, full=full, frame_text=card_reading.text_boxes(small)
        )
        # a failing photo the scan is unsure of, suspecting what is wrong with it (a corner covered, a
        # second card's print), goes to review with that suspicion: not a pass either
        unsure_right = kind != "genuine" and scan.unsure and scan.suspected == expected[kind]
        verdicts[kind] = expected[kind] if unsure_right else scan.verdict
    assert verdicts == expected


def test_capture_cues_on_real_images() -> None:

    genuine, screen = _scene("genuine"), _scene("screen")
    grey = cv2.cvtColor(genuine, cv2.COLOR_RGB2GRAY)
    assert photo_cues.colourfulness(genuine) > 2 * POLICY.card_min_colourfulness
    assert photo_cues.colourfulness(np.repeat(grey[..., None], 3, -1)) < POLICY.card_min_colourfulness / 2
    assert photo_cues.moire(grey) < POLICY.screen_moire_min
    screen_grey = cv2.cvtColor(screen, cv2.COLOR_RGB2GRAY)
    assert (
        photo_cues.moire(screen_grey) >= POLICY.screen_moire_min
        or photo_cues.screen_border(screen_grey) >= 25
    )


def _check_photo(path: Path, number: str, *extra: str) -> subprocess.CompletedProcess[str]:
    # No Temporal address that answers and no database: the command must not need either.
    env = {
        "PATH": "/usr/bin:/bin",
        "TEMPORAL_ADDRESS": "127.0.0.1:9",
        "DATABASE_URL": "sqlite:////nonexistent/x.db",
    }
    # The number from standard input (`--id-card-file -`): never on the command line.
    return subprocess.run(
        [sys.executable, "starter.py", "check-photo", str(path), "--id-card-file", "-", *extra],
        input=number,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_check_photo_command_runs_offline_and_prints_each_verdict(tmp_path: Path) -> None:
    """pass exits 0, refused 3, review 6 (4 and 5 mean an unknown member and a closed account elsewhere),
    with the unsure cue."""
    number, other = id_card_number(4242), id_card_number(4243)
    photo = photo_fixtures.jpeg_bytes(photo_fixtures.VARIANTS[0], number)
    (tmp_path / "own.jpg").write_bytes(photo)
    soft = next(v for v in photo_fixtures.VARIANTS if v.name == "soft_card")
    (tmp_path / "soft.jpg").write_bytes(photo_fixtures.jpeg_bytes(soft, number))

    ok = _check_photo(tmp_path / "own.jpg", number, "--json")
    assert ok.returncode == 0, ok.stdout + ok.stderr[-2000:]
    out = json.loads(ok.stdout)
    assert out["verdict"] == "pass" and out["id_number_checked"] and number not in ok.stdout

    bad = _check_photo(tmp_path / "own.jpg", other)
    assert bad.returncode == 3, bad.stdout + bad.stderr[-2000:]
    assert "verdict    refused" in bad.stdout
    assert "OPEN-1 id_number_mismatch" in bad.stdout and "retryable  no (final)" in bad.stdout

    unsure = _check_photo(tmp_path / "soft.jpg", number, "--json")
    assert unsure.returncode == 6, unsure.stdout + unsure.stderr[-2000:]
    out = json.loads(unsure.stdout)
    assert out["verdict"] == "review" and out["code"] == "photo_needs_review" and out["retryable"]
    assert out["unsure"]["cue"] == "card_sharpness" and out["unsure"]["suspected"] == "too_blurry"
    assert (
        POLICY.blur_min_variance / 2 <= out["unsure"]["measures"]["card_sharpness"] < POLICY.blur_min_variance
    )
