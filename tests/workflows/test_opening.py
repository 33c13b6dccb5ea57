"""OPEN-2, OPEN-3, OPEN-4 end to end on the dev server with a real worker:
register -> authenticate -> exam (fail, wait, pass) -> 10 products -> open."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

import seller_client
from activities import admission
from activities.exam import answer_key, draw
from activities.storage.blobs import put_bytes
from devtools import photo_fixtures, product_fixtures
from devtools.identity_factory import applicant
from devtools.smtp_sink import SmtpSink
from models.contract import ExamAnswers, ExamStartInput, ProductRemoval, VerifyEmailInput
from models.policy import load_policy
from tests.conftest import new_worker
from tests.support.accounts import audited, refused
from workflows.seller_account import SellerAccount

RETAKE_SECONDS = 3
POLICY = load_policy()
POLICY = dataclasses.replace(
    POLICY, exam=dataclasses.replace(POLICY.exam, retake_delay_hours=RETAKE_SECONDS / 3600)
)




async def history_length(env: WorkflowEnvironment, member: str) -> int:
    """The history's length once the workflow is idle (no activity or task in flight)."""
    handle = seller_client.account(env.client, member)
    last = -1
    while True:
        n = len((await handle.fetch_history()).events)
        if n == last:
            return n
        last = n
        await asyncio.sleep(0.3)


def products(member: str, count: int, start: int) -> list:  # type: ignore[type-arg]
    out = []
    for k in range(count):
        n = start + k
        ref = put_bytes(product_fixtures.encode(product_fixtures.image(n)))
        out.append(product_fixtures.product(n, ref))
    return out


async def test_register_authenticate_exam_ten_products_open(
    dev_env: WorkflowEnvironment, mailbox: SmtpSink, tmp_path: Path
) -> None:
    client = dev_env.client
    async with new_worker(client) as worker:
        reg = applicant()
        # The policy is the worker's (it runs in this process), never the caller's: its short retake
        # delay is installed as the worker's setting for this registration (activities/admission.py).
        admission.install(POLICY)
        try:
            member = (await seller_client.register(client, reg, task_queue=worker.task_queue)).member_id
        finally:
            admission.install(None)
        assert member
        cmd = lambda update, arg: seller_client.command(client, member, update, arg)  # noqa: E731
        first_product = products(member, 1, 9_000_000)[0]

        # OPEN-4: nothing may be skipped; a refusal leaves the history untouched. (Measured once the
        # account has been admitted and has recorded its registration: its first tasks are done.)
        await audited(f"seller-{member}", "register")
        before = await history_length(dev_env, member)
        assert await refused(cmd(SellerAccount.start_exam, ExamStartInput())) == (
            "OPEN-4",
            "not_allowed_in_state",
        )
        assert await refused(cmd(SellerAccount.release_product, first_product)) == (
            "OPEN-4",
            "not_allowed_in_state",
        )
        assert await history_length(dev_env, member) == before

        code = await asyncio.to_thread(mailbox.latest_code, reg.email)
        await cmd(SellerAccount.verify_email, VerifyEmailInput(code))
        photo = tmp_path / "me.jpg"
        photo.write_bytes(photo_fixtures.jpeg_bytes(photo_fixtures.VARIANTS[0], reg.id_card_number))
        assert (await seller_client.submit_photo(client, member, photo)).state == "authenticated"
        assert await refused(cmd(SellerAccount.release_product, first_product)) == (
            "OPEN-4",
            "not_allowed_in_state",
        )

        # OPEN-2: fail, retake refused inside the delay, then pass.
        paper = await cmd(SellerAccount.start_exam, ExamStartInput())
        assert len(paper.questions) == POLICY.exam.questions_per_paper and paper.attempt == 1
        assert await cmd(SellerAccount.start_exam, ExamStartInput()) == paper  # the same paper until answered
        key = answer_key(draw(f"{member}:1", POLICY.exam.questions_per_paper, 1).paper)
        wrong = [(k + 1) % 4 for k in key]
        failed = await cmd(SellerAccount.submit_exam, ExamAnswers(paper.paper_id, wrong))
        assert (failed.passed, failed.score, failed.state) == (False, 0, "authenticated")
        assert await refused(cmd(SellerAccount.start_exam, ExamStartInput())) == ("OPEN-2", "retake_too_soon")
        await asyncio.sleep(RETAKE_SECONDS + 0.5)
        paper2 = await cmd(SellerAccount.start_exam, ExamStartInput())
        assert paper2.attempt == 2 and paper2.paper_id != paper.paper_id
        key2 = answer_key(draw(f"{member}:2", POLICY.exam.questions_per_paper, 2).paper)
        assert await refused(cmd(SellerAccount.submit_exam, ExamAnswers(paper2.paper_id, key2[:5]))) == (
            "OPEN-2",
            "answers_incomplete",
        )
        passed = await cmd(SellerAccount.submit_exam, ExamAnswers(paper2.paper_id, key2))
        assert (passed.passed, passed.score, passed.state) == (True, 100, "exam_passed")

        # OPEN-3: the tenth accepted product opens the store.
        items = [first_product, *products(member, 9, 9_500_000)]
        results = [await cmd(SellerAccount.release_product, p) for p in items]
        assert [r.accepted for r in results] == [True] * 10
        assert [r.state for r in results] == ["exam_passed"] * 9 + ["open"]
        status = await seller_client.status(client, member)
        assert (status.state, status.products_released) == ("open", 10)

        # Taking products down after opening does not close the store.
        for r in results[:3]:
            assert await cmd(SellerAccount.remove_product, ProductRemoval(r.product_id)) == "open"
        assert await refused(cmd(SellerAccount.remove_product, ProductRemoval(results[0].product_id))) == (
            "OPEN-3",
            "no_such_product",
        )
        assert (await seller_client.status(client, member)).state == "open"


async def test_sub_accounts_cannot_release_products(dev_env: WorkflowEnvironment) -> None:
    async with new_worker(dev_env.client) as worker:
        main = applicant()
        main_id = (await seller_client.register(dev_env.client, main, task_queue=worker.task_queue)).member_id
        sub = applicant(
            account_type="sub",
            main_member_id=main_id,
            licence_number=main.licence_number,
            id_card_number=main.id_card_number,
        )
        sub_id = (await seller_client.register(dev_env.client, sub, task_queue=worker.task_queue)).member_id
        assert sub_id
        product = products(sub_id, 1, 7_000_000)[0]
        call = seller_client.command(dev_env.client, sub_id, SellerAccount.release_product, product)
        assert await refused(call) == ("REG-9", "sub_account_cannot_sell")
