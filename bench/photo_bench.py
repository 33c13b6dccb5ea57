"""OPEN-1 speed and memory per 1600x1200 photo, OCR included: our check against the naive way, on the
same generated genuine photos (devtools/photo_corpus.py, both splits), in one run.

    ours   card found on an 800 px copy (shape, then text lines on the straightened candidates), faces
           found on the copy and encoded at full resolution from the boxes found, the straightened card
           read by OCR
    naive  faces found (upsampled once) and encoded on the full-resolution photo, the whole
           full-resolution photo read by OCR

Prints median and p95 seconds per photo, the speed-up, and peak memory per check: Python and numpy
allocations (tracemalloc peak during the check) and the process's resident peak after all checks.

    .venv/bin/python bench/photo_bench.py [--photos N]
"""

from __future__ import annotations

import argparse
import io
import resource
import statistics
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

from activities.identity_photo import verify_photo  # noqa: E402
from activities.identity_registry import fingerprint  # noqa: E402
from activities.photo_analysis import card_reading  # noqa: E402
from devtools import photo_corpus  # noqa: E402
from models.policy import load_policy  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import face_recognition  # noqa: E402

TARGET_MEDIAN_S, TARGET_P95_S = 1.0, 2.0


def naive(data: bytes, tolerance: float) -> bool:
    """The baseline: every face on the full-resolution photo, every face encoded, the whole photo read."""
    img = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    boxes = face_recognition.face_locations(img, number_of_times_to_upsample=1)
    card_reading.engine()(np.ascontiguousarray(img[..., ::-1]))
    if len(boxes) < 2:
        return False
    encodings = face_recognition.face_encodings(img, boxes)
    return bool(face_recognition.face_distance(encodings[1:], encodings[0]).min() <= tolerance)


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def run(count: int) -> dict[str, float]:
    policy = load_policy().authentication
    genuine = [
        p for split in ("tune", "report") for p in photo_corpus.corpus(split, 0, count) if p.kind == "genuine"
    ]
    photos = [(photo_corpus.jpeg(p), fingerprint("id_card", p.registered_id)) for p in genuine[:count]]
    verify_photo(photos[0][0], policy, id_fingerprint=photos[0][1])  # load the models once, outside the clock
    ours, base, peaks, passed = [], [], [], 0
    for data, print_ in photos:
        tracemalloc.start()
        t = time.perf_counter()
        passed += verify_photo(data, policy, id_fingerprint=print_).result.passed
        ours.append(time.perf_counter() - t)
        peaks.append(tracemalloc.get_traced_memory()[1] / 2**20)
        tracemalloc.stop()
        t = time.perf_counter()
        naive(data, policy.face_match_tolerance)
        base.append(time.perf_counter() - t)
    return {
        "photos": len(photos),
        "passed": passed,
        "ours_median": statistics.median(ours),
        "ours_p95": p95(ours),
        "naive_median": statistics.median(base),
        "naive_p95": p95(base),
        "peak_mb": max(peaks),
        "peak_median_mb": statistics.median(peaks),
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--photos", type=int, default=16)
    r = run(p.parse_args().photos)
    w, h = photo_corpus.SCENE
    print(
        f"OPEN-1 photo check, OCR included: {r['photos']:.0f} genuine photos of {w}x{h} ({r['passed']:.0f} passed)"
    )
    print(f"  ours   median {r['ours_median']:.3f} s   p95 {r['ours_p95']:.3f} s")
    print(f"  naive  median {r['naive_median']:.3f} s   p95 {r['naive_p95']:.3f} s   (full resolution)")
    print(f"  speed-up (median) {r['naive_median'] / r['ours_median']:.1f}x")
    print(
        f"  peak memory per check (tracemalloc): median {r['peak_median_mb']:.0f} MB, max {r['peak_mb']:.0f} MB"
    )
    print(f"  process resident peak after all checks: {r['rss_mb']:.0f} MB")
    ok = r["ours_median"] < TARGET_MEDIAN_S and r["ours_p95"] < TARGET_P95_S
    print(f"  targets median < {TARGET_MEDIAN_S} s, p95 < {TARGET_P95_S} s: {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
