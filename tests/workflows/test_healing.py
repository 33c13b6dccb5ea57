"""ENF-4, issue 24: an account the registry holds open is never left without a run its workers move
(workflows/healing.py, activities/healing.py), on the dev server (resets and visibility are the real
server's).

- A stranger on the frontend terminates an open account: the risk engine's serious violation, sent
  through the facade, finds no run, asks the keeper, which resets the account to its last workflow task;
  the violation then lands and closes it. The sweep finds such runs too.
- Signals that fill a run's history to the server's size limit make the server terminate it (anyone on
  the frontend can send them): the keeper resets it without them, and a serious violation closes it.
- The keeper's sweep, as every worker starts it, resets a terminated account by itself.
- A run stalled under a login flood (its workflow task scheduled and never handed out, as measured at
  full size; here no worker polls its queue) is reset without the flood, and the serious violation that
  arrived during the flood, properly signed, is sent again and closes the account; a forged one is not.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

import seller_client
from activities.healing import Healing, keeper_trail
from models.account_state import AccountInput
from models.contract import ViolationInput
from models.healing import RUN_ENDED, HealInput, StrandedQuery
from tests.conftest import new_worker, start_dev_server
from tests.support.accounts import start_account
from tests.support.polling import eventually
from tests.support.signing import member_of, signed
from tests.workflows.test_admission import attacker_input
from tests.workflows.test_traffic import closed_status, flood_login_signals
from worker import start_keepers
from workflows.healing import KEEPER_WORKFLOW_ID
from workflows.seller_account import SellerAccount

HISTORY_LIMIT = 2 * 2**20  # limit.historySize.error (default 50 MB)


@pytest_asyncio.fixture(scope="module")
async def small_history_env(data_dir: Path) -> AsyncIterator[WorkflowEnvironment]:
    """The dev server with its history size limit lowered, so that a few signals reach it."""
    env = await start_dev_server(limit__historySize__error=HISTORY_LIMIT, limit__historySize__warn=HISTORY_LIMIT // 2)
    try:
        yield env
    finally:
        await env.shutdown()


def audit_events(member_id: str) -> list[str]:
    from sqlmodel import Session, select

    from activities.storage.db import engine
    from models.tables import AuditRecord

    with Session(engine()) as session:
        rows = session.exec(select(AuditRecord).where(AuditRecord.workflow_id == keeper_trail(member_id)))
        return [row.event for row in rows]


async def idle_account(env: WorkflowEnvironment, task_queue: str) -> WorkflowHandle:
    """An open account whose first tasks are done: a completed workflow task to reset to, nothing pending."""
    h = await start_account(env, task_queue, state="open")

    async def probe() -> bool:
        desc = await env.client.get_workflow_handle(h.id).describe()
        return not desc.raw_description.HasField("pending_workflow_task") and (desc.history_length or 0) > 3

    await eventually(probe, bool, f"{h.id} idle", seconds=60)
    return h


async def test_a_terminated_account_is_reset_and_a_serious_violation_still_closes_it(dev_env: WorkflowEnvironment) -> None:
    client = dev_env.client
    async with new_worker(client) as worker:
        h = await idle_account(dev_env, worker.task_queue)
        await h.terminate("a stranger on the frontend")

        async def swept() -> list[str]:
            return (await ActivityEnvironment().run(Healing(client).stranded_accounts, StrandedQuery())).member_ids

        # Visibility is written a moment after the run closes.
        await eventually(swept, lambda found: member_of(h) in found, "the sweep finds the terminated run", seconds=30)

        violation = ViolationInput("while-terminated", "ip", "ENF-1", severity="serious")
        answer = await seller_client.report_violation(client, member_of(h), violation)
        status = await closed_status(client, h)
        runs = [r async for r in client.list_workflows(f"WorkflowId = '{h.id}'")]
    assert answer == seller_client.COUNTED
    assert status.closed_reason == "serious_violation"
    assert "account_reset" in audit_events(member_of(h))
    assert {r.status for r in runs} >= {WorkflowExecutionStatus.TERMINATED}, "the terminated run is on the record"


async def test_an_operator_asks_the_keeper_from_the_command_line(dev_env: WorkflowEnvironment, cli) -> None:  # type: ignore[no-untyped-def]
    client = dev_env.client
    async with new_worker(client) as worker:
        h = await idle_account(dev_env, worker.task_queue)
        healthy_code, healthy = await cli("heal", member_of(h))
        await h.terminate("a stranger on the frontend")
        code, report = await cli("heal", member_of(h))
        status = await client.get_workflow_handle(h.id).query(SellerAccount.status)
    assert (healthy_code, healthy["action"]) == (0, "healthy")
    assert (code, report["action"], report["detail"]) == (0, "reset", "run_terminated")
    assert status.state == "open"


async def test_a_run_started_under_the_accounts_id_does_not_hide_it(dev_env: WorkflowEnvironment) -> None:
    """A stranger terminates an open account, then starts SellerAccount under its id with an input of
    their making: that run's admission is refused and it fails. The keeper resets the account's own run,
    not the stranger's, and a serious violation closes the account."""
    client = dev_env.client
    async with new_worker(client) as worker:
        h = await idle_account(dev_env, worker.task_queue)
        await h.terminate("a stranger on the frontend")
        forged = await attacker_input(dev_env, member_of(h))
        with pytest.raises(WorkflowFailureError):
            await (await client.start_workflow(SellerAccount.run, forged, id=h.id, task_queue=worker.task_queue)).result()
        violation = ViolationInput("after-the-forged-start", "ip", "ENF-1", severity="serious")
        answer = await seller_client.report_violation(client, member_of(h), violation)
        status = await closed_status(client, h)
        first = (await client.get_workflow_handle(h.id).fetch_history()).events[0]
        [start] = await client.data_converter.decode(
            first.workflow_execution_started_event_attributes.input.payloads, [AccountInput]
        )
    assert answer == seller_client.COUNTED
    assert status.closed_reason == "serious_violation"
    assert start.profile.store_name == "Test Store", "the account's own run was reset, not the stranger's"


