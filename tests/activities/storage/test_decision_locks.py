"""Decisions that see each other (activities/storage/decision_locks.py): the same product listed by
several stores at the same moment, each through its own worker process (its own connections and its
own in-process index), passes once; the same photo re-encoded, authenticating two accounts at once,
passes once. On SQLite here and on PostgreSQL in the PostgreSQL pass (scripts/test.sh)."""

from __future__ import annotations

import io
import multiprocessing
import threading
import zlib
from datetime import UTC, datetime
from typing import Any

import pytest
from PIL import Image

from activities.identity_registry import linked_accounts
from activities.storage.blobs import put_bytes
from models.activity_io import ListProductInput, PhotoCheckInput, PhotoCheckResult
from tests.support.draws import hex_id

NOW = datetime(2026, 12, 7, tzinfo=UTC)
WORKERS = 3


def _list_in_worker(inp: ListProductInput, start: Any, results: Any) -> None:
    """One worker process: warmed up (imports, its index caught up), then all list at once."""
    from activities.product_index import list_product, listing_signature

    listing_signature("warm up", "", Image.new("RGB", (200, 200), "white"))  # loads SIFT, JIT paths
    start.wait()
    r = list_product(inp)
    results.put((inp.member_id, r.accepted, r.refusal.code if r.refusal else None))


def test_one_product_listed_by_several_stores_at_once_passes_once(data_dir: Any) -> None:
    from devtools import product_fixtures
    from models.policy import load_policy

    policy = load_policy().association
    n = zlib.crc32(b"concurrent listing") % 10**7
    product = product_fixtures.product(n, put_bytes(product_fixtures.encode(product_fixtures.image(n))))
    stores = ["S" + hex_id(15).upper() for _ in range(WORKERS)]
    ctx = multiprocessing.get_context("spawn")  # each a fresh process: its own index, its own engine
    start, results = ctx.Barrier(WORKERS), ctx.Queue()
    procs = [
        ctx.Process(
            target=_list_in_worker,
            args=(
                ListProductInput(
                    member_id=s,
                    product_id=f"{s}-P{hex_id(6)}",
                    product=product,
                    at=NOW,
                    text_threshold=policy.text_similarity_threshold,
                    image_max_distance=policy.image_hash_max_distance,
                ),
                start,
                results,
            ),
        )
        for s in stores
    ]
    for p in procs:
        p.start()
    answers = [results.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(60)
    accepted = [m for m, ok, _ in answers if ok]
    assert len(accepted) == 1, answers
    refused = [m for m, ok, code in answers if not ok and code == "duplicate_product"]
    assert sorted(refused) == sorted(set(stores) - set(accepted))
    for member in refused:  # each copier is linked, to the one that passed
        assert [x.reason for x in linked_accounts(member)] == ["duplicate_product"]


def test_one_photo_re_encoded_for_two_accounts_at_once_passes_once(data_dir: Any) -> None:
    from activities.identity_photo import check_authentication_photo
    from devtools import photo_fixtures
    from models.policy import load_policy
    from tests.support.registry_rows import new_account

    policy = load_policy().authentication
    original = photo_fixtures.jpeg_bytes(next(v for v in photo_fixtures.VARIANTS if v.name == "pass_obama"))
    out = io.BytesIO()
    Image.open(io.BytesIO(original)).resize((1400, 1050)).save(out, "JPEG", quality=70)
    photos = [original, out.getvalue()]  # other bytes, the same photo: only the perceptual hash says so
    members = [new_account("F", store_name="Face Shop", at=NOW) for _ in photos]
    refs = [put_bytes(p) for p in photos]
    start = threading.Barrier(len(photos))
    answers: dict[str, PhotoCheckResult] = {}

    def authenticate(member: str, ref: str) -> None:  # a thread, with its own sessions and connections
        start.wait()
        answers[member] = check_authentication_photo(
            PhotoCheckInput(photo_ref=ref, policy=policy, member_id=member)
        )

    threads = [threading.Thread(target=authenticate, args=(m, r)) for m, r in zip(members, refs, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    passed = [m for m, r in answers.items() if r.passed]
    assert len(answers) == 2 and len(passed) == 1, answers
    (other,) = set(members) - set(passed)
    assert answers[other].refusal is not None and answers[other].refusal.code == "photo_reused"


@pytest.mark.parametrize("name", ["assoc3-listing", "known-faces"])
def test_the_lock_is_held_until_the_transaction_ends(name: str, data_dir: Any) -> None:
    """A second holder waits while the first's transaction is open, and goes on when it ends."""
    from sqlmodel import Session

    from activities.storage.db import engine
    from activities.storage.decision_locks import hold

    order: list[str] = []
    first_holds = threading.Event()

    def second() -> None:
        first_holds.wait(30)
        with Session(engine()) as s:
            hold(s, name)
            order.append("second")
            s.commit()

    t = threading.Thread(target=second)
    t.start()
    with Session(engine()) as s:
        hold(s, name)
        first_holds.set()
        t.join(1.0)  # the second is blocked meanwhile
        order.append("first")
        s.commit()
    t.join(60)
    assert order == ["first", "second"]
