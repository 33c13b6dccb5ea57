"""What the account workflow's handler modules share: how activities are run, the ENF-2 ledgers, the
deadline type and the conversion of a refusal into the error that fails a command."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, FailureError

with workflow.unsafe.imports_passed_through():
    from activities.worker_support.failure_kinds import BAD_INPUT_ERROR_TYPE
    from models.policy import StepsPolicy
    from models.refusals import REFUSAL_ERROR_TYPE, Refusal, RefusedError

ACTIVITY_TIMEOUT = timedelta(seconds=30)
HEARTBEAT_TIMEOUT = timedelta(seconds=10)
# ENF-2 ledgers: (a) intellectual property and prohibited goods, (b) trade, (c) listing quality, and
# serious IP infringement strikes. REG-3 false buyer accounts count on the trade ledger.
LEDGERS = {"ip": "ip", "trade": "trade", "false_buyer": "trade", "listing": "listing", "ip_strike": "strike"}
# Nothing retries forever: infrastructure trouble is retried with backoff within the policy's budget
# (models/policy.py StepsPolicy), then the account records that it needs attention (workflows/recovery.py).
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(minutes=1),
    # Bad input inside an activity (activities/worker_support/failure_kinds.py) is refused at once: no retry fixes it.
    non_retryable_error_types=[BAD_INPUT_ERROR_TYPE],
)


class StepFailed(ApplicationError):
    """An account activity that failed for good: `bad_input` (refused at once) or `infrastructure`
    (its retry budget ran out). Fails an update with a refusal-like answer; the run loop catches it."""

    def __init__(self, step: str, kind: str, cause: str) -> None:
        rule = step.split(" ", 1)[0] if _looks_like_rule(step.split(" ", 1)[0]) else "ENF-4"
        if kind == "bad_input":
            refusal = Refusal(rule, "bad_input", f"{step}: the input was refused ({cause}).")
            super().__init__(refusal.message, refusal, type=REFUSAL_ERROR_TYPE, non_retryable=True)
        elif kind == "cancelled":
            refusal = Refusal("OPEN-4", "account_closed", f"{step}: {cause}.")
            super().__init__(refusal.message, refusal, type=REFUSAL_ERROR_TYPE, non_retryable=True)
        else:
            refusal = Refusal(
                rule, "step_unavailable", f"{step} failed after retries ({cause}); try again later."
            )
            # Retrying later can fix it: non_retryable is False (the refusal type is the same for callers).
            super().__init__(refusal.message, refusal, type=REFUSAL_ERROR_TYPE, non_retryable=False)
        self.step, self.kind, self.reason, self.refusal = step, kind, cause, refusal


def _looks_like_rule(word: str) -> bool:
    head, _, number = word.partition("-")
    return head.isalpha() and head.isupper() and number.isdigit()


def cancel_commands(account: Any) -> None:
    """The account closed: the seller's commands still waiting on a step end now, refused."""
    for handle in list(getattr(account, "_command_steps", ())):
        handle.cancel()


def _failure_kind(err: ActivityError) -> tuple[str, str]:
    cause = err.cause
    if isinstance(cause, CancelledError):
        return "cancelled", "the account closed while this step waited"
    if isinstance(cause, ApplicationError) and cause.type == BAD_INPUT_ERROR_TYPE:
        return "bad_input", cause.message[:200]
    inner: BaseException | None = cause
    while (
        isinstance(inner, FailureError)
        and inner.cause is not None
        and not isinstance(inner, ApplicationError)
    ):
        inner = inner.cause
    label = getattr(inner, "type", None) or type(inner).__name__
    return "infrastructure", f"{label}: {getattr(inner, 'message', str(inner))}"[:200]


async def run_activity(activity: Callable[[Any], Any], arg: Any, *, summary: str) -> Any:
    """Every account activity but the photo check: 30 s an attempt, retried with backoff within a
    budget. The account is told how each step ended (`_step_succeeded` / `_step_failed`), so a step
    that ran out of retries is recorded as needing attention and cleared when it next succeeds."""
    account = workflow.instance()
    steps = getattr(getattr(account, "policy", None), "steps", None) or StepsPolicy()
    handle = workflow.start_activity(
        activity,
        arg,
        start_to_close_timeout=ACTIVITY_TIMEOUT,
        # The worker heartbeats while the activity runs (activities/worker_support/supervision.py): a dead worker's
        # task goes to another worker after this, not after the whole start-to-close timeout.
        heartbeat_timeout=HEARTBEAT_TIMEOUT,
        schedule_to_close_timeout=timedelta(seconds=steps.retry_budget_seconds),
        retry_policy=replace(RETRY, maximum_attempts=steps.max_attempts),
        summary=summary,
    )
    # A seller's command still waiting on its step when the account closes is cancelled (`cancel_commands`).
    commands: set[Any] | None = getattr(account, "_command_steps", None)
    if commands is not None and workflow.current_update_info() is not None:
        commands.add(handle)
    try:
        result = await handle
    except ActivityError as err:
        kind, cause = _failure_kind(err)
        failure = StepFailed(summary, kind, cause)
        if hasattr(account, "_step_failed"):
            account._step_failed(failure)
        raise failure from err
    finally:
        if commands is not None:
            commands.discard(handle)
    if hasattr(account, "_step_succeeded"):
        account._step_succeeded(summary)
    return result


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


class CommandLock:
    """`async with self._lock:` in a command handler: commands of the same kind take turns (two
    `start_exam` never draw two papers), while other commands and all enforcement (violations, bans,
    reports, timers, logins) go on, even when one command waits on a failing dependency. Outside an
    update it takes no lock: the run loop is never queued behind the seller."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._held: dict[int, asyncio.Lock] = {}

    async def __aenter__(self) -> None:
        info = workflow.current_update_info()
        if info is None:
            return
        lock = self._locks.setdefault(info.name, asyncio.Lock())
        await lock.acquire()
        self._held[id(asyncio.current_task())] = lock

    async def __aexit__(self, *exc: object) -> None:
        lock = self._held.pop(id(asyncio.current_task()), None)
        if lock is not None:
            lock.release()
