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

from models import boundary
from models.account_state import AccountInput
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
        handler.__name__, member_of(handle), operator=operator, service=service, ttl=TEST_TTL, payload=message
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
        payload=message,
    )
    return credentials.signed(message, cred)


def auth_for(handle: WorkflowHandle, command: str, payload: Any = None) -> dict[str, Any]:
    """A valid credential for `command` on this account and the message `payload` (its JSON) reads as,
    as the plain JSON a raw payload carries: the seller's for a seller's command, else a service's, an
    operator's or the system's."""
    roles = credentials.COMMAND_ROLES.get(command, ())
    message = boundary.from_json(command, payload)
    member = member_of(handle)
    common: dict[str, Any] = dict(ttl=TEST_TTL, payload=message)
    if "seller" in roles:
        cred = credentials.for_command(command, member, **common)
    elif "service" in roles:
        cred = credentials.for_command(command, member, service="test-service", **common)
    elif "operator" in roles:
        cred = credentials.for_command(command, member, operator="test-operator", **common)
    else:
        cred = credentials.sign(role="system", actor="seller-TESTORIGIN", account=member, command=command, **common)
    return dataclasses.asdict(cred)


def raw(handle: WorkflowHandle, command: str, payload: Any) -> Any:
    """A raw (possibly malformed) payload with a valid credential added when it is an object without
    one, so that what is tested is the payload, not the signature."""
    if isinstance(payload, dict) and "auth" not in payload:
        return payload | {"auth": auth_for(handle, command, payload)}
    return payload


def admitted(start: AccountInput) -> AccountInput:
    """An account's first input with the admission the registration signs (workflows/admission.py)."""
    start.admission = credentials.sign(
        role="system",
        actor="registration-test",
        account=start.profile.member_id,
        command="open_account",
        ttl=TEST_TTL,
        payload=start,
    )
    return start
