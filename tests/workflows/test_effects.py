"""workflows/effects.py: what the account writes in bulk costs it one step, so that no flood of bad
messages holds enforcement up (issue 24)."""

from __future__ import annotations

import asyncio

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from models.contract import ViolationInput
from security import credentials
from tests.conftest import new_worker
from tests.support.accounts import (
    audit_rows,
    audited,
    finish,
    serious_violation_closes,
    start_account,
    task_failures,
)
from workflows.traffic import REFUSALS_KEPT

MALFORMED = 120
FOREIGN = 30  # well-formed, signed for another account: dropped for the credential


async def steps_scheduled(handle: WorkflowHandle) -> dict[str, int]:
    history = await handle.fetch_history()
    counts: dict[str, int] = {}
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            name = event.activity_task_scheduled_event_attributes.activity_type.name
            counts[name] = counts.get(name, 0) + 1
    return counts


async def test_a_flood_of_bad_facts_is_audited_in_a_few_steps_and_enforcement_still_lands(
    time_env: WorkflowEnvironment,
) -> None:
    async with new_worker(time_env.client) as worker:
        h = await start_account(time_env, worker.task_queue, state="open")
        foreign = []
        for n in range(FOREIGN):
            violation = ViolationInput(f"foreign-{n}", "ip", "ENF-1", severity="serious")
            cred = credentials.for_command("report_violation", "TSOMEONEELSE", service="risk-engine", payload=violation)
            foreign.append(credentials.signed(violation, cred))
        sends = [h.signal("report_violation", "not an object") for _ in range(MALFORMED)]
        sends += [h.signal("report_violation", v) for v in foreign]
        for start in range(0, len(sends), 25):
            await asyncio.gather(*sends[start : start + 25])
        await serious_violation_closes(h)

        shed = await audited(h.id, "signals_shed")  # the run's last row
        refused = [r for r in audit_rows(h.id) if r.event == "signal_refused"]
        dropped = [r for r in audit_rows(h.id) if r.event == "signal_dropped"]
        steps = await steps_scheduled(h)
        failures = await task_failures(h)
        await finish(h)
    # Every bad message is on the record: the first REFUSALS_KEPT one by one, the rest counted.
    assert len(refused) + len(dropped) == REFUSALS_KEPT
    assert sum(int(r.detail["count"]) for r in shed) == MALFORMED + FOREIGN - REFUSALS_KEPT
    assert {r.reason for r in refused} == {"not_an_object"} and len(refused) >= REFUSALS_KEPT - FOREIGN
    # ... in bulk steps, a hundred rows a step: the serious violation waited behind a few steps at most,
    # not behind a hundred (one a row, as runs recorded before the patch still write them).
    assert 1 <= steps.get("record_audits", 0) <= 4, steps
    assert steps.get("record_audit", 0) < 10, steps
    assert failures == []
