"""ENF-4: no account stays out of enforcement's reach (issue 24; activities/healing.py says how).

AccountKeeper: one workflow (id `account-keeper`, started by every worker, the first one wins) that every
SWEEP_EVERY asks Temporal's visibility for account runs that ended from outside (terminated, failed,
timed out) or whose workflow task the server reports failing, and heals each the registry holds open.

AccountHealer: one account looked at now (id `heal-<member id>`), started by the facade when the server
refuses a service's fact for the run's caps or finds no run to take it (seller_client.signal), so that a
stalled run is healed while the sender still waits, not at the next sweep.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from models.healing import RUN_ENDED, HealInput, HealReport, StrandedQuery

from workflows.activity_refs import HEAL_ACCOUNT, STRANDED_ACCOUNTS

KEEPER_WORKFLOW_ID = "account-keeper"
SWEEP_EVERY = timedelta(minutes=5)
SWEEPS_PER_RUN = 100
# Visibility is written a moment after a run closes: each sweep looks back this far past the last one.
OVERLAP = timedelta(minutes=2)
HEAL_TIMEOUT = timedelta(minutes=10)
HEAL_HEARTBEAT = timedelta(seconds=30)
RETRIES = RetryPolicy(maximum_interval=timedelta(minutes=1), maximum_attempts=5)


def healer_id(member_id: str) -> str:
    return f"heal-{member_id}"


async def heal(member_id: str, why: str) -> HealReport:
    return await workflow.execute_activity(
        HEAL_ACCOUNT.name,
        HealInput(member_id, why),
        result_type=HEAL_ACCOUNT.output,
        summary="ENF-4 heal the account's run",
        start_to_close_timeout=HEAL_TIMEOUT,
        heartbeat_timeout=HEAL_HEARTBEAT,
        retry_policy=RETRIES,
    )


@dataclass
class KeeperState:
    since: datetime | None = None
    sweeps_done: int = 0  # across runs, for operators
    resets_done: int = 0


@workflow.defn
class AccountKeeper:
    @workflow.run
    async def run(self, state: KeeperState) -> None:
        for _ in range(SWEEPS_PER_RUN):
            found = await workflow.execute_activity(
                STRANDED_ACCOUNTS.name,
                StrandedQuery(state.since),
                result_type=STRANDED_ACCOUNTS.output,
                summary="ENF-4 accounts out of workers' reach",
                start_to_close_timeout=timedelta(minutes=5),
                retry_policy=RETRIES,
            )
            for member_id in found.member_ids:
                report = await heal(member_id, RUN_ENDED)
                state.resets_done += report.action == "reset"
            if found.until is not None:
                state.since = found.until - OVERLAP
            state.sweeps_done += 1
            await workflow.sleep(SWEEP_EVERY, summary="ENF-4 next sweep for stranded accounts")
        workflow.continue_as_new(state)


@workflow.defn
class AccountHealer:
    @workflow.run
    async def run(self, inp: HealInput) -> HealReport:
        return await heal(inp.member_id, inp.why)
