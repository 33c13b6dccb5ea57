"""The credential every account command carries (DESIGN 13), as messages: `Credential`, the `Signed`
base of the message dataclasses, and the local activity's input and verdict. Signing and checking are
security/credentials.py's."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from models.refusals import Refusal

# The development key: signs every role. `SELLER_ENV=production` refuses to start with it (settings).
ROLES = ("seller", "service", "operator", "system")
# A person's reading role, never a credential's: who may read identity fields (ID card and licence
# numbers, mobile, email) in decoded payloads; the codec server masks them for everyone else.
IDENTITY_READER = "identity_reader"
ANY = "*"
DEV_KEYS = "dev:*:" + "c0ffee" * 10 + "beef"


@dataclass
class Credential:
    actor: str  # seller: the member id; service: its name; operator: the operator's name; system: workflow id
    role: str  # seller | service | operator | system
    account: str  # the member id it may act on, or "*" (not for sellers)
    command: str  # the update or signal name, or "*"
    expires_at: datetime
    key_id: str
    signature: str = ""  # hex HMAC-SHA256 of the other fields (docs/contract/credential.md)
    # The message it was signed for; a credential without `issued_at` is of the first format (v1), which
    # named no message: refused since (credential_unbound).
    issued_at: datetime | None = None
    fact_id: str = ""  # the message's own id (security/binding.py `fact_id`), "" when it has none
    digest: str = ""  # SHA-256 of the message's canonical JSON (`payload_digest`), "" for no message

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
    fact_id: str = ""  # binding(message) of the message the credential came in (security/binding.py)
    digest: str = ""


@dataclass
class VerifyCredentialsInput:
    checks: list[CredentialCheck]
    now: datetime  # the workflow's clock (signals are judged as of their sending, never later than this)
    as_sent: bool = True  # signals; False for what is judged as it arrives (a screening)


@dataclass
class CredentialVerdict:
    principal: str | None  # the verified actor, or None: the message is dropped
    refusal: Refusal | None = None


@dataclass(frozen=True)
class SigningKey:
    key_id: str
    secret: bytes = field(repr=False)
    roles: frozenset[str]


def parse_keys(raw: str) -> list[SigningKey]:
    """`CREDENTIAL_KEYS=k2:seller+service:<hex>,k1:*:<hex>`: id, roles (`+`-separated or `*`), secret of at
    least 32 bytes. Order matters: for each role, the first key allowed to sign it signs."""
    keys: list[SigningKey] = []
    for part in filter(None, (p.strip() for p in raw.split(","))):
        key_id, roles_spec, hex_secret = (part.split(":") + ["", ""])[:3]
        secret = bytes.fromhex(hex_secret)
        roles = frozenset(ROLES if roles_spec == ANY else roles_spec.split("+"))
        if not key_id or len(secret) < 32 or not roles <= set(ROLES):
            raise ValueError(f"CREDENTIAL_KEYS: key {key_id!r} needs an id, known roles and >= 32 bytes")
        keys.append(SigningKey(key_id, secret, roles))
    if not keys:
        raise ValueError("CREDENTIAL_KEYS lists no key")
    return keys
