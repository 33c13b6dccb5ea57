"""ASSOC-3: duplicate lookup against a large catalogue, with the band index vs a brute-force scan,
and the detector's recall and precision on generated near-duplicates and distinct products.

    .venv/bin/python bench/duplicate_bench.py [--listings 100000] [--queries 200] [--eval 200]

Builds a throw-away SQLite catalogue of synthetic listings (text MinHash signatures; image hashes are
random 64-bit values for the bulk, real perceptual hashes for the evaluation products). The
brute-force baseline holds every signature in NumPy arrays and compares against all of them at
once, which is the fastest a scan can be; the index fetches only rows sharing a band.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import imagehash  # noqa: E402
import numpy as np  # noqa: E402
from sqlalchemy import insert  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

from activities.product_index import find_duplicate, image_bands, text_bands, text_minhash  # noqa: E402
from devtools import product_fixtures as pf  # noqa: E402
from models.db import make_engine  # noqa: E402
from models.policy import load_policy  # noqa: E402
from models.products import Product, ProductBand  # noqa: E402

NOW = datetime(2026, 1, 1, tzinfo=UTC)
COPY_KINDS = ("resized", "recompressed", "cropped")


def progress(label: str, i: int, total: int) -> None:
    if i % max(1, total // 20) == 0 or i == total:
        print(f"\r  {label}: {i}/{total}", end="" if i < total else "\n", flush=True)


def build(engine, listings: int, eval_ids: set[int]) -> tuple[np.ndarray, np.ndarray, list[str]]:  # type: ignore[no-untyped-def]
    rng = random.Random(42)
    sigs = np.zeros((listings, 128), dtype="<u8")
    phashes = np.zeros(listings, dtype=np.uint64)
    members = []
    batch_p, batch_b = [], []
    with engine.begin() as conn:
        for n in range(listings):
            title, description, category = pf.listing(n)
            sig = text_minhash(title, description).hashvalues.astype("<u8")
            ph = str(imagehash.phash(pf.image(n))) if n in eval_ids else f"{rng.getrandbits(64):016x}"
            member = f"S{n // 50:06d}"  # 50 products per store
            sigs[n], phashes[n] = sig, int(ph, 16)
            members.append(member)
            pid = f"{member}-P{n}"
            batch_p.append(dict(product_id=pid, member_id=member, title=title[:200], category=category,
                                price_cents=1990, image_ref="sha256:" + "0" * 64, minhash=sig.tobytes(),
                                phash=ph, listed=True, created_at=NOW))  # fmt: skip
            batch_b += [
                dict(band_key=k, product_id=pid) for k in dict.fromkeys(text_bands(sig) + image_bands(ph))
            ]
            if len(batch_p) == 2000 or n == listings - 1:
                conn.execute(insert(Product), batch_p)
                conn.execute(insert(ProductBand), batch_b)
                batch_p, batch_b = [], []
            progress("catalogue", n + 1, listings)
    return sigs, phashes, members


def db_scan(session, member, sig, ph, text_t, image_d) -> bool:  # type: ignore[no-untyped-def]
    """What the service would do without the index: read every other store's listing and compare."""
    rows = session.exec(
        select(Product.minhash, Product.phash).where(Product.member_id != member, Product.listed)
    ).all()
    sigs = np.frombuffer(b"".join(r[0] for r in rows), dtype="<u8").reshape(len(rows), -1)
    phashes = np.array([int(r[1], 16) for r in rows], dtype=np.uint64)
    return brute_force(sigs, phashes, np.zeros(len(rows)), "-", sig, ph, text_t, image_d)


