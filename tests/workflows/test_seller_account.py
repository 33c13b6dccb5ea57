"""The account workflow over simulated years, on the real time-skipping test server."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

import seller_client
from activities.login_ip import accounts_on_ip
from models.contract import LoginInput
from tests.conftest import new_worker
from tests.support.accounts import (
    POLICY,
    audit_rows,
    audited,
    finish,
    notices,
    serious_violation_closes,
    start_account,
    task_failures,
)
from tests.support.polling import eventually, until
from tests.support.signing import login, member_of, signal
from tests.workflows.test_deploy import runs_of
from workflows.seller_account import SellerAccount
from workflows.traffic import LOGINS_PER_RUN

# Fixed seed: addresses no other test of the session uses, the same in every run.
DRAW = random.Random(20261125)
YEAR = timedelta(days=POLICY.dormancy.inactivity_days)


async def test_unauthenticated_account_is_reclaimed_after_a_year_with_warnings(
    time_env: WorkflowEnvironment,
) -> None:
    async with new_worker(time_env.client) as worker:
        handle = await start_account(time_env, worker.task_queue)
        started = await time_env.get_current_time()
        final = await handle.result()  # the test server skips the year

    assert (final.state, final.closed_reason) == ("closed", "dormancy_reclaim")
    rows = audit_rows(handle.id)
    reclaim = rows[-1]
    assert (reclaim.event, reclaim.rule, reclaim.from_state, reclaim.to_state) == (
        "reclaim",
        "REG-4",
        "registered",
        "closed",
    )
    assert reclaim.at - started == pytest.approx(YEAR, abs=timedelta(seconds=5))
    warnings = [n for n in notices(final.member_id) if n.kind == "reclaim_warning"]
    assert [round((reclaim.at - n.at) / timedelta(days=1)) for n in warnings] == [30, 7, 1]
    assert all(n.rule == "REG-4" for n in warnings)


async def test_a_login_on_day_364_restarts_the_year(time_env: WorkflowEnvironment) -> None:
    async with new_worker(time_env.client) as worker:
        handle = await start_account(time_env, worker.task_queue)
        started = await time_env.get_current_time()
        await time_env.sleep(timedelta(days=364))
        await signal(handle, SellerAccount.login, LoginInput(channel="messenger", ip="203.0.113.9"))
        await time_env.sleep(timedelta(days=300))
        assert (await handle.query(SellerAccount.status)).state == "registered"
        final = await handle.result()

    assert final.state == "closed" and final.login_count == 1
    reclaim = audit_rows(handle.id)[-1]
    assert reclaim.at - started == pytest.approx(timedelta(days=364) + YEAR, abs=timedelta(minutes=5))


async def test_authenticated_account_goes_dormant_and_wakes_on_login(time_env: WorkflowEnvironment) -> None:
    async with new_worker(time_env.client) as worker:
        handle = await start_account(time_env, worker.task_queue, state="exam_passed")
        await time_env.sleep(YEAR + timedelta(days=1))
        status = await handle.query(SellerAccount.status)
        assert (status.state, status.resume_state) == ("dormant", "exam_passed")

        await signal(handle, SellerAccount.login, LoginInput(channel="marketplace", ip="198.51.100.7"))
        status = await until(handle, lambda s: s.state != "dormant", "woken by the login")
        assert (status.state, status.resume_state) == ("exam_passed", None)
        # the audit row is written by an activity right after the transition
        await eventually(lambda: audit_rows(handle.id)[-1].event, lambda e: e == "wake", "a wake row")
        assert [(r.event, r.to_state) for r in audit_rows(handle.id)][-2:] == [
            ("go_dormant", "dormant"),
            ("wake", "exam_passed"),
        ]
        # A dormant account is never reclaimed: only unauthenticated ones are (REG-4).
        await time_env.sleep(YEAR * 2 + timedelta(days=1))
        assert (await handle.query(SellerAccount.status)).state == "dormant"
        await finish(handle)


async def test_hundreds_of_logins_continue_as_new_with_bounded_history(
    time_env: WorkflowEnvironment,
) -> None:
    """Logins are commands (workflows/traffic.py): a run takes LOGINS_PER_RUN of them and continues as
    new, the next login waiting (`account_busy`) for the next run; every login is counted."""
    logins = 2 * LOGINS_PER_RUN + 50
    async with new_worker(time_env.client) as worker:
        handle = await start_account(time_env, worker.task_queue, max_history_events=2_000)
        ips = iter(range(logins))

        async def seller() -> None:  # a seller's commands run at most six at once
            for i in ips:
                await login(handle, LoginInput(channel="marketplace", ip=f"192.0.2.{i % 250}"))

        await asyncio.gather(*(seller() for _ in range(5)))
        current = time_env.client.get_workflow_handle(handle.id)
        runs = await runs_of(time_env.client, handle.id, handle.first_execution_run_id or handle.run_id or "")
        history = await current.fetch_history()
        assert len(runs) >= 3, "a run continues as new once it has taken its logins"
        assert len(history.events) < 2_000, "history is cut by continue-as-new"
        assert (await current.query(SellerAccount.status)).state == "registered"
        await finish(current)
        closed = await seller_client.status(time_env.client, member_of(handle))
        assert closed.login_count == logins, "every login is counted, none shed"
        # The registration audit row is written once, not again by each new run.
        assert [r.event for r in audit_rows(handle.id)].count("register") == 1


async def test_assoc1_many_accounts_on_one_ip_are_advised_never_linked(time_env: WorkflowEnvironment) -> None:
    threshold = POLICY.association.ip_advisory_threshold
    ip = f"203.0.113.{DRAW.randrange(250)}"
    async with new_worker(time_env.client) as worker:
        handles = [await start_account(time_env, worker.task_queue) for _ in range(threshold + 1)]
        for h in handles:
            await signal(h, SellerAccount.login, LoginInput(channel="marketplace", ip=ip))
        members = [(await h.query(SellerAccount.status)).member_id for h in handles]
        advised = await eventually(
            lambda: [m for m in members if any(n.rule == "ASSOC-1" for n in notices(m))],
            lambda found: len(found) == len(members),
            "every account on the address advised",
        )
        assert sorted(advised) == sorted(members)
        for h, m in zip(handles, members, strict=True):
            # Exactly one advisory each, and no penalty, link or state change (ASSOC-1 is advice only).
            assert [n.kind for n in notices(m) if n.rule == "ASSOC-1"] == ["ip_advisory"]
            status = await h.query(SellerAccount.status)
            assert status.state == "registered" and status.reasons == []
            await signal(h, SellerAccount.login, LoginInput(channel="marketplace", ip=ip))
        await asyncio.sleep(0.5)
        assert all(len([n for n in notices(m) if n.rule == "ASSOC-1"]) == 1 for m in members)
        for h in handles:
            await finish(h)


async def test_assoc1_at_the_threshold_no_one_is_advised(time_env: WorkflowEnvironment) -> None:
    threshold = POLICY.association.ip_advisory_threshold
    ip = f"198.18.{DRAW.randrange(250)}.{DRAW.randrange(250)}"
    async with new_worker(time_env.client) as worker:
        handles = [await start_account(time_env, worker.task_queue) for _ in range(threshold)]
        for h in handles:
            await signal(h, SellerAccount.login, LoginInput(channel="messenger", ip=ip))
        # the address activity runs right after each login is applied
        await eventually(lambda: accounts_on_ip(ip), lambda n: n == threshold, "every login's address recorded")
        members = [(await h.query(SellerAccount.status)).member_id for h in handles]
        assert not any(n.rule == "ASSOC-1" for m in members for n in notices(m))
        for h in handles:
            await finish(h)


async def test_a_cancellation_request_does_not_end_the_account(time_env: WorkflowEnvironment) -> None:
    """Issue 24: a cancel (the Web UI's button, or anyone who reaches the frontend) is refused and
    audited; the account lives on under its rules, and a serious violation still closes it."""
    async with new_worker(time_env.client) as worker:
        h = await start_account(time_env, worker.task_queue, state="open")
        await h.cancel()
        (row,) = await audited(h.id, "cancel_refused")
        assert (row.rule, row.reason, row.actor) == ("ENF-4", "cancellation_refused", "unverified")
        assert (await h.describe()).status == WorkflowExecutionStatus.RUNNING
        assert (await until(h, lambda s: True, "answers")).state == "open"
        await serious_violation_closes(h)
        assert await task_failures(h) == []
        await finish(h)
