"""Two machines: two worker processes with their own SELLER_DATA_DIR, sharing only Temporal (the dev
server), PostgreSQL (with pgvector) and the object store (SeaweedFS). Each worker takes its own task
queue, so every decision below is made by the worker named, against what the other one wrote:

- a face enrolled through A is found through B (ASSOC-2 shared_face: B's seller is linked);
- a photo uploaded (with a pre-signed PUT, no S3 library) for a seller served by B is checked by B,
  and that photo re-sent for a seller served by A is refused by A as photo_reused;
- a product listed through A is the original a copy listed through B is caught against (ASSOC-3);
- neither worker's data folder holds a blob or a database file.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

import seller_client
from activities.exam import answer_key, draw
from activities.storage.blobs import Blobs
from activities.storage.object_store import S3Store, Sealer
from devtools import photo_fixtures, product_fixtures
from devtools.identity_factory import applicant
from devtools.seaweed import SeaweedS3
from devtools.smtp_sink import SmtpSink
from models.contract import ExamAnswers, ExamStartInput, PhotoSubmission, VerifyEmailInput
from models.policy import load_policy
from models.refusals import RefusedError
from models.settings import settings
from tests.support.draws import hex_id
from workflows.seller_account import SellerAccount

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = load_policy().exam.questions_per_paper


@pytest_asyncio.fixture
async def machines(
    dev_env: WorkflowEnvironment, pgvector_url: str, s3_store: SeaweedS3, tmp_path: Path
) -> AsyncIterator[dict[str, str]]:
    """Worker processes `a` and `b` (task queue of each), sharing Temporal, PostgreSQL and S3 only."""
    prefix = f"two-{hex_id(8)}"
    queues = {name: f"tq-{name}-{hex_id(8)}" for name in ("a", "b")}
    procs = []
    for name, queue in queues.items():
        (tmp_path / name).mkdir()
        env = {
            **os.environ,
            **s3_store.env(prefix),
            "SELLER_DATA_DIR": str(tmp_path / name),
            "DATABASE_URL": pgvector_url,
            "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
            "TEMPORAL_NAMESPACE": dev_env.client.namespace,
            "TASK_QUEUE": queue,
        }
        log = open(tmp_path / f"worker-{name}.log", "wb")  # noqa: SIM115
        procs.append(
            subprocess.Popen(
                [sys.executable, "worker.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )  # fmt: skip
    try:
        yield {**queues, "prefix": prefix, "dirs": str(tmp_path), "database": pgvector_url}
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


def put_url(url: str, data: bytes) -> None:
    with urllib.request.urlopen(urllib.request.Request(url, data=data, method="PUT"), timeout=30) as r:
        assert r.status == 200


async def onboard(client, queue: str, mailbox: SmtpSink) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    reg = applicant()
    result = await seller_client.register(client, reg, task_queue=queue)
    assert result.accepted and result.member_id, result
    code = await asyncio.to_thread(mailbox.latest_code, reg.email)
    await seller_client.command(client, result.member_id, SellerAccount.verify_email, VerifyEmailInput(code))
    return result.member_id, reg.id_card_number


async def authenticate(client, member: str, ref: str):  # type: ignore[no-untyped-def]
    return await seller_client.command(
        client, member, SellerAccount.submit_authentication_photo, PhotoSubmission(ref)
    )


async def pass_exam(client, member: str) -> None:  # type: ignore[no-untyped-def]
    paper = await seller_client.command(client, member, SellerAccount.start_exam, ExamStartInput())
    key = answer_key(draw(f"{member}:1", QUESTIONS, 1).paper)
    done = await seller_client.command(
        client, member, SellerAccount.submit_exam, ExamAnswers(paper.paper_id, key)
    )
    assert done.passed, done


async def test_two_workers_sharing_only_temporal_postgres_and_s3_see_each_others_decisions(
    dev_env: WorkflowEnvironment, machines: dict[str, str], s3_store: SeaweedS3, mailbox: SmtpSink
) -> None:
    # This process does not share the workers' registry (PostgreSQL): it sends under the ring key only.
    client = seller_client.without_registry(dev_env.client)
    s = settings()
    # Uploads as another service would make them: into the shared store, not any worker's folder.
    store = Blobs(
        S3Store(s3_store.client(), s3_store.bucket, machines["prefix"]), Sealer(s.codec_keys, s.codec_key_id)
    )

    # A face enrolled through A ...
    on_a, card_a = await onboard(client, machines["a"], mailbox)
    first = await authenticate(client, on_a, store.put(photo_fixtures.jpeg_bytes(
        next(v for v in photo_fixtures.VARIANTS if v.name == "pass_obama"), card_a)))  # fmt: skip
    assert (first.passed, first.state) == (True, "authenticated"), first.failures

    # ... is found through B: another photo of the same man, uploaded with a pre-signed PUT.
    on_b, card_b = await onboard(client, machines["b"], mailbox)
    data = photo_fixtures.jpeg_bytes(
        next(v for v in photo_fixtures.VARIANTS if v.name == "pass_obama2"), card_b
    )
    ticket = store.upload_ticket(hashlib.sha256(data).hexdigest())
    put_url(ticket.url, data)
    second = await authenticate(client, on_b, ticket.ref)
    assert second.passed and second.state == "suspended", second  # ASSOC-2: linked to A's seller

    # The photo B checked, re-sent for another seller served by A: A refuses it as reused.
    third, _ = await onboard(client, machines["a"], mailbox)
    with pytest.raises(RefusedError) as reused:  # a failed photo is a refusal (issue 29)
        await authenticate(client, third, ticket.ref)
    assert (reused.value.refusal.rule, reused.value.refusal.code) == ("OPEN-1", "photo_reused")

    # A product listed through A is the original; its copy listed through B is caught.
    seller_a, card = await onboard(client, machines["a"], mailbox)
    biden = next(v for v in photo_fixtures.VARIANTS if v.name == "pass_biden")
    assert (await authenticate(client, seller_a, store.put(photo_fixtures.jpeg_bytes(biden, card)))).passed
    seller_b, card = await onboard(client, machines["b"], mailbox)
    astronaut = next(v for v in photo_fixtures.VARIANTS if v.name == "pass_astronaut")
    assert (
        await authenticate(client, seller_b, store.put(photo_fixtures.jpeg_bytes(astronaut, card)))
    ).passed
    await pass_exam(client, seller_a)
    await pass_exam(client, seller_b)
    n = 7_100_000 + int(hex_id(4), 16)
    image = store.put(product_fixtures.encode(product_fixtures.image(n)))
    original = await seller_client.command(
        client, seller_a, SellerAccount.release_product, product_fixtures.product(n, image)
    )
    assert original.accepted
    with pytest.raises(RefusedError) as copy:  # a refused product is a refusal (issue 29)
        await seller_client.command(
            client, seller_b, SellerAccount.release_product, product_fixtures.product(n, image)
        )
    assert (copy.value.refusal.rule, copy.value.refusal.code) == ("ASSOC-3", "duplicate_product")
    import sqlalchemy

    shared = sqlalchemy.create_engine(machines["database"])
    with shared.connect() as conn:  # the stores are linked in the registry both workers share
        reasons = conn.execute(
            sqlalchemy.text(
                "SELECT reason FROM accountlink WHERE member_a IN (:a, :b) AND member_b IN (:a, :b)"
            ),
            {"a": seller_a, "b": seller_b},
        ).all()
    shared.dispose()
    assert [r[0] for r in reasons] == ["duplicate_product"]

    # Nothing of the sellers' is in either worker's own folder.
    for name in ("a", "b"):
        left = {p.name for p in (Path(machines["dirs"]) / name).iterdir()}
        assert not {"blobs", "seller.db"} & left, left
