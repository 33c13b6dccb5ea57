"""Roles (DESIGN 13, ENF-4): a command is taken only from a verified actor in a role allowed to send it,
on the real time-skipping test server."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest
from temporalio.client import WorkflowHandle, WorkflowHistory, WorkflowUpdateFailedError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

import seller_client
from devtools.identity_factory import applicant
from models.auth import Credential
from models.contract import (
    AppealDecisionInput,
    AssociationCaseInput,
    BanInput,
    ChangeContactInput,
    LoginInput,
    ViolationInput,
)
from models.settings import settings
from security import credentials
from seller_client import data_converter
from tests.conftest import new_worker
from tests.support.accounts import (
    appeal_for,
    audit_rows,
    audited,
    closes,
    finish,
    linked_pair_with_a_case,
    notices,
    refused,
    start_account,
)
from tests.support.polling import eventually, until
from tests.support.signing import TEST_TTL, as_system, member_of, signal, signed, update, update_id
from worker import WORKFLOWS, sandbox_runner
from workflows.seller_account import SellerAccount


def seller_credential(handle: WorkflowHandle, command: str) -> Credential:
    """What a seller's own client holds: a seller credential for their own account."""
    return credentials.sign(
        role="seller", actor=member_of(handle), account=member_of(handle), command=command, ttl=TEST_TTL
    )


async def dropped(handle: WorkflowHandle, command: str, count: int = 1) -> list[tuple[str, str]]:
    """(reason, claimed actor) of the signals of `command` the account audited and dropped, once there
    are `count` of them."""

    def found() -> list[tuple[str, str]]:
        rows = [r for r in audit_rows(handle.id) if r.event == "signal_dropped"]
        return [(r.reason, r.detail["claimed"]) for r in rows if r.detail["command"] == command]

    return await eventually(found, lambda f: len(f) >= count, f"{count} dropped {command} signals")


async def audited_actors(handle: WorkflowHandle, event: str) -> list[str]:
    """The actors of the account's `event` rows, once there is one (an activity writes them after the
    state changes)."""
    return [r.actor for r in await audited(handle.id, event)]


def as_sent(handle: WorkflowHandle, handler, message):  # type: ignore[no-untyped-def]
    """The update exactly as given, credential and all."""
    return handle.execute_update(handler, message, id=update_id(handler.__name__))


async def test_a_seller_cannot_decide_an_appeal(time_env: WorkflowEnvironment) -> None:
    async with new_worker(time_env.client) as worker:
        h, other, case_id = await linked_pair_with_a_case(time_env, worker.task_queue, state="open")
        await update(h, SellerAccount.appeal, appeal_for(case_id))
        decision = AppealDecisionInput(case_id, True, "")
        as_seller = credentials.signed(decision, seller_credential(h, "decide_appeal"))
        assert await refused(as_sent(h, SellerAccount.decide_appeal, as_seller)) == (
            "ENF-4",
            "role_not_allowed",
        )
        # A seller who edits their credential into an operator's breaks its signature.
        forged = dataclasses.replace(seller_credential(h, "decide_appeal"), role="operator", actor="lin")
        assert await refused(as_sent(h, SellerAccount.decide_appeal, credentials.signed(decision, forged))) == (
            "ENF-4",
            "credential_invalid",
        )
        assert await refused(as_sent(h, SellerAccount.decide_appeal, decision)) == (
            "ENF-4",
            "credential_missing",
        )
        expired = credentials.sign(
            role="operator",
            actor="lin",
            account="*",
            command="decide_appeal",
            now=await time_env.get_current_time() - timedelta(hours=1),
            ttl=timedelta(minutes=10),  # the suite's default lifetime is long (tests/conftest.py)
        )
        assert await refused(as_sent(h, SellerAccount.decide_appeal, credentials.signed(decision, expired))) == (
            "ENF-4",
            "credential_expired",
        )
        status = await h.query(SellerAccount.status)
        assert (status.state, status.open_cases) == ("suspended", [case_id]), "nothing was decided"
        assert not [
            r for r in audit_rows(h.id) if r.event.startswith("appeal_") and r.event != "appeal_filed"
        ]
        await update(h, SellerAccount.decide_appeal, decision, operator="lin")
        assert await audited_actors(h, "appeal_approved") == ["operator:lin"], (
            "the audit names the verified operator"
        )
        await finish(h, other)


