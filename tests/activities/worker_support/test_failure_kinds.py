"""Failures have a kind (issue 13): bad input inside an activity is refused at once with a reason
code; infrastructure trouble is retried with backoff, within a budget. Real worker, real test server."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.worker_support.failure_kinds import FailureKinds
from models.policy import StepsPolicy
from tests.support.draws import hex_id
from workflows.activity_refs import ActivityRef
from workflows.steps import StepFailed, Steps

ATTEMPTS: dict[str, int] = {}


@activity.defn
def parse_amount(text: str) -> int:
    ATTEMPTS[text] = ATTEMPTS.get(text, 0) + 1
    return int(text)  # ValueError for "12x": no retry makes it a number


@activity.defn
def flaky_registry(key: str) -> str:
    ATTEMPTS[key] = ATTEMPTS.get(key, 0) + 1
    if ATTEMPTS[key] < 3:
        raise ConnectionRefusedError("registry down")
    return "written"


PARSE_AMOUNT = ActivityRef[str, int]("parse_amount", str, int)
FLAKY_REGISTRY = ActivityRef[str, str]("flaky_registry", str, str)


@dataclasses.dataclass
class Call:
    activity: str
    arg: str
    budget_seconds: float = 300


@workflow.defn(sandboxed=False)
class OneStep:
    @workflow.init
    def __init__(self, call: Call) -> None:
        self.failed: list[StepFailed] = []
        self.steps = Steps(
            StepsPolicy(retry_budget_seconds=call.budget_seconds),
            on_failed=self.failed.append,
            on_succeeded=lambda step: None,
        )

    @workflow.run
    async def run(self, call: Call) -> str:
        ref = {"parse_amount": PARSE_AMOUNT, "flaky_registry": FLAKY_REGISTRY}[call.activity]
        try:
            return str(await self.steps.run(ref, call.arg, summary="ENF-2 step"))
        except StepFailed as failed:
            return f"{failed.kind} {failed.refusal.rule} {failed.refusal.code}"


async def run(env: WorkflowEnvironment, call: Call) -> str:
    tq = f"kinds-{hex_id()}"
    async with Worker(
        env.client,
        task_queue=tq,
        workflows=[OneStep],
        activities=[parse_amount, flaky_registry],
        activity_executor=ThreadPoolExecutor(2),
        interceptors=[FailureKinds()],
    ):
        return await env.client.execute_workflow(
            OneStep.run, call, id=f"kinds-{hex_id()}", task_queue=tq, execution_timeout=timedelta(minutes=2)
        )


async def test_bad_input_in_an_activity_is_refused_at_once(time_env: WorkflowEnvironment) -> None:
    assert await run(time_env, Call("parse_amount", "12x")) == "bad_input ENF-2 bad_input"
    assert ATTEMPTS["12x"] == 1, "no retry of a value that cannot change"


async def test_infrastructure_trouble_is_retried_until_it_passes(time_env: WorkflowEnvironment) -> None:
    key = f"k-{hex_id(6)}"
    assert await run(time_env, Call("flaky_registry", key)) == "written"
    assert ATTEMPTS[key] == 3


async def test_infrastructure_trouble_stops_at_the_budget(time_env: WorkflowEnvironment) -> None:
    key = f"down-{hex_id(6)}"
    ATTEMPTS[key] = -(10**6)  # stays down
    result = await run(time_env, Call("flaky_registry", key, budget_seconds=3))
    assert result == "infrastructure ENF-2 step_unavailable"
