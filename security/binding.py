"""What a credential is bound to (docs/contract/credential.md): the message's own id and the SHA-256 of
its canonical JSON. Pure; the clients sign it (security/credentials.py `sign`), the account checks it."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

# A message's own id: the first of these fields it has (docs/contract/credential.md).
FACT_ID_FIELDS = (
    "violation_id",
    "report_id",
    "case_id",
    "product_id",
    "request_id",
    "buyer_id",
    "origin_member_id",
)
# Fields never in the digest: the credential itself, and the admission an account is started with.
UNSIGNED_FIELDS = ("auth", "admission")


def fact_id(message: Any) -> str:
    """The message's own id (a violation's, a report's, a case's...), "" when it has none."""
    if message is None:
        return ""
    for name in FACT_ID_FIELDS:
        value = getattr(message, name, None)
        if isinstance(value, str):
            return value
    return ""


def _canonical(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple | frozenset | set):
        items = [_canonical(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, frozenset | set) else items
    if isinstance(value, float) and value.is_integer():
        return int(value)  # 365.0 and 365 are the same number, as JSON in JavaScript writes them
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def canonical_bytes(message: Any) -> bytes:
    """The message as signed: every field but `auth` (defaults included), keys sorted, no spaces,
    instants as UTC `YYYY-MM-DDTHH:MM:SS.ffffffZ`, UTF-8 (docs/contract/credential.md)."""
    value = _canonical(message)
    if isinstance(value, dict):
        value = {k: v for k, v in value.items() if k not in UNSIGNED_FIELDS}
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def payload_digest(message: Any) -> str:
    """Hex SHA-256 of `canonical_bytes(message)`; "" for no message."""
    return "" if message is None else hashlib.sha256(canonical_bytes(message)).hexdigest()


def binding(message: Any) -> tuple[str, str]:
    """(fact id, digest): what a credential for `message` must name."""
    return fact_id(message), payload_digest(message)
