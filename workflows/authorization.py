"""Who may send what to an account (DESIGN 13): credentials checked in update validators, signals'
credentials verified by a recorded local activity, and the system's own credential for the signals one
account sends another (ENF-3 bans, ASSOC-4 cases). Functions the account workflow calls with what they
need (the account, the audit). Why validators and a local activity: see security/credentials.py."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from models.auth import Credential, CredentialCheck, Signed, VerifyCredentialsInput
    from models.refusals import RefusedError
    from security import credentials
    from security.binding import binding

from workflows.activity_refs import VERIFY_CREDENTIALS
from workflows.refusing import refusal_error

# Histories recorded before credentials existed took every signal; replaying them must still do so.
SIGNED_SIGNALS = "signed-signals"
SYSTEM_TTL = timedelta(hours=1)


Audit = Callable[..., Awaitable[None]]


def authorize(command: str, message: Signed, *, account: str) -> None:
    """For validators: refuse (ENF-4) unless the message's credential lets its actor send `command` to
    `account`, for this very message, as it arrives (now). Never called from a handler: a handler
    re-runs on replay, a validator does not."""
    refusal = credentials.check(
        message.auth, command=command, account=account, now=workflow.now(), bound=binding(message)
    )
    if refusal is not None:
        raise refusal_error(RefusedError(refusal))


def actor(auth: Credential | None, legacy: str) -> str:
    """The verified actor of an accepted command (its validator checked the credential); `legacy` for
    commands accepted before credentials existed."""
    return auth.principal if auth is not None else legacy


async def verified(messages: Sequence[tuple[str, Signed]], *, account: str, audit: Audit) -> list[str | None]:
    """The verified actor of each signal, or None for one that is dropped (and audited): a bad
    credential never fails the workflow task and never reaches the account's state."""
    if not messages:
        return []
    if not workflow.patched(SIGNED_SIGNALS):
        return ["seller" if command == "login" else "system" for command, _ in messages]
    # Each judged as of its sending and for its own message (security/credentials.py).
    checks = [CredentialCheck(command, account, m.auth, *binding(m)) for command, m in messages]
    try:
        verdicts = await workflow.execute_local_activity(
            VERIFY_CREDENTIALS.name,
            VerifyCredentialsInput(checks, workflow.now()),
            result_type=VERIFY_CREDENTIALS.output,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(maximum_attempts=5),
            summary="ENF-4 verify credentials",
        )
    except ActivityError:  # pure code failing five times: a fault of ours, never the sender's say-so
        verdicts = [None] * len(messages)  # type: ignore[list-item]  # None: verification failed
    principals: list[str | None] = []
    for (command, message), verdict in zip(messages, verdicts, strict=True):
        if verdict is not None and verdict.principal is not None:
            principals.append(verdict.principal)
            continue
        code = verdict.refusal.code if verdict is not None and verdict.refusal else "credential_unverified"
        claimed = message.auth.principal if message.auth is not None else ""
        await audit(
            "signal_dropped",
            rule=credentials.RULE,
            reason=code,
            actor="unverified",
            detail={"command": command, "claimed": str(claimed)[:64]},
        )
        principals.append(None)
    return principals


def system_credential(command: str, target_member_id: str, message: Any) -> Credential:
    """Signed by this workflow for `message`, a signal to another account (ENF-3, ASSOC-4). The
    signature lands in history encrypted; a replay re-signs, and Temporal compares the command, not its
    payload."""
    return credentials.sign(
        role="system",
        actor=workflow.info().workflow_id,
        account=target_member_id,
        command=command,
        now=workflow.now(),
        ttl=SYSTEM_TTL,
        payload=message,
    )
