"""The accounts the tests start and read: one way to make an account (`start_account`), to end it
(`finish`), to read its audit rows and notices (`audited`, `audit_rows`, `notices`) and its refusals
(`refused`)."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, func, select
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

import seller_client
from activities.identity_registry import link_accounts
from activities.storage.blobs import put_bytes
from activities.storage.db import engine
from devtools import photo_fixtures
from devtools.identity_factory import applicant
from models.account_state import AccountInput, AccountState, ChartModel
from models.contract import (
    AccountProfile,
    AppealInput,
    AssociationCaseInput,
    ClosureReport,
    RegistrationInput,
    ViolationInput,
)
from models.policy import load_policy
from models.refusals import RefusedError
from models.tables import Account, AuditRecord, Notice
from tests.support import signing
from tests.support.draws import hex_id, raw_bytes
from tests.support.polling import eventually, settled, until
from tests.support.registry_rows import registered_account
from tests.support.signing import signal
from workflows.seller_account import SellerAccount

POLICY = load_policy()


async def start_account(
    env: WorkflowEnvironment, task_queue: str, *, state: str = "registered", **kwargs
) -> WorkflowHandle:  # type: ignore[no-untyped-def]
    member_id = "T" + hex_id(15).upper()
    now = await env.get_current_time()
    registered_at = kwargs.pop("registered_at", now)
    # One run per test account unless a test is about run age (tests/workflows/test_deploy.py): a run
    # that continues-as-new every 30 days sets a timer the time-skipping server must serve in every
    # later test that skips time, for as long as the account lives.
    kwargs.setdefault("max_run_days", 100 * 365)
    account_state = None
    if state != "registered":
        account_state = AccountState(chart=ChartModel(state=state), registered_at=now, last_login_at=now)
    # As the registration leaves it: the registry's row, and the admission it signs (workflows/admission.py).
    registered_account(member_id, store_name="Test Store", at=registered_at, state=state)
    start = AccountInput(
        profile=AccountProfile(member_id=member_id, store_name="Test Store", region="CN"),
        policy=kwargs.pop("policy", POLICY),
        registered_at=registered_at,
        state=account_state,
        **kwargs,
    )
    return await env.client.start_workflow(
        SellerAccount.run, signing.admitted(start), id=f"seller-{member_id}", task_queue=task_queue
    )


def is_finished(description: WorkflowExecutionDescription) -> bool:
    return description.status != WorkflowExecutionStatus.RUNNING


async def finish(*handles: WorkflowHandle) -> None:
    """End a test's accounts the way accounts end, closed (by a report, if nothing closed them yet),
    and wait until their workflows have finished, last activities included. A workflow left with work
    after its test's worker has gone holds the time-skipping server's clock for every later test."""
    for handle in handles:
        if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
            report = ClosureReport(
                f"test-over-{hex_id(8)}", "REG-9", "account_rental", reported_by="test"
            )
            with contextlib.suppress(RPCError):  # it finished between the two calls
                await signal(handle, SellerAccount.report_closure, report)
    for handle in handles:
        await eventually(handle.describe, is_finished, f"{handle.id} finished")


def audit_rows(workflow_id: str) -> list[AuditRecord]:
    with Session(engine()) as session:
        return list(
            session.exec(
                select(AuditRecord).where(AuditRecord.workflow_id == workflow_id).order_by(AuditRecord.seq)
            )
        )


def notices(member_id: str) -> list[Notice]:
    with Session(engine()) as session:
        return list(session.exec(select(Notice).where(Notice.member_id == member_id).order_by(Notice.at)))


async def report_violation(handle: WorkflowHandle, vid: str, category: str, points: int = 0, **kw) -> None:  # type: ignore[no-untyped-def]
    await signal(
        handle,
        SellerAccount.report_violation,
        ViolationInput(vid, category, kw.pop("rule", "ENF-2"), points, **kw),
    )


def registered_identity(member_id: str) -> RegistrationInput:
    """An Account row with identity fingerprints, as registration would leave it (for REG-5 barring);
    returns the identity it was registered with."""
    who = applicant()
    registered_account(member_id, id_card=who.id_card_number, mobile=who.mobile)
    return who


async def closes(workflow_id: str) -> list[AuditRecord]:
    """The account's close rows, once its audit has caught up with its state (the row is written by
    an activity right after the transition), and a moment more: a second close row, if the code
    wrongly wrote one, would land then."""

    def rows() -> list[AuditRecord]:
        return [r for r in audit_rows(workflow_id) if r.event == "close"]

    await eventually(rows, bool, f"{workflow_id}: a close row")
    return await settled(rows)


async def open_case(h: WorkflowHandle, linked: str) -> str:
    case_id = f"ASSOC-3:duplicate_product:{hex_id(8)}"
    await signal(
        h, SellerAccount.open_case, AssociationCaseInput(case_id, "duplicate_product", linked), operator="ops"
    )
    await until(h, lambda s: case_id in s.open_cases and s.state == "suspended", "case opened")
    return case_id


def appeal_for(case_id: str) -> AppealInput:
    invoice = put_bytes(b"%PDF-1.4 invoice " + raw_bytes())
    return AppealInput(
        case_id,
        "Opened 2024 in Shenzhen, own factory",
        [invoice],
        "We bought these goods from the maker; invoices attached.",
    )


async def linked_pair_with_a_case(
    env: WorkflowEnvironment, task_queue: str, *, state: str, **account: Any
) -> tuple[WorkflowHandle, WorkflowHandle, str]:
    """An account in `state` (and `account`: its input's other fields) linked (ASSOC-3) to an open store,
    with an association case opened on it."""
    h = await start_account(env, task_queue, state=state, **account)
    other = await start_account(env, task_queue, state="open")
    me = (await h.query(SellerAccount.status)).member_id
    them = (await other.query(SellerAccount.status)).member_id
    with Session(engine()) as session:
        link_accounts(
            session, me, them, rule="ASSOC-3", reason="duplicate_product", evidence="t", at=datetime.now(UTC)
        )
    return h, other, await open_case(h, them)


async def task_failures(handle: WorkflowHandle) -> list[str]:
    """Workflow task failures in the current run's history: none may ever happen, whatever came in."""
    history = await handle.fetch_history()
    return [
        e.workflow_task_failed_event_attributes.failure.message
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
    ]


async def audited(workflow_id: str, event: str, count: int = 1) -> list[AuditRecord]:
    return await eventually(
        lambda: [r for r in audit_rows(workflow_id) if r.event == event],
        lambda rows: len(rows) >= count,
        f"{workflow_id}: {count} {event} rows",
    )


async def serious_violation_closes(handle: WorkflowHandle) -> None:
    await signing.signal(
        handle,
        SellerAccount.report_violation,
        ViolationInput(f"serious-{hex_id(8)}", "ip", "ENF-1", severity="serious"),
        service="risk-engine",
    )
    status = await until(handle, lambda s: s.state == "closed", "closed by a serious violation")
    assert status.closed_reason == "serious_violation"


def photo(tmp_path: Path, name: str, id_number: str | None = None) -> Path:
    """The fixture photo `name`, its card printing `id_number` (the applicant's, to pass OPEN-1)."""
    variant = next(v for v in photo_fixtures.VARIANTS if v.name == name)
    path = tmp_path / f"{name}-{id_number or 'specimen'}.jpg"
    path.write_bytes(photo_fixtures.jpeg_bytes(variant, id_number))
    return path


def accounts_for(request_id: str, eng=None) -> int:  # type: ignore[no-untyped-def]
    with Session(eng or engine()) as session:
        return int(
            session.exec(
                select(func.count()).select_from(Account).where(Account.registration_id == request_id)
            ).one()
        )


async def refused(call: Awaitable[object]) -> tuple[str, str]:
    """The rule and reason code of a command that must be refused: `call` is the command's update, sent
    through the facade (which raises RefusedError) or straight to Temporal (WorkflowUpdateFailedError)."""
    try:
        await call
    except RefusedError as err:
        return err.refusal.rule, err.refusal.code
    except WorkflowUpdateFailedError as err:
        refusal = seller_client.as_refusal(err)
        assert refusal is not None, err
        return refusal.rule, refusal.code
    raise AssertionError("the command was accepted")