def brute_force(sigs, phashes, members, member, sig, ph, text_t, image_d) -> bool:  # type: ignore[no-untyped-def]
    sim = (sigs == sig).mean(axis=1)
    x = np.bitwise_xor(phashes, np.uint64(int(ph, 16)))
    dist = np.unpackbits(x.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)
    hit = ((sim >= text_t) | (dist <= image_d)) & (np.asarray(members) != member)
    return bool(hit.any())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--listings", type=int, default=100_000)
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--eval", type=int, default=200)
    args = p.parse_args()
    policy = load_policy().association
    text_t, image_d = policy.text_similarity_threshold, policy.image_hash_max_distance
    rng = random.Random(7)
    eval_ids = set(rng.sample(range(args.listings), args.eval))

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/catalogue.db")
        Product.metadata.create_all(engine, tables=[Product.__table__, ProductBand.__table__])  # type: ignore[attr-defined]
        t = time.perf_counter()
        sigs, phashes, members = build(engine, args.listings, eval_ids)
        print(f"  built {args.listings} listings in {time.perf_counter() - t:.0f} s")
        members_arr = np.asarray(members)

        # ---- lookup time: copycats of random listings, by a store that is not the owner
        queries = []
        for n in rng.sample(range(args.listings), args.queries):
            title, description = pf.reworded(*pf.listing(n)[:2])
            queries.append(
                (text_minhash(title, description).hashvalues.astype("<u8"), f"{int(phashes[n]):016x}")
            )
        indexed, scanned, in_ram = [], [], []
        with Session(engine) as session:
            for i, (sig, ph) in enumerate(queries):
                t = time.perf_counter()
                found = find_duplicate(
                    session, "SQUERY", sig, ph, text_threshold=text_t, image_max_distance=image_d
                )
                indexed.append(time.perf_counter() - t)
                t = time.perf_counter()
                scan_found = brute_force(sigs, phashes, members_arr, "SQUERY", sig, ph, text_t, image_d)
                in_ram.append(time.perf_counter() - t)
                if i < 20:  # the database scan is slow: a sample is enough for its median
                    t = time.perf_counter()
                    db_scan(session, "SQUERY", sig, ph, text_t, image_d)
                    scanned.append(time.perf_counter() - t)
                assert (found is not None) == scan_found, "the index must find what the scan finds"
        idx_ms = statistics.median(indexed) * 1000
        scan_ms, ram_ms = statistics.median(scanned) * 1000, statistics.median(in_ram) * 1000
        print(f"lookup among {args.listings} listings ({args.queries} queries, median)")
        print(f"  band index (SQLite)                 {idx_ms:8.2f} ms")
        print(
            f"  brute-force scan of the table       {scan_ms:8.2f} ms   index speed-up {scan_ms / idx_ms:6.1f}x"
        )
        print(
            f"  brute-force over arrays in RAM      {ram_ms:8.2f} ms   index speed-up {ram_ms / idx_ms:6.1f}x"
        )
        print("    (the in-RAM scan needs every signature in every worker's memory, kept in sync)")

        # ---- detector quality on near-duplicates of the evaluation products, and distinct ones
        caught = {kind: 0 for kind in ("reworded text", *COPY_KINDS, "both changed")}
        total = 0
        false_pos = 0
        with Session(engine) as session:
            for n in sorted(eval_ids):
                title, description, _ = pf.listing(n)
                t2, d2 = pf.reworded(title, description)
                img = pf.image(n)
                fresh_text = pf.listing(n + 10**7)[:2]
                cases = {"reworded text": ((t2, d2), pf.image(n + 10**7))}
                for kind in COPY_KINDS:
                    cases[kind] = (fresh_text, pf.copycat_image(img, kind))
                cases["both changed"] = ((t2, d2), pf.copycat_image(img, rng.choice(COPY_KINDS)))
                for kind, ((ti, de), im) in cases.items():
                    sig = text_minhash(ti, de).hashvalues.astype("<u8")
                    hit = find_duplicate(session, "SCOPYCAT", sig, str(imagehash.phash(im)),
                                         text_threshold=text_t, image_max_distance=image_d)  # fmt: skip
                    caught[kind] += hit is not None
                total += 1
                distinct = args.listings + 10**6 + n
                ti, de, _ = pf.listing(distinct)
                sig = text_minhash(ti, de).hashvalues.astype("<u8")
                hit = find_duplicate(session, "SHONEST", sig, str(imagehash.phash(pf.image(distinct))),
                                     text_threshold=text_t, image_max_distance=image_d)  # fmt: skip
                false_pos += hit is not None
                progress("evaluation", total, len(eval_ids))
        print(f"detector on {total} originals x {len(caught)} copy kinds, and {total} distinct products")
        for kind, k in caught.items():
            print(f"  recall  {kind:<16} {k / total:6.3f}")
        true_pos = sum(caught.values())
        print(
            f"  precision                {true_pos / max(1, true_pos + false_pos):6.3f}  ({false_pos} false alarms)"
        )


if __name__ == "__main__":
    main()
