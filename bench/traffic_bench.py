"""Issue 24's floods at full size, against the dev server's default per-run caps (workflows/traffic.py):

- `logins`: 10,000 login signals with one valid seller credential (the issue's attack: 100 in flight)
  and, at the same time, 10,000 `login` commands (the way logins are sent since release v3, 100 in
  flight; the server holds 10 per workflow, the account 6 of a seller's), then a serious violation
  through the facade: how long until the account is closed, how many runs the chain took, whether any
  workflow task failed (other than the server's own UnhandledCommand / ForceCloseCommand), the longest
  workflow task and the largest run's history;
- `held`: 2,100 `unbind_identity` commands kept ten in flight, an operator's `retry` in the middle, then
  a serious violation: the same figures.

Baseline, measured in the same run: a serious violation on an idle account, from sending to closed.
The test suite proves the same properties on a server with its caps lowered (tests/workflows/test_traffic.py).
Run it niced on a shared machine; it prints the load average beside the figures.

    python bench/traffic_bench.py [--logins 10000] [--held 2100]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SELLER_DATA_DIR", tempfile.mkdtemp(prefix="seller-bench-"))

from sqlmodel import Session, select  # noqa: E402
from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause  # noqa: E402
from temporalio.client import Client, WorkflowHandle  # noqa: E402
from temporalio.service import RPCError  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402

import seller_client  # noqa: E402
from activities.storage.db import engine  # noqa: E402
from models.account_state import AccountInput, AccountState, ChartModel  # noqa: E402
from models.contract import AccountProfile, LoginInput, RetryInput, UnbindInput, ViolationInput  # noqa: E402
from models.policy import load_policy  # noqa: E402
from models.settings import settings  # noqa: E402
from models.tables import Account, AuditRecord  # noqa: E402
from security import credentials  # noqa: E402
from seller_client import data_converter  # noqa: E402
from worker import build_worker  # noqa: E402
from workflows import search_attributes as sa  # noqa: E402
from workflows.seller_account import SellerAccount  # noqa: E402

SERVER_CAUSES = (
    WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
    WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_FORCE_CLOSE_COMMAND,
)


async def open_account(client: Client, tq: str) -> WorkflowHandle:
    """An open store as the registration leaves one: its registry row and its admitted first input."""
    member = "B" + uuid.uuid4().hex[:15].upper()
    now = datetime.now(UTC)
    with Session(engine()) as session:
        session.add(Account(member_id=member, registration_id=member, store_name="Bench Store", region="CN",
                            state="open", created_at=now, updated_at=now))  # fmt: skip
        session.commit()
    start = AccountInput(
        AccountProfile(member, "Bench Store", "CN"),
        load_policy(),
        now,
        state=AccountState(chart=ChartModel(state="open"), registered_at=now, last_login_at=now),
        max_run_days=3650,
    )
    start.admission = credentials.sign(
        role="system", actor="registration-bench", account=member, command="open_account", payload=start
    )
    return await client.start_workflow(SellerAccount.run, start, id=f"seller-{member}", task_queue=tq)


async def close_by_serious_violation(client: Client, handle: WorkflowHandle, vid: str) -> float:
    """Seconds from sending a serious violation (through the facade) until the account reads closed."""
    member = handle.id.removeprefix("seller-")
    t = time.perf_counter()
    await seller_client.report_violation(client, member, ViolationInput(vid, "ip", "ENF-1", severity="serious"))
    latest = client.get_workflow_handle(handle.id)
    while True:
        try:
            if (await latest.query(SellerAccount.status)).state == "closed":
                return time.perf_counter() - t
        except RPCError:
            pass
        await asyncio.sleep(0.2)


@dataclass
class Chain:
    runs: int = 0
    failures: int = 0  # workflow task failures other than the server's own (SERVER_CAUSES)
    server_failures: int = 0
    longest_task_s: float = 0.0  # workflow task started -> completed or failed
    largest_history_mb: float = 0.0  # the largest run's history, events as stored
    events: int = 0  # in all runs

    def __str__(self) -> str:
        return (
            f"{self.runs} runs, {self.failures} task failures ({self.server_failures} the server's own), "
            f"longest task {self.longest_task_s:.2f} s, largest run history {self.largest_history_mb:.2f} MB, "
            f"{self.events} events"
        )


async def chain(client: Client, handle: WorkflowHandle) -> Chain:
    """The continue-as-new chain's figures (`Chain`)."""
    run = handle.first_execution_run_id or handle.run_id or ""
    found = Chain()
    while run:
        found.runs += 1
        history = await client.get_workflow_handle(handle.id, run_id=run).fetch_history()
        found.events += len(history.events)
        found.largest_history_mb = max(found.largest_history_mb, sum(e.ByteSize() for e in history.events) / 2**20)
        started = None
        for e in history.events:
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
                started = e.event_time.ToDatetime()
            elif e.event_type in (EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED):
                if started is not None:
                    found.longest_task_s = max(found.longest_task_s, (e.event_time.ToDatetime() - started).total_seconds())
                started = None
                if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                    own = e.workflow_task_failed_event_attributes.cause in SERVER_CAUSES
                    found.server_failures += own
                    found.failures += not own
        last = history.events[-1]
        run = (
            last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
            if last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
            else ""
        )
    return found


