"""ENF-4: the account keeper's activities (issue 24). They talk to Temporal itself, so they live on an
object holding the worker's client, as Temporal's samples pass a client to activities.

An account the registry holds open must always have a run that workers move. Three things can take
that away without the account's own code doing anything wrong:

- its run *ended* from outside: terminated (anyone who reaches the frontend can ask), failed, timed out;
- its workflow task *fails* on every attempt (the server reports it: `TemporalReportedProblems`);
- its workflow task is *never handed out*: measured under a 10,000-signal flood on the dev server, a
  task stayed scheduled for 18 minutes while workers polled (README, Limits and budgets).

The cure is the one an operator would apply by hand: reset the run to its last completed workflow task,
leaving behind the signals and commands that came after it (a flood, the poison), then send again the
facts among those signals that were properly signed (violations, closure reports, cases, bans), so that
a serious violation sent during the flood still lands. Updates left behind were never answered: their
senders were told to try again. The reset keeps the run's whole history up to that task, so the account
keeps its state, its deadlines and its admission (workflows/admission.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from temporalio import activity
from temporalio.api.common.v1 import Payloads, WorkflowExecution
from temporalio.api.enums.v1 import EventType, PendingWorkflowTaskState, ResetReapplyExcludeType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflowservice.v1 import (
    GetWorkflowExecutionHistoryRequest,
    GetWorkflowExecutionHistoryReverseRequest,
    ResetWorkflowExecutionRequest,
    SignalWorkflowExecutionRequest,
)
from temporalio.client import Client, WorkflowExecutionDescription, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from activities.audit import registry_audit
from activities.storage.closed_accounts import open_in_registry
from activities.storage.db import engine
from models import boundary
from models.contract import AssociationCaseInput, BanInput, ClosureReport, ViolationInput
from models.contract import account_workflow_id as workflow_id_of
from models.healing import HealInput, HealReport, StrandedAccounts, StrandedQuery
from models.refusals import RefusedError
from models.tables import AuditRecord
from security.binding import binding
from security.credentials import check

log = logging.getLogger(__name__)

# The fact signals a reset sends again, with the message each carries.
FACTS: dict[str, type] = {
    "report_violation": ViolationInput,
    "report_closure": ClosureReport,
    "open_case": AssociationCaseInput,
    "ban": BanInput,
}
ENDED = (
    WorkflowExecutionStatus.TERMINATED,
    WorkflowExecutionStatus.FAILED,
    WorkflowExecutionStatus.TIMED_OUT,
    WorkflowExecutionStatus.CANCELED,
)
# The server flags a run after 5 consecutive workflow task failures or timeouts (its default
# `system.numConsecutiveWorkflowTaskProblemsToTriggerSearchAttribute`); the keeper acts on the same count.
FAILING_ATTEMPTS = 5
# A healthy task is handed out in milliseconds; one still scheduled after this, and again after
# STALL_CONFIRM while this worker (which polls the same queue) runs, is stalled, not queued behind a backlog.
STALL_AFTER = timedelta(minutes=1)
STALL_CONFIRM = timedelta(seconds=20)
# A run whose task failed again after this many resets in RESETS_WINDOW has its poison before any point a
# reset can go back to: it needs a person. The keeper stops, says so (ENF-4 `resets_exhausted`). A run
# ended from outside or never handed its task is reset however often it happens: each reset cures it,
# and giving up would hand whoever repeats the attack an account out of reach.
MAX_RESETS = 3
RESETS_WINDOW = timedelta(hours=1)
# At most this many facts are sent again after one reset, the first properly signed ones, one per fact id.
MAX_FACTS = 1000
RULE = "ENF-4"
ADMIT_ACCOUNT = "admit_account"
# How many runs back the keeper looks for the account's own run past runs others started under its id.
MAX_RUNS_BACK = 20
ACCOUNT_WORKFLOW_TYPE = "SellerAccount"
ACTOR = "system:account-keeper"


def keeper_trail(member_id: str) -> str:
    """The audit trail of the keeper's work on one account (not the account's own trail, whose sequence
    numbers its workflow writes)."""
    return f"keeper-{member_id}"


@dataclass
class Healing:
    client: Client
    stall_after: timedelta = STALL_AFTER
    stall_confirm: timedelta = STALL_CONFIRM

    @activity.defn(name="heal_account")
    async def heal_account(self, inp: HealInput) -> HealReport:
        """Looks at the account's latest run and, if it is out of workers' reach, resets it (module
        docstring). Idempotent: a retry finds the reset run healthy, and the reset itself carries a
        request id made of the run and event it resets to."""
        member_id = inp.member_id
        if not await asyncio.to_thread(open_in_registry, member_id):
            return HealReport(member_id, "not_open", "The registry holds no open account with this id.")
        handle = self.client.get_workflow_handle(workflow_id_of(member_id))
        try:
            desc = await handle.describe()
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            return HealReport(member_id, "not_resettable", "The account's workflow is not retained by Temporal.")
        why = await self._out_of_reach(handle.id, desc)
        if why is None:
            return HealReport(member_id, "healthy", "Its run is moving.")
        if why == "task_failing" and await asyncio.to_thread(_recent_resets, member_id, why) >= MAX_RESETS:
            await asyncio.to_thread(_audit, member_id, "resets_exhausted", {"cause": why})
            log.error("account %s is stuck again after %d resets within %s: an operator must look", member_id, MAX_RESETS, RESETS_WINDOW)
            return HealReport(member_id, "resets_exhausted", f"{why}; reset {MAX_RESETS} times within the hour already.")
        run_id = await self._last_admitted_run(handle.id, desc.run_id)
        if run_id is None:
            await asyncio.to_thread(_audit, member_id, "not_resettable", {"cause": why})
            return HealReport(member_id, "not_resettable", f"{why}; no run of this account was admitted.")
        return await self._reset(member_id, run_id, why)

    async def _last_admitted_run(self, workflow_id: str, latest: str) -> str | None:
        """The latest run that is the account's own: not one that anyone on the frontend started under its
        id and its admission refused (workflows/admission.py). Resetting such a run would replay it to
        its refusal again; the account's life is in the run before it."""
        runs = [latest] + [wf.run_id async for wf in self.client.list_workflows(f"WorkflowId = '{workflow_id}'")]
        for run_id in list(dict.fromkeys(runs))[:MAX_RUNS_BACK]:
            if not await self._admission_refused(workflow_id, run_id):
                return run_id
        return None

    async def _admission_refused(self, workflow_id: str, run_id: str) -> bool:
        """Whether the run asked to be admitted and was refused: its `admit_account` answered a refusal
        (an admission is asked in a run's first workflow tasks, so its first page of history has it)."""
        page = await self.client.workflow_service.get_workflow_execution_history(
            GetWorkflowExecutionHistoryRequest(
                namespace=self.client.namespace,
                execution=WorkflowExecution(workflow_id=workflow_id, run_id=run_id),
                maximum_page_size=100,
            )
        )
        admissions: set[int] = set()
        for event in page.history.events:
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                if event.activity_task_scheduled_event_attributes.activity_type.name == ADMIT_ACCOUNT:
                    admissions.add(event.event_id)
            elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
                attrs = event.activity_task_completed_event_attributes
                if attrs.scheduled_event_id in admissions:
                    [refusal] = await self.client.data_converter.decode(list(attrs.result.payloads))
                    return refusal is not None
        return False

    async def _out_of_reach(self, workflow_id: str, desc: WorkflowExecutionDescription) -> str | None:
        """Why the run is beyond its workers, or None."""
        if desc.status in ENDED:
            return f"run_{desc.status.name.lower()}"
        if desc.status != WorkflowExecutionStatus.RUNNING:
            return None  # completed by its own code (a closure) or continued as new: the account's own doing
        task = desc.raw_description.pending_workflow_task
        if not desc.raw_description.HasField("pending_workflow_task"):
            return None
        if task.attempt >= FAILING_ATTEMPTS:
            return "task_failing"
        if task.state != PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_SCHEDULED:
            return None
        scheduled = task.original_scheduled_time.ToDatetime(tzinfo=UTC)
        if datetime.now(UTC) - scheduled < self.stall_after:
            return None
        await _wait(self.stall_confirm)
        again = (await self.client.get_workflow_handle(workflow_id, run_id=desc.run_id).describe()).raw_description
        same = again.pending_workflow_task
        if (
            again.HasField("pending_workflow_task")
            and same.state == PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_SCHEDULED
            and same.original_scheduled_time == task.original_scheduled_time
        ):
            return "task_never_handed_out"
        return None

    async def _reset(self, member_id: str, run_id: str, why: str) -> HealReport:
        workflow_id = workflow_id_of(member_id)
        reset_to, signals = await self._since_last_task(workflow_id, run_id)
        if reset_to is None:
            await asyncio.to_thread(_audit, member_id, "not_resettable", {"cause": why})
            return HealReport(member_id, "not_resettable", f"{why}; the run never completed a workflow task.")
        facts = await self._signed_facts(member_id, signals)
        svc = self.client.workflow_service
        response = await svc.reset_workflow_execution(
            ResetWorkflowExecutionRequest(
                namespace=self.client.namespace,
                workflow_execution=WorkflowExecution(workflow_id=workflow_id, run_id=run_id),
                reason=f"ENF-4 account keeper: {why}",
                workflow_task_finish_event_id=reset_to,
                request_id=_request_id("reset", run_id, reset_to),
                reset_reapply_exclude_types=[
                    ResetReapplyExcludeType.RESET_REAPPLY_EXCLUDE_TYPE_SIGNAL,
                    ResetReapplyExcludeType.RESET_REAPPLY_EXCLUDE_TYPE_UPDATE,
                ],
                identity=ACTOR,
            )
        )
        new_run = response.run_id
        for event in facts:
            attrs = event.workflow_execution_signaled_event_attributes
            await svc.signal_workflow_execution(
                SignalWorkflowExecutionRequest(
                    namespace=self.client.namespace,
                    workflow_execution=WorkflowExecution(workflow_id=workflow_id, run_id=new_run),
                    signal_name=attrs.signal_name,
                    # As sent: the payloads are still sealed as the sender sealed them; the account
                    # judges the credential as of its sending, however late it lands.
                    input=attrs.input,
                    header=attrs.header,
                    identity=ACTOR,
                    request_id=_request_id("fact", run_id, event.event_id),
                )
            )
        left = len(signals) - len(facts)
        detail = {"cause": why, "facts_sent_again": str(len(facts)), "signals_left_behind": str(left)}
        await asyncio.to_thread(_audit, member_id, "account_reset", detail)
        log.warning("account %s reset (%s): %d facts sent again, %d signals left behind", member_id, why, len(facts), left)
        return HealReport(member_id, "reset", why, new_run, len(facts), left)

    async def _since_last_task(self, workflow_id: str, run_id: str) -> tuple[int | None, list[HistoryEvent]]:
        """The run's last completed workflow task's event id, and the signals after it (oldest first),
        read from the end of its history."""
        signals: list[HistoryEvent] = []
        token = b""
        while True:
            page = await self.client.workflow_service.get_workflow_execution_history_reverse(
                GetWorkflowExecutionHistoryReverseRequest(
                    namespace=self.client.namespace,
                    execution=WorkflowExecution(workflow_id=workflow_id, run_id=run_id),
                    maximum_page_size=1000,
                    next_page_token=token,
                )
            )
            for event in page.history.events:
                if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                    return event.event_id, signals[::-1]
                if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
                    signals.append(event)
            activity.heartbeat()
            token = page.next_page_token
            if not token:
                return None, signals[::-1]

    async def _signed_facts(self, member_id: str, signals: list[HistoryEvent]) -> list[HistoryEvent]:
        """The fact signals whose message parses and whose credential was good when it was sent, one per
        fact id, at most MAX_FACTS: what the account itself would have taken."""
        kept: list[HistoryEvent] = []
        seen: set[tuple[str, str]] = set()
        now = datetime.now(UTC)
        for event in signals:
            attrs = event.workflow_execution_signaled_event_attributes
            cls = FACTS.get(attrs.signal_name)
            if cls is None or len(attrs.input.payloads) != 1:
                continue
            message = await self._message(cls, attrs.input)
            if message is None:
                continue
            bound = binding(message)
            if (attrs.signal_name, bound[0]) in seen:
                continue
            if check(message.auth, command=attrs.signal_name, account=member_id, now=now, bound=bound, as_sent=True):
                continue
            seen.add((attrs.signal_name, bound[0]))
            kept.append(event)
            if len(kept) >= MAX_FACTS:
                break
        return kept

    async def _message(self, cls: type, payloads: Payloads) -> Any:
        try:
            [value] = await self.client.data_converter.decode(list(payloads.payloads))
            return boundary.parse(cls, value)
        except (RefusedError, ValueError, TypeError, KeyError):
            return None  # no key opens it, or not the message it claims: the account would refuse it too
        except Exception as err:  # noqa: BLE001 - a payload the codec cannot open is left behind, as the account would
            log.info("a signal left behind by the keeper: %s", type(err).__name__)
            return None

    @activity.defn(name="stranded_accounts")
    async def stranded_accounts(self, inp: StrandedQuery) -> StrandedAccounts:
        """Accounts whose run ended from outside since `since`, or whose workflow task the server
        reports failing: the sweep heals each (those the registry holds closed are let be)."""
        until = datetime.now(UTC)
        since = inp.since or until - timedelta(days=1)
        queries = (
            f"WorkflowType = '{ACCOUNT_WORKFLOW_TYPE}' AND ExecutionStatus IN ('Terminated', 'Failed', 'TimedOut', "
            f"'Canceled') AND CloseTime >= '{since.isoformat()}'",
            f"WorkflowType = '{ACCOUNT_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running' AND TemporalReportedProblems IS NOT NULL",
        )
        members: list[str] = []
        for query in queries:
            try:
                async for wf in self.client.list_workflows(query, page_size=500):
                    member = wf.id.removeprefix(workflow_id_of(""))
                    if member not in members:
                        members.append(member)
                    if len(members) % 100 == 0:
                        activity.heartbeat()
            except RPCError as err:
                # A server before 1.28 has no TemporalReportedProblems: the other query still runs.
                if err.status != RPCStatusCode.INVALID_ARGUMENT:
                    raise
                log.warning("the keeper's sweep query was refused (%s): %s", err.status.name, query[:80])
        return StrandedAccounts(members, until)


