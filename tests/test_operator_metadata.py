"""What operators read in the Web UI besides payloads, summaries and current details, is decryptable by
a signed-in operator and names the rule, the state and the member id, never identity data."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

import seller_client
from devtools.identity_factory import applicant
from models.contract import UnbindInput
from models.refusals import RefusedError
from seller_client import account
from tests.conftest import new_worker
from tests.support.accounts import finish
from workflows.registration import REGISTRATION_ID_PREFIX
from workflows.seller_account import SellerAccount


async def metadata_texts(env: WorkflowEnvironment, handle: WorkflowHandle) -> list[str]:
    """Every summary and details string in the history, decoded as the codec server decodes them."""
    payloads: list[Payload] = []
    async for event in handle.fetch_history_events():
        if event.HasField("user_metadata"):
            for p in (event.user_metadata.summary, event.user_metadata.details):
                if p.ByteSize():
                    payloads.append(p)
    texts = []
    for p in payloads:
        assert p.metadata["encoding"] == b"binary/encrypted", "summaries are encrypted like payloads"
        texts.append(str((await env.client.data_converter.decode([p]))[0]))
    return texts


async def test_summaries_and_details_name_rules_and_member_never_identity(
    dev_env: WorkflowEnvironment,
) -> None:
    client = dev_env.client
    async with new_worker(client) as worker:
        reg = applicant()
        member = (await seller_client.register(client, reg, task_queue=worker.task_queue)).member_id
        assert member
        await seller_client.login(client, member, channel="marketplace", ip="198.51.100.77")
        with pytest.raises(RefusedError):  # REG-8 always refuses: the refusal is what we want on record
            await seller_client.command(client, member, SellerAccount.unbind_identity, UnbindInput("moving"))
        handle = account(client, member)
        for _ in range(50):  # the login is applied by the run loop
            if (await handle.query(SellerAccount.status)).login_count >= 1:
                break
            await asyncio.sleep(0.1)
        registration = client.get_workflow_handle(f"{REGISTRATION_ID_PREFIX}{reg.request_id}")
        texts = await metadata_texts(dev_env, handle) + await metadata_texts(dev_env, registration)
        # The UI's "Current Details": the metadata query, through the codec like any payload.
        metadata = await handle.query("__temporal_workflow_metadata")
        details = str(metadata)
        texts.append(details)

        assert any("REG-8" in t for t in texts), texts
        assert any(member in t for t in texts), "the member id identifies the account"
        assert "waiting for" in details
        # Store name and member id are fine (public); contact, identity numbers and addresses are not.
        secrets = [reg.email, reg.mobile, reg.id_card_number, reg.licence_number, "198.51.100.77"]
        for text in texts:
            for secret in secrets:
                assert secret not in text, (
                    f"identity data {secret!r} in an operator-visible summary: {text!r}"
                )
        await finish(handle)
