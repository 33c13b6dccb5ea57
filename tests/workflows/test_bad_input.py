"""No input can wedge, break or stall an account (issue 13): the reproduced cases as named tests, on
the real time-skipping test server and the real registry (SQLite, and PostgreSQL in its pass)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.client import (
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateHandle,
    WorkflowUpdateStage,
)
from temporalio.testing import WorkflowEnvironment

import seller_client
from activities.storage.db import engine
from devtools.smtp_sink import SmtpSink
from models import limits
from models import metrics as m
from models.contract import (
    AppealDecisionInput,
    LoginInput,
    RegistrationInput,
    RequestCodeInput,
    RetryInput,
    VerifyEmailInput,
    ViolationInput,
)
from models.policy import StepsPolicy
from models.refusals import RefusedError
from models.review import ReviewItems
from models.tables import Account, AuditRecord, Notice
from tests.conftest import new_worker
from tests.support import signing
from tests.support.accounts import (
    POLICY,
    appeal_for,
    audit_rows,
    audited,
    finish,
    linked_pair_with_a_case,
    refused,
    serious_violation_closes,
    start_account,
    task_failures,
)
from tests.support.draws import hex_id
from tests.support.polling import eventually, until
from tests.support.prometheus import metered_client, scrape, total
from tests.support.registry_rows import registered_account
from workflows import search_attributes as sa
from workflows.registration import Registration
from workflows.seller_account import SellerAccount


def violation(**fields: Any) -> dict[str, Any]:
    return {"violation_id": hex_id(12), "category": "trade", "rule": "ENF-2", "points": 4} | fields


# ---------------------------------------------------------------- case 5: naive datetimes


async def test_case5_a_given_at_without_time_zone_is_audited_and_dropped(
    time_env: WorkflowEnvironment,
) -> None:
    async with new_worker(time_env.client) as worker:
        h = await start_account(time_env, worker.task_queue, state="open")
        await h.signal(
            "report_violation", signing.raw(h, "report_violation", violation(given_at="2026-11-01T00:00:00"))
        )
        [row] = await audited(h.id, "signal_refused")
        assert (row.rule, row.reason, row.detail["signal"]) == (
            "ENF-2",
            "given_at_naive_datetime",
            "report_violation",
        )
        status = await h.query(SellerAccount.status)
        assert (status.state, status.penalty_points["trade"]) == ("open", 0)
        # An aware time is taken, in any offset.
        await h.signal(
            "report_violation",
            signing.raw(h, "report_violation", violation(points=5, given_at="2026-11-01T08:00:00+08:00")),
        )
        await serious_violation_closes(h)
        assert await task_failures(h) == []
        await finish(h)


async def test_case5_the_python_facade_takes_a_naive_datetime_as_utc(time_env: WorkflowEnvironment) -> None:
    async with new_worker(time_env.client) as worker:
        h = await start_account(time_env, worker.task_queue, state="open")
        member_id = (await h.query(SellerAccount.status)).member_id
        # The ordinary datetime of the report, and a recent one (the test server's clock may be years on).
        await seller_client.report_violation(
            time_env.client,
            member_id,
            ViolationInput("v-nov", "trade", "ENF-2", 3, given_at=datetime(2026, 11, 1)),
        )
        recent = (await time_env.get_current_time()).astimezone(UTC).replace(tzinfo=None) - timedelta(days=1)
        await seller_client.report_violation(
            time_env.client, member_id, ViolationInput("v-recent", "trade", "ENF-2", 5, given_at=recent)
        )
        await audited(h.id, "violation", 2)
        assert [r.detail["violation_id"] for r in audit_rows(h.id) if r.event == "violation"] == [
            "v-nov",
            "v-recent",
        ]
        assert (await h.query(SellerAccount.status)).penalty_points["trade"] >= 5
        assert not [r for r in audit_rows(h.id) if r.event == "signal_refused"]
        await serious_violation_closes(h)
        assert await task_failures(h) == []
        await finish(h)


# ---------------------------------------------------------------- case 6: points beyond 64 bits


async def test_case6_points_of_2_to_the_63_are_refused_and_the_account_lives(
    time_env: WorkflowEnvironment,
) -> None:
    async with new_worker(time_env.client) as worker:
        h = await start_account(time_env, worker.task_queue, state="open")
        await h.signal("report_violation", signing.raw(h, "report_violation", violation(points=2**63)))
        await h.signal(
            "report_violation", signing.raw(h, "report_violation", violation(points=limits.POINTS_MAX + 1))
        )
        await h.signal("report_violation", signing.raw(h, "report_violation", violation(points=-1)))
        rows = await audited(h.id, "signal_refused", 3)
        assert {(r.rule, r.reason) for r in rows} == {("ENF-2", "points_out_of_range")}
        member_id = (await h.query(SellerAccount.status)).member_id
        with pytest.raises(RefusedError) as err:  # the facade refuses before sending
            await seller_client.report_violation(
                time_env.client, member_id, ViolationInput("big", "trade", "ENF-2", 2**63)
            )
        assert err.value.refusal.code == "points_out_of_range"
        await h.signal("report_violation", signing.raw(h, "report_violation", violation(points=7)))
        await until(h, lambda s: s.penalty_points["trade"] == 7, "a valid violation still counts")
        await serious_violation_closes(h)
        assert await task_failures(h) == []
        await finish(h)


# ---------------------------------------------------------------- case 7: values longer than their columns


def test_case7_declared_limits_are_the_columns_sizes() -> None:
    assert AuditRecord.model_fields["actor"].metadata[0].max_length == limits.ACTOR
    assert limits.OPERATOR_NAME + len(limits.OPERATOR_PREFIX) == limits.ACTOR
    assert len(limits.CASE_NOTICE_PREFIX) + limits.CASE_ID <= limits.NOTICE_KEY
    assert Account.model_fields["registration_id"].metadata[0].max_length == limits.REQUEST_ID
    assert AuditRecord.model_fields["rule"].metadata[0].max_length == limits.RULE
    assert Notice.model_fields["key"].metadata[0].max_length == limits.NOTICE_KEY


async def test_case7_a_58_character_operator_is_refused_and_55_is_stored(
    time_env: WorkflowEnvironment,
) -> None:
    async with new_worker(time_env.client) as worker:
        h, other, case_id = await linked_pair_with_a_case(time_env, worker.task_queue, state="open")
        await signing.update(h, SellerAccount.appeal, appeal_for(case_id))
        with pytest.raises(WorkflowUpdateFailedError) as err:
            await signing.update(
                h,
                SellerAccount.decide_appeal,
                AppealDecisionInput(case_id, True, "o" * 58),
                operator="o" * 58,
            )
        refusal = seller_client.as_refusal(err.value)
        assert refusal is not None and (refusal.rule, refusal.code) == ("ASSOC-5", "operator_too_long")
        longest = "p" * limits.OPERATOR_NAME
        await signing.update(
            h, SellerAccount.decide_appeal, AppealDecisionInput(case_id, True, longest), operator=longest
        )
        await until(h, lambda s: s.state == "open", "reinstated by the approval")
        [approved] = await audited(h.id, "appeal_approved")
        assert approved.actor == f"operator:{longest}"  # 64 characters, stored on PostgreSQL too
        assert await task_failures(h) == []
        await finish(h, other)


async def test_case7_long_rules_causes_and_case_ids_are_refused_at_the_boundary(
    time_env: WorkflowEnvironment,
) -> None:
    async with new_worker(time_env.client) as worker:
        h = await start_account(time_env, worker.task_queue, state="open")
        other = "T" + hex_id(15).upper()
        await h.signal(
            "report_violation", signing.raw(h, "report_violation", violation(rule="ENF-2-" + "X" * 11))
        )
        await h.signal(
            "open_case",
            signing.raw(
                h,
                "open_case",
                {"case_id": "c-" + "x" * 63, "cause": "duplicate_product", "linked_member_id": other},
            ),
        )
        await h.signal(
            "open_case",
            signing.raw(
                h,
                "open_case",
                {"case_id": "c-1", "cause": "c" * (limits.CAUSE + 1), "linked_member_id": other},
            ),
        )
        rows = await audited(h.id, "signal_refused", 3)
        assert sorted((r.rule, r.reason) for r in rows) == [
            ("ASSOC-4", "case_id_too_long"),
            ("ASSOC-4", "cause_too_long"),
            ("ENF-2", "rule_too_long"),
        ]
        # The longest case id allowed makes a notice key that fits its column.
        longest = "c" * limits.CASE_ID
        await h.signal(
            "open_case",
            signing.raw(
                h, "open_case", {"case_id": longest, "cause": "duplicate_product", "linked_member_id": other}
            ),
        )
        await until(h, lambda s: longest in s.open_cases, "the case with the longest id opened")
        await audited(h.id, "suspend")
        assert (await h.query(SellerAccount.status)).needs_attention == []
        await serious_violation_closes(h)
        assert await task_failures(h) == []
        await finish(h)


async def test_case7_a_long_registration_request_id_is_refused(time_env: WorkflowEnvironment) -> None:
    reg = RegistrationInput(
        request_id="r" * (limits.REQUEST_ID + 1),
        store_name="Long Id Store",
        email="long.id@example.com",
        mobile="+8613800000000",
        region="CN",
        licence_number="91350100M000100Y43",
        id_card_number="11010519491231002X",
    )
    with pytest.raises(RefusedError) as err:
        await seller_client.register(time_env.client, reg)
    assert (err.value.refusal.rule, err.value.refusal.code) == ("REG-7", "request_id_too_long")
    # The workflow refuses it too, for callers that start it without the facade.
    async with new_worker(time_env.client) as worker:
        result = await time_env.client.execute_workflow(
            Registration.run,
            args=[reg, None],
            id=f"registration-long-{hex_id(8)}",
            task_queue=worker.task_queue,
        )
    assert not result.accepted and result.refusal.code == "request_id_too_long"


# ---------------------------------------------------------------- case 8: payloads that do not decode


async def test_case8_signals_with_missing_fields_or_wrong_types_are_audited(
    time_env: WorkflowEnvironment,
) -> None:
    async with new_worker(time_env.client) as worker:
        h = await start_account(time_env, worker.task_queue, state="open")
        await h.signal("report_violation", signing.raw(h, "report_violation", {"violation_id": "v-missing"}))
        await h.signal("report_violation", signing.raw(h, "report_violation", violation(points="ten")))
        await h.signal("report_violation", "not an object")
        await h.signal("report_closure", args=[{"report_id": "r1"}, {"extra": 1}])
        # A login is a command (issue 24): as a signal it is set aside unread, never applied nor audited;
        # as the command, the same bad field is refused with its rule and code.
        await h.signal("login", signing.raw(h, "login", {"channel": "fax", "ip": "203.0.113.1"}))
        assert await refused(signing.login(h, LoginInput(channel="fax", ip="203.0.113.1"))) == (
            "REG-4",
            "channel_not_allowed",
        )
        await h.signal(
            "ban", signing.raw(h, "ban", {"origin_member_id": 7, "via_member_id": "M1", "origin_reason": "x"})
        )
        rows = await audited(h.id, "signal_refused", 5)
        assert sorted((r.detail["signal"], r.rule, r.reason) for r in rows) == [
            ("ban", "ENF-3", "origin_member_id_wrong_type"),
            ("report_closure", "REG-9", "wrong_arity"),
            ("report_violation", "ENF-2", "category_missing"),
            ("report_violation", "ENF-2", "not_an_object"),
            ("report_violation", "ENF-2", "points_wrong_type"),
        ]
        status = await h.query(SellerAccount.status)
        assert (status.state, status.login_count) == ("open", 0)
        await serious_violation_closes(h)
        assert await task_failures(h) == []
        await finish(h)


# ---------------------------------------------------------------- enforcement is never queued behind the seller


def registered_email(member_id: str, email: str) -> None:
    registered_account(member_id, store_name="Mail Store", email=email)


async def asks_for_a_mail_code(h: WorkflowHandle) -> tuple[str, WorkflowUpdateHandle[Any]]:
    """The seller, their email on the registry, asks for a mail code: the email and the accepted update."""
    member_id = (await h.query(SellerAccount.status)).member_id
    email = f"{member_id.lower()}@example.com"
    registered_email(member_id, email)
    pending = await h.start_update(
        SellerAccount.request_email_code,
        signing.signed(h, SellerAccount.request_email_code, RequestCodeInput(email)),
        id=signing.update_id("request_email_code"),
        wait_for_stage=WorkflowUpdateStage.ACCEPTED,
    )
    return email, pending


async def test_a_serious_violation_closes_an_account_whose_email_step_is_failing(
    time_env: WorkflowEnvironment, mailbox: SmtpSink
) -> None:
    async with new_worker(time_env.client) as worker:
        h = await start_account(time_env, worker.task_queue)
        mailbox.stop()  # SMTP refuses connections: the mail step retries
        try:
            _, pending = await asks_for_a_mail_code(h)
            await asyncio.sleep(1.5)  # the step has failed and is waiting for its next attempt
            # Other commands do not wait behind it (issue 18 #5): a wrong code is answered at once.
            with pytest.raises(WorkflowUpdateFailedError) as wrong:
                await asyncio.wait_for(
                    signing.update(h, SellerAccount.verify_email, VerifyEmailInput("000000")), 10
                )
            assert seller_client.as_refusal(wrong.value) is not None
            # Logins, violations and a serious violation go on meanwhile.
            await signing.signal(h, SellerAccount.login, seller_client.boundary.check(_login()))
            await until(h, lambda s: s.login_count == 1, "the login applied")
            await serious_violation_closes(h)
            with pytest.raises(WorkflowUpdateFailedError) as err:
                await pending.result()
            refusal = seller_client.as_refusal(err.value)
            assert refusal is not None and refusal.code == "account_closed"
        finally:
            mailbox.start()
        assert await task_failures(h) == []
        await finish(h)


def _login() -> Any:
    from models.contract import LoginInput

    return LoginInput("marketplace", "198.51.100.20")


async def test_a_step_out_of_retries_needs_attention_and_the_next_attempt_clears_it(
    time_env: WorkflowEnvironment, mailbox: SmtpSink
) -> None:
    # A short retry budget, so the test server's clock need not wait out the production one.
    policy = dataclasses.replace(POLICY, steps=StepsPolicy(retry_budget_seconds=6, max_attempts=4))
    async with new_worker(time_env.client) as worker:
        h = await start_account(time_env, worker.task_queue, policy=policy)
        mailbox.stop()
        try:
            email, pending = await asks_for_a_mail_code(h)
            with pytest.raises(WorkflowUpdateFailedError) as err:
                await pending.result()  # the test server skips the backoff until the budget runs out
        finally:
            mailbox.start()
        refusal = seller_client.as_refusal(err.value)
        assert refusal is not None and (refusal.rule, refusal.code) == ("REG-6", "step_unavailable")
        status = await until(h, lambda s: bool(s.needs_attention), "needs attention")
        assert status.needs_attention[0].startswith("REG-6 mail code:") and status.state == "registered"
        [row] = await audited(h.id, "needs_attention")
        assert (row.rule, row.reason, row.detail["step"]) == ("ENF-4", "retries_exhausted", "REG-6 mail code")
        desc = await h.describe()
        assert desc.typed_search_attributes.get(seller_client_sa().NEEDS_ATTENTION) is True
        # It waits in the review queue as an item (issue 25)...
        found: ReviewItems = await eventually(
            lambda: h.query(SellerAccount.review_items), lambda r: bool(r.items), "an item"
        )
        (item,) = found.items
        assert (item.kind, item.rule, item.state) == ("needs_attention", "ENF-4", "open")
        assert [e.label for e in item.evidence if e.kind == "step"] == ["REG-6 mail code"]
        # The seller's next attempt succeeds and clears it; the operator's retry has nothing left to do.
        assert (
            await signing.update(h, SellerAccount.request_email_code, RequestCodeInput(email)) == "registered"
        )
        assert (await h.query(SellerAccount.status)).needs_attention == []
        # ...which closes by itself once the step succeeded.
        (item,) = (await h.query(SellerAccount.review_items)).items
        assert (item.state, item.decision) == ("decided", "resolved")
        assert (await h.describe()).typed_search_attributes.get(seller_client_sa().NEEDS_ATTENTION) is False
        result = await signing.update(h, SellerAccount.retry, RetryInput("ops"), operator="ops")
        assert (result.retried, result.still_failing) == (0, [])
        await serious_violation_closes(h)
        assert await task_failures(h) == []
        await finish(h)


def seller_client_sa() -> Any:
    from workflows import search_attributes

    return search_attributes


@contextlib.contextmanager
def audit_log_locked() -> Iterator[None]:
    """Another writer holds the audit table: the account's audit writes fail (infrastructure trouble)."""
    conn = engine().raw_connection()
    try:
        cur = conn.cursor()
        if engine().dialect.name == "postgresql":
            cur.execute("LOCK TABLE auditrecord IN ACCESS EXCLUSIVE MODE")
        else:
            cur.execute("BEGIN EXCLUSIVE")
        yield
    finally:
        conn.rollback()
        conn.close()


