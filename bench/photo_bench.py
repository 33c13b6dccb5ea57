"""OPEN-1 speed and memory per 12 MP phone photo (4032 x 3024 JPEG, OCR included): the check as it is
against the check on `main` before this branch (BASELINE: the card found from edge-map outlines
only, before issue 26's third pass found it from its print outward), on the same generated genuine
photos, in one run.

The baseline is the pipeline of commit BASELINE loaded from git next to today's
(devtools/photo_baseline.py); the decoder (activities/images) and the face models are shared.

Prints median and p95 seconds per photo for both, the ratio, and peak memory per check (tracemalloc
peak during the check) and the process's resident peak; then a few 1600 x 1200 HEIC photos through
ours.

    .venv/bin/python bench/photo_bench.py [--photos N] [--heic N]
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from activities.identity_photo import verify_photo  # noqa: E402
from activities.identity_registry import fingerprint  # noqa: E402
from devtools import photo_baseline, photo_corpus  # noqa: E402
from models.policy import AuthenticationPolicy, load_policy  # noqa: E402

TARGET_MEDIAN_S, TARGET_P95_S = 1.0, 2.0
BASELINE = "02c3b17"  # main's tip when issue 26's third pass (the card from its print) began


def baseline_verify() -> Callable[..., object]:
    """verify_photo as it was at BASELINE, importable next to today's."""
    return photo_baseline.verify_at(BASELINE)


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def photos(count: int, *, megapixels12: bool, heic: bool) -> list[tuple[bytes, str]]:
    """Genuine photos of the tune split, as a phone stores them (12 MP JPEG, or HEIC)."""
    out = []
    for p in photo_corpus.corpus("tune", 0, count):
        plan = dataclasses.replace(
            photo_corpus.plan(p.seed, p.split, p.kind), megapixels12=megapixels12, heic=heic
        )
        out.append((photo_corpus.encoded(p, given=plan), fingerprint("id_card", p.registered_id)))
    return out


def timed(
    check: Callable[..., object], data: bytes, print_: str, policy: AuthenticationPolicy
) -> tuple[float, float, object]:
    tracemalloc.start()
    t = time.perf_counter()
    verdict = check(data, policy, id_fingerprint=print_)
    seconds = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return seconds, peak, verdict


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, default=8)
    ap.add_argument("--heic", type=int, default=3)
    a = ap.parse_args()
    policy = load_policy().authentication
    before = baseline_verify()
    big = photos(a.photos, megapixels12=True, heic=False)
    w, h = Image.open(io.BytesIO(big[0][0])).size
    verify_photo(big[0][0], policy, id_fingerprint=big[0][1])  # load the models once, outside the clock
    ours, base, peaks, base_peaks, verdicts = [], [], [], [], []
    for data, print_ in big:
        s, m, v = timed(verify_photo, data, print_, policy)
        ours.append(s)
        peaks.append(m)
        verdicts.append(v.result.verdict)  # type: ignore[attr-defined]
        s, m, _ = timed(before, data, print_, policy)
        base.append(s)
        base_peaks.append(m)
    print(
        f"OPEN-1 photo check, OCR included: {len(big)} genuine photos, {w}x{h} JPEG ({', '.join(verdicts)})"
    )
    print(
        f"  ours     median {statistics.median(ours):.3f} s   p95 {p95(ours):.3f} s   peak {max(peaks):.0f} MB"
    )
    print(
        f"  before   median {statistics.median(base):.3f} s   p95 {p95(base):.3f} s   peak {max(base_peaks):.0f} MB"
    )
    print(f"  ratio (median, before / ours) {statistics.median(base) / statistics.median(ours):.2f}x")
    ok = statistics.median(ours) < TARGET_MEDIAN_S and p95(ours) < TARGET_P95_S
    print(f"  targets median < {TARGET_MEDIAN_S} s, p95 < {TARGET_P95_S} s: {'met' if ok else 'NOT met'}")
    if a.heic:
        heics = photos(a.heic, megapixels12=False, heic=True)
        times = [timed(verify_photo, d, f, policy)[0] for d, f in heics]
        print(
            f"  HEIC 1600x1200 ({len(heics)}): median {statistics.median(times):.3f} s"
        )
    print(f"  process resident peak: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
