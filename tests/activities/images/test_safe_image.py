"""The bounded decoder on the generated hostile corpus (devtools/hostile_images.py): each file gets
its reason code, or decodes upright and RGB within the size the checks asked for."""

from __future__ import annotations

import threading

import pytest
from PIL import Image

from activities.identity_photo import decode
from activities.images.safe_image import (
    REASONS,
    DecodeBudget,
    DecodedImage,
    ImageLimits,
    ImageRefusal,
    decode_image,
    jpeg_scan_count,
)
from activities.product_index import image_phash
from devtools import hostile_images
from models.activity_io import PhotoCheckResult
from models.policy import load_policy
from models.refusals import Refusal

POLICY = load_policy().authentication
LIMITS = ImageLimits(max_bytes=15_000_000, max_pixels=40_000_000, max_side=2400)
CASES = list(hostile_images.cases())


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_each_hostile_image_gets_its_outcome(case: hostile_images.HostileImage) -> None:
    got = decode_image(case.data, LIMITS)
    if case.expect == "ok":
        assert isinstance(got, DecodedImage), got
        assert got.image.mode == "RGB" and max(got.image.size) <= 2400
    else:
        assert isinstance(got, ImageRefusal) and got.code == case.expect, case.note
        assert got.message == REASONS[case.expect]


def test_the_corpus_covers_every_reason_code() -> None:
    assert {c.expect for c in CASES} - {"ok"} == set(REASONS) - {"file_too_large"}


def test_a_file_over_the_byte_limit_is_refused_before_anything_is_read() -> None:
    got = decode_image(b"\xff\xd8" + bytes(200), ImageLimits(max_bytes=100, max_pixels=10))
    assert isinstance(got, ImageRefusal) and got.code == "file_too_large"


def test_scans_are_counted_past_an_exif_thumbnail_and_stuffed_bytes() -> None:
    honest = next(c for c in CASES if c.name == "progressive_16mp.jpg").data
    assert 2 <= jpeg_scan_count(honest) <= 12  # Pillow's progressive script
    hostile = hostile_images.many_scan_jpeg(800, 600, 300)
    assert (
        jpeg_scan_count(hostile)
        == jpeg_scan_count(hostile_images._save(Image.new("RGB", (800, 600)), "JPEG", progressive=True)) + 300
    )


def test_a_large_jpeg_is_decoded_reduced_and_a_sideways_one_upright() -> None:
    big = next(c for c in CASES if c.name == "baseline_40mp.jpg")
    got = decode_image(big.data, LIMITS)
    assert isinstance(got, DecodedImage) and got.original_size == (8000, 5000)
    assert got.image.size == (2000, 1250)  # DCT scaling 1/4: the smallest at least half of 2400
    sideways = next(c for c in CASES if c.name == "exif_bad_offsets.jpg")  # orientation 6 among bad tags
    got = decode_image(sideways.data, LIMITS)
    assert isinstance(got, DecodedImage) and got.image.size == (900, 1200)


def test_malformed_exif_means_orientation_unknown_never_an_error() -> None:
    case = next(c for c in CASES if c.name == "exif_orientation_bytes.jpg")
    got = decode_image(case.data, LIMITS)
    assert isinstance(got, DecodedImage) and got.notes == ["exif_ignored"] and got.image.size == (1200, 900)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_the_authentication_photo_answers_open1_with_a_reason_for_every_hostile_file(
    case: hostile_images.HostileImage,
) -> None:
    got = decode(case.data, POLICY)
    if case.expect == "ok":
        assert isinstance(got, Image.Image)
    else:
        assert isinstance(got, PhotoCheckResult) and got.refusal is not None
        assert got.refusal.rule == "OPEN-1" and got.refusal.code and got.refusal.message


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_the_product_image_answers_open3_with_a_reason_for_every_hostile_file(
    case: hostile_images.HostileImage,
) -> None:
    got = image_phash(case.data)
    if case.expect == "ok":
        assert isinstance(got, str) and len(got) == 16
    else:
        assert isinstance(got, Refusal) and got.rule == "OPEN-3" and got.code


def test_the_budget_lets_no_more_than_its_capacity_decode_at_once() -> None:
    budget = DecodeBudget(300)
    inside, most = 0, 0
    lock = threading.Lock()
    gate = threading.Barrier(8)

    def decode_one() -> None:
        nonlocal inside, most
        gate.wait()
        with budget.reserve(100):
            with lock:
                inside += 1
                most = max(most, inside)
            threading.Event().wait(0.02)
            with lock:
                inside -= 1

    threads = [threading.Thread(target=decode_one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most == 3 and budget.peak == 300 and budget.in_use == 0


def test_a_heic_is_read_upright_with_the_turn_its_container_holds() -> None:
    cases = {c.name: c for c in hostile_images.heif_cases()}
    plain = decode_image(cases["photo.heic"].data, LIMITS)
    turned = decode_image(cases["turned.heic"].data, LIMITS)
    assert isinstance(plain, DecodedImage) and isinstance(turned, DecodedImage)
    assert plain.format == "HEIF" and plain.image.size == (640, 480)
    assert turned.image.size == (480, 640)  # the phone held upright: shown turned, as the phone shows it
