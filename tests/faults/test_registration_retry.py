"""Registration that survives outages (issue 18, case 4): a run that failed does not bind its request
id to the failure; the same request id starts a fresh run, which answers for it. An answer (accepted
or refused) stays the answer."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

import seller_client
from devtools.identity_factory import applicant
from tests.conftest import new_worker
from tests.support.accounts import accounts_for
from tests.support.draws import hex_id


async def started(env: WorkflowEnvironment, workflow_id: str) -> None:
    for _ in range(100):
        try:
            await env.client.get_workflow_handle(workflow_id).describe()
            return
        except RPCError:
            await asyncio.sleep(0.1)
    raise AssertionError(f"{workflow_id} never started")


async def test_a_failed_registration_run_does_not_bind_its_request_id(dev_env: WorkflowEnvironment) -> None:
    reg = applicant()
    # No worker serves this queue: the run waits, as in an outage, until an operator ends it.
    stuck = asyncio.create_task(
        seller_client.register(dev_env.client, reg, task_queue=f"idle-{hex_id()}")
    )
    await started(dev_env, f"registration-{reg.request_id}")
    await dev_env.client.get_workflow_handle(f"registration-{reg.request_id}").terminate("outage: given up")
    with pytest.raises(WorkflowFailureError):
        await stuck

    async with new_worker(dev_env.client) as worker:
        result = await seller_client.register(dev_env.client, reg, task_queue=worker.task_queue)
        again = await seller_client.register(dev_env.client, reg, task_queue=worker.task_queue)
    assert result.accepted and result.member_id
    assert again.member_id == result.member_id
    assert accounts_for(reg.request_id) == 1


async def test_a_refusal_stays_the_answer_for_its_request_id(dev_env: WorkflowEnvironment) -> None:
    holder = applicant()
    copy = applicant(email=holder.email)
    async with new_worker(dev_env.client) as worker:
        assert (await seller_client.register(dev_env.client, holder, task_queue=worker.task_queue)).accepted
        refused = await seller_client.register(dev_env.client, copy, task_queue=worker.task_queue)
        again = await seller_client.register(dev_env.client, copy, task_queue=worker.task_queue)
    assert refused.refusal is not None and refused.refusal.code == "duplicate_identity"
    assert again == refused
    assert accounts_for(copy.request_id) == 0
