"""Signing for tests that talk to account workflows directly (models/credentials.py).

On the time-skipping server the workflow clock runs ahead of the wall clock by as much as the session's
tests have skipped (a test awaiting a result can jump to the far timer, a century away), so test
credentials are issued for a thousand years; the tests of expiry itself sign with an explicit `now`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, TypeVar

from temporalio.client import WorkflowHandle

from models import credentials
from models.credentials import Signed

TEST_TTL = timedelta(days=365_000)
M = TypeVar("M", bound=Signed)


def member_of(handle: WorkflowHandle) -> str:
    return handle.id.removeprefix("seller-")


def signed(
    handle: WorkflowHandle, handler: Any, message: M, *, operator: str | None = None, service: str | None = None
) -> M:
    """`message` signed in the role its command needs: the account's seller, else `service`, else `operator`."""
    cred = credentials.for_command(
        handler.__name__, member_of(handle), operator=operator, service=service, ttl=TEST_TTL
    )
    return credentials.signed(message, cred)


async def update(handle: WorkflowHandle, handler: Any, message: Signed, **who: str) -> Any:
    return await handle.execute_update(handler, signed(handle, handler, message, **who))


async def signal(handle: WorkflowHandle, handler: Any, message: Signed, **who: str) -> None:
    await handle.signal(handler, signed(handle, handler, message, **who))


def as_system(handle: WorkflowHandle, handler: Any, message: M) -> M:
    """What another account's workflow would send (ENF-3 bans, ASSOC-4 cases)."""
    cred = credentials.sign(
        role="system",
        actor="seller-TESTORIGIN",
        account=member_of(handle),
        command=handler.__name__,
        ttl=TEST_TTL,
    )
    return credentials.signed(message, cred)
