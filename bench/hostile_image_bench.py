"""Hostile images: time and peak memory of one check per file of the generated corpus
(devtools/hostile_images.py), ours (the whole OPEN-1 check, decoding through activities/images/safe_image.py)
against the naive decode (Image.open + exif_transpose + load + convert) measured in the same run;
then every activity slot of a worker busy at once on the worst files.

    .venv/bin/python bench/hostile_image_bench.py [--slots 16] [--naive-timeout 60]

Each single check runs in a fresh process, so that its peak RSS growth (VmHWM) over the process's
own baseline (taken after imports and a warm-up check, just before the check) is that check's alone. Targets (issue 13):
under 2 s and 150 MB per check; the worker under 1.5 GB RSS with every slot on a hostile image.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devtools import hostile_images  # noqa: E402

ONE = textwrap.dedent(
    """
    import io, json, sys, time, warnings
    warnings.simplefilter("ignore")
    from PIL import Image, ImageOps
    mode, path = sys.argv[1], sys.argv[2]
    data = open(path, "rb").read()
    if mode == "ours":
        from activities.identity_photo import check_photo
        from models.policy import load_policy
        policy = load_policy().authentication
        check_photo(open(sys.argv[3], "rb").read(), policy)  # warm: dlib models loaded, caches filled
    def rss():  # VmHWM: this process's own peak (ru_maxrss starts at the parent's peak after fork)
        return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) / 1024
    base = rss()
    started = time.perf_counter()
    if mode == "ours":
        result = check_photo(data, policy)
        got = "pass" if result.passed else result.refusal.code
    else:
        try:
            img = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
            img.load()
            img.convert("RGB")
            got = "decoded"
        except Exception as err:
            got = type(err).__name__
    print(json.dumps(dict(got=got, seconds=time.perf_counter() - started, grew_mb=rss() - base)))
    """
)

SLOTS = textwrap.dedent(
    """
    import json, sys, time, warnings
    from concurrent.futures import ThreadPoolExecutor
    warnings.simplefilter("ignore")
    mode, slots, paths = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    datas = [open(p, "rb").read() for p in paths]
    import io
    from PIL import Image, ImageOps
    from activities.storage.blobs import put_bytes
    from activities.identity_photo import check_authentication_photo
    from models.contract import PhotoCheckInput
    from models.policy import load_policy
    policy = load_policy().authentication
    refs = [put_bytes(d) for d in datas]
    def ours(i):  # the worker's activity function, as a slot runs it (blob store, semaphore, decoder)
        return check_authentication_photo(PhotoCheckInput(refs[i], policy)).refusal
    def naive(i):
        try:
            img = ImageOps.exif_transpose(Image.open(io.BytesIO(datas[i])))
            img.load()
            return img.convert("RGB").size
        except Exception as err:
            return type(err).__name__
    fn = ours if mode == "ours" else naive
    def rss():
        return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) / 1024
    base = rss()
    started = time.perf_counter()
    with ThreadPoolExecutor(slots) as pool:
        list(pool.map(fn, [i % len(datas) for i in range(slots)]))
    print(json.dumps(dict(seconds=time.perf_counter() - started, base_mb=base, peak_mb=rss())))
    """
)


def run(script: str, args: list[str], timeout: float, env: dict[str, str] | None = None) -> dict:
    try:
        proc = subprocess.run(
            [sys.executable, "-c", script, *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
        )
    except subprocess.TimeoutExpired:
        return {"got": f"over {timeout:g} s", "seconds": timeout, "grew_mb": float("nan")}
    if proc.returncode != 0:
        return {"got": f"exit {proc.returncode}", "seconds": float("nan"), "grew_mb": float("nan")}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slots", type=int, default=16)
    parser.add_argument("--naive-timeout", type=float, default=60)
    args = parser.parse_args()

    from devtools import photo_fixtures

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        warm = folder / "warm.jpg"
        warm.write_bytes(photo_fixtures.jpeg_bytes(photo_fixtures.VARIANTS[0]))
        cases = list(hostile_images.cases())
        rows = []
        print(f"{'file':<28} {'bytes':>9}  {'ours':<20} {'s':>6} {'MB':>6}  {'naive':<22} {'s':>6} {'MB':>6}")
        for case in cases:
            path = folder / case.name
            path.write_bytes(case.data)
            ours = run(ONE, ["ours", str(path), str(warm)], 120)
            naive = run(ONE, ["naive", str(path)], args.naive_timeout)
            rows.append((case, ours, naive))
            print(
                f"{case.name:<28} {len(case.data):>9}  {ours['got']:<20} {ours['seconds']:6.2f} {ours['grew_mb']:6.0f}"
                f"  {naive['got']:<22} {naive['seconds']:6.2f} {naive['grew_mb']:6.0f}",
                flush=True,
            )
        worst_s = max(rows, key=lambda r: r[1]["seconds"])
        worst_mb = max(rows, key=lambda r: r[1]["grew_mb"])
        naive_s = max(rows, key=lambda r: r[2]["seconds"])
        naive_mb = max(rows, key=lambda r: r[2]["grew_mb"])
        print(
            f"\nworst time per check:   ours {worst_s[1]['seconds']:.2f} s ({worst_s[0].name})"
            f"   naive {naive_s[2]['seconds']:.2f} s ({naive_s[0].name})   target < 2 s"
        )
        print(
            f"worst memory per check: ours +{worst_mb[1]['grew_mb']:.0f} MB ({worst_mb[0].name})"
            f"   naive +{naive_mb[2]['grew_mb']:.0f} MB ({naive_mb[0].name})   target < 150 MB"
        )

        # Every slot busy, round robin over the files that cost each side the most memory.
        def cost(r: tuple, side: int) -> float:
            mb = r[side]["grew_mb"]
            return mb if mb == mb else 0.0

        heavy = sorted(rows, key=lambda r: cost(r, 1), reverse=True)[:3]
        heavy += [r for r in sorted(rows, key=lambda r: cost(r, 2), reverse=True) if r not in heavy][:3]
        paths = [str(folder / r[0].name) for r in heavy]
        print(f"\n{args.slots} checks at once on {', '.join(r[0].name for r in heavy)}:")
        for mode in ("ours", "naive"):
            got = run(SLOTS, [mode, str(args.slots), *paths], 600, {"SELLER_DATA_DIR": str(folder / "data")})
            if "peak_mb" not in got:
                print(f"  {mode:<6} {got['got']}")
                continue
            print(
                f"  {mode:<6} {got['seconds']:6.2f} s   peak RSS {got['peak_mb']:6.0f} MB"
                f" (process before: {got['base_mb']:.0f} MB)   target < 1500 MB"
            )


if __name__ == "__main__":
    main()
