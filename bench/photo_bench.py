"""OPEN-1 speed and memory per 12 MP phone photo (4032 x 3024 JPEG, OCR included): the check as it is
against the check before issue 26 (corners from colour statistics, no review verdict, no HEIC),
on the same generated genuine photos, in one run.

The baseline is the pipeline of commit BASELINE, loaded from git into its own modules
(`baseline_open1.*`): identity_photo, card_detection, card_corners, photo_cues and safe_image as they
were; card_reading (OCR) and the face models are shared.

Prints median and p95 seconds per photo for both, the ratio, and peak memory per check (tracemalloc
peak during the check) and the process's resident peak; then a few 1600 x 1200 HEIC photos through
ours (the baseline refuses HEIC as an unsupported format).

    .venv/bin/python bench/photo_bench.py [--photos N] [--heic N]
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import re
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
import types
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from activities.identity_photo import verify_photo  # noqa: E402
from activities.identity_registry import fingerprint  # noqa: E402
from devtools import photo_corpus  # noqa: E402
from models.policy import AuthenticationPolicy, load_policy  # noqa: E402

TARGET_MEDIAN_S, TARGET_P95_S = 1.0, 2.0
BASELINE = "2cce2c7"  # the last commit before issue 26 (old layout: activities/*.py)
BASELINE_MODULES = ["safe_image", "photo_cues", "card_corners", "card_detection", "identity_photo"]


def baseline_verify() -> Callable[..., object]:
    """verify_photo as it was at BASELINE, importable next to today's."""
    package = types.ModuleType("baseline_open1")
    package.__path__ = []
    sys.modules["baseline_open1"] = package
    for name in BASELINE_MODULES:
        source = subprocess.run(
            ["git", "show", f"{BASELINE}:activities/{name}.py"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        # Its own old engine modules; everything else from today's tree.
        for other in BASELINE_MODULES:
            source = source.replace(f"from activities.{other} import", f"from baseline_open1.{other} import")
        source = re.sub(
            r"from activities import card_detection, card_reading, photo_cues",
            "from baseline_open1 import card_detection, photo_cues\n"
            "from activities.photo_analysis import card_reading",
            source,
        )
        source = source.replace("from activities.blobs import", "from activities.storage.blobs import")
        source = source.replace(
            "from activities.heartbeat import", "from activities.worker_support.heartbeat import"
        )
        source = source.replace(
            "from activities.known_faces import", "from activities.known_faces.index import"
        )
        source = source.replace("from models.db import", "from activities.storage.db import")
        # The activity's declaration is not needed (and its name is taken by today's).
        source = source.replace("@activity.defn\n", "")
        module = types.ModuleType(f"baseline_open1.{name}")
        module.__file__ = f"<{BASELINE}:activities/{name}.py>"
        sys.modules[module.__name__] = module
        exec(compile(source, module.__file__, "exec"), module.__dict__)
        setattr(package, name, module)
    return sys.modules["baseline_open1.identity_photo"].verify_photo  # type: ignore[no-any-return]


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
            f"  HEIC 1600x1200 ({len(heics)}): median {statistics.median(times):.3f} s (before: unsupported_format)"
        )
    print(f"  process resident peak: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
