"""Operator commands typed in the Web UI, signed by the codec server for whoever is signed in (ENF-4).

The Web UI (2.54) encodes the JSON input of a signal or an update by POSTing it, as one `json/plain`
payload, to the codec server's `/encode` just before it sends the command; the request carries the
namespace (`X-Namespace`) and the operator's session cookie or OIDC token, but neither the workflow nor
the command. So the operator names them in the input, in place of the credential they used to paste:

    {"case_id": "C…", "approved": true, "note": "invoices check out",
     "auth": {"command": "decide_appeal", "account": "M0123456789ABCDEF"}}

and the codec server replaces `auth` by a credential (security/credentials.py) in the operator role,
issued for the signed-in identity, for that command, account and message (the rest of the input, as
the account will read it: docs/contract/credential.md), valid `CODEC_SIGN_SECONDS` (two minutes). Whatever else `auth` held, an `actor` typed by hand or a pasted credential, is dropped: the
audit names who is signed in, never what the payload says. A blank `operator` field of a decision is
filled with the same name (a different name stays, and the workflow refuses it: `operator_mismatch`).

Refused, rather than forwarded unsigned (the choice, and why): anything short of a signed-in person with
the operator role gets an HTTP error with rule ENF-4 and a reason code, and nothing is encrypted, so
nothing reaches Temporal. Forwarding the payload unsigned would also be refused, by the workflow, but
later and worse: an update refusal reaches the UI only as an "Encoded failure" it cannot read, a signal
is dropped silently, and the codec server would have lent its encryption to whatever `auth` was typed.

Only `auth` objects are touched: a payload without one (a query's arguments) passes unchanged, and so
does a complete credential pasted for a seller's or a service's command (`starter.py credential`), or
sent by a CLI behind the static token: the workflow verifies those. A signed-in operator's pasted
operator credential is replaced by their own.

On the way out, `/decode` blanks the signature of every credential in a decoded payload: history shows
who acted on what, but nobody reading it through the codec server (Web UI or CLI) gets a credential
they could send again while it lives.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from temporalio.api.common.v1 import Payload

from models import boundary
from models.contract import WORKFLOW_ID_PREFIX
from models.refusals import Refusal
from security import credentials
from security.codec_access import Principal
from security.credentials import COMMAND_ROLES, SigningKey
from security.masking import rewritten

RULE = credentials.RULE  # ENF-4: a command is taken only from the actor it claims to be
JSON = b"json/plain"
OPERATOR_COMMANDS = tuple(c for c, roles in COMMAND_ROLES.items() if "operator" in roles)
# Messages with an `operator` field (AppealDecisionInput, RetryInput, the review inputs): filled with the signed-in name
# when left blank, so an operator need not type their own name.
NAMES_OPERATOR = ("decide_appeal", "retry", "claim_review", "decide_review")
MEMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
REDACTED = "redacted-by-codec-server"


@dataclass(frozen=True)
class Signer:
    keys: tuple[SigningKey, ...]  # operator-capable keys; none: the codec server signs nothing
    ttl: timedelta


class SigningRefused(Exception):
    """A signing request the codec server will not sign: the HTTP status and the refusal to answer."""

    def __init__(self, status: int, code: str, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.refusal = Refusal(RULE, code, message, retryable)


@dataclass(frozen=True)
class Signed:
    """What a signing request produced: the payloads to encrypt and, per credential, what the log says."""

    payloads: list[Payload]
    issued: list[str]  # "decide_appeal for M…"


def _json_object(p: Payload) -> dict[str, Any] | None:
    if p.metadata.get("encoding") != JSON:
        return None
    try:
        value = json.loads(p.data)
    except (ValueError, UnicodeDecodeError):
        return None  # not ours to judge: the worker refuses what it cannot read
    return value if isinstance(value, dict) else None


def _member(raw: object) -> str | None:
    if not isinstance(raw, str):
        return None
    member = raw.strip().removeprefix(WORKFLOW_ID_PREFIX)
    return member if MEMBER.match(member) else None


def sign_requests(
    payloads: Sequence[Payload],
    who: Principal,
    signer: Signer,
    *,
    now: datetime,
    from_ui: bool,
) -> Signed:
    """Each payload whose JSON object carries an `auth` asking for an operator command, with that `auth`
    replaced by a credential for `who`; the others unchanged. Raises SigningRefused for the whole request
    if any one cannot be signed (a command is sent whole or not at all).

    `from_ui`: the request came from a configured UI origin as JSON. A session cookie travels by itself,
    so signing on a cookie without it would be the one thing a forged cross-site request could use."""
    out: list[Payload] = []
    issued: list[str] = []
    for p in payloads:
        value = _json_object(p)
        if value is None or value.get("auth") is None:
            out.append(p)
            continue
        auth = value["auth"]
        command = auth.get("command") if isinstance(auth, dict) else None
        if command not in COMMAND_ROLES:
            raise SigningRefused(
                400,
                "credential_request_invalid",
                'Name the command in the input: "auth": {"command": "decide_appeal", '
                f'"account": "M…"}}; the codec server signs {", ".join(OPERATOR_COMMANDS)}.',
            )
        assert isinstance(auth, dict) and isinstance(command, str)
        pasted = isinstance(auth.get("signature"), str) and bool(auth["signature"])
        if command not in OPERATOR_COMMANDS or who.via == "token":
            if pasted:
                # A credential pasted by hand (starter.py credential) for a seller's or a service's
                # command, or sent by a CLI behind the static token, which names no one to sign for:
                # it goes as it is, and the workflow verifies it.
                out.append(p)
                continue
            if who.via != "token":
                roles = " or ".join(COMMAND_ROLES[command])
                raise SigningRefused(
                    403,
                    "role_not_allowed",
                    f"`{command}` is for the {roles} role; the codec server signs operator commands only.",
                    retryable=False,
                )
        _authorize(who, from_ui=from_ui)
        member = _member(auth.get("account"))
        if member is None:
            raise SigningRefused(
                400,
                "credential_request_invalid",
                'Name the account in the input: "auth": {"command": "' + command + '", "account": '
                '"M…"} (the member id, or the workflow id seller-M…); a credential from the UI is for '
                "one account.",
            )
        if not signer.keys:
            raise SigningRefused(
                503,
                "signing_off",
                "This codec server holds no operator signing key (CODEC_SIGNING_KEYS): use starter.py.",
                retryable=False,
            )
        if command in NAMES_OPERATOR and not str(value.get("operator") or "").strip():
            value["operator"] = who.name
        # The credential is for this message only (docs/contract/credential.md): as the account reads it.
        message = boundary.from_json(command, value)
        if message is None and command in boundary.COMMAND_MESSAGES:
            raise SigningRefused(
                400,
                "credential_request_invalid",
                f"The input is not a `{command}` message the account would take: check its fields.",
            )
        cred = credentials.sign(
            role="operator",
            actor=who.name,
            account=member,
            command=command,
            now=now,
            ttl=signer.ttl,
            keys=signer.keys,
            payload=message,
        )
        value["auth"] = credentials.as_dict(cred)
        out.append(Payload(metadata=dict(p.metadata), data=json.dumps(value, ensure_ascii=False).encode()))
        issued.append(f"{command} for {member}")
    return Signed(out, issued)


def _authorize(who: Principal, *, from_ui: bool) -> None:
    if who.via == "token":
        raise SigningRefused(
            403,
            "token_cannot_sign",
            "The codec server's static token names no one, so it signs nothing: sign in, or use "
            "`starter.py credential ... --as-operator NAME` on a host with an operator key.",
            retryable=False,
        )
    if not from_ui:
        raise SigningRefused(
            403,
            "cross_site_refused",
            "Commands are signed only for JSON requests from the configured Web UI origins.",
            retryable=False,
        )
    if "operator" not in who.roles:
        raise SigningRefused(
            403,
            "role_not_allowed",
            f"{who.name} may read accounts but not send operator commands (no operator role).",
            retryable=False,
        )
    if credentials.ACTOR.match(who.name) is None:
        raise SigningRefused(
            403,
            "operator_name_invalid",
            "The signed-in name cannot go in the audit (letters, digits and ._@- only): set "
            "CODEC_OIDC_NAME_CLAIM to a claim that holds such a name.",
            retryable=False,
        )


def redact(payloads: Sequence[Payload]) -> list[Payload]:
    """Decoded payloads with every credential's signature blanked, wherever it sits: a command's `auth`,
    or deep in a continued run's input (`pending_facts`, queued commands). Every payload whose data reads
    as JSON is walked, whatever its encoding says, so a misspelt encoding hides nothing."""
    return rewritten(payloads, _blank_signatures)


def _blank_signatures(value: Any) -> bool:
    """Blanks in place every non-empty string under a `signature` key; True when it blanked any."""
    blanked = False
    stack = [value]
    while stack:  # iterative: a deeply nested payload cannot exhaust the interpreter's stack
        node = stack.pop()
        if isinstance(node, dict):
            for key, child in node.items():
                if key == "signature" and isinstance(child, str) and child and child != REDACTED:
                    node[key] = REDACTED
                    blanked = True
                elif isinstance(child, dict | list):
                    stack.append(child)
        elif isinstance(node, list):
            stack.extend(c for c in node if isinstance(c, dict | list))
    return blanked