async def test_a_seller_cannot_ban(time_env: WorkflowEnvironment) -> None:
    async with new_worker(time_env.client) as worker:
        h = await start_account(time_env, worker.task_queue, state="open")
        ban = BanInput(origin_member_id=member_of(h), via_member_id=member_of(h), origin_reason="spite")
        await h.signal(SellerAccount.ban, credentials.signed(ban, seller_credential(h, "ban")))
        await h.signal(SellerAccount.ban, ban)  # unsigned, as the Web UI's "Send a Signal" would
        assert await dropped(h, "ban", 2) == [
            ("role_not_allowed", f"seller:{member_of(h)}"),
            ("credential_missing", ""),
        ]
        assert (await h.query(SellerAccount.status)).state == "open"
        # The system's own ban (ENF-3, from another account's workflow) is applied and names its sender.
        await h.signal(SellerAccount.ban, as_system(h, SellerAccount.ban, ban))
        status = await until(h, lambda s: s.state == "closed", "banned")
        assert status.closed_reason == "linked_ban"
        assert [r.actor for r in await closes(h.id)] == ["system:seller-TESTORIGIN"]
        await finish(h)


async def test_a_seller_cannot_open_a_case(time_env: WorkflowEnvironment) -> None:
    async with new_worker(time_env.client) as worker:
        h = await start_account(time_env, worker.task_queue, state="open")
        case = AssociationCaseInput("C-by-seller", "duplicate_product", "MSOMEONE")
        await h.signal(SellerAccount.open_case, credentials.signed(case, seller_credential(h, "open_case")))
        assert await dropped(h, "open_case") == [("role_not_allowed", f"seller:{member_of(h)}")]
        status = await h.query(SellerAccount.status)
        assert (status.state, status.open_cases) == ("open", [])
        # An operator may open one by hand.
        await signal(
            h, SellerAccount.open_case, dataclasses.replace(case, case_id="C-by-ops"), operator="ops"
        )
        await until(h, lambda s: s.open_cases == ["C-by-ops"], "case opened by the operator")
        assert await audited_actors(h, "suspend") == ["operator:ops"]
        await finish(h)


async def test_a_seller_cannot_report_a_violation(time_env: WorkflowEnvironment) -> None:
    async with new_worker(time_env.client) as worker:
        h = await start_account(time_env, worker.task_queue, state="open")
        serious = ViolationInput("v-seller", "ip", "ENF-1", severity="serious")
        await h.signal(
            SellerAccount.report_violation,
            credentials.signed(serious, seller_credential(h, "report_violation")),
        )
        assert await dropped(h, "report_violation") == [("role_not_allowed", f"seller:{member_of(h)}")]
        assert (await h.query(SellerAccount.status)).state == "open"
        # A credential issued to another command is no good either.
        wrong_command = credentials.sign(
            role="service", actor="risk-engine", account=member_of(h), command="report_closure", ttl=TEST_TTL
        )
        await h.signal(SellerAccount.report_violation, credentials.signed(serious, wrong_command))
        await signal(
            h, SellerAccount.report_violation, ViolationInput("v-ok", "trade", "ENF-2", 12), service="risk"
        )
        await until(h, lambda s: s.penalty_points["trade"] == 12, "the service's report applied")
        assert ("credential_wrong_command", "service:risk-engine") in await dropped(h, "report_violation", 2)
        assert (await h.query(SellerAccount.status)).state == "open"
        assert await audited_actors(h, "violation") == ["service:risk"]
        await finish(h)


