"""Review items (issue 25) over simulated time on the real time-skipping server: an appeal waits as an
item, an operator claims and decides it, refusals are on the record, an overdue item escalates."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from sqlmodel import Session, select
from temporalio.testing import WorkflowEnvironment

from activities.storage.blobs import put_bytes
from activities.storage.db import engine
from models import metrics as m
from models.account_state import AccountInput, AccountState, ChartModel
from models.contract import AccountProfile, AppealDecisionInput, ChangeContactInput, PhotoSubmission
from models.review import (
    APPEAL,
    ASSOCIATION,
    CLAIMED,
    DECIDED,
    OPEN,
    PHOTO_REVIEW,
    ClaimReviewInput,
    DecideReviewInput,
    ReviewItem,
    association_of,
)
from models.tables import AccountLink
from tests.conftest import new_worker
from tests.support.accounts import (
    POLICY,
    appeal_for,
    audit_rows,
    finish,
    linked_pair_with_a_case,
    notices,
    photo,
    refused,
    registered_identity,
    start_account,
)
from tests.support.draws import hex_id
from tests.support.polling import eventually, until
from tests.support.prometheus import Sample, metered_client, scrape, total
from tests.support.registry_rows import registered_account
from tests.support.signing import admitted, member_of, update
from workflows import search_attributes as sa
from workflows.seller_account import SellerAccount


async def items(h) -> list[ReviewItem]:  # type: ignore[no-untyped-def]
    return (await h.query(SellerAccount.review_items)).items


async def test_an_appeal_is_an_item_an_operator_claims_and_decides(time_env: WorkflowEnvironment) -> None:
    async with new_worker(time_env.client) as worker:
        h, other, case_id = await linked_pair_with_a_case(time_env, worker.task_queue, state="open")
        appeal = appeal_for(case_id)
        await update(h, SellerAccount.appeal, appeal)
        (item,) = await items(h)
        assert (item.item_id, item.kind, item.rule, item.state) == (f"appeal-{case_id}", APPEAL, "ASSOC-5", OPEN)
        assert item.due_at - item.opened_at == timedelta(hours=POLICY.review.appeal_due_hours)
        assert [e.ref for e in item.evidence if e.kind == "invoice"] == appeal.invoice_refs
        letter_key = next(e.text_key for e in item.evidence if e.kind == "letter")
        assert (await h.query(SellerAccount.review_text, letter_key)).text == appeal.letter

        # The seller sees the appeal pending with the item's id and due time; the UI shows the same id.
        status = await h.query(SellerAccount.status)
        (pending,) = status.requirements.pending_review
        assert (pending.item_id, pending.due_at) == (item.item_id, item.due_at)
        described = await h.describe()
        assert described.typed_search_attributes.get(sa.REVIEW_KINDS) == [APPEAL]
        assert described.typed_search_attributes.get(sa.REVIEW_DUE_AT) == item.due_at
        # The Web UI's current details link the item (its id as the updates take it), and the case without `case-`.
        details = str(await h.query("__temporal_workflow_metadata"))
        assert f"review: [{item.item_id}]" in details and f"case-{case_id}" not in details

        # Refused decisions are on the record, naming the operator, the rule and the reason.
        assert await refused(
            update(h, SellerAccount.decide_review, DecideReviewInput(case_id, "approve", "", "ok"), operator="lin")
        ) == ("ENF-4", "no_such_item")
        claimed = await update(
            h, SellerAccount.claim_review, ClaimReviewInput(item.item_id, ""), operator="lin"
        )
        assert (claimed.state, claimed.claimed_by) == (CLAIMED, "lin")
        assert await refused(
            update(h, SellerAccount.decide_review, DecideReviewInput(item.item_id, "approve", "", "ok"), operator="wang")
        ) == ("ENF-4", "claimed_by_other")
        assert await refused(
            update(h, SellerAccount.decide_review, DecideReviewInput(item.item_id, "approve", "", " "), operator="lin")
        ) == ("ENF-4", "note_required")
        assert await refused(
            update(
                h,
                SellerAccount.decide_review,
                DecideReviewInput(item.item_id, "refuse", "", "forged", code="too_blurry"),
                operator="lin",
            )
        ) == ("ASSOC-5", "code_not_in_vocabulary")
        refusals = [(r.event, r.rule, r.reason, r.actor) for r in audit_rows(h.id) if r.event == "decide_review"]
        assert refusals == [
            ("decide_review", "ENF-4", "no_such_item", "operator:lin"),
            ("decide_review", "ENF-4", "claimed_by_other", "operator:wang"),
            ("decide_review", "ENF-4", "note_required", "operator:lin"),
            ("decide_review", "ASSOC-5", "code_not_in_vocabulary", "operator:lin"),
        ]

        decided = await update(
            h,
            SellerAccount.decide_review,
            DecideReviewInput(item.item_id, "approve", "lin", "invoices check out"),
            operator="lin",
        )
        assert (decided.state, decided.decision, decided.decided_by) == (DECIDED, "approve", "lin")
        assert [e.event for e in decided.history] == ["opened", "claimed", "decided: approve"]
        status = await until(h, lambda s: s.state == "open", "reinstated")
        assert status.requirements.pending_review == [] and status.open_cases == []
        rows = [(r.event, r.actor) for r in audit_rows(h.id) if r.event in ("appeal_approved", "review_decided")]
        assert rows == [("appeal_approved", "operator:lin"), ("review_decided", "operator:lin")]
        described = await h.describe()
        assert described.typed_search_attributes.get(sa.REVIEW_KINDS) == []
        assert await refused(
            update(h, SellerAccount.decide_review, DecideReviewInput(item.item_id, "approve", "", "again"), operator="lin")
        ) == ("ENF-4", "already_decided")
        await finish(h, other)


async def test_decide_appeal_still_decides_and_closes_the_item(time_env: WorkflowEnvironment) -> None:
    async with new_worker(time_env.client) as worker:
        h, other, case_id = await linked_pair_with_a_case(time_env, worker.task_queue, state="open")
        await update(h, SellerAccount.appeal, appeal_for(case_id))
        await update(h, SellerAccount.decide_appeal, AppealDecisionInput(case_id, True, "", "ok"), operator="lin")
        await until(h, lambda s: s.state == "open", "reinstated")
        (item,) = await items(h)
        assert (item.state, item.decision, item.decided_by) == (DECIDED, "approve", "lin")
        await finish(h, other)


async def test_an_overdue_item_escalates(time_env: WorkflowEnvironment) -> None:
    client, address = await metered_client(time_env)  # the worker exports its metrics (issue 31)
    async with new_worker(client) as worker:
        h, other, case_id = await linked_pair_with_a_case(time_env, worker.task_queue, state="open")
        await update(h, SellerAccount.appeal, appeal_for(case_id))
        await time_env.sleep(timedelta(hours=POLICY.review.appeal_due_hours + 1))
        found: list[ReviewItem] = await eventually(lambda: items(h), lambda i: i[0].escalated, "escalated")
        (item,) = found
        assert item.state == OPEN and item.history[-1].event == "escalated"
        overdue = [r for r in audit_rows(h.id) if r.event == "review_overdue"]
        assert [(r.rule, r.reason) for r in overdue] == [("ASSOC-5", APPEAL)]
        kinds = [n.kind for n in notices(member_of(h))]
        assert "review_overdue" in kinds
        described = await h.describe()
        assert described.typed_search_attributes.get(sa.REVIEW_OVERDUE) is True
        # Counted once each by the account's own meter: opened, then overdue, and still waiting.
        def counted(samples: list[Sample]) -> bool:
            return total(samples, m.REVIEWS_OVERDUE.exported) >= 1

        samples = await eventually(lambda: asyncio.to_thread(scrape, address), counted, "overdue counted")
        assert total(samples, m.REVIEWS_OPENED.exported, kind=APPEAL) == 1
        assert total(samples, m.REVIEWS_OVERDUE.exported, kind=APPEAL) == 1
        assert total(samples, m.REVIEWS_DECIDED.exported) == 0
        await finish(h, other)


async def test_after_three_refusals_for_one_reason_the_next_photo_goes_to_review(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    async with new_worker(time_env.client) as worker:
        now = await time_env.get_current_time()
        member_id = "T" + hex_id(15).upper()
        # As the registration leaves an account whose email is proved: its registry row and admission.
        registered_account(member_id, store_name="Test Store", at=now)
        h = await time_env.client.start_workflow(
            SellerAccount.run,
            admitted(
                AccountInput(
                    profile=AccountProfile(member_id=member_id, store_name="Test Store", region="CN"),
                    policy=POLICY,
                    registered_at=now,
                    state=AccountState(chart=ChartModel(), registered_at=now, last_login_at=now, email_verified=True),
                    max_run_days=100 * 365,
                )
            ),
            id=f"seller-{member_id}",
            task_queue=worker.task_queue,
        )
        blurred = PhotoSubmission(put_bytes(photo(tmp_path, "blurred").read_bytes()))
        for _ in range(POLICY.review.photo_refusals_before_review):
            assert await refused(update(h, SellerAccount.submit_authentication_photo, blurred)) == (
                "OPEN-1",
                "too_blurry",
            )
        sent = await update(h, SellerAccount.submit_authentication_photo, blurred)
        assert (sent.passed, sent.state) == (False, "registered") and sent.review_item_id
        (item,) = await items(h)
        assert item.kind == PHOTO_REVIEW and "too_blurry x3" in item.evidence[1].label
        status = await h.query(SellerAccount.status)
        assert [r.item_id for r in status.requirements.pending_review] == [item.item_id]
        assert status.requirements.errors == []

        # The operator refuses with a code of OPEN-1's vocabulary: the seller reads it as the check's own.
        await update(
            h,
            SellerAccount.decide_review,
            DecideReviewInput(item.item_id, "refuse", "", "still blurred", code="too_blurry"),
            operator="wang",
        )
        status = await h.query(SellerAccount.status)
        assert [(e.code, e.retryable) for e in status.requirements.errors] == [("too_blurry", True)]
        assert status.requirements.pending_review == []
        row = next(r for r in audit_rows(h.id) if r.event == "authentication_failed" and r.actor == "operator:wang")
        assert (row.rule, row.reason) == ("OPEN-1", "too_blurry")
        # A person has looked: the seller's next photos are the check's again.
        assert await refused(update(h, SellerAccount.submit_authentication_photo, blurred)) == ("OPEN-1", "too_blurry")
        await finish(h)


async def test_a_link_policy_asks_a_person_to_confirm_waits_as_an_association_item(
    time_env: WorkflowEnvironment,
) -> None:
    """ASSOC-2 with `confirm_causes`: a shared mobile suspends no one until an operator confirms the
    link (refuse, link_confirmed: ASSOC-4 on both stores) or dismisses it (approve: the registry
    forgets the link, both stores stay open)."""
    policy = replace(POLICY, association=replace(POLICY.association, confirm_causes=["shared_mobile"]))
    async with new_worker(time_env.client) as worker:
        pairs = []
        for _ in range(2):
            first = await start_account(time_env, worker.task_queue, state="open", policy=policy)
            second = await start_account(time_env, worker.task_queue, state="open", policy=policy)
            holder = registered_identity(member_of(first))
            registered_identity(member_of(second))
            change = ChangeContactInput("mobile", holder.mobile)
            assert await refused(update(second, SellerAccount.change_contact, change)) == (
                "ASSOC-2",
                "identity_in_use",
            )
            (item,) = await items(second)
            assert (item.kind, item.rule, item.state) == (ASSOCIATION, "ASSOC-2", OPEN)
            assert item.item_id == f"association-{member_of(first)}"
            assert association_of(item) == (member_of(first), "shared_mobile")
            status = await second.query(SellerAccount.status)
            assert (status.state, status.open_cases) == ("open", []), "nobody is suspended on an unconfirmed link"
            assert (await first.query(SellerAccount.status)).state == "open"
            pairs.append((first, second, item))

        # Confirmed: ASSOC-4 as if found automatically, a case on each store.
        first, second, item = pairs[0]
        await update(
            second,
            SellerAccount.decide_review,
            DecideReviewInput(item.item_id, "refuse", "", "same phone, same store address", code="link_confirmed"),
            operator="lin",
        )
        await until(second, lambda s: s.state == "suspended" and len(s.open_cases) == 1, "a case on this store")
        await until(first, lambda s: s.state == "suspended" and len(s.open_cases) == 1, "and on the other")
        (item,) = await items(second)
        assert (item.state, item.decision, item.decision_code) == (DECIDED, "refuse", "link_confirmed")

        # Dismissed: the link is cleared in the registry, nobody suspended, the decision audited.
        first, second, item = pairs[1]
        await update(
            second,
            SellerAccount.decide_review,
            DecideReviewInput(item.item_id, "approve", "", "a recycled number, different people"),
            operator="lin",
        )
        (item,) = await items(second)
        assert (item.state, item.decision) == (DECIDED, "approve")
        [dismissed] = [r for r in audit_rows(second.id) if r.event == "link_dismissed"]
        assert (dismissed.rule, dismissed.reason, dismissed.actor) == ("ASSOC-2", "shared_mobile", "operator:lin")
        with Session(engine()) as session:
            links = session.exec(
                select(AccountLink).where(
                    AccountLink.member_a == min(member_of(first), member_of(second)),
                    AccountLink.member_b == max(member_of(first), member_of(second)),
                )
            ).all()
        assert links and all(link.cleared_by == "operator:lin" for link in links)
        for h in (first, second):
            assert (await h.query(SellerAccount.status)).state == "open"
        await finish(*(h for pair in pairs for h in pair[:2]))
