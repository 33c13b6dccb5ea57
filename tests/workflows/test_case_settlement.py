"""What an account shows once a case or a hold is over (issue 15 CLI fixes), on the time-skipping server:
closing settles open cases, OpenCase is true only on live accounts, ClosedReason is searchable, and
`reasons` forgets refusals once the account is reinstated."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from models.contract import AssociationCaseInput, UnbindInput, ViolationInput
from tests.conftest import new_worker
from tests.support.accounts import finish, start_account
from tests.support.polling import eventually, until
from tests.support.signing import signal, update
from workflows import search_attributes as sa
from workflows.seller_account import SellerAccount


async def attributes(handle: WorkflowHandle, want: dict) -> dict:  # type: ignore[type-arg]
    """The account's search attributes once they show `want` (they are upserted by the workflow task)."""

    async def found() -> dict:  # type: ignore[type-arg]
        typed = (await handle.describe()).typed_search_attributes
        return {k.name: typed.get(k) for k in (sa.OPEN_CASE, sa.CLOSED_REASON, sa.SELLER_STATE)}

    return await eventually(found, lambda f: all(f.get(k) == v for k, v in want.items()), f"attributes {want}")


async def test_closing_settles_open_cases(time_env: WorkflowEnvironment) -> None:
    async with new_worker(time_env.client) as worker:
        h = await start_account(time_env, worker.task_queue, state="open")
        case = AssociationCaseInput("C0123456789abcdef", "shared_mobile", "MOTHER")
        await signal(h, SellerAccount.open_case, case, operator="ops")
        await until(h, lambda s: s.open_cases == [case.case_id], "case opened")
        assert await attributes(h, {"OpenCase": True}) == {
            "OpenCase": True,
            "ClosedReason": None,
            "SellerState": "suspended",
        }
        await signal(
            h, SellerAccount.report_violation, ViolationInput("sv", "ip", "ENF-1", severity="serious")
        )
        status = await until(h, lambda s: s.state == "closed", "closed")
        assert status.open_cases == [], "a closed account has no case left to decide"
        want = {"OpenCase": False, "ClosedReason": "serious_violation", "SellerState": "closed"}
        assert await attributes(h, want) == want
        await finish(h)


async def test_reasons_are_cleared_when_the_account_is_reinstated(time_env: WorkflowEnvironment) -> None:
    async with new_worker(time_env.client) as worker:
        h = await start_account(time_env, worker.task_queue, state="open")
        # REG-8: always refused, and the refusal becomes the seller's latest reason.
        with contextlib.suppress(WorkflowUpdateFailedError):
            await update(h, SellerAccount.unbind_identity, UnbindInput())
        assert [r.split(":")[0] for r in (await h.query(SellerAccount.status)).reasons] == [
            "REG-8 unbind_not_allowed"
        ]
        await signal(h, SellerAccount.report_violation, ViolationInput("l12", "listing", "ENF-2", 12))
        status = await until(h, lambda s: s.state == "suspended", "frozen")
        assert status.reasons, "a freeze does not wipe the record"
        await time_env.sleep(timedelta(days=7, hours=1))
        status = await until(h, lambda s: s.state == "open", "reinstated")
        assert status.reasons == []
        await finish(h)
