"""OPEN-1 and REG-8 through the account workflow, on the dev server with a real worker."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

import seller_client
from devtools import photo_fixtures
from devtools.identity_factory import applicant
from devtools.smtp_sink import SmtpSink
from models.contract import UnbindInput, VerifyEmailInput
from models.refusals import RefusedError
from tests.conftest import new_worker
from tests.support.accounts import audit_rows, photo
from workflows.seller_account import SellerAccount


async def registered_and_verified(env: WorkflowEnvironment, tq: str, mailbox: SmtpSink) -> str:
    reg = applicant()
    result = await seller_client.register(env.client, reg, task_queue=tq)
    assert result.accepted
    code = await asyncio.to_thread(mailbox.latest_code, reg.email)
    await seller_client.command(
        env.client, result.member_id, SellerAccount.verify_email, VerifyEmailInput(code)
    )  # type: ignore[arg-type]
    return result.member_id  # type: ignore[return-value]


async def test_photo_authentication_fails_retries_then_binds_for_good(
    dev_env: WorkflowEnvironment, mailbox: SmtpSink, tmp_path: Path
) -> None:
    client = dev_env.client
    async with new_worker(client) as worker:
        reg = applicant()
        result = await seller_client.register(client, reg, task_queue=worker.task_queue)
        member = result.member_id
        assert member
        with pytest.raises(RefusedError) as refused:
            await seller_client.submit_photo(
                client, member, photo(tmp_path, "pass_obama", reg.id_card_number)
            )
        assert (refused.value.refusal.rule, refused.value.refusal.code) == ("REG-6", "email_not_verified")

        code = await asyncio.to_thread(mailbox.latest_code, reg.email)
        await seller_client.command(client, member, SellerAccount.verify_email, VerifyEmailInput(code))

        with pytest.raises(RefusedError) as refused:  # a failed photo is a refusal (RuleRefusal)
            await seller_client.submit_photo(
                client, member, photo(tmp_path, "other_portrait", reg.id_card_number)
            )
        assert (refused.value.refusal.rule, refused.value.refusal.code) == ("OPEN-1", "face_mismatch")
        status = await seller_client.status(client, member)
        assert status.state == "registered" and "face_mismatch" in status.reasons[0]

        bomb = tmp_path / "bomb.png"
        bomb.write_bytes(photo_fixtures.png_bomb())
        with pytest.raises(RefusedError) as refused:
            await seller_client.submit_photo(client, member, bomb)
        assert refused.value.refusal.code == "decompression_bomb"
        huge = tmp_path / "huge.jpg"
        huge.write_bytes(b"\xff\xd8" + bytes(60_000_000))
        with pytest.raises(RefusedError) as refused:
            await seller_client.submit_photo(client, member, huge)
        assert refused.value.refusal.code == "file_too_large"
        assert (await seller_client.status(client, member)).state == "registered"  # alive, nothing lost

        passed = await seller_client.submit_photo(
            client, member, photo(tmp_path, "pass_obama", reg.id_card_number)
        )
        assert (passed.passed, passed.state) == (True, "authenticated")
        assert (await seller_client.status(client, member)).reasons == []

        with pytest.raises(RefusedError) as refused:
            await seller_client.command(
                client, member, SellerAccount.unbind_identity, UnbindInput("sold the shop")
            )
        assert (refused.value.refusal.rule, refused.value.refusal.code) == ("REG-8", "unbind_not_allowed")
        with pytest.raises(RefusedError) as refused:
            await seller_client.submit_photo(
                client, member, photo(tmp_path, "pass_obama", reg.id_card_number)
            )
        assert (refused.value.refusal.rule, refused.value.refusal.code) == ("OPEN-4", "not_allowed_in_state")

        events = [(r.event, r.rule, r.reason) for r in audit_rows(f"seller-{member}")]
        assert ("authentication_failed", "OPEN-1", "face_mismatch") in events
        assert ("authentication_failed", "OPEN-1", "decompression_bomb") in events
        assert ("authenticate", "OPEN-1", "photo_authenticated") in events
        assert events[-1] == ("unbind_identity", "REG-8", "unbind_not_allowed")


async def test_unbind_is_refused_before_authentication_too(
    dev_env: WorkflowEnvironment, mailbox: SmtpSink
) -> None:
    async with new_worker(dev_env.client) as worker:
        member = await registered_and_verified(dev_env, worker.task_queue, mailbox)
        with pytest.raises(RefusedError) as refused:
            await seller_client.command(dev_env.client, member, SellerAccount.unbind_identity, UnbindInput())
        assert (refused.value.refusal.rule, refused.value.refusal.code) == ("REG-8", "unbind_not_allowed")
        assert (await seller_client.status(dev_env.client, member)).state == "registered"


async def test_the_card_must_carry_the_registered_id_number(
    dev_env: WorkflowEnvironment, mailbox: SmtpSink, tmp_path: Path
) -> None:
    """OPEN-1 reads the card: a card printing another valid ID number is someone else's card (final);
    the applicant's own card then passes."""
    from devtools.identity_factory import id_card_number

    client = dev_env.client
    async with new_worker(client) as worker:
        reg = applicant()
        result = await seller_client.register(client, reg, task_queue=worker.task_queue)
        member = result.member_id
        assert member
        code = await asyncio.to_thread(mailbox.latest_code, reg.email)
        await seller_client.command(client, member, SellerAccount.verify_email, VerifyEmailInput(code))

        someone_else = id_card_number(int(reg.id_card_number[14:17]) + 1)  # valid, and not the applicant's
        assert someone_else != reg.id_card_number
        with pytest.raises(RefusedError) as refused:
            await seller_client.submit_photo(client, member, photo(tmp_path, "pass_biden", someone_else))
        refusal = refused.value.refusal
        assert (refusal.rule, refusal.code, refusal.retryable) == ("OPEN-1", "id_number_mismatch", False)
        status = await seller_client.status(client, member)
        assert status.state == "registered" and "id_number_mismatch" in status.reasons[0]

        passed = await seller_client.submit_photo(
            client, member, photo(tmp_path, "pass_obama", reg.id_card_number)
        )
        assert (passed.passed, passed.state) == (True, "authenticated"), passed.failures
        events = [(r.event, r.rule, r.reason) for r in audit_rows(f"seller-{member}")]
        assert ("authentication_failed", "OPEN-1", "id_number_mismatch") in events
        # The number read is never in the audit trail, in clear or otherwise.
        for row in audit_rows(f"seller-{member}"):
            assert reg.id_card_number not in str(row.detail) and someone_else not in str(row.detail)
