"""Waiting for what a workflow or its activities do next, with one deadline for the whole suite.

A signal is applied by the workflow's next task, an audit row or a bar by an activity after the
transition: tests poll for them. The deadline is wall-clock seconds, not a count of polls, so a test
on two loaded cores waits as long as it must and a broken one still fails with what it last saw.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from temporalio.client import WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from models.contract import AccountStatus
from workflows.seller_account import SellerAccount

T = TypeVar("T")

DEADLINE_SECONDS = 30.0


async def eventually(
    probe: Callable[[], T | Awaitable[T]],
    done: Callable[[T], bool],
    what: str,
    *,
    seconds: float = DEADLINE_SECONDS,
    every: float = 0.05,
) -> T:
    """`probe()` once `done` holds for it; AssertionError naming `what` and the last value otherwise."""
    deadline = time.monotonic() + seconds
    while True:
        value = probe()
        seen: T = await value if inspect.isawaitable(value) else value  # type: ignore[assignment]
        if done(seen):
            return seen
        if time.monotonic() > deadline:
            raise AssertionError(f"never {what} within {seconds:.0f} s; last seen {seen!r}")
        await asyncio.sleep(every)


async def settled(probe: Callable[[], T | Awaitable[T]], seconds: float = 0.2) -> T:
    """`probe()` after a short wait: for asserting that something did *not* happen a second time."""
    await asyncio.sleep(seconds)
    value = probe()
    return await value if inspect.isawaitable(value) else value  # type: ignore[return-value]


# A query waits behind the workflow task in progress: on two loaded cores a task working through a
# barrage can outlast the server's query deadline, and the time-skipping server can drop a query that
# waited on the task that completed the workflow (it never answers; asked again, the completed run
# answers by replay). Either is "no answer yet", not a wrong answer, so the query is asked again with
# its own timeout: a wedged account never answers and still fails at the deadline.
_NOT_YET = (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED)
QUERY_TIMEOUT = timedelta(seconds=8)


async def _status(handle: WorkflowHandle) -> AccountStatus | None:
    try:
        return await handle.query(SellerAccount.status, rpc_timeout=QUERY_TIMEOUT)
    except RPCError as err:
        if err.status in _NOT_YET:
            return None
        raise


async def until(handle: WorkflowHandle, check: Callable[[AccountStatus], bool], what: str) -> AccountStatus:
    """The account's status once `check` holds for it."""

    def answered(status: AccountStatus | None) -> bool:
        return status is not None and check(status)

    status = await eventually(lambda: _status(handle), answered, f"{handle.id}: {what}")
    assert status is not None
    return status
