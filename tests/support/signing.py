"""Signing for tests that talk to account workflows directly (security/credentials.py).

On the time-skipping server the workflow clock runs ahead of the wall clock by as much as the session's
tests have skipped (a test awaiting a result can jump to the far timer, a century away), so test
credentials are issued for a thousand years; the tests of expiry itself sign with an explicit `now`."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import timedelta
from typing import Any, TypeVar

from temporalio.client import WorkflowHandle

from models.auth import Signed
from security import credentials

TEST_TTL = timedelta(days=365_000)
M = TypeVar("M", bound=Signed)
_UPDATES = itertools.count(1)


def update_id(command: str) -> str:
    """A request id for one update, as a calling service keys each command (README, exactly once):
    distinct within the session, the same in every run."""
    return f"test-{command}-{next(_UPDATES)}"


def member_of(handle: WorkflowHandle) -> str:
    return handle.id.removeprefix("seller-")


def signed(
    handle: WorkflowHandle,
    handler: Any,
    message: M,
    *,
    operator: str | None = None,
    service: str | None = None,
) -> M:
    """`message` signed in the role its command needs: the account's seller, else `service`, else `operator`."""
    cred = credentials.for_command(
        handler.__name__, member_of(handle), operator=operator, service=service, ttl=TEST_TTL
    )
    return credentials.signed(message, cred)


async def update(handle: WorkflowHandle, handler: Any, message: Signed, **who: str) -> Any:
    return await handle.execute_update(
        handler, signed(handle, handler, message, **who), id=update_id(handler.__name__)
    )


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


def auth_for(handle: WorkflowHandle, command: str) -> dict[str, Any]:
    """A valid credential for `command` on this account, as the plain JSON a raw payload carries: the
    seller's for a seller's command, else a service's, an operator's or the system's."""
    roles = credentials.COMMAND_ROLES.get(command, ())
    if "seller" in roles:
        cred = credentials.for_command(command, member_of(handle), ttl=TEST_TTL)
    elif "service" in roles:
        cred = credentials.for_command(command, member_of(handle), service="test-service", ttl=TEST_TTL)
    elif "operator" in roles:
        cred = credentials.for_command(command, member_of(handle), operator="test-operator", ttl=TEST_TTL)
    else:
        cred = credentials.sign(
            role="system", actor="seller-TESTORIGIN", account=member_of(handle), command=command, ttl=TEST_TTL
        )
    return dataclasses.asdict(cred)


def raw(handle: WorkflowHandle, command: str, payload: Any) -> Any:
    """A raw (possibly malformed) payload with a valid credential added when it is an object without
    one, so that what is tested is the payload, not the signature."""
    if isinstance(payload, dict) and "auth" not in payload:
        return payload | {"auth": auth_for(handle, command)}
    return payload
