"""Issue 24, attacks 1 and 2: nobody outruns or outlasts enforcement (workflows/traffic.py).

Temporal's per-run caps are server settings; here the dev server runs with them lowered by dynamic config
(signals per run 10,000 -> 300, updates per run 2,000 -> 120) and the account's own budgets lowered with
them (continue as new at 100 signals, 40 updates), so that a flood of a few hundred messages meets real
caps in seconds and proves what 10,000 logins or 2,100 held-open commands would (bench/traffic_bench.py
sends those against the server's defaults).

- a login flood from one valid seller credential, as signals (the issue's attack: a run has no login
  signal handler, so the SDK sets them aside with no work in the workflow task) and as the `login`
  command (a run takes LOGINS_PER_RUN and continues as new): every run continues as new before the
  server's caps, no workflow task fails, and a serious violation sent after the flood (through the
  facade, which waits out a run at its cap) closes the account;
- commands held in flight: the run still continues as new (new commands are refused `account_busy`
  while it drains, a seller holds at most 6 slots), an operator's decision and a serious violation still
  take effect.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest_asyncio
from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

import seller_client
from models.contract import AppealDecisionInput, LoginInput, UnbindInput, ViolationInput
from tests.conftest import new_worker, start_dev_server
from tests.support.accounts import appeal_for, finish, linked_pair_with_a_case, start_account
from tests.support.polling import eventually
from tests.support.signing import member_of, signed, update_id
from tests.workflows.test_deploy import runs_of
from workflows.seller_account import SellerAccount

SERVER_SIGNALS = 300  # history.maximumSignalsPerExecution (default 10,000)
SERVER_UPDATES = 120  # history.maxTotalUpdates (default 2,000)
RUN_SIGNALS = 100  # the account's max_signals_per_run (default 1,000)
RUN_UPDATES = 40  # the account's max_updates_per_run (default 500)
ATTEMPTS = 5 * SERVER_UPDATES  # commands the seller sends, eight at a time
# The server's own task failures, which are no failure of the workflow's: a continue-as-new that new
# signals overtook is sent back to take them first (UNHANDLED_COMMAND); more than 100 signals buffered
# while one task runs make the server end that task so that the next one takes them all
# (FORCE_CLOSE_COMMAND, history.maximumBufferedEventsBatch). A deadlocked or crashing task would show as
# WORKFLOW_WORKER_UNHANDLED_FAILURE (the TMPRL1101) and fails the test.
SERVER_CAUSES = (
    WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
    WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_FORCE_CLOSE_COMMAND,
)


@pytest_asyncio.fixture(scope="module")
async def capped_env(data_dir: Path) -> AsyncIterator[WorkflowEnvironment]:
    """The dev server with its per-run caps lowered (dynamic config), for this module only."""
    env = await start_dev_server(
        history__maximumSignalsPerExecution=SERVER_SIGNALS, history__maxTotalUpdates=SERVER_UPDATES
    )
    try:
        yield env
    finally:
        await env.shutdown()


async def flood_login_signals(handle: WorkflowHandle, count: int, at_once: int = 50) -> int:
    """`count` login signals, the issue's attack, all one message with one valid seller credential; how
    many the server took (it refuses them while a run is at its cap; the attacker goes on regardless)."""
    login = signed(handle, SellerAccount.login, LoginInput("marketplace", "198.51.100.66"))

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


async def flood_login_commands(handle: WorkflowHandle, count: int, at_once: int = 8) -> dict[str, int]:
    """`count` login commands, `at_once` in flight, none sent again: what each got."""
    login = signed(handle, SellerAccount.login, LoginInput("marketplace", "198.51.100.67"))
    sent = iter(range(count))
    outcomes: dict[str, int] = {}

    async def sender() -> None:
        for i in sent:
            try:
                await handle.execute_update(SellerAccount.login, login, id=f"flood-{i}-{update_id('login')}")
                code = "counted"
            except Exception as err:  # refused (busy, too many): the attacker sends the next one
                refusal = seller_client.as_refusal(err)
                code = refusal.code if refusal is not None else type(err).__name__
            outcomes[code] = outcomes.get(code, 0) + 1

    await asyncio.gather(*(sender() for _ in range(at_once)))
    return outcomes


async def serious(client: Client, handle: WorkflowHandle, vid: str) -> None:
    """What the risk engine sends, through the facade (which waits out a run at its cap)."""
    violation = ViolationInput(vid, "ip", "ENF-1", severity="serious")
    await seller_client.report_violation(client, member_of(handle), violation, service="risk-engine")


async def closed_status(client: Client, handle: WorkflowHandle):  # type: ignore[no-untyped-def]
    latest = client.get_workflow_handle(handle.id)

    async def probe():  # type: ignore[no-untyped-def]
        with contextlib.suppress(RPCError):
            return await latest.query(SellerAccount.status, rpc_timeout=timedelta(seconds=20))
        return None

    return await eventually(probe, lambda s: s is not None and s.state == "closed", f"{handle.id} closed", seconds=180)


async def task_failures(client: Client, handle: WorkflowHandle) -> list[str]:
    """Workflow task failures in every run of the chain, but for the server's own (SERVER_CAUSES)."""
    runs = await runs_of(client, handle.id, handle.first_execution_run_id or handle.run_id or "")
    failures: list[str] = []
    for run in runs:
        history = await client.get_workflow_handle(handle.id, run_id=run).fetch_history()
        failures += [
            f"{e.workflow_task_failed_event_attributes.cause}: {e.workflow_task_failed_event_attributes.failure.message}"
            for e in history.events
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
            and e.workflow_task_failed_event_attributes.cause not in SERVER_CAUSES
        ]
    return failures


