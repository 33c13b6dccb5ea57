"""ASSOC-3 per picture class: recall per copy kind, look-alike and unrelated refusals, lookup and decision
times, for the detector with region evidence and the detector before it, measured in the same run.

    .venv/bin/python bench/picture_bench.py [--split heldout] [--per-class 20] [--lookalikes 5]
        [--listings 100000] [--sizes 100000,300000,1000000]

Classes (devtools/picture_classes.py): studio shots, flat artwork and smooth photographs (generated,
each original with three look-alikes in the catalogue: another print or draw on the same template),
and real photographs from the scikit-image wheel (textured, smooth, flat). Copies: issue 27's six kinds
(devtools/picture_corpus.COPY_KINDS), each listed with a new, unrelated text, so only the picture can
match. Queries that must match nothing: five look-alikes an original not in the catalogue (another
design on the same template) and one unrelated picture (another template). The catalogue is loaded up
to `--listings` with random keys (25 band keys, 48 visual words and 45 region keys a listing) for the
index's size; they are not look-alikes.

"Before" (`--before coarse-off`, the default) is the same code with coarse features (coarse_features.py)
switched off: best_match(with_coarse=False), the query probing its visual words and region keys only.
With `--before regions-off` it is the same code with region evidence switched off (best_match(with_regions=False), the
candidates of the visual words and text only): the detector as it was, on the same queries and rows.
With `--before exhaustive` it is instead the decision before it was staged (best_match(staged=False):
every candidate judged by every test, the regions aligned at full resolution only), with region
evidence, on the same candidates: the decision's cost before / after, and whether any verdict changed.
With `--before placement-off` it is the same code with round 5's placement tests off (the product's outline
where the print puts it, from either picture, and the print's colour edge points on local features'
few-blocks way out: image_signature.MIN_OUTLINE_POINTS and MIN_PRINT_POINTS set out of reach for the
'before' pass), on the same candidates: what the tests refuse, and whether any copy is lost to them.
Decision times are given in CPU time of the process (what the detector costs; the cores are shared)
and wall clock.

Growth (`--sizes`): after the recall run, the index is grown with random keys to each size in turn and a
fixed sample of the run's queries (every copy kind and look-alike of every class, signatures kept) is
looked up and decided again, new and before: CPU time of the process, every thread (what the detector costs) and
wall clock (what a caller waits on these shared cores), p50 / p99, the index's memory, and whether each
sampled copy is still caught and each look-alike still refused.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from activities.copy_detection import image_signature as vis  # noqa: E402
from activities.copy_detection import region_signature as rsig  # noqa: E402
from activities.copy_detection.duplicate_index import DuplicateIndex  # noqa: E402
from activities.copy_detection.text_signature import BANDS  # noqa: E402
from activities.product_index import Match, best_match, listing_signature, signature_row  # noqa: E402
from devtools import picture_classes as classes  # noqa: E402
from devtools import picture_corpus as pc  # noqa: E402
from devtools import product_fixtures as pf  # noqa: E402
from models.policy import load_policy  # noqa: E402


def p99(xs: list[float]) -> float:
    s = sorted(xs)
    return s[max(0, int(len(s) * 0.99) - 1)] if s else 0.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--split", default="heldout", choices=("tune", "heldout"))
    p.add_argument("--per-class", type=int, default=20, help="originals per generated class")
    p.add_argument("--first", type=int, default=0, help="the first generated original's number in its split")
    p.add_argument("--listings", type=int, default=100_000)
    p.add_argument("--classes", default=",".join(classes.CLASSES))
    p.add_argument("--lookalikes", type=int, default=5, help="look-alikes asked per generated original")
    p.add_argument("--sizes", default="", help="index sizes for the growth curve, e.g. 300000,1000000")
    p.add_argument("--no-before", action="store_true", help="the new detector only (a precision run)")
    p.add_argument("--no-copies", action="store_true", help="ask only what must match nothing")
    p.add_argument("--growth-decide", action="store_true", help="decide again at each size, not only look up")
    p.add_argument("--sample", type=int, default=4, help="queries kept per (class, kind) for the growth curve")
    p.add_argument("--before", default="coarse-off",
                   choices=("coarse-off", "regions-off", "exhaustive", "placement-off"),
                   help="what 'before' is: coarse features off, region evidence off, the unstaged decision, "
                   "or round 5's outline and explained-interior tests off")  # fmt: skip
    args = p.parse_args()
    policy = load_policy().association
    text_t, image_d = policy.text_similarity_threshold, policy.image_hash_max_distance
    wanted = tuple(c.strip() for c in args.classes.split(","))

    t0 = time.perf_counter()
    table: dict[int, tuple[int, str, bytes, bytes, str, str, str]] = {}
    seqs, bands, words = [], [], []
    originals = list(classes.originals(args.split, args.per_class, wanted, args.lookalikes, args.first))
    text_no = 0

    def fresh_text() -> tuple[str, str]:
        nonlocal text_no
        text_no += 1
        title, description, _ = pf.listing(30_000_000 + text_no)
        return title, description

    for o in originals:
        for v, draw in enumerate([o.picture, *o.lookalikes]):
            seq = len(table) + 1
            sig = listing_signature(*fresh_text(), draw())
            row = signature_row(f"P{seq}", sig)
            table[seq] = (seq, row.text, row.features, row.thumb, f"{o.key}:{v}", f"S{seq}", sig.phash)
            seqs.append(seq)
            bands.append(sig.bands)
            words.append(np.frombuffer(row.words, "<u4").astype(np.uint32))
    print(f"  {len(table)} real listings signed in {time.perf_counter() - t0:.0f} s", flush=True)

    index = DuplicateIndex()
    rng = np.random.default_rng(20260601)
    built = 0

    def grow(to: int) -> None:
        """Random listings (not look-alikes) up to `to` listings in all."""
        nonlocal built
        bulk = to - len(index) - (0 if len(index) else len(table))
        while bulk > 0:
            k = min(250_000, bulk)
            keys = np.concatenate(
                [rng.integers(0, 2**vis.WORD_BITS, (k, 48)),
                 rng.integers(rsig.REGION_KEY_BASE, rsig.REGION_KEY_BASE + 2**rsig.REGION_KEY_BITS, (k, 45))],
                axis=1,
            ).astype(np.uint32)  # fmt: skip
            index.add_many(np.arange(10**8 + built, 10**8 + built + k), rng.integers(0, 2**32, (k, BANDS), dtype=np.uint32), keys)
            built, bulk = built + k, bulk - k

    t0 = time.perf_counter()
    grow(args.listings)
    index.add_many(np.asarray(seqs), np.stack(bands), words)
    print(f"  index of {index.size:,} listings built in {time.perf_counter() - t0:.0f} s "
          f"({index.nbytes() / 2**20:.0f} MB)", flush=True)  # fmt: skip

    # per (class, kind): caught by new / before, original among the new candidates
    new: dict[tuple[str, str], list[int]] = {}
    old: dict[tuple[str, str], list[int]] = {}
    cand: dict[tuple[str, str], list[int]] = {}
    evidence: dict[str, dict[str, int]] = {}
    timing: dict[str, dict[str, list[float]]] = {}
    kept: list[tuple[str, str, str, object]] = []  # (class, kind, original, signature): the growth sample
    exhaustive = args.before == "exhaustive"
    coarse_off = args.before == "coarse-off"
    placement_off = args.before == "placement-off"
    changed: list[tuple[str, str | None, str | None]] = []  # (query, new product, before product)
    tests_on = (vis.MIN_OUTLINE_POINTS, vis.MIN_PRINT_POINTS)
    t0 = time.perf_counter()
    for i, o in enumerate(originals):
        original = f"{o.key}:0"
        queries = [] if args.no_copies else [(kind, pc.copy_of(o.picture(), kind, o.seed)) for kind in pc.COPY_KINDS]
        queries += [("look-alike", draw()) for draw in o.query_lookalikes]
        if o.unrelated is not None:
            queries.append(("unrelated", o.unrelated()))
        for kind, img in queries:
            ts = time.perf_counter()
            sig = listing_signature(*fresh_text(), img)
            tm = timing.setdefault(o.cls, {})
            tm.setdefault("sign", []).append(time.perf_counter() - ts)
            if sum(1 for c, k, _, _ in kept if c == o.cls and k == kind) < args.sample:
                kept.append((o.cls, kind, original, sig))
            got: list[str | None] = []
            for regions in (True,) if args.no_before else (True, False):
                # regions: the new detector; not regions: 'before' (region evidence off, or unstaged)
                with_r = regions or exhaustive or coarse_off or placement_off
                probes = sig.image.probes if with_r else sig.image.probes[sig.image.probes < rsig.REGION_KEY_BASE]
                if placement_off:  # 'before': the placement tests out of reach; 'new': as configured
                    vis.MIN_OUTLINE_POINTS, vis.MIN_PRINT_POINTS = tests_on if regions else (10**9, 10**9)
                if coarse_off and not regions:  # before coarse features: fine words and region keys only
                    assert sig.image.regions is not None
                    fine = sig.image.probes[sig.image.probes < rsig.REGION_KEY_BASE]
                    probes = np.unique(np.concatenate([fine, rsig.probe_keys(sig.image.regions)]))
                t, c = time.perf_counter(), time.process_time()
                found = index.candidates(sig.bands, probes)
                tl = time.perf_counter()
                image_seqs = set(found.image) | (set(found.regions) if with_r else set())
                ranked = found.image + (found.regions if with_r else []) + found.text
                rows = [table[s] for s in dict.fromkeys(ranked) if s in table]
                m = best_match(sig, rows, image_seqs, text_t, image_d, with_regions=with_r,
                               staged=regions or coarse_off or placement_off,
                               with_coarse=regions or not coarse_off)  # fmt: skip
                td, cd = time.perf_counter(), time.process_time()
                tag = "new" if regions else "old"
                got.append(None if m is None else m.product_id)
                tm.setdefault(f"lookup {tag}", []).append(tl - t)
                tm.setdefault(f"decide {tag}", []).append(td - t)
                tm.setdefault(f"decide cpu {tag}", []).append(cd - c)
                if kind in ("look-alike", "unrelated"):
                    hit = int(m is not None)
                    if m is not None and regions:
                        print(f"  {kind} of {o.key} matched {m.product_id} by {m.evidence}")
                else:
                    hit = int(m is not None and m.product_id == original)
                    if hit and regions and m is not None:
                        evidence.setdefault(o.cls, {}).setdefault(m.evidence, 0)
                        evidence[o.cls][m.evidence] += 1
                (new if regions else old).setdefault((o.cls, kind), []).append(hit)
                if regions:
                    in_cand = original in {table[s][4] for s in image_seqs if s in table}
                    cand.setdefault((o.cls, kind), []).append(int(in_cand))
            vis.MIN_OUTLINE_POINTS, vis.MIN_PRINT_POINTS = tests_on
            if len(got) == 2 and got[0] != got[1]:
                changed.append((f"{kind} of {o.key}", got[0], got[1]))
        print(f"\r  {i + 1}/{len(originals)} originals queried ({time.perf_counter() - t0:.0f} s)", end="", flush=True)
    print()

    print(f"\nASSOC-3 per picture class, split {args.split}, {index.size:,} listings "
          f"({len(table)} real), new (region evidence) / before, same run")  # fmt: skip
    print(f"  {'class':<14}{'copy kind':<20}{'recall new':>11}{'before':>8}{'in cand.':>9}{'n':>5}")
    for c in wanted:
        for kind in pc.COPY_KINDS:
            if (c, kind) not in new:
                continue
            n_, o_, k_ = new[(c, kind)], old.get((c, kind), [-1]), cand[(c, kind)]
            print(f"  {c:<14}{kind:<20}{np.mean(n_):>11.3f}{np.mean(o_):>8.3f}{np.mean(k_):>9.3f}{len(n_):>5}")
    print(f"  {'class':<14}{'must not match':<20}{'refused new':>11}{'before':>8}{'':>9}{'n':>5}")
    for c in wanted:
        for kind in ("look-alike", "unrelated"):
            if (c, kind) in new:
                n_, o_ = new[(c, kind)], old.get((c, kind), [-1])
                print(f"  {c:<14}{kind:<20}{sum(n_):>11d}{sum(o_):>8d}{'':>9}{len(n_):>5}")
    looks = [h for (c, k), v in new.items() if k == "look-alike" for h in v]
    olooks = [h for (c, k), v in old.items() if k == "look-alike" for h in v]
    if looks:
        print(f"  look-alike precision, all classes: new {1 - sum(looks) / len(looks):.3f} ({sum(looks)} of "
              f"{len(looks)}), before {1 - sum(olooks) / max(1, len(olooks)):.3f} ({sum(olooks)} of {len(olooks)})")  # fmt: skip
    print("  evidence of the copies caught (new):", {c: evidence.get(c, {}) for c in wanted})
    if not args.no_before:
        print(f"  verdicts changed (new / before): {sum((a is None) != (b is None) for _, a, b in changed)} "
              f"refusals, {len(changed)} in all (another product named)")  # fmt: skip
        for k, a, b in changed:
            print(f"    {k}: new {a}, before {b}")
    print(f"\n  {'class':<14}{'lookup p50/p99 new':>20}{'before':>16}{'decision p50/p99 new':>22}{'before':>16}"
          f"{'decision CPU new':>20}{'before':>16}{'sign median':>12}  (ms)")  # fmt: skip
    for c in wanted:
        if c not in timing:
            continue
        tm = timing[c]

        def pair(key: str, tm: dict[str, list[float]] = tm) -> str:
            if key not in tm:
                return "-"
            return f"{1000 * statistics.median(tm[key]):.1f} / {1000 * p99(tm[key]):.1f}"

        print(f"  {c:<14}{pair('lookup new'):>20}{pair('lookup old'):>16}{pair('decide new'):>22}"
              f"{pair('decide old'):>16}{pair('decide cpu new'):>20}{pair('decide cpu old'):>16}"
              f"{1000 * statistics.median(tm['sign']):>12.0f}")  # fmt: skip
    for tag, name in (("new", "new"), ("old", "before")):
        xs = [x for tm in timing.values() for x in tm.get(f"decide cpu {tag}", [])]
        if xs:
            print(f"  all classes, decision CPU {name}: p50 {1000 * statistics.median(xs):.1f} ms, "
                  f"p99 {1000 * p99(xs):.1f} ms, max {1000 * max(xs):.1f} ms, n {len(xs)}")


    sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    if sizes:
        growth(sizes, kept, index, grow, table, text_t, image_d, args.growth_decide, exhaustive)


def growth(sizes, kept, index, grow, table, text_t, image_d, decide, exhaustive=False) -> None:  # type: ignore[no-untyped-def]
    """Lookup and decision of the kept queries at each index size: CPU (the process, all threads) and wall, p50 / p99."""
    print(f"\nGrowth: {len(kept)} kept queries (copies and look-alikes of every class) at each index size"
          + ("" if decide else "; lookup only: 'caught' = the original among the candidates"))  # fmt: skip
    print(f"  {'listings':>10}{'MB':>6}  {'lookup CPU new':>15}{'before':>12}{'lookup wall new':>17}"
          f"{'decision CPU new':>18}{'before':>14}{'decision wall new':>19}  caught  refused")  # fmt: skip
    for size in sizes:
        t0 = time.perf_counter()
        grow(size)
        built_s = time.perf_counter() - t0
        t: dict[str, list[float]] = {}
        caught = copies = refused = 0
        for _cls, kind, original, sig in kept:
            for regions in (True, False):
                tag = "new" if regions else "old"
                with_r = regions or exhaustive
                probes = sig.image.probes if with_r else sig.image.probes[sig.image.probes < rsig.REGION_KEY_BASE]
                w0, c0 = time.perf_counter(), time.process_time()
                found = index.candidates(sig.bands, probes)
                w1, c1 = time.perf_counter(), time.process_time()
                image_seqs = set(found.image) | (set(found.regions) if with_r else set())
                ranked = found.image + (found.regions if with_r else []) + found.text
                rows = [table[s] for s in dict.fromkeys(ranked) if s in table]
                if not decide:  # lookup only: is the original among the candidates (copies), anything (look-alikes)
                    proposed = {table[s][4] for s in image_seqs if s in table}
                    m = Match(original, "", 0.0, 0) if original in proposed else None
                else:
                    m = best_match(sig, rows, image_seqs, text_t, image_d, with_regions=with_r, staged=regions)
                w2, c2 = time.perf_counter(), time.process_time()
                for key, v in ((f"lookup cpu {tag}", c1 - c0), (f"lookup wall {tag}", w1 - w0),
                               (f"decide cpu {tag}", c2 - c0), (f"decide wall {tag}", w2 - w0)):  # fmt: skip
                    if decide or key.startswith("lookup"):
                        t.setdefault(key, []).append(v)
                if regions and kind in ("look-alike", "unrelated"):
                    refused += int(m is not None and decide)
                elif regions:
                    copies += 1
                    caught += int(m is not None and m.product_id == original)

        def pair(key: str, t: dict[str, list[float]] = t) -> str:
            if key not in t:
                return "-"
            return f"{1000 * statistics.median(t[key]):.1f}/{1000 * p99(t[key]):.1f}"

        print(f"  {len(index):>10,}{index.nbytes() / 2**20:>6.0f}  {pair('lookup cpu new'):>15}{pair('lookup cpu old'):>12}"
              f"{pair('lookup wall new'):>17}{pair('decide cpu new'):>18}{pair('decide cpu old'):>14}"
              f"{pair('decide wall new'):>19}  {caught}/{copies}  {refused}/{len(kept) - copies}"
              f"   (grown in {built_s:.0f} s)", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