async def flood_login_signals(handle: WorkflowHandle, count: int, at_once: int = 100) -> int:
    """The issue's attack: login signals, one valid seller credential; how many the server took."""
    member = handle.id.removeprefix("seller-")
    login = seller_client.sign("login", member, LoginInput("marketplace", "198.51.100.66"))

    async def one() -> bool:
        try:
            await handle.signal("login", login)
            return True
        except RPCError:
            return False

    taken = 0
    for start in range(0, count, at_once):
        taken += sum(await asyncio.gather(*(one() for _ in range(min(at_once, count - start)))))
    return taken


async def outcome_of(update: Awaitable[object], answered: str, detail: bool = False) -> str:
    """What one command got: `answered`, its refusal's code, or the error's kind (with its text)."""
    try:
        await update
        return answered
    except Exception as err:  # noqa: BLE001 - every outcome is counted
        refusal = seller_client.as_refusal(err)
        if refusal is not None:
            return refusal.code
        return f"{type(err).__name__}: {str(err)[:60]}" if detail else type(err).__name__


async def flood_login_commands(
    handle: WorkflowHandle, count: int, at_once: int = 100, outcomes: dict[str, int] | None = None
) -> dict[str, int]:
    """Login commands, `at_once` in flight, none sent again: what each got (into `outcomes`, which
    holds the counts so far if the flood is stopped)."""
    member = handle.id.removeprefix("seller-")
    login = seller_client.sign("login", member, LoginInput("marketplace", "198.51.100.67"))
    sent = iter(range(count))
    outcomes = {} if outcomes is None else outcomes

    async def sender() -> None:
        for i in sent:
            update = handle.execute_update(SellerAccount.login, login, id=f"flood-{i}-{uuid.uuid4().hex[:6]}")
            code = await outcome_of(update, "counted", detail=True)
            outcomes[code] = outcomes.get(code, 0) + 1

    await asyncio.gather(*(sender() for _ in range(at_once)))
    return outcomes


async def hold_commands(client: Client, handle: WorkflowHandle, count: int, at_once: int = 10) -> dict[str, int]:
    member = handle.id.removeprefix("seller-")
    unbind = seller_client.sign("unbind_identity", member, UnbindInput("again"))
    outcomes: dict[str, int] = {}
    sent = iter(range(count))

    async def holder() -> None:
        for i in sent:
            update = handle.execute_update(SellerAccount.unbind_identity, unbind, id=f"hold-{i}-{uuid.uuid4().hex[:6]}")
            code = await outcome_of(update, "answered")
            outcomes[code] = outcomes.get(code, 0) + 1

    async def operator() -> None:
        await asyncio.sleep(5)
        await seller_client.command(client, member, SellerAccount.retry, RetryInput("lin"), operator="lin")
        outcomes["operator_retry_answered"] = 1

    await asyncio.gather(*(holder() for _ in range(at_once)), operator())
    return outcomes


def keeper_trail_of(handle: WorkflowHandle) -> list[dict[str, str]]:
    """What the account keeper did to the account (activities/healing.py), from its audit trail."""
    from activities.healing import keeper_trail

    with Session(engine()) as session:
        rows = session.exec(select(AuditRecord).where(AuditRecord.workflow_id == keeper_trail(handle.id.removeprefix("seller-"))))
        return [{"event": r.event, **r.detail} for r in rows]


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--logins", type=int, default=10_000)
    p.add_argument("--held", type=int, default=2_100)
    args = p.parse_args()
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(sys.prefix) / "bin" / "temporal"),
        data_converter=data_converter(settings()),
        search_attributes=sa.ALL,
        ui=False,
        dev_server_log_level="error",
    )
    client, tq = env.client, f"bench-{uuid.uuid4().hex[:6]}"
    try:
        async with build_worker(client, task_queue=tq):
            idle = await open_account(client, tq)
            baseline = await close_by_serious_violation(client, idle, "baseline")
            print(f"baseline: a serious violation on an idle account closes it in {baseline:6.2f} s", flush=True)

            if args.logins:
                flooded = await open_account(client, tq)
                t = time.perf_counter()
                # The commands go on while the serious violation is sent: it must land in the middle of
                # the flood, not after it (the server retries an aborted command for minutes).
                outcomes: dict[str, int] = {}
                commands = asyncio.create_task(flood_login_commands(flooded, args.logins, outcomes=outcomes))
                taken = await flood_login_signals(flooded, args.logins)
                flood_s = time.perf_counter() - t
                print(f"logins:   {args.logins} login signals sent in {flood_s:6.1f} s, {taken} taken by the server; "
                      f"login commands meanwhile so far {outcomes}; load average {load()}", flush=True)  # fmt: skip
                closing = await close_by_serious_violation(client, flooded, "after-the-flood")
                commands.cancel()
                found = await chain(client, flooded)
                counted = (await seller_client.status(client, flooded.id.removeprefix("seller-"))).login_count
                print(
                    f"logins:   then a serious violation, with the login commands still flooding, closed the account in "
                    f"{closing:6.2f} s ({closing / baseline:5.1f}x baseline); commands {outcomes}; the account counted "
                    f"{counted} logins; first chain {found}; keeper {keeper_trail_of(flooded)}; load average {load()}"
                )

            if args.held:
                held = await open_account(client, tq)
                t = time.perf_counter()
                held_outcomes = await hold_commands(client, held, args.held)
                held_s = time.perf_counter() - t
                closing = await close_by_serious_violation(client, held, "after-the-held-commands")
                found = await chain(client, held)
                print(
                    f"held:     {args.held} commands in {held_s:6.1f} s {held_outcomes}; then closed in "
                    f"{closing:6.2f} s ({closing / baseline:5.1f}x baseline); {found}; load average {load()}"
                )
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