async def test_a_login_flood_does_not_make_an_account_immune(capped_env: WorkflowEnvironment) -> None:
    """Logins sent as signals three times the server's signal cap (set aside unread: no handler, no
    work in the workflow task) and as commands, eight in flight (counted, LOGINS_PER_RUN a run, the
    rest told to come again), then a serious violation still closes the account."""
    client = capped_env.client
    async with new_worker(client) as worker:
        h = await start_account(
            capped_env, worker.task_queue, state="open", max_signals_per_run=RUN_SIGNALS, max_updates_per_run=RUN_UPDATES
        )
        taken, outcomes = await asyncio.gather(
            flood_login_signals(h, 3 * SERVER_SIGNALS), flood_login_commands(h, 3 * SERVER_UPDATES)
        )
        await serious(client, h, "after-the-flood")
        status = await closed_status(client, h)
        runs = await runs_of(client, h.id, h.first_execution_run_id or h.run_id or "")
        failures = await task_failures(client, h)
    assert status.closed_reason == "serious_violation"
    assert len(runs) >= 3, "the run continued as new before the server's caps, more than once"
    assert SERVER_SIGNALS <= taken < 3 * SERVER_SIGNALS, "the signals met the server's real cap"
    assert failures == [], "no workflow task failed, however many logins one task saw"
    # Every login answered is counted, but for those still waiting for the run loop when the violation
    # closed the account (a closed account applies nothing more); no login signal is.
    assert outcomes["counted"] - 8 <= status.login_count <= outcomes["counted"], outcomes
    # Refused by the account (busy: the run is moving on; a seller's slots full) or by the server (its
    # in-flight cap, or an update overtaken by the run continuing as new): the sender may try again.
    assert set(outcomes) <= {"counted", "account_busy", "too_many_commands", "RPCError"}, outcomes


async def test_commands_held_in_flight_do_not_stop_continue_as_new(capped_env: WorkflowEnvironment) -> None:
    """A seller keeps eight `unbind_identity` commands in flight, 5x the server's update cap in all;
    meanwhile an operator decides an appeal (the facade sends it again while the run drains), then a
    serious violation closes the account."""
    client = capped_env.client
    async with new_worker(client) as worker:
        h, other, case_id = await linked_pair_with_a_case(
            capped_env, worker.task_queue, state="open", max_updates_per_run=RUN_UPDATES
        )
        await seller_client.command(client, member_of(h), SellerAccount.appeal, appeal_for(case_id))
        ids = itertools.count()
        unbind = signed(h, SellerAccount.unbind_identity, UnbindInput("again"))
        refusals: dict[str, int] = {}

        async def hold() -> None:
            for _ in range(ATTEMPTS // 8):
                try:
                    await h.execute_update(SellerAccount.unbind_identity, unbind, id=f"hold-{next(ids)}-{update_id('u')}")
                except Exception as err:  # refused (REG-8, busy, too many): the attacker sends the next one
                    refusal = seller_client.as_refusal(err)
                    code = refusal.code if refusal is not None else type(err).__name__
                    refusals[code] = refusals.get(code, 0) + 1

        holders = [asyncio.create_task(hold()) for _ in range(8)]
        await asyncio.sleep(1)
        decided = await seller_client.command(
            client, member_of(h), SellerAccount.decide_appeal, AppealDecisionInput(case_id, True, ""), operator="lin"
        )
        await asyncio.gather(*holders)
        await serious(client, h, "after-the-held-commands")
        status = await closed_status(client, h)
        runs = await runs_of(client, h.id, h.first_execution_run_id or h.run_id or "")
        failures = await task_failures(client, h)
        await finish(other)
    assert decided == "open", "the operator's decision took effect"
    assert next(ids) >= ATTEMPTS
    assert len(runs) >= 3, f"a run continues as new every {RUN_UPDATES} commands, held open or not"
    assert failures == [] and status.closed_reason == "serious_violation"
    assert refusals.get("unbind_not_allowed", 0) > SERVER_UPDATES, "more commands than one run may take were taken"
    assert set(refusals) <= {"unbind_not_allowed", "account_busy", "too_many_commands"}, refusals
