"""Idempotency keys end to end (issue 18, case 1): the same request id answers the first answer and
changes nothing, within a run (the server's update-id deduplication) and across continue-as-new
(workflows/command_memo.py). A command sent again without its key is applied again: the control that
shows the check can fail."""

from __future__ import annotations

import asyncio
import random

import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

import seller_client
from activities.identity_registry import claim_identity
from devtools.identity_factory import applicant
from models.account_state import AccountInput
from models.activity_io import ClaimIdentityInput
from models.contract import AccountProfile, ChangeContactInput, LoginInput, UnbindInput
from models.policy import load_policy
from models.refusals import RefusedError
from tests.conftest import new_worker
from tests.support.accounts import audit_rows, finish
from tests.support.draws import hex_id
from tests.support.signing import admitted, login
from workflows.seller_account import SellerAccount

# Fixed seed: distinct values in one session (a fresh registry), the same in every run.
DRAW = random.Random(20261125)

POLICY = load_policy()


async def account(env: WorkflowEnvironment, task_queue: str, max_history_events: int = 10_000) -> str:
    """A registered account (registry row through the real claim) and its workflow; its member id."""
    reg = applicant()
    member_id = "K" + hex_id(16).upper()
    now = await env.get_current_time()
    assert claim_identity(ClaimIdentityInput(member_id=member_id, registration=reg, at=now)).member_id
    await env.client.start_workflow(
        SellerAccount.run,
        admitted(
            AccountInput(
                profile=AccountProfile(member_id=member_id, store_name="Keyed Store", region="CN"),
                policy=POLICY,
                registered_at=now,
                max_history_events=max_history_events,
            )
        ),
        id=f"seller-{member_id}",
        task_queue=task_queue,
    )
    return member_id


def events(member_id: str, event: str) -> int:
    return [r.event for r in audit_rows(f"seller-{member_id}")].count(event)


def mobile() -> str:
    return f"+86138{DRAW.randrange(10**8):08d}"


async def test_the_same_request_id_applies_once_and_answers_the_same(time_env: WorkflowEnvironment) -> None:
    async with new_worker(time_env.client) as worker:
        member = await account(time_env, worker.task_queue)
        change = ChangeContactInput(kind="mobile", value=mobile())
        key = seller_client.new_request_id()
        first = await seller_client.command(
            time_env.client, member, SellerAccount.change_contact, change, request_id=key
        )
        # Five retries with the key, two of them at once: one change on the record.
        again = await asyncio.gather(
            *(
                seller_client.command(
                    time_env.client, member, SellerAccount.change_contact, change, request_id=key
                )
                for _ in range(5)
            )
        )
        assert set(again) == {first}
        assert events(member, "change_contact") == 1
        # Without the key the same command is applied again: what the key prevents.
        await seller_client.command(time_env.client, member, SellerAccount.change_contact, change)
        assert events(member, "change_contact") == 2
        await finish(seller_client.account(time_env.client, member))


async def force_continue_as_new(handle: WorkflowHandle, first_run: str) -> str:
    """Logins in bursts until the account continues as new."""
    for burst in range(20):
        for i in range(30):
            ip = f"198.51.100.{(burst * 30 + i) % 250}"
            await login(handle, LoginInput(channel="marketplace", ip=ip))
        for _ in range(40):
            run = (await handle.describe()).run_id
            if run != first_run:
                return run
            await asyncio.sleep(0.05)
    raise AssertionError("no continue-as-new")


async def test_a_request_id_answered_before_continue_as_new_answers_the_same_after(
    time_env: WorkflowEnvironment,
) -> None:
    async with new_worker(time_env.client) as worker:
        member = await account(time_env, worker.task_queue, max_history_events=120)
        handle = seller_client.account(time_env.client, member)
        first_run = (await handle.describe()).run_id
        assert first_run is not None
        change = ChangeContactInput(kind="mobile", value=mobile())
        changed, refused = seller_client.new_request_id(), seller_client.new_request_id()
        state = await seller_client.command(
            time_env.client, member, SellerAccount.change_contact, change, request_id=changed
        )
        with pytest.raises(RefusedError) as first_refusal:
            await seller_client.command(
                time_env.client, member, SellerAccount.unbind_identity, UnbindInput(), request_id=refused
            )
        assert (first_refusal.value.refusal.rule, first_refusal.value.refusal.code) == (
            "REG-8",
            "unbind_not_allowed",
        )

        second_run = await force_continue_as_new(handle, first_run)
        assert second_run != first_run
        # The new run answers both ids as the first run did, and applies neither again.
        again = await seller_client.command(
            time_env.client, member, SellerAccount.change_contact, change, request_id=changed
        )
        with pytest.raises(RefusedError) as again_refusal:
            await seller_client.command(
                time_env.client, member, SellerAccount.unbind_identity, UnbindInput(), request_id=refused
            )
        assert again == state
        assert again_refusal.value.refusal == first_refusal.value.refusal
        assert events(member, "change_contact") == 1
        assert [r.reason for r in audit_rows(f"seller-{member}")].count("unbind_not_allowed") == 1
        # The memo moved with the run: a third run still knows them.
        third_run = await force_continue_as_new(handle, second_run)
        assert third_run != second_run
        assert (
            await seller_client.command(
                time_env.client, member, SellerAccount.change_contact, change, request_id=changed
            )
            == state
        )
        assert events(member, "change_contact") == 1
        # Control: a fresh id is a new command.
        await seller_client.command(time_env.client, member, SellerAccount.change_contact, change)
        assert events(member, "change_contact") == 2
        await finish(seller_client.account(time_env.client, member))
