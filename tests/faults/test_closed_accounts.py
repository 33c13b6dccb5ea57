"""Issue 32, fault 3: reports, commands and queries to an account that has closed answer as a closed
account, through the facade (typed answers, never RPCError NOT_FOUND) and the CLI (documented exit
statuses): a report the account counted before it closed answers `counted`, as the first time (a risk
engine retrying a lost acknowledgement); a new one is refused with the rule that closed the account;
`status` reads the closed account's final status without a worker."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

import seller_client
import starter
from devtools.identity_factory import applicant
from models.contract import ClosureReport, VerifyEmailInput, ViolationInput
from tests.conftest import new_worker
from tests.support.draws import hex_id
from workflows.seller_account import SellerAccount


async def _closed(env: WorkflowEnvironment, member: str) -> None:
    handle = seller_client.account(env.client, member)
    for _ in range(300):
        if (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the account did not close")


async def test_reports_commands_and_status_to_a_closed_account(dev_env: WorkflowEnvironment, cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    client = dev_env.client
    serious = ViolationInput(f"V{hex_id(8)}", "ip", rule="ENF-1", severity="serious")
    async with new_worker(client) as worker:
        result = await seller_client.register(client, applicant(), task_queue=worker.task_queue)
        assert result.accepted and result.member_id
        member = result.member_id
        assert await seller_client.report_violation(client, member, serious) == seller_client.COUNTED
        await _closed(dev_env, member)
    # No worker from here on: a closed account answers from its history and the registry.

    # The same violation again (its acknowledgement was lost): the same answer as the first time.
    assert await seller_client.report_violation(client, member, serious) == seller_client.COUNTED
    # A new one: refused, with the rule that closed the account; final.
    with pytest.raises(seller_client.AccountClosed) as closed:
        await seller_client.report_violation(
            client, member, ViolationInput(f"V{hex_id(8)}", "trade", rule="ENF-2", points=4)
        )
    assert (closed.value.refusal.rule, closed.value.refusal.code) == ("ENF-1", "account_closed")
    assert closed.value.refusal.retryable is False
    assert closed.value.closed_reason == "serious_violation"
    with pytest.raises(seller_client.AccountClosed):
        await seller_client.report_closure(
            client, member, ClosureReport(f"R{hex_id(8)}", "REG-9", "account_rental")
        )
    # A seller's command: the same refusal, not a lost answer to retry.
    with pytest.raises(seller_client.AccountClosed):
        await seller_client.command(client, member, SellerAccount.verify_email, VerifyEmailInput("123456"))
    # Its status: the run's final status, read without a worker.
    status = await asyncio.wait_for(seller_client.status(client, member), 10)
    assert (status.state, status.closed_reason) == ("closed", "serious_violation")

    # The CLI: exit 0 and `counted` for the counted id, 5 with the rule for anything new, 4 for nobody.
    code, out = await cli("violation", member, "--id", serious.violation_id, "--category", "ip", "--serious")
    assert (code, out["answer"]) == (0, "counted")
    code, out = await cli(
        "violation", member, "--id", f"V{hex_id(8)}", "--category", "trade", "--points", "2"
    )
    assert code == starter.EXIT_CLOSED == 5
    assert (out["refused"]["rule"], out["refused"]["code"], out["refused"]["retryable"]) == (
        "ENF-1",
        "account_closed",
        False,
    )
    code, out = await cli("close-report", "--rule", "REG-9", "--member-id", member, "--id", f"R{hex_id(8)}")
    assert code == starter.EXIT_CLOSED
    code, out = await cli("verify-email", member, "123456")
    assert code == starter.EXIT_CLOSED
    code, out = await cli("status", member)
    assert (code, out["state"]) == (0, "closed")
    code, out = await cli("violation", "MNOSUCHMEMBER", "--id", "V1", "--category", "ip")
    assert (code, out["error"]["code"]) == (starter.EXIT_UNKNOWN, "unknown_member")
    with pytest.raises(seller_client.UnknownMember):
        await seller_client.status(client, "MNOSUCHMEMBER")