async def test_the_cross_account_attack_leaves_the_other_store_alone(dev_env: WorkflowEnvironment) -> None:
    """Issue 15: a seller who knows another seller's public mobile takes it as their own contact (an
    ASSOC-2 link: both stores get a case), reads the case id, approves their own appeal, then files a
    junk appeal on the other store and rejects it. Now every step past the first is refused, and nothing
    the attacker reads names the other member. On the dev server: registering on the time-skipping
    server leaves it unable to skip time for later tests (seen on main too)."""
    async with new_worker(dev_env.client) as worker:
        regs = [applicant(), applicant()]
        results = [
            await seller_client.register(dev_env.client, r, task_queue=worker.task_queue) for r in regs
        ]
        assert all(r.accepted for r in results)
        attacker, victim = (seller_client.account(dev_env.client, r.member_id or "") for r in results)
        victim_id = member_of(victim)

        with pytest.raises(WorkflowUpdateFailedError) as err:
            await update(attacker, SellerAccount.change_contact, ChangeContactInput("mobile", regs[1].mobile))
        refusal = seller_client.as_refusal(err.value)
        assert refusal is not None and (refusal.rule, refusal.code) == ("ASSOC-2", "identity_in_use")
        mine = await until(attacker, lambda s: s.state == "suspended" and bool(s.open_cases), "case")
        theirs = await until(victim, lambda s: s.state == "suspended" and bool(s.open_cases), "case")
        case_id = mine.open_cases[0]
        assert theirs.open_cases == [case_id]
        seen = json.dumps(
            [dataclasses.asdict(mine), refusal.message, [n.message for n in notices(member_of(attacker))]],
            default=str,
        )
        assert victim_id not in seen, "nothing the attacker can read names the other member"
        assert member_of(attacker) not in case_id and victim_id not in case_id
        assert case_id in seen, "the notice names the case it is about"

        await update(attacker, SellerAccount.appeal, appeal_for(case_id))  # their own appeal: allowed
        own = credentials.signed(
            AppealDecisionInput(case_id, True, ""), seller_credential(attacker, "decide_appeal")
        )
        assert await refused(as_sent(attacker, SellerAccount.decide_appeal, own)) == (
            "ENF-4",
            "role_not_allowed",
        )
        # The junk appeal on the other store, with the attacker's own credential, then one edited to fit.
        junk = credentials.signed(appeal_for(case_id), seller_credential(attacker, "appeal"))
        assert await refused(as_sent(victim, SellerAccount.appeal, junk)) == (
            "ENF-4",
            "credential_wrong_account",
        )
        edited = dataclasses.replace(
            seller_credential(attacker, "appeal"), actor=victim_id, account=victim_id
        )
        assert await refused(as_sent(
            victim, SellerAccount.appeal, credentials.signed(appeal_for(case_id), edited)
        )) == ("ENF-4", "credential_invalid")
        reject = AppealDecisionInput(case_id, False, "lin")
        for cred in (seller_credential(attacker, "decide_appeal"), edited, None):
            message = reject if cred is None else credentials.signed(reject, cred)
            code = await refused(as_sent(victim, SellerAccount.decide_appeal, message))
            assert code[0] == "ENF-4"

        theirs = await victim.query(SellerAccount.status)
        assert (theirs.state, theirs.open_cases) == ("suspended", [case_id]), "the other store is untouched"
        assert not [
            r for r in audit_rows(victim.id) if r.event in ("appeal_filed", "appeal_rejected", "close")
        ]
        assert not [r for r in audit_rows(attacker.id) if r.event == "appeal_approved"]
        await finish(attacker, victim)


async def test_unsigned_logins_are_refused_and_signed_ones_counted(time_env: WorkflowEnvironment) -> None:
    """A login is a command (workflows/traffic.py): an unsigned one is refused as it arrives; a login
    sent as the signal it used to be is set aside unread by a run started since."""
    async with new_worker(time_env.client) as worker:
        h = await start_account(time_env, worker.task_queue)
        with pytest.raises(WorkflowUpdateFailedError) as unsigned:
            await h.execute_update(SellerAccount.login, LoginInput("marketplace", "192.0.2.7"), id="unsigned")
        refusal = seller_client.as_refusal(unsigned.value)
        assert refusal is not None and refusal.code == "credential_missing"
        await h.signal("login", signed(h, SellerAccount.login, LoginInput("marketplace", "192.0.2.6")))
        await signal(h, SellerAccount.login, LoginInput("marketplace", "192.0.2.8"))
        await signal(h, SellerAccount.login, LoginInput("messenger", "192.0.2.9"), service="login-service")
        status = await until(h, lambda s: s.login_count == 2, "two signed logins")
        assert status.login_count == 2
        await finish(h)


