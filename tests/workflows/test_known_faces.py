"""Known faces through the account workflow on the time-skipping server: one person authenticating
two main accounts ends with both linked and an ASSOC-2 case open on each; the same photo cannot
authenticate a second account. (The REG-9 sub-account exemption is tested on the activity,
tests/activities/known_faces/test_known_faces.py: a sub-account holds no email fingerprint, so today it never
gets the REG-6 code it needs before OPEN-1.)"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

import seller_client
from devtools.identity_factory import applicant
from devtools.smtp_sink import SmtpSink
from models.contract import RegistrationInput, VerifyEmailInput
from models.refusals import RefusedError
from tests.conftest import new_worker
from tests.support.accounts import audit_rows, finish, photo
from tests.support.polling import until
from workflows.seller_account import SellerAccount


async def verified(env: WorkflowEnvironment, tq: str, mailbox: SmtpSink, reg: RegistrationInput) -> str:
    result = await seller_client.register(env.client, reg, task_queue=tq)
    assert result.accepted and result.member_id, result
    code = await asyncio.to_thread(mailbox.latest_code, reg.email)
    await seller_client.command(
        env.client, result.member_id, SellerAccount.verify_email, VerifyEmailInput(code)
    )
    return result.member_id


async def test_one_person_two_accounts_are_linked_with_a_case_on_both(
    time_env: WorkflowEnvironment, mailbox: SmtpSink, tmp_path: Path
) -> None:
    client = time_env.client
    async with new_worker(client) as worker:
        tq = worker.task_queue
        regs = [applicant() for _ in range(3)]  # three ID cards, one man
        first, second, third = [await verified(time_env, tq, mailbox, reg) for reg in regs]
        handles = [seller_client.account(client, m) for m in (first, second, third)]
        try:
            alone = await seller_client.submit_photo(
                client, first, photo(tmp_path, "pass_obama", regs[0].id_card_number)
            )
            assert (alone.passed, alone.state) == (True, "authenticated"), alone.failures

            again = await seller_client.submit_photo(
                client, second, photo(tmp_path, "pass_obama2", regs[1].id_card_number)
            )
            assert again.passed and again.state == "suspended"
            on_second = await handles[1].query(SellerAccount.status)
            assert len(on_second.open_cases) == 1  # case ids are opaque: the same one must be on both
            case_id = on_second.open_cases[0]
            await until(
                handles[0],
                lambda s: s.open_cases == [case_id] and s.state == "suspended",
                "suspended by the case",
            )
            events = [(r.event, r.rule, r.reason) for r in audit_rows(f"seller-{second}")]
            assert ("identity_link", "ASSOC-2", "shared_face") in events

            # The first account's very photo, for a third account: refused, nothing linked.
            with pytest.raises(RefusedError) as reused:
                await seller_client.submit_photo(
                    client, third, photo(tmp_path, "pass_obama", regs[0].id_card_number)
                )
            assert (reused.value.refusal.rule, reused.value.refusal.code) == ("OPEN-1", "photo_reused")
            status = await handles[2].query(SellerAccount.status)
            assert status.state == "registered" and status.open_cases == []
            assert "photo_reused" in status.reasons[0]
            # No face template, distance or encoding in any audit detail.
            for member in (first, second, third):
                for row in audit_rows(f"seller-{member}"):
                    assert not any(k in ("template", "encoding", "distance") for k in row.detail)
        finally:
            await finish(*handles)
