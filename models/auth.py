"""The credential every account command carries (DESIGN 13), as messages: `Credential`, the `Signed`
base of the message dataclasses, and the local activity's input and verdict. Signing and checking are
security/credentials.py's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from models.refusals import Refusal

# The development key: signs every role. `SELLER_ENV=production` refuses to start with it (settings).
DEV_KEYS = "dev:*:" + "c0ffee" * 10 + "beef"


@dataclass
class Credential:
    actor: str  # seller: the member id; service: its name; operator: the operator's name; system: workflow id
    role: str  # seller | service | operator | system
    account: str  # the member id it may act on, or "*" (not for sellers)
    command: str  # the update or signal name, or "*"
    expires_at: datetime
    key_id: str
    signature: str = ""  # hex HMAC-SHA256 of the fields above

    @property
    def principal(self) -> str:
        """What the audit records (ENF-4): `operator:alice`, `service:risk-engine`, `seller:M123`."""
        return f"{self.role}:{self.actor}"


@dataclass(kw_only=True)
class Signed:
    """Base of every account message: the sender's credential rides in the payload (encrypted by the codec)."""

    auth: Credential | None = None


@dataclass
class CredentialCheck:
    command: str
    account: str
    auth: Credential | None = None


@dataclass
class VerifyCredentialsInput:
    checks: list[CredentialCheck]
    now: datetime  # the workflow's clock: expiry is judged at workflow time, not the activity's


@dataclass
class CredentialVerdict:
    principal: str | None  # the verified actor, or None: the message is dropped
    refusal: Refusal | None = None
