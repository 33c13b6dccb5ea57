"""Accounts outlive deploys (docs/DEPLOYING.md).

- On the time-skipping server: a run continues-as-new after `max_run_days`, so an account that sleeps
  for a year still reaches newly deployed code in bounded time, with its state intact.
- On the dev server: accounts started by a worker running the released v1 code (exported from git) carry
  on when that worker is replaced by one running the current code, and take the new behaviour (the v2
  patch marker and its run-age timer) at their next continue-as-new.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

import seller_client
from activities.storage.db import engine
from models.account_state import AccountInput
from models.contract import AccountProfile, LoginInput
from models.policy import load_policy
from tests.conftest import new_worker
from tests.support.accounts import finish, start_account
from tests.support.draws import hex_id
from tests.support.polling import until
from tests.support.signing import signal as send_signed
from workflows.releases import RELEASES
from workflows.seller_account import RUN_REFRESH_PATCH, SellerAccount

ROOT = Path(__file__).resolve().parents[2]


async def runs_of(client: Client, workflow_id: str, first_run_id: str) -> list[str]:
    """The run ids of a continue-as-new chain, first to latest."""
    runs = [first_run_id]
    while True:
        history = await client.get_workflow_handle(workflow_id, run_id=runs[-1]).fetch_history()
        last = history.events[-1]
        if last.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            return runs
        runs.append(last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id)


async def patch_markers(handle: WorkflowHandle) -> list[str]:
    history = await handle.fetch_history()
    return [  # the SDK records a patch as a marker whose details name the patch id
        str(e.marker_recorded_event_attributes)
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
    ]


async def test_a_sleeping_account_continues_as_new_every_max_run_days_with_its_state(
    time_env: WorkflowEnvironment,
) -> None:
    async with new_worker(time_env.client) as worker:
        handle = await start_account(time_env, worker.task_queue, state="exam_passed", max_run_days=30)
        await send_signed(handle, SellerAccount.login, LoginInput(channel="marketplace", ip="198.51.100.7"))
        await time_env.sleep(timedelta(days=100))  # nothing happens to this account but time
        latest = time_env.client.get_workflow_handle(handle.id)
        status = await latest.query(SellerAccount.status)
        runs = await runs_of(time_env.client, handle.id, handle.first_execution_run_id or handle.run_id or "")
        first_markers = await patch_markers(time_env.client.get_workflow_handle(handle.id, run_id=runs[0]))
        await finish(latest)

    assert len(runs) == 4, "day 30, 60 and 90 each start a new run"
    assert RUN_REFRESH_PATCH in str(first_markers)
    assert (status.state, status.login_count) == ("exam_passed", 1)
    assert not any("continue-as-new" in w for w in status.waiting_for), "a seller is not told of run ages"


# ---------------------------------------------------------------------------- a deploy, live


def _export(commit: str, into: Path) -> bool:
    """The released tree, as deployed: `git archive` of its commit (False when git or history is absent)."""
    if shutil.which("git") is None:
        return False
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], capture_output=True)
    if archive.returncode != 0:
        return False
    into.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return True


@pytest_asyncio.fixture
async def v1_worker(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> AsyncIterator[tuple[str, subprocess.Popen]]:
    tree = tmp_path / "v1"
    commit = RELEASES["v1"]
    assert commit is not None
    if not _export(commit, tree):
        pytest.skip(f"release v1 ({commit[:8]}) is not in this clone's git history")
    engine()  # the registry's schema is the current code's; the old worker finds its tables there
    task_queue = f"tq-{hex_id()}"
    env = dict(
        os.environ,
        TEMPORAL_ADDRESS=dev_env.client.service_client.config.target_host,
        TASK_QUEUE=task_queue,
        PYTHONPATH=str(tree),
    )
    proc = subprocess.Popen([sys.executable, "worker.py"], cwd=tree, env=env)
    try:
        yield task_queue, proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


async def _status_eventually(handle: WorkflowHandle, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    for _ in range(int(timeout / 0.2)):
        try:
            return await handle.query(SellerAccount.status)
        except Exception:  # the worker is starting, or the first task is not done yet
            await asyncio.sleep(0.2)
    raise AssertionError(f"{handle.id} never answered its status query")


async def test_accounts_started_on_v1_carry_on_under_the_current_code_and_then_take_v2(
    dev_env: WorkflowEnvironment, v1_worker: tuple[str, subprocess.Popen]
) -> None:
    task_queue, old = v1_worker
    client = dev_env.client
    # Clients of release v1 seal what they send under the ring key: a worker of v1 knows no account's
    # data key (workers are upgraded before clients: docs/PRIVACY.md, Deploying it).
    v1_client = seller_client.without_registry(client)
    now = await dev_env.get_current_time()
    handles = []
    for _ in range(2):
        member_id = "V" + hex_id(15).upper()
        handles.append(
            await v1_client.start_workflow(
                SellerAccount.run,
                AccountInput(
                    profile=AccountProfile(member_id=member_id, store_name="Release One", region="CN"),
                    policy=load_policy(),
                    registered_at=now,
                    max_history_events=60,  # v1 continues-as-new on history length only
                ),
                id=f"seller-{member_id}",
                task_queue=task_queue,
            )
        )
    for handle in handles:
        await send_signed(handle, SellerAccount.login, LoginInput(channel="marketplace", ip="203.0.113.20"))
    for handle in handles:
        for _ in range(300):
            if (await _status_eventually(handle)).login_count == 1:
                break
            await asyncio.sleep(0.2)
        assert (await _status_eventually(handle)).login_count == 1
        assert await patch_markers(handle) == [], "v1 code records no patch"

    # The deploy: the v1 worker stops, a worker on the current code takes the task queue.
    old.send_signal(signal.SIGTERM)
    old.wait(timeout=30)
    async with new_worker(client, task_queue=task_queue):
        for handle in handles:  # replaying v1's history on the current code
            status = await _status_eventually(handle)
            assert (status.state, status.login_count) == ("registered", 1)
        for i in range(12):  # enough logins for v1's history limit: the chain continues as new
            for handle in handles:
                await send_signed(
                    client.get_workflow_handle(handle.id), SellerAccount.login, LoginInput(channel="messenger", ip=f"203.0.113.{30 + i}")
                )
            await asyncio.sleep(0.3)
        for handle in handles:
            latest = client.get_workflow_handle(handle.id)
            for _ in range(300):
                if (await latest.describe()).run_id != handle.first_execution_run_id:
                    break
                await asyncio.sleep(0.2)
            await _status_eventually(latest)
            # Logins count once their credentials are verified (an activity): wait for it, then compare.
            status = await until(latest, lambda s: s.login_count >= 13, "counted every login")
            assert (status.state, status.login_count) == ("registered", 13), "nothing lost across the deploy"
            assert RUN_REFRESH_PATCH in str(await patch_markers(latest)), "the new run takes v2's behaviour"
        await finish(*[client.get_workflow_handle(h.id) for h in handles])