async def _wait(delay: timedelta) -> None:
    end = asyncio.get_running_loop().time() + delay.total_seconds()
    while (left := end - asyncio.get_running_loop().time()) > 0:
        activity.heartbeat()
        await asyncio.sleep(min(left, 5.0))


def _request_id(kind: str, run_id: str, event_id: int) -> str:
    return hashlib.sha256(f"{kind}:{run_id}:{event_id}".encode()).hexdigest()[:32]


def _recent_resets(member_id: str, cause: str) -> int:
    since = datetime.now(UTC) - RESETS_WINDOW
    with Session(engine()) as session:
        stmt = select(AuditRecord.at, AuditRecord.detail).where(
            AuditRecord.workflow_id == keeper_trail(member_id), AuditRecord.event == "account_reset"
        )
        # SQLite hands the time back without its zone: UTC, as written.
        return sum(
            1
            for at, detail in session.exec(stmt)
            if (at if at.tzinfo else at.replace(tzinfo=UTC)) >= since and detail.get("cause") == cause
        )


def _audit(member_id: str, event: str, detail: dict[str, str]) -> None:
    # The facade's healer and the sweep may write the same trail at once: the loser takes the next number.
    for attempt in range(3):
        try:
            with Session(engine()) as session:
                registry_audit(
                    session, keeper_trail(member_id), at=datetime.now(UTC), event=event, rule=RULE, reason=event, detail=detail, actor=ACTOR
                )
                session.commit()
                return
        except IntegrityError:
            if attempt == 2:
                raise
