"""Issue 24, attack 4: reaching Temporal is not enough to create or resurrect an account. Only a signed
registration registers, with the policy in force on the worker, and only the registration opens an
account (workflows/admission.py, activities/admission.py, workflows/registration.py)."""

from __future__ import annotations

import dataclasses

import pytest
from sqlmodel import Session
from temporalio.client import WorkflowFailureError, WorkflowHandle, WorkflowQueryFailedError
from temporalio.testing import WorkflowEnvironment

import seller_client
from activities.storage.db import engine
from devtools.identity_factory import applicant
from models.account_state import AccountInput, AccountState, ChartModel
from models.contract import AccountProfile, BuyerScreening, RegistrationInput, ViolationInput
from models.policy import load_policy
from models.tables import Account
from security import credentials
from tests.conftest import new_worker
from tests.support.accounts import audit_rows, finish, start_account
from tests.support.draws import hex_id
from tests.support.polling import until
from tests.support.signing import TEST_TTL, admitted, signal
from workflows.buyer_screening import BuyerScreeningWorkflow
from workflows.registration import Registration
from workflows.seller_account import SellerAccount

POLICY = load_policy()


def registry_state(member_id: str) -> str | None:
    with Session(engine()) as session:
        row = session.get(Account, member_id)
        return row.state if row is not None else None


async def refused_start(handle: WorkflowHandle) -> str:
    """The reason code a start was refused with: the run fails, having done nothing."""
    with pytest.raises(WorkflowFailureError) as err:
        await handle.result()
    refusal = seller_client.as_refusal(err.value)
    assert refusal is not None, err.value
    return refusal.code


async def attacker_input(env: WorkflowEnvironment, member_id: str) -> AccountInput:
    """What anyone who reaches the frontend can send: an account input of their making, `state="open"`."""
    now = await env.get_current_time()
    return AccountInput(
        profile=AccountProfile(member_id=member_id, store_name="Risen Store", region="CN"),
        policy=POLICY,
        registered_at=now,
        state=AccountState(chart=ChartModel(state="open"), registered_at=now, last_login_at=now),
        max_run_days=100 * 365,
    )


async def start(env: WorkflowEnvironment, task_queue: str, start: AccountInput) -> WorkflowHandle:
    return await env.client.start_workflow(
        SellerAccount.run, start, id=f"seller-{start.profile.member_id}", task_queue=task_queue
    )


async def test_a_closed_account_cannot_be_started_again(time_env: WorkflowEnvironment) -> None:
    async with new_worker(time_env.client) as worker:
        h = await start_account(time_env, worker.task_queue, state="open")
        member_id = h.id.removeprefix("seller-")
        await finish(h)  # closed by a REG-9 report
        assert registry_state(member_id) == "closed"
        rows_before = len(audit_rows(h.id))
        forged = await attacker_input(time_env, member_id)

        # SellerAccount started by hand under the closed account's id, `state="open"`, no admission.
        risen = await start(time_env, worker.task_queue, forged)
        assert await refused_start(risen) == "not_started_by_registration"
        with pytest.raises(WorkflowQueryFailedError):  # it answers nothing, "open" least of all
            await risen.query(SellerAccount.status)
        # With a properly signed admission (a leaked one): the registry has the account closed.
        leaked = admitted(forged)
        assert await refused_start(await start(time_env, worker.task_queue, leaked)) == "account_closed"
        # The admission carried over to another input no longer fits it.
        edited = dataclasses.replace(leaked, max_run_days=1.0)
        assert await refused_start(await start(time_env, worker.task_queue, edited)) == (
            "not_started_by_registration"
        )

    assert registry_state(member_id) == "closed"
    assert len(audit_rows(h.id)) == rows_before, "no refused run wrote anything"


