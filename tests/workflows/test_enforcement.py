"""ENF-1..4, REG-9, REG-10, ASSOC-4/5 over simulated time on the real time-skipping test server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select
from temporalio.testing import WorkflowEnvironment

from activities.identity_registry import link_accounts
from activities.storage.db import engine
from models.contract import (
    AppealDecisionInput,
    AssociationCaseInput,
    ClosureReport,
    LoginInput,
)
from models.tables import BarredFingerprint
from tests.conftest import new_worker
from tests.support.accounts import (
    POLICY,
    appeal_for,
    audit_rows,
    closes,
    finish,
    linked_pair_with_a_case,
    open_case,
    refused,
    registered_identity,
    report_violation,
    start_account,
)
from tests.support.draws import hex_id
from tests.support.polling import eventually, until
from tests.support.signing import signal, update
from workflows.seller_account import SellerAccount

DAY = timedelta(days=1)










def barred_kinds(member_id: str) -> set[str]:
    with Session(engine()) as session:
        rows = session.exec(select(BarredFingerprint).where(BarredFingerprint.origin_member_id == member_id))
        return {b.kind for b in rows}


async def test_trade_points_expire_on_a_rolling_year(time_env: WorkflowEnvironment) -> None:
    async with new_worker(time_env.client) as worker:
        h = await start_account(time_env, worker.task_queue, state="open")
        await report_violation(h, "t1", "trade", 20)
        await report_violation(h, "t1", "trade", 20)  # the same violation reported twice counts once
        await until(h, lambda s: s.penalty_points["trade"] == 20, "20 trade points")
        await time_env.sleep(100 * DAY)
        await signal(h, SellerAccount.login, LoginInput("marketplace", "192.0.2.1"))
        await report_violation(h, "t2", "trade", 20)
        await until(h, lambda s: s.penalty_points["trade"] == 40, "40 points")
        await time_env.sleep(267 * DAY)  # day 367: t1 (day 0) is more than 365 days old
        await signal(h, SellerAccount.login, LoginInput("marketplace", "192.0.2.1"))
        await report_violation(h, "t3", "trade", 20)
        status = await until(h, lambda s: "t3" in str(audit_rows(h.id)[-1].detail), "t3 applied")
        assert (status.state, status.penalty_points["trade"]) == ("open", 40), "t1 expired: 40, not 60"
        await report_violation(h, "t4", "trade", 8)
        status = await until(h, lambda s: s.state == "closed", "closed at 48")
        assert status.closed_reason == "trade_points_48"
        assert [(r.rule, r.reason) for r in await closes(h.id)] == [("ENF-2", "trade_points_48")]
        await finish(h)


async def test_listing_points_freeze_seven_days_and_the_freeze_lifts_itself(
    time_env: WorkflowEnvironment,
) -> None:
    async with new_worker(time_env.client) as worker:
        h = await start_account(time_env, worker.task_queue, state="open")
        await report_violation(h, "l1", "listing", 6)
        await report_violation(h, "l2", "listing", 6)
        status = await until(h, lambda s: s.state == "suspended", "frozen at 12")
        assert (status.resume_state, status.holds) == ("open", ["freeze-l2"])
        await time_env.sleep(6 * DAY)
        assert (await h.query(SellerAccount.status)).state == "suspended"
        await time_env.sleep(1 * DAY + timedelta(hours=1))
        status = await until(h, lambda s: s.state == "open", "reinstated after 7 days")
        assert status.holds == [] and status.penalty_points["listing"] == 12
        await report_violation(h, "l3", "listing", 5)
        await until(h, lambda s: s.penalty_points["listing"] == 17, "17 points")
        assert (await h.query(SellerAccount.status)).state == "open", "no freeze between multiples of 12"
        await report_violation(h, "l4", "listing", 7)
        await until(h, lambda s: s.state == "suspended", "frozen again at 24")
        # The listing ledger never closes the account, however many points.
        for i in range(10):
            await report_violation(h, f"lx{i}", "listing", 12)
        status = await until(h, lambda s: s.penalty_points["listing"] == 144, "144 points")
        assert status.state == "suspended"
        events = [(r.event, r.rule, r.reason) for r in audit_rows(h.id)]
        assert ("reinstate", "ENF-2", "freeze_lifted") in events
        await finish(h)


async def test_ip_strikes_freeze_one_day_then_seven_then_close_and_bar(time_env: WorkflowEnvironment) -> None:
    async with new_worker(time_env.client) as worker:
        h = await start_account(time_env, worker.task_queue, state="open")
        member = (await h.query(SellerAccount.status)).member_id
        registered_identity(member)
        await report_violation(h, "s1", "ip_strike")
        status = await until(h, lambda s: s.state == "suspended", "first strike freeze")
        await time_env.sleep(DAY + timedelta(minutes=5))
        await until(h, lambda s: s.state == "open", "1-day freeze lifted")
        await report_violation(h, "s2", "ip_strike")
        await until(h, lambda s: s.state == "suspended", "second strike freeze")
        await time_env.sleep(3 * DAY)
        assert (await h.query(SellerAccount.status)).state == "suspended", "the second strike freezes 7 days"
        await time_env.sleep(4 * DAY + timedelta(minutes=5))
        await until(h, lambda s: s.state == "open", "7-day freeze lifted")
        await report_violation(h, "s3", "ip_strike")
        status = await until(h, lambda s: s.state == "closed", "third strike closes")
        assert status.closed_reason == "third_strike"
        # REG-5: a serious closure bars the identity (an activity, right after the transition)
        await eventually(lambda: barred_kinds(member), lambda kinds: kinds == {"id_card", "mobile"}, "barred")
        await finish(h)
    assert status is not None


async def test_serious_violation_cascades_along_a_chain_and_a_cycle_once_each(
    time_env: WorkflowEnvironment,
) -> None:
    now = datetime.now(UTC)
    async with new_worker(time_env.client) as worker:
        handles = [await start_account(time_env, worker.task_queue, state="open") for _ in range(5)]
        a, b, c, d, e = [(await h.query(SellerAccount.status)).member_id for h in handles]
        with Session(engine()) as session:
            # A-B-C-D in a chain, D-A closing a cycle, and E linked to nobody.
            for x, y in ((a, b), (b, c), (c, d), (d, a)):
                link_accounts(
                    session, x, y, rule="ASSOC-3", reason="duplicate_product", evidence="test", at=now
                )
        await report_violation(handles[0], "serious-1", "ip", severity="serious", rule="ENF-1")
        await report_violation(handles[0], "serious-1", "ip", severity="serious", rule="ENF-1")
        for h in handles[:4]:
            await until(h, lambda s: s.state == "closed", "closed")
        await asyncio.sleep(0.5)  # let any late duplicate ban arrive
        assert [(r.rule, r.reason) for r in await closes(handles[0].id)] == [("ENF-1", "serious_violation")]
        for h in handles[1:4]:
            rows = await closes(h.id)
            assert len(rows) == 1, f"{h.id} banned {len(rows)} times"
            assert (rows[0].rule, rows[0].reason, rows[0].detail["origin_member_id"]) == (
                "ENF-3",
                "linked_ban",
                a,
            )
        assert (await handles[4].query(SellerAccount.status)).state == "open"
        assert e not in {r.detail.get("target_member_id") for h in handles for r in audit_rows(h.id)}
        await finish(*handles)








async def test_appeal_approved_returns_the_store_and_clears_the_link(time_env: WorkflowEnvironment) -> None:
    async with new_worker(time_env.client) as worker:
        h, other, case_id = await linked_pair_with_a_case(time_env, worker.task_queue, state="ten_products")
        await update(h, SellerAccount.appeal, appeal_for(case_id))
        assert await refused(update(h, SellerAccount.appeal, appeal_for(case_id))) == ("ASSOC-5", "already_appealed")
        assert await refused(update(
            h, SellerAccount.decide_appeal, AppealDecisionInput(case_id, True, "wang"), operator="lin"
        )) == ("ENF-4", "operator_mismatch")
        state = await update(
            h,
            SellerAccount.decide_appeal,
            AppealDecisionInput(case_id, True, "lin", "invoices check out"),
            operator="lin",
        )
        assert state == "ten_products"
        rows = [r for r in audit_rows(h.id) if r.event == "appeal_approved"]
        assert [(r.actor, r.rule) for r in rows] == [("operator:lin", "ASSOC-5")]
        # The cleared link no longer carries a ban: closing the other store leaves this one alone.
        await report_violation(other, "serious-x", "ip", severity="serious", rule="ENF-1")
        await until(other, lambda s: s.state == "closed", "other closed")
        await asyncio.sleep(0.3)
        assert (await h.query(SellerAccount.status)).state == "ten_products"
        await finish(h, other)


async def test_appeal_rejected_closes_and_cascades(time_env: WorkflowEnvironment) -> None:
    async with new_worker(time_env.client) as worker:
        h, other, case_id = await linked_pair_with_a_case(time_env, worker.task_queue, state="open")
        await update(h, SellerAccount.appeal, appeal_for(case_id))
        await update(
            h,
            SellerAccount.decide_appeal,
            AppealDecisionInput(case_id, False, "wang", "invoices forged"),
            operator="wang",
        )
        status = await until(h, lambda s: s.state == "closed", "closed")
        assert status.closed_reason == "appeal_rejected"
        other_status = await until(other, lambda s: s.state == "closed", "linked store banned")
        assert other_status.closed_reason == "linked_ban"
        await finish(h, other)


async def test_no_appeal_in_time_closes_and_late_appeals_are_refused(time_env: WorkflowEnvironment) -> None:
    async with new_worker(time_env.client) as worker:
        h = await start_account(time_env, worker.task_queue, state="open")
        case_id = await open_case(h, "MNOBODY")
        assert await refused(update(h, SellerAccount.appeal, appeal_for("ASSOC-3:other"))) == (
            "ASSOC-5",
            "no_such_case",
        )
        bad = appeal_for(case_id)
        bad.letter = "sorry"
        assert await refused(update(h, SellerAccount.appeal, bad)) == ("ASSOC-5", "letter_required")
        await time_env.sleep(timedelta(days=POLICY.association.appeal_window_days) + timedelta(hours=1))
        status = await until(h, lambda s: s.state == "closed", "closed after the window")
        assert status.closed_reason == "appeal_window_expired"
        assert [(r.rule, r.reason) for r in await closes(h.id)] == [("ASSOC-4", "appeal_window_expired")]
        await finish(h)


@pytest.mark.parametrize(("rule", "reason"), [("REG-10", "alibaba_closure"), ("REG-9", "account_rental")])
async def test_closure_reports_close_the_account(
    time_env: WorkflowEnvironment, rule: str, reason: str
) -> None:
    async with new_worker(time_env.client) as worker:
        h = await start_account(time_env, worker.task_queue, state="open")
        report = ClosureReport(
            f"r-{hex_id(6)}",
            rule,
            reason,
            reported_by="alibaba.com" if rule == "REG-10" else "risk",
        )
        await signal(h, SellerAccount.report_closure, report)
        await signal(h, SellerAccount.report_closure, report)
        status = await until(h, lambda s: s.state == "closed", "closed")
        assert status.closed_reason == reason
        assert [(r.rule, r.reason) for r in await closes(h.id)] == [(rule, reason)]
        await finish(h)


async def test_facts_in_any_order(time_env: WorkflowEnvironment) -> None:
    """A freeze and a case arrive interleaved and duplicated: both holds must lift before the store returns."""
    async with new_worker(time_env.client) as worker:
        h = await start_account(time_env, worker.task_queue, state="open")
        case_id = f"ASSOC-2:shared_email:{hex_id(6)}"
        await report_violation(h, "f1", "listing", 12)
        await signal(
            h,
            SellerAccount.open_case,
            AssociationCaseInput(case_id, "shared_email", "MOTHER"),
            operator="ops",
        )
        await report_violation(h, "f1", "listing", 12)
        await signal(
            h,
            SellerAccount.open_case,
            AssociationCaseInput(case_id, "shared_email", "MOTHER"),
            operator="ops",
        )
        status = await until(h, lambda s: len(s.holds) == 2, "two holds")
        assert status.penalty_points["listing"] == 12 and status.open_cases == [case_id]
        await update(h, SellerAccount.appeal, appeal_for(case_id))
        await time_env.sleep(8 * DAY)  # the freeze lifts by itself; the appealed case still holds
        status = await until(h, lambda s: s.holds == [f"case-{case_id}"], "freeze lifted, case held")
        assert status.state == "suspended"
        await update(h, SellerAccount.decide_appeal, AppealDecisionInput(case_id, True, ""), operator="lin")
        status = await until(h, lambda s: s.state == "open", "back to open")
        assert status.holds == [] and status.open_cases == []
        events = [(r.event, r.reason) for r in audit_rows(h.id)]
        assert events.count(("violation", "listing_points")) == 1
        assert [e for e, _ in events].count("suspend") == 1 and [e for e, _ in events].count("reinstate") == 1
        await finish(h)
