"""Issue 32, fault 4: after a worker dies, the accounts it had cached answer again soon. Every account
is registered while only the doomed worker runs (all are cached there); a second worker starts, the
first is killed with SIGKILL, and every account then gets a command or a status query at once.

What can hold an account after its worker dies: a task scheduled on the dead worker's sticky queue
waits the worker's sticky timeout (worker.py STICKY_TIMEOUT, 2 s; the SDK's default was 10 s) unless
the server has already seen that queue's poller go; a workflow task started on it waits its task
timeout (10 s); an activity running on it waits its heartbeat timeout (10 s, the kill-after-commit
tests in test_faults.py). `SELLER_STICKY_TIMEOUT_SECONDS=10` runs this test with the old setting.

Figures: the slowest command answer and the slowest status answer after the kill (README, faults).
"""

from __future__ import annotations

import asyncio
import time

import pytest
from temporalio.testing import WorkflowEnvironment

import seller_client
from devtools.identity_factory import applicant
from models.contract import VerifyEmailInput
from models.refusals import RefusedError
from tests.faults.processes import WorkerProcess
from tests.faults.test_faults import address, record
from tests.support.draws import hex_id
from workflows.seller_account import SellerAccount

ACCOUNTS = 6


async def _answer_time(coro, start: float) -> float:  # type: ignore[no-untyped-def]
    await coro
    return time.monotonic() - start


async def test_accounts_answer_soon_after_their_worker_is_killed(dev_env: WorkflowEnvironment) -> None:
    tq = f"faults-{hex_id()}"
    client = dev_env.client
    # Every account is registered while only the doomed worker runs: all of them are cached there.
    doomed = await WorkerProcess(address(dev_env), tq).start()
    members = []
    for _ in range(ACCOUNTS):
        result = await seller_client.register(client, applicant(), task_queue=tq)
        assert result.accepted and result.member_id
        members.append(result.member_id)
    for member in members:
        await seller_client.status(client, member)
    async with WorkerProcess(address(dev_env), tq) as survivor:
        await asyncio.sleep(1)  # their first activities are done: nothing in flight on the doomed worker
        assert doomed.proc is not None
        doomed.proc.kill()
        assert await doomed.died() == -9
        start = time.monotonic()

        async def refused_command(member: str) -> None:
            # The validator runs on a worker: a refusal needs the account's workflow task like any command.
            with pytest.raises(RefusedError) as refused:
                await seller_client.command(
                    client, member, SellerAccount.verify_email, VerifyEmailInput("12345x")
                )
            assert refused.value.refusal.code == "code_malformed"

        half = ACCOUNTS // 2
        commands = [_answer_time(refused_command(m), start) for m in members[:half]]
        queries = [_answer_time(seller_client.status(client, m), start) for m in members[half:]]
        try:
            times = await asyncio.wait_for(asyncio.gather(*commands, *queries), 120)
        except BaseException:
            print(survivor.stderr())
            raise
        record("worker kill -9, slowest command answer after", round(max(times[:half]), 1))
        record("worker kill -9, slowest status query after", round(max(times[half:]), 1))
        await doomed.stop()
