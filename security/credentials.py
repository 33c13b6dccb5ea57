"""Signed credentials: who sends a command, in which role, for which account (DESIGN 13).

Every account command carries a `Credential` in its payload's `auth` field (the `Signed` base of the
message dataclasses in models/contract.py). One optional field on each message, rather than an envelope
around it, keeps the public contract as it was: a message is still the same dataclass, old histories
and old callers decode unchanged, and an operator sending a command from the Web UI adds one `auth`
object to the JSON they would have sent anyway.

A credential names the caller (`actor`), the `role` it acts in, the `account` (a member id, or `*` for
services, operators and the system), the `command` (an update or signal name, or `*`), an expiry and the
id of the key that signed it (HMAC-SHA256 over all of those). Keys come from settings
(`CREDENTIAL_KEYS`): several, by id, each limited to the roles it may sign for, so the seller-facing
backend holding a seller key cannot mint an operator's credential. Rotation: put the new key first (it
signs from then on); keep the old one listed while credentials signed by it may still be in flight.

Who verifies, and why it is deterministic:
- updates: in the update's validator, against keys loaded at worker start (this module is passed through
  the sandbox). Temporal never re-runs a validator on replay, so an accepted command stays accepted when
  keys rotate later; the handler reads the verified actor from the credential without verifying again.
- signals (no validator): in a local activity (activities/credentials.py) whose verdict is recorded in
  history, so a replay after rotation reads the recorded verdict instead of re-verifying.
- expiry is always checked against `workflow.now()` (passed to the local activity as data).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, TypeVar

from models import limits
from models.auth import ANY, ROLES, Credential, Signed, SigningKey, parse_keys

__all__ = ["ANY", "ROLES", "Credential", "Signed", "SigningKey", "parse_keys"]  # re-exported: callers import them from here
from models.refusals import Refusal

RULE = "ENF-4"  # the audit names the actor: a command is taken only from the actor it claims to be
# As long as the longest operator name the audit's actor column holds with its `operator:` prefix.
ACTOR = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9._@-]{{0,{limits.OPERATOR_NAME - 1}}}$")
# How long a client's credential lives (CREDENTIAL_TTL_SECONDS, 10 minutes by default). The test suite
# sets it long: on the time-skipping server the workflow clock runs years ahead of the wall clock.
DEFAULT_TTL = timedelta(seconds=int(os.environ.get("CREDENTIAL_TTL_SECONDS", "600")))

# Which roles may send each command: the one table the workflow and the clients read.
SELLER = ("seller",)
COMMAND_ROLES: dict[str, tuple[str, ...]] = {
    # seller-facing updates
    "verify_email": SELLER,
    "request_email_code": SELLER,
    "change_contact": SELLER,
    "submit_authentication_photo": SELLER,
    "unbind_identity": SELLER,
    "start_exam": SELLER,
    "submit_exam": SELLER,
    "release_product": SELLER,
    "remove_product": SELLER,
    "appeal": SELLER,
    "withdraw_consent": SELLER,  # DATA-1: the seller's own consent (workflows/consent.py)
    # the marketplace's login service reports logins; a seller's own client may too
    "login": ("seller", "service"),
    # service reports
    "report_violation": ("service", "system"),  # system: REG-3 buyer screening
    "report_closure": ("service",),
    "screen_buyer": ("service",),
    # operator decisions; cases and bans between accounts are the system's, or an operator's by hand
    "decide_appeal": ("operator",),
    "retry": ("operator",),  # write again the steps that ran out of retries (NeedsAttention)
    "preapprove": ("operator",),
    "erase": ("operator",),  # DATA-4: a closed account's personal data, on the seller's request
    "open_case": ("system", "operator"),
    "ban": ("system", "operator"),
}


@lru_cache(maxsize=1)
def keyring() -> tuple[SigningKey, ...]:
    """The keys of this process, read once (the worker loads them at start, outside any workflow)."""
    from models.settings import settings

    return tuple(parse_keys(settings().credential_keys))


def _message(c: Credential) -> bytes:
    expires = c.expires_at.astimezone(UTC).isoformat(timespec="seconds")
    return "\x1f".join(("v1", c.actor, c.role, c.account, c.command, expires, c.key_id)).encode()


def _digest(secret: bytes, c: Credential) -> str:
    return hmac.new(secret, _message(c), hashlib.sha256).hexdigest()


def sign(
    *,
    role: str,
    actor: str,
    account: str,
    command: str,
    now: datetime | None = None,
    ttl: timedelta = DEFAULT_TTL,
    keys: tuple[SigningKey, ...] | None = None,
) -> Credential:
    """A credential signed by the first key allowed to sign for `role`."""
    keys = keys if keys is not None else keyring()
    key = next((k for k in keys if role in k.roles), None)
    if key is None:
        raise PermissionError(f"no credential key here may sign for role {role!r}")
    expires = ((now or datetime.now(UTC)) + ttl).astimezone(UTC).replace(microsecond=0)
    cred = Credential(actor, role, account, command, expires, key.key_id)
    cred.signature = _digest(key.secret, cred)
    return cred


M = TypeVar("M", bound=Signed)


def signed(message: M, credential: Credential) -> M:
    """A copy of the message carrying the credential (the caller's object is left as it was)."""
    return replace(message, auth=credential)


def refusal(code: str, message: str) -> Refusal:
    return Refusal(RULE, code, message)


def _verifies(cred: Credential, keys: tuple[SigningKey, ...]) -> bool:
    """The signature is a listed key's, that key may sign for the role, and the fields are well formed
    (anything odd a sender put in them is invalid, never an exception)."""
    try:
        key = next((k for k in keys if k.key_id == cred.key_id), None)
        return (
            key is not None
            and cred.role in key.roles
            and isinstance(cred.signature, str)
            and cred.expires_at.tzinfo is not None
            and all(isinstance(x, str) for x in (cred.actor, cred.account, cred.command))
            and ACTOR.match(cred.actor) is not None
            and hmac.compare_digest(_digest(key.secret, cred), cred.signature)
        )
    except (AttributeError, TypeError, ValueError):
        return False


def check(
    cred: Credential | None,
    *,
    command: str,
    account: str,
    now: datetime,
    keys: tuple[SigningKey, ...] | None = None,
) -> Refusal | None:
    """None when `cred` lets its actor send `command` to `account` at `now`; else why not.

    Pure: the same credential, keys and time give the same answer, which is what makes it safe in a
    validator (and in the recorded local activity)."""
    if cred is None:
        return refusal("credential_missing", f"`{command}` needs a signed credential; none was sent.")
    if not _verifies(cred, keys if keys is not None else keyring()):
        return refusal("credential_invalid", "The credential's signature does not verify.")
    if now >= cred.expires_at:
        return refusal("credential_expired", "The credential has expired; sign the command again.")
    allowed = COMMAND_ROLES.get(command, ())
    if cred.role not in allowed:
        return refusal(
            "role_not_allowed",
            f"`{command}` is for the {' or '.join(allowed) or 'no'} role; this credential is {cred.role}'s.",
        )
    if cred.command not in (command, ANY):
        return refusal("credential_wrong_command", f"The credential was issued for `{cred.command}`.")
    wildcard = cred.account == ANY and cred.role != "seller"
    if not wildcard and cred.account != account:
        return refusal("credential_wrong_account", "The credential was issued for another account.")
    if cred.role == "seller" and cred.actor != account:
        return refusal("credential_wrong_account", "A seller acts only on their own account.")
    return None


def for_command(
    command: str,
    account: str,
    *,
    operator: str | None = None,
    service: str | None = None,
    now: datetime | None = None,
    ttl: timedelta = DEFAULT_TTL,
) -> Credential:
    """What a client signs for `command`: the seller for their own account unless the command is not a
    seller's; then the named operator, else the named service."""
    roles = COMMAND_ROLES.get(command, ())
    if operator and "operator" in roles:
        return sign(role="operator", actor=operator, account=account, command=command, now=now, ttl=ttl)
    if "seller" in roles and not service:
        return sign(role="seller", actor=account, account=account, command=command, now=now, ttl=ttl)
    if "service" in roles:
        name = service or "backend"
        return sign(role="service", actor=name, account=account, command=command, now=now, ttl=ttl)
    if "operator" in roles:
        raise PermissionError(f"`{command}` is an operator's decision: name the operator (--as-operator)")
    raise PermissionError(f"no client role may send `{command}`")


def as_dict(cred: Credential) -> dict[str, Any]:
    return {
        "actor": cred.actor,
        "role": cred.role,
        "account": cred.account,
        "command": cred.command,
        "expires_at": cred.expires_at.isoformat(),
        "key_id": cred.key_id,
        "signature": cred.signature,
    }


# ---------------------------------------------------------------- signals: verified by a local activity
