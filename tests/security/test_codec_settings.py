"""Codec settings and the strict codec: malformed CODEC_KEYS say what is wrong, production refuses every
development secret by name, and a payload in clear is refused by a strict worker without failing a
workflow task or logging its content."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import replace

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import RawValue
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment

import seller_client
from models.auth import DEV_KEYS
from models.contract import ViolationInput
from models.settings import (
    DEV_CODEC_KEY,
    MIN_SECRET_BITS,
    SettingsError,
    estimated_bits,
    load_settings,
    parse_codec_keys,
    settings,
)
from security.codec import DATA_KEY_ID, DATA_KEY_SCOPE, ENCODING, KEY_ID, REFUSED_ENCODING, EncryptionCodec
from security.codec_access import DEV_OPERATOR_PASSWORD, hash_password, load_access
from tests.conftest import new_worker
from tests.support.accounts import finish, serious_violation_closes, start_account, task_failures
from tests.support.draws import hex_id
from tests.support.signing import signed, update_id
from workflows.seller_account import SellerAccount

KEY_A = "a1" * 32
KEY_B = "b2" * 32


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("", "entry 1 is empty"),
        ("   ", "entry 1 is empty"),
        (f"k1:{KEY_A},", "entry 2 is empty"),
        ("k1", "not id:<64 hex digits>"),
        (f":{KEY_A}", "not id:<64 hex digits>"),
        ("k1:zz", "not hexadecimal"),
        ("k1:abcd", "32 bytes"),
        (f"k1:{KEY_A},k1:{KEY_B}", "appears twice"),
    ],
)
def test_malformed_codec_keys_say_what_is_wrong(raw: str, says: str) -> None:
    with pytest.raises(SettingsError, match=says) as err:
        parse_codec_keys(raw)
    assert "CODEC_KEYS" in str(err.value)


def test_codec_keys_keep_their_order_for_rotation() -> None:
    keys = parse_codec_keys(f" k2:{KEY_B} , k1:{KEY_A}")
    assert list(keys) == ["k2", "k1"] and keys["k1"] == bytes.fromhex(KEY_A)


def test_an_empty_codec_keys_variable_is_an_error_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEC_KEYS", "")
    with pytest.raises(SettingsError, match="CODEC_KEYS"):
        load_settings()


def vault(label: str) -> str:
    """A fixed secret that looks like one drawn at random (64 hex digits), the same in every run."""
    return hashlib.sha256(label.encode()).hexdigest()


SESSION_SECRET = vault("codec session secret")
PRODUCTION = {
    "SELLER_ENV": "production",
    "FINGERPRINT_SECRET": vault("fingerprint secret"),
    "CODEC_KEYS": f"k1:{vault('codec key')}",
    "CODEC_SERVER_TOKEN": vault("cli token"),
    "CREDENTIAL_KEYS": "k1:*:" + vault("credential key"),
}


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("FINGERPRINT_SECRET", None),
        ("FINGERPRINT_SECRET", ""),
        ("FINGERPRINT_SECRET", "dev-only-secret-change-me"),
        ("CODEC_KEYS", None),
        ("CODEC_KEYS", f"k2:{KEY_B},k1:{DEV_CODEC_KEY}"),
        ("CODEC_SERVER_TOKEN", None),
        ("CODEC_SERVER_TOKEN", "dev-codec-token"),
        ("CODEC_STRICT", "false"),
    ],
)
def test_production_refuses_development_secrets_by_name(
    monkeypatch: pytest.MonkeyPatch, setting: str, value: str | None
) -> None:
    for name, v in PRODUCTION.items():
        monkeypatch.setenv(name, v)
    if value is None:
        monkeypatch.delenv(setting, raising=False)
    else:
        monkeypatch.setenv(setting, value)
    with pytest.raises(SettingsError, match=setting):
        load_settings()


def spaced(hex_key: str) -> str:
    """The same key written another way the code still reads: bytes apart, capitals."""
    return " ".join(hex_key[i : i + 2] for i in range(0, len(hex_key), 2)).upper()


@pytest.mark.parametrize(
    ("setting", "value", "says"),
    [
        ("CODEC_KEYS", f"k1:{spaced(DEV_CODEC_KEY)}", "public development key"),
        ("CODEC_KEYS", f"k1:{DEV_CODEC_KEY.upper()}", "public development key"),
        (
            "CREDENTIAL_KEYS",
            "k1:*:" + spaced(DEV_KEYS.rsplit(":", 1)[1]),
            "public development key",
        ),
        ("CREDENTIAL_KEYS", "k1:*:zz", "CREDENTIAL_KEYS"),
        ("FINGERPRINT_SECRET", "x", "too short"),
        ("FINGERPRINT_SECRET", "changeme" * 5, "too predictable"),
        ("CODEC_SERVER_TOKEN", "t" * 40, "too predictable"),
        ("CODEC_KEYS", "k1:" + "7a" * 32, "too regular"),
        ("CREDENTIAL_KEYS", "k1:*:" + "22" * 32, "too regular"),
    ],
)
def test_production_refuses_development_keys_however_written_and_weak_secrets(
    monkeypatch: pytest.MonkeyPatch, setting: str, value: str, says: str
) -> None:
    for name, v in PRODUCTION.items():
        monkeypatch.setenv(name, v)
    monkeypatch.setenv(setting, value)
    with pytest.raises(SettingsError, match=setting) as err:
        load_settings()
    assert says in str(err.value)


def test_production_refuses_a_weak_session_secret_or_signing_key() -> None:
    s = replace(settings(), seller_env="production", codec_server_token=vault("cli token"))
    env = {"CODEC_UI_ORIGINS": "https://temporal.example.com"}
    for secret, says in (("s" * 40, "too predictable"), ("short-secret", "too short")):
        with pytest.raises(SettingsError, match="CODEC_SESSION_SECRET") as err:
            load_access(s, env={**env, "CODEC_SESSION_SECRET": secret})
        assert says in str(err.value)
    env["CODEC_SESSION_SECRET"] = SESSION_SECRET
    with pytest.raises(SettingsError, match="CODEC_SIGNING_KEYS.*too regular"):
        load_access(s, env={**env, "CODEC_SIGNING_KEYS": "ops:operator:" + "ab" * 32})
    assert load_access(s, env={**env, "CODEC_SIGNING_KEYS": "ops:operator:" + vault("ops")}).signing_keys
    assert estimated_bits("x" * 40) == 0 and estimated_bits(vault("any")) > MIN_SECRET_BITS


def test_production_runs_strict_with_real_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, v in PRODUCTION.items():
        monkeypatch.setenv(name, v)
    s = load_settings()
    assert s.codec_strict and s.seller_env == "production"
    env = {"CODEC_UI_ORIGINS": "https://temporal.example.com"}
    with pytest.raises(SettingsError, match="CODEC_SESSION_SECRET"):
        load_access(s, env=env)
    env["CODEC_SESSION_SECRET"] = SESSION_SECRET
    assert load_access(s, env=env).operators == {}, "production has no built-in operator"
    dev_password = (
        f'{{"ops": {{"password": "{hash_password(DEV_OPERATOR_PASSWORD)}", "namespaces": ["default"]}}}}'
    )
    with pytest.raises(SettingsError, match="development password"):
        load_access(s, env={**env, "CODEC_OPERATORS": dev_password})
    with pytest.raises(SettingsError, match="CODEC_UI_ORIGINS"):
        load_access(s, env={**env, "CODEC_UI_ORIGINS": "*"})
    with pytest.raises(SettingsError, match="CODEC_UI_ORIGINS"):
        load_access(s, env={"CODEC_SESSION_SECRET": SESSION_SECRET})
    assert load_access(s, env=env).cookie_secure, "https cookies by default in production"


def strict_codec() -> EncryptionCodec:
    s = settings()
    return EncryptionCodec(s.codec_keys, s.codec_key_id, strict=True)


async def test_the_strict_codec_refuses_clear_payloads_without_logging_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    c = strict_codec()
    clear = DataConverter.default.payload_converter.to_payloads([{"ip": "203.0.113.9"}])
    sealed = await c.encode(clear)
    with caplog.at_level(logging.WARNING, logger="security.codec"):
        out = await c.decode([clear[0], sealed[0]])
    assert out[0].metadata["encoding"] == REFUSED_ENCODING and out[0].data == b""
    assert out[1] == clear[0], "encrypted payloads decode as before"
    assert c.refused_plaintext == 1
    assert "refused a payload in clear" in caplog.text and "203.0.113.9" not in caplog.text
    # Development (not strict) still reads them.
    lenient = EncryptionCodec(settings().codec_keys, settings().codec_key_id)
    assert (await lenient.decode(clear))[0] == clear[0]


async def test_a_strict_worker_drops_a_clear_signal_and_refuses_a_clear_update(
    time_env: WorkflowEnvironment,
) -> None:
    import dataclasses

    s = dataclasses.replace(settings(), codec_strict=True)
    # As a worker connects (seller_client): with the registry's per-account data keys.
    strict = Client(
        time_env.client.service_client,
        namespace=time_env.client.namespace,
        data_converter=seller_client.data_converter(s),
    )
    # A hand-typed command: no codec, the value in clear.
    clear = Client(time_env.client.service_client, namespace=time_env.client.namespace)
    async with new_worker(strict) as worker:
        account = await start_account(time_env, worker.task_queue, state="open")
        typed = clear.get_workflow_handle(account.id)
        await typed.signal(
            SellerAccount.report_violation,
            signed(
                account,
                SellerAccount.report_violation,
                ViolationInput(f"v-{hex_id(8)}", "trade", "ENF-2", points=48, severity="serious"),
            ),
        )
        with pytest.raises(WorkflowUpdateFailedError):
            await typed.execute_update("unbind_identity", {"reason": "x"}, id=update_id("unbind_identity"))
        status = await strict.get_workflow_handle(account.id).query(SellerAccount.status)
        assert status.state == "open", "the clear serious violation was not applied"
        # The same violation through the codec closes the store: the one above was refused, not lost.
        await strict.get_workflow_handle(account.id).signal(
            SellerAccount.report_violation,
            signed(
                account,
                SellerAccount.report_violation,
                ViolationInput(f"v-{hex_id(8)}", "trade", "ENF-2", points=48, severity="serious"),
            ),
        )
        for _ in range(100):
            status = await strict.get_workflow_handle(account.id).query(SellerAccount.status)
            if status.state != "open":
                break
            await asyncio.sleep(0.1)
        assert status.state == "closed"
        await finish(account)


async def test_a_payload_no_key_opens_is_refused_without_failing_a_workflow_task(
    time_env: WorkflowEnvironment, caplog: pytest.LogCaptureFixture
) -> None:
    """Sealed under a ring key the worker does not hold, under an account data key its registry never
    made, or tampered with on the way: no retry of the task can ever decode it, so the worker refuses it
    as it refuses a clear payload. Failing the task instead would wedge the account for good: whoever
    reaches the frontend could put any account out of enforcement's reach with one signal."""
    async with new_worker(time_env.client) as worker:
        account = await start_account(time_env, worker.task_queue, state="open")
        message = signed(
            account,
            SellerAccount.report_violation,
            ViolationInput(f"v-{hex_id(8)}", "trade", "ENF-2", points=48, severity="serious"),
        )
        stranger = EncryptionCodec({"stranger": bytes(32)}, "stranger")
        (foreign_ring,) = await stranger.encode(DataConverter.default.payload_converter.to_payloads([message]))
        (ours,) = await time_env.client.data_converter.encode([message])
        tampered = Payload(metadata=dict(ours.metadata), data=ours.data[:-1] + bytes([ours.data[-1] ^ 1]))
        unknown_scope = Payload(
            metadata={"encoding": ENCODING, KEY_ID: DATA_KEY_ID, DATA_KEY_SCOPE: b"seller-TNEVERMADE"},
            data=bytes(40),
        )
        raw = Client(time_env.client.service_client, namespace=time_env.client.namespace)
        typed = raw.get_workflow_handle(account.id)
        with caplog.at_level(logging.WARNING, logger="security.codec"):
            for payload in (foreign_ring, tampered, unknown_scope):
                await typed.signal("report_violation", RawValue(payload))
            with pytest.raises(WorkflowUpdateFailedError):  # refused, not waiting on a task that fails for good
                unbind = typed.execute_update("unbind_identity", RawValue(foreign_ring), id=update_id("unbind_identity"))
                await asyncio.wait_for(unbind, timeout=60)
            status = await account.query(SellerAccount.status)
        assert status.state == "open", "none of them was applied"
        assert caplog.text.count("refused a payload no key opens") >= 4
        assert "TNEVERMADE" not in caplog.text, "a scope names an account: never logged"
        # The account still answers to enforcement, and no workflow task failed on the way.
        await serious_violation_closes(account)
        assert await task_failures(account) == []
        await finish(account)
