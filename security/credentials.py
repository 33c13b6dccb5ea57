"""Signed credentials: who sends a command, in which role, for which account (DESIGN 13).

Every account command carries a `Credential` in its payload's `auth` field (the `Signed` base of the
message dataclasses in models/contract.py). One optional field on each message, rather than an envelope
around it, keeps the public contract as it was: a message is still the same dataclass, old histories
and old callers decode unchanged, and an operator sending a command from the Web UI adds one `auth`
object to the JSON they would have sent anyway.

A credential names the caller (`actor`), the `role` it acts in, the `account` (a member id, or `*` for
services, operators and the system), the `command` (an update or signal name, or `*`), the message it
was signed for (`fact_id`, the message's own id, and `digest`, SHA-256 of the message's canonical JSON),
when it was issued, an expiry and the id of the key that signed it (HMAC-SHA256 over all of those; the
exact bytes, with a test vector, are in docs/contract/credential.md). Bound to its payload, a captured
credential carries no other payload and no new fact: a new fact has a new id, hence a new digest. Keys
come from settings
(`CREDENTIAL_KEYS`): several, by id, each limited to the roles it may sign for, so the seller-facing
backend holding a seller key cannot mint an operator's credential. Rotation: put the new key first (it
signs from then on); keep the old one listed while credentials signed by it may still be in flight.

Who verifies, and why it is deterministic:
- updates: in the update's validator, against keys loaded at worker start (this module is passed through
  the sandbox). Temporal never re-runs a validator on replay, so an accepted command stays accepted when
  keys rotate later; the handler reads the verified actor from the credential without verifying again.
- signals (no validator): in a local activity (activities/credentials.py) whose verdict is recorded in
  history, so a replay after rotation reads the recorded verdict instead of re-verifying.
- when: an update is judged as it arrives (its validator runs then, the sender waits for the answer).
  A signal is a one-way fact, judged as of its sending (`issued_at`, signed): a serious violation signed
  in time is honoured however late the account processes it (a worker outage, updates ahead of it).
  Replaying it does nothing new: violations, reports and cases count once by id, bans by origin.
  A credential from the future (issued more than CLOCK_SKEW ahead of the account's clock) is refused.
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
from security.binding import binding

RULE = "ENF-4"  # the audit names the actor: a command is taken only from the actor it claims to be
# As long as the longest operator name the audit's actor column holds with its `operator:` prefix.
ACTOR = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9._@-]{{0,{limits.OPERATOR_NAME - 1}}}$")
# How long a client's credential lives (CREDENTIAL_TTL_SECONDS, 10 minutes by default). The test suite
# sets it long: on the time-skipping server the workflow clock runs years ahead of the wall clock.
DEFAULT_TTL = timedelta(seconds=int(os.environ.get("CREDENTIAL_TTL_SECONDS", "600")))
# How far ahead of the account's clock a credential's `issued_at` may be (senders' clocks drift).
CLOCK_SKEW = timedelta(minutes=5)

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
    "decide_appeal": ("operator",),  # kept for recorded histories: decide_review on `appeal-<case>` does it
    "claim_review": ("operator",),  # review items (issue 25, workflows/reviews.py)
    "decide_review": ("operator",),
    "retry": ("operator",),  # write again the steps that ran out of retries (NeedsAttention)
    "preapprove": ("operator",),
    "erase": ("operator",),  # DATA-4: a closed account's personal data, on the seller's request
    "open_case": ("system", "operator"),
    "ban": ("system", "operator"),
    # only a registration service registers sellers; only the registration workflow opens accounts
    "register": ("service",),
    "open_account": ("system",),
}


@lru_cache(maxsize=1)
def keyring() -> tuple[SigningKey, ...]:
    """The keys of this process, read once (the worker loads them at start, outside any workflow)."""
    from models.settings import settings

    return tuple(parse_keys(settings().credential_keys))


def _instant(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="seconds")


def _message(c: Credential) -> bytes:
    """The signed bytes (docs/contract/credential.md): version 2 fields joined by U+001F, UTF-8."""
    fields: tuple[str, ...]
    if c.issued_at is None:  # the first format, still verified so that its refusal says what it is
        fields = ("v1", c.actor, c.role, c.account, c.command, _instant(c.expires_at), c.key_id)
    else:
        fields = (
            "v2",
            c.actor,
            c.role,
            c.account,
            c.command,
            c.fact_id,
            c.digest,
            _instant(c.issued_at),
            _instant(c.expires_at),
            c.key_id,
        )
    return "\x1f".join(fields).encode()


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
    payload: Any = None,
) -> Credential:
    """A credential for `payload` (the message it travels in; None for a command without one), signed
    by the first key allowed to sign for `role`."""
    keys = keys if keys is not None else keyring()
    key = next((k for k in keys if role in k.roles), None)
    if key is None:
        raise PermissionError(f"no credential key here may sign for role {role!r}")
    issued = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    the_fact, the_digest = binding(payload)
    cred = Credential(actor, role, account, command, issued + ttl, key.key_id, "", issued, the_fact, the_digest)
    cred.signature = _digest(key.secret, cred)
    return cred


M = TypeVar("M", bound=Signed)


def signed(message: M, credential: Credential) -> M:
    """A copy of the message carrying the credential (the caller's object is left as it was)."""
    return replace(message, auth=credential)


def sign_message(message: M, *, command: str, account: str, **who: Any) -> M:
    """`message` carrying a credential bound to it (`for_command` with the message as payload)."""
    return signed(message, for_command(command, account, payload=message, **who))


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
            and (cred.issued_at is None or cred.issued_at.tzinfo is not None)
            and all(isinstance(x, str) for x in (cred.actor, cred.account, cred.command, cred.fact_id, cred.digest))
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
    bound: tuple[str, str] | None = None,
    as_sent: bool = False,
    keys: tuple[SigningKey, ...] | None = None,
) -> Refusal | None:
    """None when `cred` lets its actor send `command` to `account`, for the message whose
    `binding(message)` is `bound` (None: a command checked without its message, `preapprove`); else why not.

    `now` is the account's clock. An update is judged at `now`, as it arrives; a signal (`as_sent`) as of
    its sending: its `issued_at`, which may lie any time before `now` but not after (module docstring).

    Pure: the same credential, keys and time give the same answer, which is what makes it safe in a
    validator (and in the recorded local activity)."""
    if cred is None:
        return refusal("credential_missing", f"`{command}` needs a signed credential; none was sent.")
    if not _verifies(cred, keys if keys is not None else keyring()):
        return refusal("credential_invalid", "The credential's signature does not verify.")
    if cred.issued_at is None:
        return refusal(
            "credential_unbound",
            "The credential does not name the message it was signed for; sign it again with a current client.",
        )
    if cred.issued_at > now + CLOCK_SKEW:
        return refusal("credential_not_yet_valid", "The credential was issued in the future.")
    judged_at = cred.issued_at if as_sent else now
    if judged_at >= cred.expires_at:
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
    if bound is not None and (cred.fact_id, cred.digest) != bound:
        return refusal("credential_wrong_payload", "The credential was signed for another message; sign this one.")
    return None


def for_command(
    command: str,
    account: str,
    *,
    operator: str | None = None,
    service: str | None = None,
    now: datetime | None = None,
    ttl: timedelta = DEFAULT_TTL,
    payload: Any = None,
) -> Credential:
    """What a client signs for `command` carrying `payload`: the seller for their own account unless the
    command is not a seller's; then the named operator, else the named service."""
    roles = COMMAND_ROLES.get(command, ())
    common: dict[str, Any] = dict(account=account, command=command, now=now, ttl=ttl, payload=payload)
    if operator and "operator" in roles:
        return sign(role="operator", actor=operator, **common)
    if "seller" in roles and not service:
        return sign(role="seller", actor=account, **common)
    if "service" in roles:
        return sign(role="service", actor=service or "backend", **common)
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
        "issued_at": cred.issued_at.isoformat() if cred.issued_at is not None else None,
        "fact_id": cred.fact_id,
        "digest": cred.digest,
    }


# ---------------------------------------------------------------- signals: verified by a local activity
