"""What a seller still has to do, as data: the `requirements` of the status query (README, "Requirements"),
on the real time-skipping test server."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.exam import answer_key, draw
from activities.storage.blobs import put_bytes
from models.contract import AppealInput, AssociationCaseInput, ExamAnswers, ExamStartInput
from models.policy import load_policy
from starter import requirements_text
from tests.conftest import new_worker
from tests.support.accounts import finish, start_account
from tests.support.polling import until
from tests.support.signing import signal, update
from workflows.seller_account import SellerAccount

POLICY = load_policy()


def names(items) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.requirement for r in items]


async def test_a_new_account_is_due_email_photo_and_a_login_and_the_photo_falls_past_due(
    time_env: WorkflowEnvironment,
) -> None:
    async with new_worker(time_env.client) as worker:
        handle = await start_account(time_env, worker.task_queue)
        registered = await time_env.get_current_time()
        fresh = (await handle.query(SellerAccount.status)).requirements
        # An account registered past its due date (no long skip: every account left anywhere in the
        # session would have to be served on the way).
        overdue = registered - timedelta(days=POLICY.authentication.due_days + 1)
        late_handle = await start_account(time_env, worker.task_queue, registered_at=overdue)
        late = (await late_handle.query(SellerAccount.status)).requirements
        await finish(handle, late_handle)

    assert names(fresh.currently_due) == ["email_verification", "authentication_photo", "login"]
    due = {r.requirement: r for r in fresh.currently_due}
    auth_due = registered + timedelta(days=POLICY.authentication.due_days)
    assert due["authentication_photo"].rule == "OPEN-1"
    assert due["authentication_photo"].due_at == pytest.approx(auth_due, abs=timedelta(seconds=5))
    reclaim = registered + timedelta(days=POLICY.dormancy.inactivity_days)
    assert due["login"].due_at == pytest.approx(reclaim, abs=timedelta(seconds=5)), "REG-4 reclaim date"
    assert fresh.past_due == [] and fresh.errors == [] and fresh.disabled_reason is None

    assert names(late.past_due) == ["email_verification", "authentication_photo"]
    assert names(late.currently_due) == ["login"]
    assert "past due: authentication_photo (OPEN-1)" in requirements_text(late)


async def test_a_failed_exam_is_an_error_with_its_code_until_a_pass_clears_it(
    time_env: WorkflowEnvironment,
) -> None:
    # No retake delay: the test is about the error, not the wait (OPEN-2's delay is tested elsewhere).
    no_wait = dataclasses.replace(POLICY, exam=dataclasses.replace(POLICY.exam, retake_delay_hours=0))
    async with new_worker(time_env.client) as worker:
        handle = await start_account(time_env, worker.task_queue, state="authenticated", policy=no_wait)
        member = (await handle.query(SellerAccount.status)).member_id
        paper = await update(handle, SellerAccount.start_exam, ExamStartInput())
        key = answer_key(draw(f"{member}:1", POLICY.exam.questions_per_paper, 1).paper)
        wrong = [(k + 1) % 4 for k in key]
        await update(handle, SellerAccount.submit_exam, ExamAnswers(paper.paper_id, wrong))
        failed = (await handle.query(SellerAccount.status)).requirements
        paper = await update(handle, SellerAccount.start_exam, ExamStartInput())
        key = answer_key(draw(f"{member}:2", POLICY.exam.questions_per_paper, 2).paper)
        await update(handle, SellerAccount.submit_exam, ExamAnswers(paper.paper_id, key))
        passed = (await handle.query(SellerAccount.status)).requirements
        await finish(handle)

    assert [(e.requirement, e.rule, e.code, e.retryable) for e in failed.errors] == [
        ("rules_exam", "OPEN-2", "exam_failed", True)
    ]
    assert names(failed.currently_due) == ["rules_exam"] and failed.currently_due[0].due_at is not None
    # (with no retake delay, the retake opens at once: its date is the failure's)
    assert passed.errors == []
    assert names(passed.currently_due) == ["products"]
    assert "10 more products" in passed.currently_due[0].description


async def test_an_open_case_is_an_appeal_due_then_under_review_and_says_why_the_store_is_disabled(
    time_env: WorkflowEnvironment,
) -> None:
    async with new_worker(time_env.client) as worker:
        handle = await start_account(time_env, worker.task_queue, state="open")
        await signal(
            handle,
            SellerAccount.open_case,
            AssociationCaseInput(
                case_id="case-requirements-1", cause="shared_mobile", linked_member_id="TOTHER"
            ),
            operator="ops",
        )
        status = await until(handle, lambda s: s.state == "suspended", "the case suspends the store")
        due = status.requirements
        invoice = put_bytes(b"%PDF-1.4 an invoice for the stock this store sells")
        appeal = AppealInput(
            case_id=status.open_cases[0],
            store_opening_info="Opened in 2026 to sell our own ceramics.",
            invoice_refs=[invoice],
            letter="These stores are not linked: the mobile number was recycled by the carrier.",
        )
        await update(handle, SellerAccount.appeal, appeal)
        review = (await handle.query(SellerAccount.status)).requirements
        await finish(handle)

    appeal_due = [r for r in due.currently_due if r.requirement == "appeal"]
    assert appeal_due and appeal_due[0].rule == "ASSOC-5" and appeal_due[0].due_at is not None
    disabled = due.disabled_reason
    assert disabled is not None and disabled.state == "suspended"
    assert disabled.case_ids == status.open_cases and disabled.until is None
    assert "appeal" not in names(review.currently_due)
    assert names(review.pending_review) == ["appeal"]
