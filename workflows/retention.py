"""DATA-2 retention and DATA-4 erasure, run by Temporal itself so that no one has to remember.

RetentionKeeper: one workflow (id `retention-keeper`, started by every worker, the first one wins) that
sweeps what has outlived its period, then sleeps for the policy's interval; it continues as new every
SWEEPS_PER_RUN sweeps so its history stays short. Its timers fire with no one watching, as the
rulebook's other timers do, and on the time-skipping server in the tests.

ErasureRequest: a seller's (or an operator's) request to erase a closed account's data now
(`starter.py erase`), one workflow per account (`erase-<member id>`), so that a request sent twice
is answered once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from models.activity_io import EraseInput, ErasureReport, SweepInput

from workflows.activity_refs import ERASE_MEMBER, SWEEP_RETENTION

SWEEPS_PER_RUN = 60
# A pass deletes a batch of each kind; a day's backlog after an outage is worked off in passes.
MAX_PASSES_PER_SWEEP = 1000
TIMEOUT = timedelta(minutes=5)
RETRIES = RetryPolicy(maximum_interval=timedelta(minutes=5), maximum_attempts=50)


@dataclass
class KeeperInput:
    sweeps_done: int = 0  # across runs, for operators


@workflow.defn
class RetentionKeeper:
    @workflow.run
    async def run(self, inp: KeeperInput) -> None:
        done = inp.sweeps_done
        for _ in range(SWEEPS_PER_RUN):
            every = await self._sweep()
            done += 1
            await workflow.sleep(timedelta(hours=every), summary="DATA-2 next retention sweep")
        workflow.continue_as_new(KeeperInput(sweeps_done=done))

    async def _sweep(self) -> float:
        for _ in range(MAX_PASSES_PER_SWEEP):
            report = await workflow.execute_activity(
                SWEEP_RETENTION.name,
                SweepInput(at=workflow.now()),
                result_type=SWEEP_RETENTION.output,
                summary="DATA-2 retention sweep",
                start_to_close_timeout=TIMEOUT,
                retry_policy=RETRIES,
            )
            if not report.more:
                break
        return report.sweep_every_hours


@workflow.defn
class ErasureRequest:
    @workflow.run
    async def run(self, inp: EraseInput) -> ErasureReport:
        return await workflow.execute_activity(
            ERASE_MEMBER.name,
            inp,
            result_type=ERASE_MEMBER.output,
            summary="DATA-4 erasure",
            start_to_close_timeout=TIMEOUT,
            retry_policy=RETRIES,
        )
