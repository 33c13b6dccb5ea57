"""How the account workflow runs its activities (`Steps`): bounded retries, a typed result, and the
account told how each step ended through the callbacks it hands in; and the lock commands of one kind
take turns on."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, FailureError

with workflow.unsafe.imports_passed_through():
    from models.policy import StepsPolicy
    from models.refusals import BAD_INPUT_ERROR_TYPE, Refusal, refusal_failure

from workflows.activity_refs import ActivityRef, In, Out

ACTIVITY_TIMEOUT = timedelta(seconds=30)
HEARTBEAT_TIMEOUT = timedelta(seconds=10)
# Nothing retries forever: infrastructure trouble is retried with backoff within the policy's budget
# (models/policy.py StepsPolicy), then the account records that it needs attention (workflows/effects.py).
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
        elif kind == "cancelled":
            refusal = Refusal("OPEN-4", "account_closed", f"{step}: {cause}.", retryable=False)
        else:
            # Retrying later can fix it: retryable, so non_retryable is False.
            refusal = Refusal(
                rule, "step_unavailable", f"{step} failed after retries ({cause}); try again later."
            )
        shape = refusal_failure(refusal)
        super().__init__(shape.message, *shape.details, type=shape.type, non_retryable=shape.non_retryable)
        self.step, self.kind, self.reason, self.refusal = step, kind, cause, refusal


def _looks_like_rule(word: str) -> bool:
    head, _, number = word.partition("-")
    return head.isalpha() and head.isupper() and number.isdigit()


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




class Steps:
    """Every account activity but the photo check: 30 s an attempt, retried with backoff within the
    policy's budget. `on_failed` hears of a step that failed for good (it raises `StepFailed` too),
    `on_succeeded` of each that succeeded, so a step that ran out of retries is recorded as needing
    attention and cleared when it next succeeds (workflows/effects.py)."""

    def __init__(
        self,
        policy: StepsPolicy,
        *,
        on_failed: Callable[[StepFailed], None],
        on_succeeded: Callable[[str], None],
    ) -> None:
        self._policy = policy
        self._on_failed = on_failed
        self._on_succeeded = on_succeeded
        self._commands: set[workflow.ActivityHandle[Any]] = set()  # commands' steps in flight

    async def run(self, activity: ActivityRef[In, Out], arg: In, *, summary: str) -> Out:
        handle: workflow.ActivityHandle[Out] = workflow.start_activity(
            activity.name,
            arg,
            result_type=activity.output,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            # The worker heartbeats while the activity runs (activities/worker_support/supervision.py): a
            # dead worker's task goes to another worker after this, not after the whole start-to-close timeout.
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            schedule_to_close_timeout=timedelta(seconds=self._policy.retry_budget_seconds),
            retry_policy=replace(RETRY, maximum_attempts=self._policy.max_attempts),
            summary=summary,
        )
        # A seller's command still waiting on its step when the account closes is cancelled.
        if workflow.current_update_info() is not None:
            self._commands.add(handle)
        try:
            result = await handle
        except ActivityError as err:
            kind, cause = _failure_kind(err)
            failure = StepFailed(summary, kind, cause)
            self._on_failed(failure)
            raise failure from err
        finally:
            self._commands.discard(handle)
        self._on_succeeded(summary)
        return result

    def cancel_commands(self) -> None:
        """The account closed: the seller's commands still waiting on a step end now, refused."""
        for handle in list(self._commands):
            handle.cancel()


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
