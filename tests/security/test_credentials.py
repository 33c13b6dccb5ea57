"""Credentials (security/credentials.py): signing, rotation, role-scoped keys, expiry and malformed input."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from models.auth import DEV_KEYS, Credential
from models.settings import production_problems
from security import credentials
from security.credentials import COMMAND_ROLES, check, parse_keys, sign

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
K_OLD = "k1:*:" + "11" * 32
K_NEW = "k2:*:" + "22" * 32
SELLER_ONLY = "portal:seller:" + "33" * 32


def keys(raw: str) -> tuple[credentials.SigningKey, ...]:
    return tuple(parse_keys(raw))


def code(cred: Credential | None, command: str = "decide_appeal", account: str = "M1", **kw) -> str | None:  # type: ignore[no-untyped-def]
    refusal = check(cred, command=command, account=account, now=kw.pop("now", NOW), keys=kw.pop("keys"))
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
    ],
)
def test_any_edited_field_breaks_the_signature(field: str, value: object) -> None:
    ring = keys(f"{K_NEW},{K_OLD}")
    cred = sign(role="seller", actor="M1", account="M1", command="appeal", now=NOW, keys=ring)
    assert code(cred, "appeal", keys=ring) is None
    assert code(dataclasses.replace(cred, **{field: value}), "appeal", keys=ring) == "credential_invalid"


def test_expiry_is_judged_at_the_time_given() -> None:
    ring = keys(K_OLD)
    ttl = timedelta(minutes=10)  # explicit: the suite's default lifetime is long (tests/conftest.py)
    cred = sign(
        role="service", actor="risk", account="M1", command="report_violation", now=NOW, keys=ring, ttl=ttl
    )
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
