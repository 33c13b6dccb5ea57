"""Onboarding throughput, and the cost of many parked accounts, on the real dev server.

    .venv/bin/python bench/onboarding_bench.py [--sellers 10] [--parked 10000]

1. Onboarding: sellers go register -> REG-6 code -> OPEN-1 photo -> OPEN-2 exam -> ten OPEN-3 products
   -> open, concurrently, with every real activity (SMTP, photo checks, duplicate index, audit).
   Baseline, same run: a bare workflow that runs the same number of no-op activities per seller.
2. Parked accounts: the worker's memory (RSS) and signal latency (login signal until the query sees it)
   with N live accounts waiting on their timers, against the same worker with none parked.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SELLER_DATA_DIR", tempfile.mkdtemp(prefix="seller-bench-"))

from devtools.smtp_sink import SmtpSink, free_port  # noqa: E402

os.environ.setdefault("SMTP_PORT", str(free_port()))

from temporalio import activity, workflow  # noqa: E402
from temporalio.api.enums.v1 import EventType  # noqa: E402
from temporalio.worker import Worker  # noqa: E402

import seller_client  # noqa: E402
from activities.exam import answer_key, draw  # noqa: E402
from activities.storage.blobs import put_bytes  # noqa: E402
from devtools import photo_fixtures, product_fixtures, temporal_dev  # noqa: E402
from devtools.identity_factory import applicant  # noqa: E402
from models.account_state import AccountInput  # noqa: E402
from models.contract import AccountProfile, ExamAnswers, ExamStartInput, LoginInput, VerifyEmailInput  # noqa: E402
from models.settings import settings  # noqa: E402
from worker import build_worker  # noqa: E402
from workflows.seller_account import SellerAccount  # noqa: E402


@activity.defn
def noop(i: int) -> int:
    return i


@workflow.defn(sandboxed=False)  # defined in a script (__main__), which the sandbox cannot reload
class BareOnboarding:
    @workflow.run
    async def run(self, activities: int) -> int:
        for i in range(activities):
            await workflow.execute_activity(noop, i, start_to_close_timeout=timedelta(seconds=30))
        return activities


@workflow.defn(sandboxed=False)  # defined in a script (__main__), which the sandbox cannot reload
class BareParked:
    def __init__(self) -> None:
        self.logins = 0

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False, timeout=timedelta(days=365))

    @workflow.signal
    def login(self, _: LoginInput) -> None:
        self.logins += 1

    @workflow.query
    def count(self) -> int:
        return self.logins


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one_face_policy():  # type: ignore[no-untyped-def]
    """Every bench account holds up the same fixture photo: with the known-faces rule on, the second
    would be refused (photo_reused). The bench measures onboarding, so it turns the rule off."""
    import dataclasses

    policy = seller_client.current_policy()
    return dataclasses.replace(
        policy, authentication=dataclasses.replace(policy.authentication, known_faces=False)
    )


def parked_account(member_id: str, policy, now: datetime) -> AccountInput:  # type: ignore[no-untyped-def]
    """A parked account as the registration leaves one: its registry row, and its first input with the
    admission the registration signs (workflows/admission.py)."""
    from sqlmodel import Session

    from activities.storage.db import engine
    from models.tables import Account
    from security import credentials

    with Session(engine()) as session:
        session.add(Account(member_id=member_id, registration_id=member_id, store_name="Parked Store", region="CN",
                            created_at=now, updated_at=now))  # fmt: skip
        session.commit()
    start = AccountInput(AccountProfile(member_id, "Parked Store", "CN"), policy, now)
    start.admission = credentials.sign(
        role="system", actor="registration-bench", account=member_id, command="open_account", payload=start
    )
    return start


async def onboard(client, mail: SmtpSink, reg, photo: Path, tq: str, n: int) -> str:  # type: ignore[no-untyped-def]
    # The policy is the worker's (this process runs it): installed as its setting, never sent by a caller.
    from activities import admission

    admission.install(one_face_policy())
    member = (await seller_client.register(client, reg, task_queue=tq)).member_id
    assert member
    code = await asyncio.to_thread(mail.latest_code, reg.email, timeout=60)
    await seller_client.command(client, member, SellerAccount.verify_email, VerifyEmailInput(code))
    checked = await seller_client.submit_photo(client, member, photo)
    assert checked.passed, checked.failures
    paper = await seller_client.command(client, member, SellerAccount.start_exam, ExamStartInput())
    key = answer_key(draw(f"{member}:1", len(paper.questions), 1).paper)
    await seller_client.command(client, member, SellerAccount.submit_exam, ExamAnswers(paper.paper_id, key))
    for k in range(10):
        ref = put_bytes(product_fixtures.encode(product_fixtures.image(n * 100 + k)))
        result = await seller_client.command(
            client, member, SellerAccount.release_product, product_fixtures.product(n * 100 + k, ref)
        )
    assert result.state == "open"
    return member


async def activities_in(client, workflow_id: str) -> int:  # type: ignore[no-untyped-def]
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return sum(e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED for e in history.events)


async def signal_latency(client, ids: list[str], sig, probe) -> float:  # type: ignore[no-untyped-def]
    """Median seconds from a login (the account's command; the bare workflow's signal) until a query
    sees it, over a sample of the accounts."""
    times = []
    for wid in ids:
        handle = client.get_workflow_handle(wid)
        before = await probe(handle)
        t = time.perf_counter()
        login = seller_client.sign(
            "login", wid.removeprefix("seller-"), LoginInput("marketplace", "198.51.100.1")
        )
        if sig is SellerAccount.login:  # a command since release v3 (workflows/traffic.py)
            await handle.execute_update(sig, login, id=f"latency-{uuid.uuid4().hex[:8]}")
        else:
            await handle.signal(sig, login)
        while await probe(handle) == before:
            await asyncio.sleep(0.005)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sellers", type=int, default=10)
    p.add_argument("--parked", type=int, default=10_000)
    args = p.parse_args()
    env = await temporal_dev.start_own()
    client = env.client
    # Each seller's card prints its own registered ID number (OPEN-1 reads it); made before the clock.
    regs = [applicant() for _ in range(args.sellers)]
    photos = [Path(settings().data_dir) / f"photo-{i}.jpg" for i in range(args.sellers)]
    photos[0].parent.mkdir(parents=True, exist_ok=True)
    for reg, photo in zip(regs, photos, strict=True):
        photo.write_bytes(photo_fixtures.jpeg_bytes(photo_fixtures.VARIANTS[0], reg.id_card_number))
    tq = f"bench-{uuid.uuid4().hex[:6]}"
    try:
        with SmtpSink(port=settings().smtp_port) as mail:
            async with build_worker(client, task_queue=tq):
                t = time.perf_counter()
                members = await asyncio.gather(
                    *(onboard(client, mail, regs[i], photos[i], tq, i) for i in range(args.sellers))
                )
                ours = time.perf_counter() - t
                per_seller = await activities_in(client, f"seller-{members[0]}")
                per_seller += 3  # the registration workflow's screening, identity claim and mail
            bare_worker = Worker(
                client,
                task_queue=tq + "-bare",
                workflows=[BareOnboarding],
                activities=[noop],
                activity_executor=ThreadPoolExecutor(16),
            )
            async with bare_worker:
                t = time.perf_counter()
                await asyncio.gather(*(
                    client.execute_workflow(BareOnboarding.run, per_seller, id=f"bare-{uuid.uuid4()}", task_queue=tq + "-bare")
                    for _ in range(args.sellers)
                ))  # fmt: skip
                bare = time.perf_counter() - t
        print(f"onboarding {args.sellers} sellers concurrently, {per_seller} activities each")
        print(
            f"  register -> open, every real activity   {ours:7.2f} s  ({args.sellers / ours:5.2f} sellers/s)"
        )
        print(
            f"  bare workflow, {per_seller} no-op activities      {bare:7.2f} s  ({args.sellers / bare:5.2f} sellers/s)"
        )
        print(f"  ratio (ours / bare)                      {ours / bare:7.1f}x  (the photo checks dominate)")

        # ---- parked accounts
        from models.policy import load_policy

        policy = load_policy()
        async with build_worker(client, task_queue=tq):
            idle_rss = rss_mb()
            now = datetime.now(UTC)
            ids = []
            t = time.perf_counter()
            for start in range(0, args.parked, 200):
                batch = []
                for _ in range(start, min(args.parked, start + 200)):
                    m = f"P{uuid.uuid4().hex[:15].upper()}"
                    ids.append(f"seller-{m}")
                    batch.append(
                        client.start_workflow(
                            SellerAccount.run,
                            parked_account(m, policy, now),
                            id=f"seller-{m}",
                            task_queue=tq,
                        )
                    )  # fmt: skip
                await asyncio.gather(*batch)
                print(f"\r  parking accounts: {len(ids)}/{args.parked}", end="", flush=True)
            print(f"  ({time.perf_counter() - t:.0f} s)")
            await settled(len(ids))
            parked_rss = rss_mb()
            sample = ids[:: max(1, len(ids) // 50)][:50]
            latency = await signal_latency(client, sample, SellerAccount.login, _count)
        async with Worker(client, task_queue=tq + "-parked", workflows=[BareParked]):
            bare_ids = []
            for _ in range(50):
                h = await client.start_workflow(
                    BareParked.run, id=f"bare-parked-{uuid.uuid4()}", task_queue=tq + "-parked"
                )
                bare_ids.append(h.id)
            bare_latency = await signal_latency(
                client, bare_ids, BareParked.login, lambda h: h.query(BareParked.count)
            )
        print(f"{args.parked} live accounts parked on their timers (one worker process)")
        print(
            f"  worker process RSS: {idle_rss:7.0f} MB before, {parked_rss:7.0f} MB parked  ({parked_rss / idle_rss:4.2f}x)"
        )
        print(f"  login signal -> visible in a query, median of 50: {latency * 1000:6.1f} ms")
        print(
            f"  same on a bare workflow with a signal handler:     {bare_latency * 1000:6.1f} ms  ({latency / bare_latency:4.1f}x)"
        )
    finally:
        await env.shutdown()


async def settled(n: int) -> None:
    """Wait until every parked account has run its first task (its registration audit row is written),
    so the measurements see accounts parked on timers, not a backlog of first tasks."""
    from sqlmodel import Session, func, select

    from activities.storage.db import engine
    from models.tables import AuditRecord

    while True:
        with Session(engine()) as session:
            done = session.exec(
                select(func.count()).where(AuditRecord.workflow_id.like("seller-P%"), AuditRecord.seq == 1)  # type: ignore[attr-defined]
            ).one()
        print(f"\r  accounts settled on their timers: {done}/{n}", end="", flush=True)
        if done >= n:
            print()
            await asyncio.sleep(2)
            return
        await asyncio.sleep(2)


async def _count(handle) -> int:  # type: ignore[no-untyped-def]
    return (await handle.query(SellerAccount.status)).login_count


if __name__ == "__main__":
    asyncio.run(main())
