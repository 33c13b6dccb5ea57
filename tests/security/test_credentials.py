"""Credentials (security/credentials.py): signing, rotation, role-scoped keys, expiry and malformed input."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from models import boundary
from models.auth import DEV_KEYS, Credential
from models.contract import ViolationInput
from models.settings import production_problems
from security import credentials
from security.binding import binding, canonical_bytes, payload_digest
from security.credentials import COMMAND_ROLES, check, parse_keys, sign

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
VECTOR = Path(__file__).resolve().parents[2] / "docs" / "contract" / "credential-vector.json"
K_OLD = "k1:*:" + "11" * 32
K_NEW = "k2:*:" + "22" * 32
SELLER_ONLY = "portal:seller:" + "33" * 32


def keys(raw: str) -> tuple[credentials.SigningKey, ...]:
    return tuple(parse_keys(raw))


def code(cred: Credential | None, command: str = "decide_appeal", account: str = "M1", **kw) -> str | None:  # type: ignore[no-untyped-def]
    refusal = check(
        cred,
        command=command,
        account=account,
        now=kw.pop("now", NOW),
        bound=kw.pop("bound", None),
        as_sent=kw.pop("as_sent", False),
        keys=kw.pop("keys"),
    )
    return None if refusal is None else refusal.code


def test_the_first_key_signs_and_retired_keys_still_verify_until_removed() -> None:
    old = sign(role="operator", actor="lin", account="*", command="decide_appeal", now=NOW, keys=keys(K_OLD))
    rotated = keys(f"{K_NEW},{K_OLD}")
    new = sign(role="operator", actor="lin", account="*", command="decide_appeal", now=NOW, keys=rotated)
    assert (old.key_id, new.key_id) == ("k1", "k2")
    assert code(old, keys=rotated) is None and code(new, keys=rotated) is None
    assert code(old, keys=keys(K_NEW)) == "credential_invalid", "a key taken off the list verifies nothing"


def test_a_key_signs_only_the_roles_it_is_given() -> None:
    portal = keys(SELLER_ONLY)
    with pytest.raises(PermissionError):
        sign(role="operator", actor="lin", account="*", command="decide_appeal", keys=portal)
    # Even hand-made with the seller key's secret, an operator credential does not verify.
    seller = sign(role="seller", actor="M1", account="M1", command="appeal", now=NOW, keys=portal)
    forged = dataclasses.replace(seller, role="operator", actor="lin", command="decide_appeal")
    forged.signature = credentials._digest(portal[0].secret, forged)
    assert code(forged, keys=portal) == "credential_invalid"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("actor", "alice"),
        ("role", "operator"),
        ("account", "*"),
        ("command", "*"),
        ("expires_at", NOW + timedelta(days=365)),
        ("key_id", "k1"),
        ("signature", "00" * 32),
        ("issued_at", NOW - timedelta(minutes=1)),
        ("fact_id", "v-other"),
        ("digest", "00" * 32),
    ],
)
def test_any_edited_field_breaks_the_signature(field: str, value: object) -> None:
    ring = keys(f"{K_NEW},{K_OLD}")
    cred = sign(role="seller", actor="M1", account="M1", command="appeal", now=NOW, keys=ring)
    assert code(cred, "appeal", keys=ring) is None
    assert code(dataclasses.replace(cred, **{field: value}), "appeal", keys=ring) == "credential_invalid"


def risk_report(ring: tuple[credentials.SigningKey, ...], **kw) -> Credential:  # type: ignore[no-untyped-def]
    """The risk engine's credential for a violation report on M1, issued at NOW."""
    return sign(role="service", actor="risk", account="M1", command="report_violation", now=NOW, keys=ring, **kw)


def test_expiry_is_judged_at_the_time_given() -> None:
    ring = keys(K_OLD)
    ttl = timedelta(minutes=10)  # explicit: the suite's default lifetime is long (tests/conftest.py)
    cred = risk_report(ring, ttl=ttl)
    assert code(cred, "report_violation", keys=ring, now=NOW + timedelta(minutes=9)) is None
    assert code(cred, "report_violation", keys=ring, now=NOW + timedelta(minutes=10)) == "credential_expired"


def test_roles_commands_and_accounts() -> None:
    ring = keys(K_OLD)
    seller = sign(role="seller", actor="M1", account="M1", command="appeal", now=NOW, keys=ring)
    assert code(seller, "appeal", "M2", keys=ring) == "credential_wrong_account"
    assert code(seller, "decide_appeal", keys=ring) == "role_not_allowed"
    assert code(seller, "change_contact", keys=ring) == "credential_wrong_command"
    anywhere = sign(role="seller", actor="M1", account="*", command="*", now=NOW, keys=ring)
    assert code(anywhere, "appeal", "M2", keys=ring) == "credential_wrong_account", "sellers get no wildcard"
    ops = sign(role="operator", actor="lin", account="*", command="*", now=NOW, keys=ring)
    assert code(ops, "decide_appeal", "M9", keys=ring) is None
    assert code(ops, "appeal", keys=ring) == "role_not_allowed", "an operator does not appeal for a seller"
    assert code(None, keys=ring) == "credential_missing"


def test_every_command_has_roles_and_no_seller_may_decide_ban_open_or_report() -> None:
    for command in ("decide_appeal", "preapprove", "ban", "open_case", "report_violation", "report_closure"):
        assert "seller" not in COMMAND_ROLES[command]
    assert all(set(roles) <= set(credentials.ROLES) for roles in COMMAND_ROLES.values())


