"""Signing for tests that talk to account workflows directly (security/credentials.py).

On the time-skipping server the workflow clock runs ahead of the wall clock by as much as the session's
tests have skipped (a test awaiting a result can jump to the far timer, a century away), so test
credentials are issued for a thousand years; the tests of expiry itself sign with an explicit `now`."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from datetime import timedelta
from typing import Any, TypeVar

from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError

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


async def signal(handle: WorkflowHandle, handler: Any, message: Signed, **who: str) -> Any:
    """Send a signal, signed; a login goes as the account's `login` command, as the facade sends it
    (seller_client.login), and as the signal it was to a run on a worker that predates it."""
    if getattr(handler, "__name__", handler) == "login":
        return await login(handle, message, **who)
    await handle.signal(handler, signed(handle, handler, message, **who))
    return None


async def login(handle: WorkflowHandle, message: Signed, **who: str) -> Any:
    """Sent again, as the facade does, while the account answers that it is moving onto a new run."""
    from seller_client import BUSY_CODES, as_refusal, unknown_command
    from workflows.seller_account import SellerAccount

    message = signed(handle, SellerAccount.login, message, **who)
    for _ in range(200):
        try:
            return await handle.execute_update(SellerAccount.login, message, id=update_id("login"))
        except WorkflowUpdateFailedError as err:
            refusal = as_refusal(err)
            if refusal is not None and refusal.code in BUSY_CODES:
                await asyncio.sleep(0.1)
                continue
            if not unknown_command(err):
                raise
            await handle.signal("login", message)
            return None
    raise AssertionError("the account stayed busy")


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
