"""OPEN-1 speed: our checks (faces found on a downscaled copy, encoded at full resolution from the
boxes found) against the naive way (find and encode faces on the full-resolution photo), on the same
generated photos, in one run. Prints seconds per photo and the ratio.

    .venv/bin/python bench/photo_bench.py [--rounds N]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

from activities.identity_photo import check_photo  # noqa: E402
from devtools import photo_fixtures  # noqa: E402
from models.policy import load_policy  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import face_recognition  # noqa: E402


def naive(data: bytes, tolerance: float) -> bool:
    """The baseline: every face on the full-resolution photo, every face encoded."""
    img = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    boxes = face_recognition.face_locations(img, number_of_times_to_upsample=1)
    if len(boxes) < 2:
        return False
    encodings = face_recognition.face_encodings(img, boxes)
    return bool(face_recognition.face_distance(encodings[1:], encodings[0]).min() <= tolerance)


def run(rounds: int) -> dict[str, float]:
    policy = load_policy().authentication
    photos = [photo_fixtures.jpeg_bytes(v) for v in photo_fixtures.VARIANTS if v.expect == "pass"]
    ours, base = [], []
    for _ in range(rounds):
        for data in photos:
            t = time.perf_counter()
            assert check_photo(data, policy).passed
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            naive(data, policy.face_match_tolerance)
            base.append(time.perf_counter() - t)
    return {
        "photos": len(photos) * rounds,
        "ours_s": statistics.median(ours),
        "naive_s": statistics.median(base),
        "speedup": statistics.median(base) / statistics.median(ours),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=2)
    r = run(p.parse_args().rounds)
    print(f"photo check  {r['photos']} genuine photos of {photo_fixtures.SCENE[0]}x{photo_fixtures.SCENE[1]}")
    print(
        f"  ours (detect at {load_policy().authentication.detect_max_side}px)  {r['ours_s']:.3f} s/photo (median)"
    )
    print(f"  naive (full resolution)      {r['naive_s']:.3f} s/photo (median)")
    print(f"  speed-up                     {r['speedup']:.1f}x")


if __name__ == "__main__":
    main()
