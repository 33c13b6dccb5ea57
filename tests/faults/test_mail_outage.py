"""Issue 32, fault 2 (and issue 29, "nothing fails silently"): a registration during a mail outage
longer than the registration's own quick tries (about 3 s) answers at once that the code is on its
way; the account keeps mailing the same code through the outage (up to 15 minutes), shows it in
`status().requirements.errors` meanwhile, and clears it once mailed; the code then verifies."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from datetime import timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

import seller_client
from devtools.identity_factory import applicant
from devtools.smtp_sink import SmtpSink, free_port
from models.contract import RequestCodeInput, VerifyEmailInput
from models.settings import settings
from tests.conftest import new_worker
from tests.faults.processes import WorkerProcess
from tests.faults.test_faults import address, record
from tests.support.accounts import finish
from tests.support.draws import hex_id
from workflows.seller_account import SellerAccount

OUTAGE_SECONDS = 20  # the chaos run's outage; the registration's own tries take about 3 s


async def test_registration_mail_waits_out_an_smtp_outage(dev_env: WorkflowEnvironment) -> None:
    tq = f"faults-{hex_id()}"
    port = free_port()  # nothing listens: SMTP is down
    reg = applicant()
    async with WorkerProcess(address(dev_env), tq, env={"SMTP_PORT": str(port)}) as worker:
        down_since = time.monotonic()
        result = await seller_client.register(dev_env.client, reg, task_queue=tq)
        assert result.accepted and result.member_id, worker.stderr()
        member = result.member_id
        # Said in the answer, and in the account's requirements while the mail waits.
        assert result.mail_error is not None
        assert (result.mail_error.rule, result.mail_error.code, result.mail_error.retryable) == (
            "REG-6",
            "code_on_its_way",
            True,
        )
        status = await seller_client.status(dev_env.client, member)
        errors = [(e.requirement, e.code, e.retryable) for e in status.requirements.errors]
        assert errors == [("email_verification", "code_on_its_way", True)]
        await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_since)))
        with SmtpSink(port=port) as sink:
            start = time.monotonic()
            message = await asyncio.to_thread(sink.wait_for, reg.email, timeout=90)
            record(
                f"SMTP down {OUTAGE_SECONDS} s at registration (code mailed)",
                round(time.monotonic() - start, 1),
            )
            assert message is not None
            code = sink.latest_code(reg.email)
            for _ in range(50):  # the account records the mailing right after the activity answers
                status = await seller_client.status(dev_env.client, member)
                if not status.requirements.errors:
                    break
                await asyncio.sleep(0.1)
            assert status.requirements.errors == []
            state = await seller_client.command(
                dev_env.client, member, SellerAccount.verify_email, VerifyEmailInput(code)
            )
            assert state == "registered"
            assert len(sink.messages(reg.email)) == 1


async def test_a_mail_outage_past_its_patience_says_so_and_a_new_code_can_be_asked(
    time_env: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch, mailbox: SmtpSink
) -> None:
    """SMTP down for longer than the 15 minutes (on the time-skipping server): the account's error
    becomes `mail_unavailable`; the seller asks for a new code once SMTP is back, and it verifies."""
    import activities.email_verification as mail

    working = settings()
    monkeypatch.setattr(mail, "settings", lambda: dataclasses.replace(working, smtp_port=free_port()))
    async with new_worker(time_env.client) as worker:
        reg = applicant()
        result = await seller_client.register(time_env.client, reg, task_queue=worker.task_queue)
        assert result.accepted and result.member_id and result.mail_error is not None
        member = result.member_id
        await time_env.sleep(timedelta(minutes=16))
        status = await seller_client.status(time_env.client, member)
        errors = [(e.requirement, e.code, e.retryable) for e in status.requirements.errors]
        assert errors == [("email_verification", "mail_unavailable", True)]
        assert mailbox.messages(reg.email) == []
        monkeypatch.setattr(mail, "settings", lambda: working)  # SMTP is back
        await seller_client.command(
            time_env.client, member, SellerAccount.request_email_code, RequestCodeInput(reg.email)
        )
        assert (await seller_client.status(time_env.client, member)).requirements.errors == []
        code = await asyncio.to_thread(mailbox.latest_code, reg.email)
        state = await seller_client.command(
            time_env.client, member, SellerAccount.verify_email, VerifyEmailInput(code)
        )
        assert state == "registered"
        await finish(seller_client.account(time_env.client, member))