async def test_a_stalled_run_is_reset_without_the_flood_and_its_signed_facts_land(dev_env: WorkflowEnvironment) -> None:
    client = dev_env.client
    async with new_worker(client) as worker:
        h = await idle_account(dev_env, worker.task_queue)
        queue = worker.task_queue
    # No worker polls the account's queue from here: its next task is scheduled and never handed out.
    real = signed(h, SellerAccount.report_violation, ViolationInput("during-the-flood", "ip", "ENF-1", severity="serious"))
    forged = signed(h, SellerAccount.report_violation, ViolationInput("forged", "ip", "ENF-1", severity="serious"))
    assert forged.auth is not None
    forged.auth.signature = "0" * len(forged.auth.signature)
    await h.signal(SellerAccount.report_violation, forged)
    await h.signal(SellerAccount.report_violation, real)
    taken = await flood_login_signals(h, 400)

    healing = Healing(client, stall_after=timedelta(seconds=2), stall_confirm=timedelta(seconds=1))
    await asyncio.sleep(3)
    report = await ActivityEnvironment().run(healing.heal_account, HealInput(member_of(h), RUN_ENDED))
    # A reset run, its first task just scheduled, is no stalled run: the keeper leaves it be.
    again = await ActivityEnvironment().run(Healing(client).heal_account, HealInput(member_of(h), RUN_ENDED))

    async with new_worker(client, task_queue=queue):
        status = await closed_status(client, h)
    history = await client.get_workflow_handle(h.id, run_id=report.new_run_id).fetch_history()
    names = [
        e.workflow_execution_signaled_event_attributes.signal_name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    ]
    assert report.action == "reset", report
    assert report.facts_sent_again == 1, "the one properly signed fact; the forged one is left behind"
    assert report.signals_left_behind == taken + 1
    assert again.action == "healthy", "a reset run is left as it is"
    assert status.closed_reason == "serious_violation"
    assert "login" not in names, "the flood stays behind in the old run"
    assert names.count("report_violation") == 1


async def test_signals_that_fill_the_history_do_not_end_enforcement(small_history_env: WorkflowEnvironment) -> None:
    env = small_history_env
    client = env.client
    async with new_worker(client) as worker:
        h = await idle_account(env, worker.task_queue)
        stuffing = "x" * (HISTORY_LIMIT // 8)
        for _ in range(12):  # any signal name, any payload up to the server's blob limit: no credential needed
            try:
                await h.signal("login", stuffing)
            except Exception:  # noqa: BLE001 - the run is gone: the attack has done what it could
                break
        ended = await client.get_workflow_handle(h.id).describe()
        violation = ViolationInput("after-the-stuffing", "ip", "ENF-1", severity="serious")
        answer = await seller_client.report_violation(client, member_of(h), violation)
        status = await closed_status(client, h)
    assert ended.status == WorkflowExecutionStatus.TERMINATED, "the server ended the run at its size limit"
    assert answer == seller_client.COUNTED
    assert status.closed_reason == "serious_violation"


async def test_the_keeper_resets_a_terminated_account_by_itself(small_history_env: WorkflowEnvironment) -> None:
    """On this module's own server: the sweep looks at every account run ended in the last day."""
    env = small_history_env
    client = env.client
    async with new_worker(client) as worker:
        h = await idle_account(env, worker.task_queue)
        await h.terminate("a stranger on the frontend")
        await start_keepers(client, worker.task_queue, only=KEEPER_WORKFLOW_ID)

        async def running() -> bool:
            return (await client.get_workflow_handle(h.id).describe()).status == WorkflowExecutionStatus.RUNNING

        try:
            await eventually(running, bool, f"{h.id} running again", seconds=120)
            status = await client.get_workflow_handle(h.id).query(SellerAccount.status)
        finally:
            await client.get_workflow_handle(KEEPER_WORKFLOW_ID).terminate("test over")
    assert status.state == "open", "the account lives on with its state"
    assert "account_reset" in audit_events(member_of(h))