async def test_replay_after_key_rotation_reads_the_recorded_verdicts(
    time_env: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keys rotate and the old one is dropped: accounts that took commands signed with it still replay,
    because validators never re-run on replay and signal verdicts are read from history."""
    async with new_worker(time_env.client) as worker:
        h, other, case_id = await linked_pair_with_a_case(time_env, worker.task_queue, state="open")
        await signal(h, SellerAccount.report_violation, ViolationInput("rot-1", "listing", "ENF-2", 3))
        await update(h, SellerAccount.appeal, appeal_for(case_id))
        await update(h, SellerAccount.decide_appeal, AppealDecisionInput(case_id, False, ""), operator="wang")
        await until(h, lambda s: s.state == "closed", "closed")
        await finish(h, other)
    history = await h.fetch_history()
    old = signed(h, SellerAccount.report_violation, ViolationInput("x", "ip", "ENF-2", 1))
    fresh = (credentials.SigningKey("k9", bytes(range(32)), frozenset(credentials.ROLES)),)
    monkeypatch.setattr(credentials, "keyring", lambda: fresh)

    replayer = Replayer(
        workflows=WORKFLOWS, data_converter=data_converter(settings()), workflow_runner=sandbox_runner()
    )
    result = await replayer.replay_workflow(WorkflowHistory.from_json(h.id, json.loads(history.to_json())))
    assert result.replay_failure is None
    # ...while a command signed with the retired key is refused from now on.
    assert old.auth is not None
    assert credentials.check(
        old.auth, command="report_violation", account=member_of(h), now=await time_env.get_current_time()
    ) == credentials.refusal("credential_invalid", "The credential's signature does not verify.")


# ---------------------------------------------------------------- bound to the message, judged as of sending (issue 24)


async def test_a_captured_credential_carries_no_other_message_and_no_new_fact(
    time_env: WorkflowEnvironment,
) -> None:
    """A service's credential for one listing report, captured: put on a serious violation, or on the same
    report under a new id (a new fact), it is dropped (`credential_wrong_payload`); an operator's decision
    turned the other way is refused."""
    async with new_worker(time_env.client) as worker:
        h, other, case_id = await linked_pair_with_a_case(time_env, worker.task_queue, state="open")
        minor = signed(h, SellerAccount.report_violation, ViolationInput("cap-1", "listing", "ENF-2", 1), service="risk")
        captured = minor.auth
        serious = ViolationInput("cap-1", "ip", "ENF-1", severity="serious", auth=captured)
        again = dataclasses.replace(minor, violation_id="cap-2")  # the same report, as a new fact
        await h.signal(SellerAccount.report_violation, serious)
        await h.signal(SellerAccount.report_violation, again)
        assert await dropped(h, "report_violation", 2) == [
            ("credential_wrong_payload", "service:risk"),
            ("credential_wrong_payload", "service:risk"),
        ]
        await h.signal(SellerAccount.report_violation, minor)  # as it was signed: taken
        await until(h, lambda s: s.penalty_points["listing"] == 1, "the signed report applied")
        await update(h, SellerAccount.appeal, appeal_for(case_id))
        approve = signed(h, SellerAccount.decide_appeal, AppealDecisionInput(case_id, True, ""), operator="lin")
        reject = dataclasses.replace(approve, approved=False)
        assert await refused(as_sent(h, SellerAccount.decide_appeal, reject)) == (
            "ENF-4",
            "credential_wrong_payload",
        )
        status = await h.query(SellerAccount.status)
        assert (status.state, status.open_cases) == ("suspended", [case_id])
        await finish(h, other)


async def test_a_report_signed_before_a_worker_outage_is_honoured_after_it(dev_env: WorkflowEnvironment) -> None:
    """The worker is down; the risk engine's serious violation, signed 15 minutes before the account gets
    to it with a credential valid for 10, waits in history until a worker is back, and closes the account.
    On the dev server, whose clock is the wall clock (the time-skipping server does not move a task off a
    stopped worker's sticky queue)."""
    env = dev_env
    client = env.client
    async with new_worker(client) as worker:
        task_queue = worker.task_queue
        h = await start_account(env, task_queue, state="open")
        await until(h, lambda s: s.state == "open", "started")
    violation = ViolationInput("during-the-outage", "ip", "ENF-1", severity="serious")
    signed_at = await env.get_current_time() - timedelta(minutes=15)
    cred = credentials.sign(
        role="service",
        actor="risk-engine",
        account=member_of(h),
        command="report_violation",
        now=signed_at,
        ttl=timedelta(minutes=10),
        payload=violation,
    )
    await h.signal(SellerAccount.report_violation, credentials.signed(violation, cred))
    async with new_worker(client, task_queue=task_queue):
        # The account's next task waits out the stopped worker's sticky queue first: a query may time
        # out meanwhile, and is asked again.
        async def probe():  # type: ignore[no-untyped-def]
            try:
                return await h.query(SellerAccount.status)
            except RPCError:
                return None

        status = await eventually(
            probe, lambda s: s is not None and s.state == "closed", "closed by the report sent before", seconds=120
        )
    assert await env.get_current_time() >= cred.expires_at + timedelta(minutes=5)
    assert status.closed_reason == "serious_violation"
    assert not [r for r in audit_rows(h.id) if r.reason == "credential_expired"]
    # A first-format credential (no message named) is refused for what it is, however fresh.
    async with new_worker(client) as worker:
        g = await start_account(env, worker.task_queue, state="open")
        report = ViolationInput("v1-form", "ip", "ENF-1", severity="serious")
        fresh = signed(g, SellerAccount.report_violation, report, service="risk").auth
        assert fresh is not None
        v1 = dataclasses.replace(fresh, issued_at=None, fact_id="", digest="")
        key = next(k for k in credentials.keyring() if k.key_id == fresh.key_id)
        v1.signature = credentials._digest(key.secret, v1)
        await g.signal(SellerAccount.report_violation, credentials.signed(report, v1))
        assert await dropped(g, "report_violation") == [("credential_unbound", "service:risk")]
        assert (await g.query(SellerAccount.status)).state == "open"
        await finish(g)
