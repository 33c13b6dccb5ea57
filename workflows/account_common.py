"""What the account workflow's handler modules share: how activities are run, the ENF-2 ledgers, the
deadline type and the conversion of a refusal into the error that fails a command."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from models.refusals import REFUSAL_ERROR_TYPE, RefusedError

ACTIVITY_TIMEOUT = timedelta(seconds=30)
HEARTBEAT_TIMEOUT = timedelta(seconds=10)
# ENF-2 ledgers: (a) intellectual property and prohibited goods, (b) trade, (c) listing quality, and
# serious IP infringement strikes. REG-3 false buyer accounts count on the trade ledger.
LEDGERS = {"ip": "ip", "trade": "trade", "false_buyer": "trade", "listing": "listing", "ip_strike": "strike"}
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


async def run_activity(activity: Callable[[Any], Any], arg: Any, *, summary: str) -> Any:
    """Every account activity but the photo check: 30 s an attempt, retried with backoff until it
    succeeds (they are idempotent, and a registry outage must not lose a decision)."""
    return await workflow.execute_activity(
        activity,
        arg,
        start_to_close_timeout=ACTIVITY_TIMEOUT,
        # The worker heartbeats while the activity runs (activities/supervision.py): a dead worker's
        # task goes to another worker after this, not after the whole start-to-close timeout.
        heartbeat_timeout=HEARTBEAT_TIMEOUT,
        retry_policy=RETRY,
        summary=summary,
    )


@dataclass
class Deadline:
    at: datetime
    # reg4_warning | dormancy | authentication_due | hold_expiry | appeal_deadline | points_expiry | run_refresh
    kind: str
    days_before: float = 0

    @property
    def summary(self) -> str:
        if self.kind == "reg4_warning":
            return f"REG-4 warning {self.days_before:g}d before reclaim"
        return {
            "dormancy": "REG-4 dormancy check",
            "authentication_due": "OPEN-1 authentication due",
            "hold_expiry": "ENF-2 freeze lifts",
            "appeal_deadline": "ASSOC-4 appeal window closes",
            "points_expiry": "ENF-2 points expire",
            "run_refresh": "continue-as-new onto the deployed code",
        }[self.kind]


def refusal_error(err: RefusedError) -> ApplicationError:
    """Business refusals fail the command, never the workflow task (which would retry forever)."""
    return ApplicationError(err.refusal.message, err.refusal, type=REFUSAL_ERROR_TYPE, non_retryable=True)
