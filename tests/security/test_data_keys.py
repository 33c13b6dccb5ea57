"""Crypto-shredding (security/data_keys.py): an account's payloads decode while its data key lives and
never after it is destroyed; other accounts' payloads are untouched; rotating the key ring keeps every
data key usable. A real registry (SQLite here, PostgreSQL in the second pass) and real AES-GCM."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio.api.common.v1 import Payload
from temporalio.converter import ActivitySerializationContext, WorkflowSerializationContext

from activities.storage.db import engine
from models.account_state import AccountInput
from models.contract import AccountProfile, CommandResult
from models.data_keys import DataKey
from models.policy import load_policy
from security import data_keys
from security.codec import DATA_KEY_SCOPE, EncryptionCodec
from security.data_keys import DataKeyDestroyed, DataKeys
from security.personal_payloads import PersonalDataPayloadConverter
from tests.support.draws import hex_id

RING_1 = {"k1": bytes(range(32))}
RING_2 = {"k2": bytes(range(32, 64)), "k1": bytes(range(32))}


def codec(ring: dict[str, bytes], current: str, registry: Callable[[], Engine] = engine) -> EncryptionCodec:
    return EncryptionCodec(ring, current, data_keys=DataKeys(ring, current, registry))


def activity_of(workflow_id: str) -> ActivitySerializationContext:
    return ActivitySerializationContext(
        namespace="default",
        activity_id="1",
        activity_type="claim_identity",
        activity_task_queue="tq",
        workflow_id=workflow_id,
        workflow_type="SellerAccount",
        is_local=False,
    )


def workflow_of(workflow_id: str) -> WorkflowSerializationContext:
    return WorkflowSerializationContext(namespace="default", workflow_id=workflow_id)


def sealed(c: EncryptionCodec, context: Any, text: bytes) -> Payload:
    return asyncio.run(c.with_context(context).encode([Payload(metadata={"encoding": b"json/plain"}, data=text)]))[0]


def opened(c: EncryptionCodec, payload: Payload) -> bytes:
    return asyncio.run(c.decode([payload]))[0].data


def erase(*scopes: str) -> None:
    with Session(engine()) as session:
        assert data_keys.destroy(session, list(scopes), datetime.now(UTC)) == len(scopes)
        session.commit()


def test_a_destroyed_key_takes_its_accounts_payloads_and_only_those(data_dir: Any) -> None:
    erased, kept = f"seller-E{hex_id(15)}", f"seller-K{hex_id(15)}"
    c = codec(RING_1, "k1")
    old = sealed(c, activity_of(erased), b'{"id_card_number": "11010519491231002X"}')
    other = sealed(c, activity_of(kept), b'{"email": "kept@example.com"}')
    assert old.metadata[DATA_KEY_SCOPE] == erased.encode() and b"11010519491231002X" not in old.data
    assert opened(c, old) == b'{"id_card_number": "11010519491231002X"}'
    backup = Payload.FromString(old.SerializeToString())  # a copy kept elsewhere: history export, backup

    erase(erased)
    for reader in (c, codec(RING_1, "k1")):  # this codec, and a new process's
        with pytest.raises(DataKeyDestroyed):
            opened(reader, backup)
        assert opened(reader, other) == b'{"email": "kept@example.com"}'
    with Session(engine()) as session:
        row = session.get(DataKey, erased)
        assert row is not None and row.wrapped is None and row.destroyed_at is not None
    # What is still written for an erased account goes under the ring key; no new key is made for it.
    late = sealed(c, activity_of(erased), b"{}")
    assert DATA_KEY_SCOPE not in late.metadata and opened(c, late) == b"{}"


def test_rotating_the_key_ring_keeps_every_data_key(data_dir: Any) -> None:
    before, after = f"seller-R{hex_id(15)}", f"seller-S{hex_id(15)}"
    old = sealed(codec(RING_1, "k1"), activity_of(before), b"before rotation")
    rotated = codec(RING_2, "k2")
    assert opened(rotated, old) == b"before rotation"
    assert opened(rotated, sealed(rotated, activity_of(before), b"same key")) == b"same key"
    new = sealed(rotated, activity_of(after), b"after rotation")
    with Session(engine()) as session:
        assert [session.get(DataKey, s).ring_key_id for s in (before, after)] == ["k1", "k2"]  # type: ignore[union-attr]
    data_keys.forget([after])  # as in a process that has not seen the key yet
    with pytest.raises(ValueError, match="unknown ring key 'k2'"):  # the old ring cannot unwrap it
        opened(codec(RING_1, "k1"), new)


def test_account_activities_and_what_clients_send_go_under_account_keys_answers_under_the_ring(
    data_dir: Any,
) -> None:
    account = f"seller-W{hex_id(15)}"
    client = codec(RING_1, "k1")
    worker = client.for_workers()
    step = sealed(worker, activity_of(account), b'{"email": "w@example.com"}')
    sent = sealed(client, workflow_of(account), b'{"letter": "my store was never rented"}')  # an update's argument
    answer = sealed(worker, workflow_of(account), b'{"state": "registered"}')  # what the workflow answers
    assert step.metadata[DATA_KEY_SCOPE] == sent.metadata[DATA_KEY_SCOPE] == account.encode()
    assert DATA_KEY_SCOPE not in answer.metadata
    assert opened(worker, sent) == b'{"letter": "my store was never rented"}'
    assert opened(EncryptionCodec(RING_1, "k1"), answer) == b'{"state": "registered"}', "no registry needed"
    # Workflows of no account (the retention keeper) stay under the ring.
    assert DATA_KEY_SCOPE not in sealed(client, activity_of("retention-keeper"), b"{}").metadata
    assert DATA_KEY_SCOPE not in sealed(client, workflow_of("retention-keeper"), b"{}").metadata


def test_a_registry_outage_seals_under_the_ring_and_never_fails_the_encoding(tmp_path: Path) -> None:
    gone = create_engine(f"sqlite:///{tmp_path / 'no-such-folder' / 'seller.db'}")
    c = codec(RING_1, "k1", lambda: gone)
    payload = sealed(c, activity_of(f"seller-O{hex_id(15)}"), b'{"ip": "203.0.113.9"}')
    assert DATA_KEY_SCOPE not in payload.metadata and b"203.0.113.9" not in payload.data
    assert opened(c, payload) == b'{"ip": "203.0.113.9"}'


def test_what_a_worker_writes_goes_under_the_account_key_when_it_carries_personal_data(data_dir: Any) -> None:
    """The start input a registration writes for its account and the account's continue-as-new state
    (the converter marks them: security/personal_payloads.py) go under the account's key even from a
    worker's codec; its answers, in the same context, stay under the ring."""
    account = f"seller-P{hex_id(15)}"
    profile = AccountProfile(member_id=account.removeprefix("seller-"), store_name="Lin's Tea House", region="CN")
    start = AccountInput(profile=profile, policy=load_policy(), registered_at=datetime.now(UTC))
    answer = CommandResult(state="registered")
    marked, plain = PersonalDataPayloadConverter().to_payloads([start, answer])
    worker = codec(RING_1, "k1").for_workers().with_context(workflow_of(account))
    written, answered = asyncio.run(worker.encode([marked, plain]))
    assert written.metadata[DATA_KEY_SCOPE] == account.encode() and b"Lin's Tea House" not in written.data
    assert DATA_KEY_SCOPE not in answered.metadata
    ring_only = EncryptionCodec(RING_1, "k1")
    assert b"registered" in opened(ring_only, answered), "answers decode without the registry"
    assert b"Lin's Tea House" in opened(worker, written)
    erase(account)
    with pytest.raises(DataKeyDestroyed):
        opened(codec(RING_1, "k1"), written)
    # Workflows of no account keep even marked payloads under the ring (the retention keeper's).
    keeper = codec(RING_1, "k1").for_workers().with_context(workflow_of("retention-keeper"))
    assert DATA_KEY_SCOPE not in asyncio.run(keeper.encode([marked]))[0].metadata