async def test_an_account_the_registry_never_held_is_not_opened(time_env: WorkflowEnvironment) -> None:
    async with new_worker(time_env.client) as worker:
        stranger = await attacker_input(time_env, "TNOBODY" + hex_id(9).upper())
        unsigned = await start(time_env, worker.task_queue, stranger)
        assert await refused_start(unsigned) == "not_started_by_registration"
        signed = await start(time_env, worker.task_queue, admitted(stranger))
        assert await refused_start(signed) == "account_not_registered"


# ---------------------------------------------------------------- registration: signed, with the worker's policy


def lax(policy=POLICY):  # type: ignore[no-untyped-def]
    """The attacker's policy: IP points never close, known faces off."""
    penalties = dataclasses.replace(policy.penalties, ip_close_points=10**9)
    auth = dataclasses.replace(policy.authentication, known_faces=False)
    return dataclasses.replace(policy, version="lax", penalties=penalties, authentication=auth)


def as_service(reg: RegistrationInput, role: str = "service") -> RegistrationInput:
    cred = credentials.sign(
        role=role, actor="portal", account="*", command="register", ttl=TEST_TTL, payload=reg
    )
    return credentials.signed(reg, cred)


async def test_registration_needs_a_service_credential_and_takes_no_policy(
    dev_env: WorkflowEnvironment,
) -> None:
    async with new_worker(dev_env.client) as worker:

        async def run(*args):  # type: ignore[no-untyped-def]
            reg = args[0]
            return await dev_env.client.execute_workflow(
                Registration.run,
                args=list(args),
                id=f"registration-{reg.request_id}",
                task_queue=worker.task_queue,
            )

        unsigned = await run(applicant(), None)
        assert (unsigned.accepted, unsigned.refusal.code) == (False, "credential_missing")
        seller_signed = await run(as_service(applicant(), role="seller"), None)
        assert seller_signed.refusal.code == "role_not_allowed"
        reg = applicant()
        other = as_service(dataclasses.replace(reg, store_name="Another Name"))
        carried = await run(dataclasses.replace(reg, auth=other.auth), None)  # signed for another request
        assert carried.refusal.code == "credential_wrong_payload"
        with_policy = await run(as_service(applicant()), lax())
        assert (with_policy.refusal.rule, with_policy.refusal.code) == ("ENF-4", "policy_not_accepted")

        # The facade signs as a registration service; the account gets the worker's policy, and 48 IP
        # points close it as that policy says (the attacker's control account).
        result = await seller_client.register(dev_env.client, applicant(), task_queue=worker.task_queue)
        assert result.accepted and result.member_id
        h = seller_client.account(dev_env.client, result.member_id)
        status = await until(h, lambda s: s.state == "registered", "registered")
        assert status.policy_version == POLICY.version
        for k in range(3):
            await signal(
                h,
                SellerAccount.report_violation,
                ViolationInput(f"ip-{k}", "ip", "ENF-2", 48),
                service="risk",
            )
        status = await until(h, lambda s: s.state == "closed", "closed by IP points")
        assert status.closed_reason == f"ip_points_{POLICY.penalties.ip_close_points}"


async def test_a_buyer_screening_takes_the_worker_policy_not_the_callers(dev_env: WorkflowEnvironment) -> None:
    """REG-3's screening, like the registration, runs under the policy in force on the worker: a request
    bringing its own policy is refused; one without is screened (workflows/buyer_screening.py)."""
    async with new_worker(dev_env.client) as worker:
        buyer = BuyerScreening(f"B{hex_id(12)}", "HK", mobile="+85291234567")
        signed_buyer = seller_client.sign("screen_buyer", credentials.ANY, buyer, service="buyer-signup")
        with_policy = await dev_env.client.execute_workflow(
            BuyerScreeningWorkflow.run,
            args=[signed_buyer, lax()],
            id=f"buyer-{buyer.buyer_id}-policy",
            task_queue=worker.task_queue,
        )
        assert (with_policy.closed, with_policy.refusal.code) == (False, "policy_not_accepted")
        screened = await seller_client.screen_buyer(dev_env.client, buyer, task_queue=worker.task_queue)
        assert (screened.closed, screened.refusal) == (False, None)
