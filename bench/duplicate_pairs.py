"""ASSOC-3: the image decision on every pair, where its floors are chosen (no index, no scale).

    .venv/bin/python bench/duplicate_pairs.py [--split tune] [--originals 120]

For each original of the split: one copy of each kind, confirmed against the original; and three
look-alike queries (variants 4 to 6), confirmed against every catalogue listing of the same silhouette
(each original and its look-alikes 1 to 3) whose geometry holds. Prints the recall per kind and the
look-alikes passing at the policy's floors, then the same at other block and patch floors: the margin
a floor leaves on each side. Thresholds are chosen on "tune"; "heldout" is what the bench scores.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from multiprocessing import Pool
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from activities.copy_detection import image_signature as vis  # noqa: E402
from devtools import product_corpus as pc  # noqa: E402

CATALOGUE_VARIANTS = (0, 1, 2, 3)
QUERY_VARIANTS = (4, 5, 6)
FLOORS = [(p, b) for p in (0.6, 0.7, 0.75, 0.8, 0.85) for b in (0.5, 0.6, 0.7)]  # (patch, block)


def _listing(key: tuple[int, int]) -> tuple[tuple[int, int], vis.Features, bytes]:
    q = vis.query_signature(pc.studio_photo(*key))
    return key, vis.stored_features(q), vis.thumbnail(q.colour)


def _pairs(job: tuple[int, list[tuple[tuple[int, int], vis.Features, bytes]]]) -> list[dict]:
    """Every pair of one original's queries: its copies against it, its look-alikes against `peers`."""
    n, peers = job
    out = []
    by_key = {k: (f, t) for k, f, t in peers}
    for kind in pc.COPY_KINDS:
        f, t = by_key[(n, 0)]
        c = vis.confirm_copy(f, vis.unthumbnail(t), vis.query_signature(pc.copy_of(pc.studio_photo(n), kind, n)))
        out.append({"kind": kind, "query": (n, kind), "c": c})
    for v in QUERY_VARIANTS:
        q = vis.query_signature(pc.studio_photo(n, v))
        for k, (f, t) in by_key.items():
            if k[0] == n:
                continue
            c = vis.confirm_copy(f, vis.unthumbnail(t), q)
            if c.inliers >= vis.MIN_INLIERS and c.spread >= vis.MIN_SPREAD:
                out.append({"kind": "look-alike", "query": (n, v), "c": c})
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--split", default="tune", choices=("tune", "heldout"))
    p.add_argument("--originals", type=int, default=120)
    args = p.parse_args()
    originals = [pc.split(args.split, k) for k in range(args.originals)]
    t0 = time.perf_counter()
    with Pool(2) as pool:
        listings = pool.map(_listing, [(n, v) for n in originals for v in CATALOGUE_VARIANTS])
        silhouette = {n: pc.template(n)[1] for n in originals}
        jobs = [(n, [x for x in listings if silhouette[x[0][0]] == silhouette[n]]) for n in originals]
        rows = [r for rs in pool.imap(_pairs, jobs) for r in rs]
    copies = [r for r in rows if r["kind"] != "look-alike"]
    looks = [r for r in rows if r["kind"] == "look-alike"]
    queries = len(originals) * len(QUERY_VARIANTS)
    print(f"{args.split}: {len(originals)} originals, {len(copies)} copies, {len(looks)} look-alike pairs whose")
    print(f"geometry holds ({queries} look-alike queries), {time.perf_counter() - t0:.0f} s")
    recall = defaultdict(list)
    for r in copies:
        recall[r["kind"]].append(r["c"].is_copy)
    for kind, hits in recall.items():
        print(f"  recall {kind:<14} {sum(hits) / len(hits):.3f}")
    print(f"  look-alike queries passing: {len({r['query'] for r in looks if r['c'].is_copy})} of {queries}")
    print(f"floors (patch, block): look-alike queries passing | copies kept, of {len(copies)}")
    for patch_floor, block_floor in FLOORS:
        matched = {r["query"] for r in looks if r["c"].passes(patch_floor, block_floor)}
        kept = sum(r["c"].passes(patch_floor, block_floor) for r in copies)
        mark = " <- policy" if (patch_floor, block_floor) == (vis.MIN_PATCH_AGREEMENT, vis.MIN_AGREEMENT) else ""
        print(f"  {patch_floor:.2f} {block_floor:.2f}: {len(matched):4d} | {kept / len(copies):.4f}{mark}")


if __name__ == "__main__":
    main()