async def test_audit_rows_that_cannot_be_written_wait_for_the_operators_retry(
    time_env: WorkflowEnvironment,
) -> None:
    policy = dataclasses.replace(POLICY, steps=StepsPolicy(retry_budget_seconds=4, max_attempts=3))
    client, address = await metered_client(time_env)  # the worker exports its metrics (issue 31)
    async with new_worker(client) as worker:
        h = await start_account(time_env, worker.task_queue, state="open", policy=policy)
        with audit_log_locked():
            await signing.signal(
                h,
                SellerAccount.report_violation,
                ViolationInput("l-locked", "listing", "ENF-2", 2),
                service="qa",
            )
            status = await until(h, lambda s: bool(s.needs_attention), "the unwritten audit row noticed")
            assert status.penalty_points["listing"] == 2, "the decision stands; only its record waits"
            assert any("waiting to be written again" in line for line in status.needs_attention)
            desc = await h.describe()
            assert desc.typed_search_attributes.get(sa.NEEDS_ATTENTION) is True
        result = await signing.update(h, SellerAccount.retry, RetryInput("ops"), operator="ops")
        assert (result.retried, result.still_failing) == (1, [])
        rows = [r for r in audit_rows(h.id) if r.event == "violation"]
        assert [(r.detail["violation_id"], r.reason) for r in rows] == [("l-locked", "listing_points")]
        assert (await h.query(SellerAccount.status)).needs_attention == []
        assert (await h.describe()).typed_search_attributes.get(sa.NEEDS_ATTENTION) is False
        [retry] = await audited(h.id, "retry")
        assert retry.actor == "operator:ops"
        # The outbox's depth from its counters (issue 31): one audit row queued, one taken out again.
        samples = await asyncio.to_thread(scrape, address)
        assert total(samples, m.OUTBOX_QUEUED.exported, effect="audit") == 1
        assert total(samples, m.OUTBOX_QUEUED.exported) == total(samples, m.OUTBOX_RETRIED.exported) == 1
        await serious_violation_closes(h)
        assert await task_failures(h) == []
        await finish(h)