@pytest.mark.parametrize(
    "odd",
    [
        {"expires_at": datetime(2030, 1, 1)},  # no time zone
        {"actor": "has space"},
        {"actor": ""},
        {"signature": None},
        {"key_id": None},
    ],
)
def test_malformed_credentials_are_invalid_not_errors(odd: dict) -> None:  # type: ignore[type-arg]
    ring = keys(K_OLD)
    cred = sign(role="seller", actor="M1", account="M1", command="appeal", now=NOW, keys=ring)
    assert code(dataclasses.replace(cred, **odd), "appeal", keys=ring) == "credential_invalid"


def test_bad_key_lists_are_refused() -> None:
    for raw in ("", "k1:*:abcd", "k1:wizard:" + "11" * 32, ":*:" + "11" * 32):
        with pytest.raises(ValueError):
            parse_keys(raw)


def test_production_refuses_the_development_keys() -> None:
    base = {"SELLER_ENV": "production", "FINGERPRINT_SECRET": "a-real-secret"}
    unset = production_problems(base)
    assert any(p.startswith("CREDENTIAL_KEYS is unset") for p in unset)
    dev = production_problems(base | {"CREDENTIAL_KEYS": DEV_KEYS})
    assert any("CREDENTIAL_KEYS contains the public development key" in p for p in dev)
    strong = "k2:*:" + hashlib.sha256(b"k2").hexdigest()  # random-looking: no regularity check trips
    assert not any("CREDENTIAL_KEYS" in p for p in production_problems(base | {"CREDENTIAL_KEYS": strong}))


# ---------------------------------------------------------------- bound to the message, judged as of arrival


def violation(**kw: object) -> ViolationInput:
    return ViolationInput(**({"violation_id": "v-7", "category": "ip", "rule": "ENF-1"} | kw))  # type: ignore[arg-type]


def test_a_credential_carries_no_other_payload_and_no_new_fact() -> None:
    ring = keys(K_OLD)
    serious = violation(severity="serious")
    cred = risk_report(ring, payload=serious)
    assert (cred.fact_id, cred.digest) == binding(serious) and cred.fact_id == "v-7"
    assert code(cred, "report_violation", keys=ring, bound=binding(serious)) is None
    # The same credential on another payload, or on the same payload as a new fact: refused.
    for other in (
        violation(severity="serious", evidence_ref="x"),
        violation(violation_id="v-8", severity="serious"),
    ):
        assert code(cred, "report_violation", keys=ring, bound=binding(other)) == "credential_wrong_payload"
    # Edited to name the other message, it no longer verifies.
    edited = dataclasses.replace(cred, fact_id="v-8", digest=binding(violation(violation_id="v-8"))[1])
    assert code(edited, "report_violation", keys=ring, bound=binding(violation(violation_id="v-8"))) == (
        "credential_invalid"
    )


def test_a_signal_is_judged_as_of_its_sending_an_update_as_it_arrives() -> None:
    ring = keys(K_OLD)
    report = violation()
    ttl = timedelta(minutes=10)
    cred = risk_report(ring, ttl=ttl, payload=report)
    late = NOW + timedelta(minutes=15)  # a worker outage of 15 minutes
    assert code(cred, "report_violation", keys=ring, bound=binding(report), now=late, as_sent=True) is None
    assert code(cred, "report_violation", keys=ring, bound=binding(report), now=late) == "credential_expired"
    # Issued in the future (beyond the clock skew allowed): refused either way.
    early = NOW - credentials.CLOCK_SKEW - timedelta(seconds=1)
    assert code(cred, "report_violation", keys=ring, bound=binding(report), now=early, as_sent=True) == (
        "credential_not_yet_valid"
    )


def test_a_credential_of_the_first_format_is_refused_as_unbound() -> None:
    ring = keys(K_OLD)
    cred = risk_report(ring)
    v1 = dataclasses.replace(cred, issued_at=None, fact_id="", digest="")
    v1.signature = credentials._digest(ring[0].secret, v1)
    assert code(v1, "report_violation", keys=ring) == "credential_unbound"


def test_the_published_test_vector() -> None:
    """docs/contract/credential.md: fixed key, fixed message, the canonical bytes and the HMAC."""
    vector = json.loads(VECTOR.read_text())
    ring = keys(vector["key"])
    message = boundary.parse(ViolationInput, vector["message"])  # as the account reads it
    assert canonical_bytes(message).decode() == vector["canonical_message"]
    assert payload_digest(message) == vector["digest"]
    # The vector holds by itself, as another client would compute it: SHA-256 and HMAC-SHA256 over UTF-8.
    assert hashlib.sha256(vector["canonical_message"].encode()).hexdigest() == vector["digest"]
    secret = bytes.fromhex(vector["key"].split(":")[2])
    assert hmac.new(secret, vector["signed_string"].encode(), hashlib.sha256).hexdigest() == vector["signature"]
    cred = sign(
        role=vector["role"],
        actor=vector["actor"],
        account=vector["account"],
        command=vector["command"],
        now=datetime.fromisoformat(vector["issued_at"]),
        ttl=timedelta(seconds=vector["ttl_seconds"]),
        keys=ring,
        payload=message,
    )
    assert credentials._message(cred).decode() == vector["signed_string"]
    assert cred.signature == vector["signature"]
    assert (
        code(
            cred, vector["command"], vector["account"], keys=ring, bound=binding(message), now=cred.issued_at
        )
        is None
    )
