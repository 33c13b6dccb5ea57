"""One workflow per seller account, for the account's whole life (years).

Workflow id: `seller-<member id>`; task queue from settings (`seller-accounts` by default).

Signals:  login(LoginInput), report_violation(ViolationInput), report_closure(ClosureReport),
          open_case(AssociationCaseInput), ban(BanInput)
Updates:  verify_email(VerifyEmailInput), request_email_code(RequestCodeInput),
          change_contact(ChangeContactInput), submit_authentication_photo(PhotoSubmission),
          unbind_identity(UnbindInput) (always refused, REG-8), start_exam, submit_exam,
          release_product, remove_product, appeal, decide_appeal
          retry(RetryInput) (operator: write again what ran out of retries, workflows/recovery.py)
Queries:  status() -> AccountStatus
Timers:   REG-4 warnings and dormancy (reclaim or dormant), OPEN-1 authentication due date,
          ENF-2 freezes and point expiry, ASSOC-4 appeal windows, and the run's own age: a run
          continues-as-new after `max_run_days` so a sleeping account reaches new code in bounded time.

Changing this workflow: docs/DEPLOYING.md (patches, recorded histories per release, the deploy test).

The account's state is the chart in workflows/lifecycle.py; every change goes through `_transition`,
which fires the chart and writes the audit row (ENF-4) before anything else happens. Every message is
checked against its declaration (models/boundary.py) where it enters; a failing step never stops the
account (workflows/recovery.py), and enforcement never waits behind a seller's command. This module
reads as the account's life (registration, logins, dormancy, contact, status); the opening steps
(workflows/opening.py: OPEN-1..4, REG-8) and enforcement (workflows/enforcement.py: ENF, ASSOC-4/5,
REG-9/10) are mixed in, and share its effects.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any, NoReturn

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, CancelledError
from temporalio.workflow import ActivityCancellationType

from workflows.account_common import CommandLock, Deadline, cancel_commands, refusal_error, run_activity
from workflows.authorization import Authorization
from workflows.enforcement import Enforcement
from workflows.opening import Opening
from workflows.recovery import Recovery

with workflow.unsafe.imports_passed_through():
    from activities.email_verification import send_verification_code, verify_email_code
    from activities.identity_registry import rebind_contact
    from activities.login_ip import record_login_ip
    from activities.registration_checks import contact_refusal
    from models import boundary
    from models.account_state import AccountInput, AccountState, ChartModel, Fact, PendingEffect
    from models.activity_io import (
        AuditInput,
        LoginIpInput,
        NoticeInput,
        RebindContactInput,
        SendCodeInput,
        VerifyCodeInput,
    )
    from models.contract import (
        AccountProfile,
        AccountStatus,
        ChangeContactInput,
        LoginInput,
        RequestCodeInput,
        Requirements,
        VerifyEmailInput,
    )
    from models.refusals import Refusal, RefusedError, refuse
    from workflows import search_attributes as sa
    from workflows.lifecycle import DORMANT_FROM, LifecycleChart
    from workflows.requirements import clear_errors, record_error, requirements_of


# The first patch of the account workflow (release v2): the run-age timer. See docs/DEPLOYING.md.
RUN_REFRESH_PATCH = "v2-run-age-continue-as-new"
# REG-6 through a mail outage (issue 32): the registration's code, mailed by the account meanwhile.
CODE_ON_ITS_WAY = Refusal(
    "REG-6",
    "code_on_its_way",
    "The mail server is not answering: your code is on its way (we keep trying for 15 minutes).",
    retryable=True,
)
MAIL_UNAVAILABLE = Refusal(
    "REG-6", "mail_unavailable", "Your code could not be mailed; ask for a new code.", retryable=True
)
MAIL_PATIENCE = timedelta(minutes=15)


@workflow.defn
class SellerAccount(Enforcement, Opening, Recovery, Authorization):
    @workflow.init
    def __init__(self, inp: AccountInput) -> None:
        self.profile = inp.profile
        self.policy = inp.policy
        self.max_history_events = inp.max_history_events
        self.max_run_days = inp.max_run_days
        self._run_refresh = False  # patch RUN_REFRESH_PATCH: set by run(), False on runs started by v1
        self._run_started = inp.registered_at
        self._refresh_due = False
        self.state = inp.state or AccountState(
            chart=ChartModel(products_to_open=inp.policy.store.products_to_open),
            registered_at=inp.registered_at,
            last_login_at=inp.registered_at,
        )
        self.chart = LifecycleChart(self.state.chart)
        self._lock = CommandLock()  # per command kind: never held by enforcement, timers or logins
        self._command_steps: set[Any] = set()  # commands' activities in flight, cancelled on closure
        self._first_code: asyncio.Task[None] | None = None  # REG-6 mail through an outage
        if inp.state is None and inp.first_code is not None:  # shown from the account's first query on
            record_error(self.state, "request_email_code", CODE_ON_ITS_WAY)
        self._timers_moved = False
        self._pending_logins: list[LoginInput] = list(inp.pending_logins)
        self._facts: list[Fact] = list(inp.pending_facts)
        self._rejected_signals: list[tuple[str, Refusal]] = []
        self._attention_to_record: list[tuple[str, str]] = []
        self._attention_published = bool(self.state.attention or self.state.outbox)

    # ------------------------------------------------------------------ the account's life

    @workflow.run
    async def run(self, inp: AccountInput) -> AccountStatus:
        try:
            self.profile = boundary.parse(AccountProfile, inp.profile)
        except RefusedError as err:
            raise refusal_error(err) from None  # never started: nothing to record yet
        # Patch (docs/DEPLOYING.md): runs started before v2 replay without the run-age timer.
        self._run_refresh = workflow.patched(RUN_REFRESH_PATCH)
        self._run_started = workflow.now()
        if inp.state is None and inp.first_code is not None:  # from registrations patched for it only
            self._first_code = asyncio.create_task(self._mail_first_code(inp.first_code))
        if inp.state is None:
            await self._audit(
                "register", rule="REG-7", reason="registered", actor="seller", to_state="registered"
            )
        self._publish()

        while not self.chart.is_closed:
            deadline = self._next_deadline()
            fired = await self._wait(deadline)
            if fired and deadline is not None:
                await self._guarded(self._on_deadline(deadline))
            await self._guarded(self._drain_logins())
            await self._drain_facts()
            await self._record_rejected_signals()
            await self._record_attention()
            if self._history_is_long() or self._refresh_due:
                break

        # Handlers may still be awaiting activities; finishing under them would lose their answers.
        await workflow.wait_condition(workflow.all_handlers_finished)
        # Refused signals and exhausted steps of the last moments are on the record before the run ends.
        await self._record_rejected_signals()
        await self._record_attention()
        if not self.chart.is_closed:
            workflow.continue_as_new(
                AccountInput(
                    profile=self.profile,
                    policy=self.policy,
                    registered_at=self.state.registered_at,
                    state=self.state,
                    max_history_events=self.max_history_events,
                    max_run_days=self.max_run_days,
                    # Logins signalled while this run was finishing are applied by the next one.
                    pending_logins=self._pending_logins,
                    pending_facts=self._facts,
                )
            )
        return self.status()

    async def _wait(self, deadline: Deadline | None) -> bool:
        """Sleep until the deadline or until a message moves the timers; True when the deadline fired."""
        self._timers_moved = False
        timeout = None if deadline is None else max(deadline.at - workflow.now(), timedelta(0))
        try:
            await workflow.wait_condition(
                lambda: (
                    self._timers_moved
                    or bool(self._rejected_signals or self._attention_to_record)
                    or bool(self._pending_logins)
                    or bool(self._facts)
                    or self._history_is_long()
                ),
                timeout=timeout,
                timeout_summary=deadline.summary if deadline else None,
            )
        except TimeoutError:
            return True
        return False

    def _next_deadline(self, *, with_run_refresh: bool = True) -> Deadline | None:
        state = self.chart.state
        year = timedelta(days=self.policy.dormancy.inactivity_days)
        expiry = self.state.last_login_at + year
        candidates: list[Deadline] = []
        if state == "registered":
            # REG-4 only reclaims accounts that never passed authentication; they are warned first.
            for days in sorted(self.policy.dormancy.warning_days_before, reverse=True):
                if days not in self.state.warnings_sent and days < self.policy.dormancy.inactivity_days:
                    candidates.append(Deadline(expiry - timedelta(days=days), "reg4_warning", days))
            if not self.state.authentication_overdue:
                due = self.state.registered_at + timedelta(days=self.policy.authentication.due_days)
                candidates.append(Deadline(due, "authentication_due"))
        if state == "registered" or state in DORMANT_FROM:
            candidates.append(Deadline(expiry, "dormancy"))
        if state != "closed":
            candidates += [Deadline(h.until, "hold_expiry") for h in self.state.holds if h.until is not None]
            candidates += [
                Deadline(c.appeal_deadline, "appeal_deadline")
                for c in self.state.cases
                if c.decision is None and c.appealed_at is None
            ]
            keep = timedelta(days=self.policy.penalties.expiry_days)
            candidates += [Deadline(d.given_at + keep, "points_expiry") for d in self.state.deductions[:1]]
            if self._run_refresh and with_run_refresh:
                refresh_at = self._run_started + timedelta(days=self.max_run_days)
                candidates.append(Deadline(refresh_at, "run_refresh"))
        return min(candidates, key=lambda d: d.at, default=None)

    async def _on_deadline(self, deadline: Deadline) -> None:
        if deadline.kind == "reg4_warning":
            self.state.warnings_sent.append(deadline.days_before)
            await self._notice(
                f"reg4-warning-{self.state.last_login_at.isoformat()}-{deadline.days_before:g}",
                kind="reclaim_warning",
                rule="REG-4",
                message=(
                    f"Your account has not completed identity authentication and has not logged in for a long "
                    f"time. Log in within {deadline.days_before:g} day(s) or it will be taken back."
                ),
            )
        elif deadline.kind == "authentication_due":
            self.state.authentication_overdue = True
            await self._audit("authentication_overdue", rule="OPEN-1", reason="authentication_overdue")
            await self._notice(
                "open1-overdue",
                kind="authentication_reminder",
                rule="OPEN-1",
                message="Identity authentication is overdue: submit your photo holding your ID card.",
            )
        elif deadline.kind == "hold_expiry":
            for hold in [h for h in self.state.holds if h.until is not None and h.until <= workflow.now()]:
                await self._lift_hold(hold.hold_id, rule=hold.rule, reason="freeze_lifted")
        elif deadline.kind == "appeal_deadline":
            for case in self.state.cases:
                if (
                    case.decision is None
                    and case.appealed_at is None
                    and case.appeal_deadline <= workflow.now()
                ):
                    case.decision = "expired"
                    await self._close(
                        rule="ASSOC-4",
                        reason="appeal_window_expired",
                        cascade=True,
                        detail={"case_id": case.case_id},
                    )
                    return
        elif deadline.kind == "points_expiry":
            self._prune_deductions()
            self._publish()
        elif deadline.kind == "run_refresh":
            self._refresh_due = True  # the run loop ends and the account continues on the current code
        elif deadline.kind == "dormancy":
            if self.chart.state == "registered":
                await self._transition("reclaim", rule="REG-4", reason="dormancy_reclaim")
            else:
                await self._transition("go_dormant", rule="REG-4", reason="no_login_for_a_year")

    # ------------------------------------------------------------------ messages

    @workflow.signal
    def login(self, *payloads: Any) -> None:
        # Signals cannot be refused: checked here (an invalid one is recorded and dropped), applied in
        # order by the run loop. Undecoded, so that a payload that does not fit is seen too.
        login = self._receive("login", LoginInput, payloads)
        if login is not None:
            self._pending_logins.append(login)

    async def _drain_logins(self) -> None:
        logins = list(self._pending_logins)
        self._pending_logins.clear()
        if not logins or self.chart.is_closed:
            return
        actors = await self._verified([("login", x) for x in logins])
        logins = [x for x, actor in zip(logins, actors, strict=True) if actor is not None]
        if not logins:
            return
        self.state.last_login_at = workflow.now()
        self.state.login_count += len(logins)
        self.state.warnings_sent.clear()
        if self.chart.state == "dormant":
            await self._transition("wake", rule="REG-4", reason="login", actor=actors[0] or "seller")
        # One activity for every login applied in this task keeps a burst of logins cheap in history.
        await run_activity(
            record_login_ip,
            LoginIpInput(
                member_id=self.profile.member_id,
                ips=[x.ip for x in logins],
                devices=[x.device_id for x in logins if x.device_id],
                at=workflow.now(),
                threshold=self.policy.association.ip_advisory_threshold,
            ),
            summary="ASSOC-1 login addresses",
        )

    @workflow.update
    async def verify_email(self, inp: VerifyEmailInput) -> str:
        """REG-6: the one-time code mailed at registration proves the email is the registrant's own."""
        async with self._lock:  # per command kind (CommandLock)
            result = await run_activity(
                verify_email_code,
                VerifyCodeInput(
                    member_id=self.profile.member_id,
                    code=inp.code,
                    now=workflow.now(),
                    max_attempts=self.policy.email_verification.max_attempts,
                ),
                summary="REG-6 check code",
            )
            actor = self._actor(inp.auth, "seller")
            if result.refusal is not None:
                await self._refused("verify_email", result.refusal, actor=actor)
            self.state.email_verified = True
            clear_errors(self.state, "email_verification")
            await self._audit("verify_email", rule="REG-6", reason="email_verified", actor=actor)
            self._publish()
            return self.chart.state

    @verify_email.validator
    def _check_verify_email(self, inp: VerifyEmailInput) -> None:
        self._at_boundary(inp)
        self._authorize("verify_email", inp.auth)
        self._require_live("verify_email")
        if self.state.email_verified:
            raise refusal_error(refuse("REG-6", "already_verified", "The email address is already verified."))
        if not inp.code.strip().isdigit() or len(inp.code.strip()) != 6:
            raise refusal_error(refuse("REG-6", "code_malformed", "The code is the 6 digits from the email."))

    @workflow.update
    async def request_email_code(self, inp: RequestCodeInput) -> str:
        """REG-6: mail a new code (the previous one stops working)."""
        async with self._lock:
            if self._first_code is not None and not self._first_code.done():
                # The registration's code, still on its way, is dropped before a new one is issued (it
                # would supersede the new one if it went later): wait until its attempt has ended.
                self._first_code.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._first_code
                clear_errors(self.state, "email_verification")
            await self._mail_code(inp.email, actor=self._actor(inp.auth, "seller"))
            return self.chart.state

    async def _mail_first_code(self, code: SendCodeInput) -> None:
        """REG-6: the registration's code, through up to MAIL_PATIENCE of mail outage (the same issue,
        so the same code); `status` shows it on its way, then mailed (error cleared) or failed."""
        try:
            sent = await workflow.execute_activity(
                send_verification_code,
                code,
                summary="REG-6 mail code (through an outage)",
                start_to_close_timeout=timedelta(seconds=30),
                heartbeat_timeout=timedelta(seconds=10),
                schedule_to_close_timeout=MAIL_PATIENCE,
                retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)),
                cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            )
        except ActivityError as err:
            if isinstance(err.cause, CancelledError):  # the seller asked for a new code meanwhile
                return
            if any(e.code == CODE_ON_ITS_WAY.code for e in self.state.errors):
                record_error(self.state, "request_email_code", MAIL_UNAVAILABLE)
        else:
            if sent.refusal is not None:
                record_error(self.state, "request_email_code", sent.refusal)
            else:
                clear_errors(self.state, "email_verification")
        self._publish()

    async def _mail_code(self, email: str, *, actor: str) -> None:
        sent = await run_activity(
            send_verification_code,
            SendCodeInput(
                member_id=self.profile.member_id,
                email=email,
                ttl_minutes=self.policy.email_verification.code_ttl_minutes,
                issued_at=workflow.now(),
            ),
            summary="REG-6 mail code",
        )
        if sent.refusal is not None:
            await self._refused("request_email_code", sent.refusal, actor=actor)
        clear_errors(self.state, "email_verification")

    @request_email_code.validator
    def _check_request_email_code(self, inp: RequestCodeInput) -> None:
        self._at_boundary(inp)
        self._authorize("request_email_code", inp.auth)
        self._require_live("request_email_code")
        if self.state.email_verified:
            raise refusal_error(refuse("REG-6", "already_verified", "The email address is already verified."))
        # REG-6: a malformed address (a line break, a header) is refused here, before any activity.
        refusal = contact_refusal("email", inp.email, self.profile.region)
        if refusal is not None:
            raise refusal_error(RefusedError(refusal))

    @workflow.update
    async def change_contact(self, inp: ChangeContactInput) -> str:
        """REG-11 / ASSOC-2: a new email or mobile must be free; one held by another seller links the two."""
        async with self._lock:
            actor = self._actor(inp.auth, "seller")
            result = await run_activity(
                rebind_contact,
                RebindContactInput(
                    member_id=self.profile.member_id, kind=inp.kind, value=inp.value, at=workflow.now()
                ),
                summary=f"ASSOC-2 rebind {inp.kind}",
            )
            if result.refusal is not None:
                if result.linked_member_id:
                    await self._audit(
                        "identity_link",
                        rule="ASSOC-2",
                        reason=f"shared_{inp.kind}",
                        detail={"linked_member_id": result.linked_member_id},
                    )
                    await self._associate(result.linked_member_id, rule="ASSOC-2", cause=f"shared_{inp.kind}")
                await self._refused("change_contact", result.refusal, actor=actor)
            await self._audit("change_contact", rule="REG-11", reason=f"{inp.kind}_changed", actor=actor)
            if inp.kind == "email":
                # REG-6: the new address is proved like the first one.
                self.state.email_verified = False
                await self._mail_code(inp.value, actor=actor)
            return self.chart.state

    @change_contact.validator
    def _check_change_contact(self, inp: ChangeContactInput) -> None:
        self._at_boundary(inp)
        self._authorize("change_contact", inp.auth)
        self._require_live("change_contact")
        refusal = contact_refusal(inp.kind, inp.value, self.profile.region)
        if refusal is not None:
            raise refusal_error(RefusedError(refusal))

    def _at_boundary(self, inp: Any) -> None:
        """Refuse a command whose payload breaks its declaration (models/boundary.py)."""
        try:
            boundary.check(inp)
        except RefusedError as err:
            raise refusal_error(err) from None

    def _require_live(self, command: str) -> None:
        if self.chart.is_closed:
            raise refusal_error(self.chart.refusal(command))

    async def _refused(self, command: str, refusal: Refusal, *, actor: str) -> NoReturn:
        """Record a refusal of a processed command (ENF-4) and fail the command with it."""
        self.state.reasons = [str(refusal)]
        record_error(self.state, command, refusal)
        await self._audit(command, rule=refusal.rule, reason=refusal.code, actor=actor)
        raise refusal_error(RefusedError(refusal))

    @workflow.query
    def status(self) -> AccountStatus:
        return AccountStatus(
            member_id=self.profile.member_id,
            state=self.chart.state,
            resume_state=self.state.chart.resume_state,
            closed_reason=self.state.closed_reason,
            reasons=list(self.state.reasons),
            waiting_for=self._waiting_for(),
            last_login_at=self.state.last_login_at,
            login_count=self.state.login_count,
            products_released=self.state.chart.products_released,
            policy_version=self.policy.version,
            penalty_points={ledger: self._points(ledger) for ledger in ("ip", "trade", "listing", "strike")},
            holds=[h.hold_id for h in self.state.holds],
            open_cases=[c.case_id for c in self.state.cases if c.decision is None],
            needs_attention=self._attention_lines(),
            requirements=self._requirements(),
        )

    def _requirements(self) -> Requirements:
        return requirements_of(self.chart.state, self.state, self.policy, workflow.now())

    def _waiting_for(self) -> list[str]:
        state = self.chart.state
        waits = {
            "registered": ["identity authentication photo (OPEN-1)"],
            "authenticated": ["rules exam (OPEN-2)"],
            "exam_passed": [
                f"{self.state.chart.products_to_open - self.state.chart.products_released} more products (OPEN-3)"
            ],
            "ten_products": ["store opening (OPEN-3)"],
            "open": [],
            "dormant": ["a login (REG-4)"],
            "suspended": [f"{h.kind} {h.hold_id} to be lifted ({h.rule})" for h in self.state.holds],
            "closed": [],
        }[state]
        deadline = self._next_deadline(with_run_refresh=False)  # the run's age is not the seller's concern
        if deadline is not None and state != "closed":
            waits.append(f"{deadline.summary} at {deadline.at.isoformat(timespec='seconds')}")
        return waits

    # ------------------------------------------------------------------ effects

    async def _transition(
        self,
        event: str,
        *,
        rule: str,
        reason: str,
        actor: str = "system",
        detail: dict[str, str] | None = None,
    ) -> None:
        """Fire the chart and record the change: the only place the account's state changes."""
        try:
            before, after = self.chart.fire(event)
        except RefusedError as err:
            # Enforcement may have moved the state while a command waited on its step.
            raise refusal_error(err) from None
        self._timers_moved = True  # a new state has other deadlines (or, closed, none)
        if after == "closed":
            self.state.closed_reason = reason
            cancel_commands(self)
        elif event in ("reinstate", "wake"):
            self.state.reasons = []  # refusals from before the hold or the sleep no longer apply
        await self._audit(
            event, rule=rule, reason=reason, actor=actor, from_state=before, to_state=after, detail=detail
        )
        self._publish()

    async def _audit(
        self,
        event: str,
        *,
        rule: str,
        reason: str,
        actor: str = "system",
        from_state: str | None = None,
        to_state: str | None = None,
        detail: dict[str, str] | None = None,
    ) -> None:
        self.state.audit_seq += 1
        await self._effect(
            PendingEffect(
                audit=AuditInput(
                    workflow_id=workflow.info().workflow_id,
                    seq=self.state.audit_seq,
                    at=workflow.now(),
                    actor=actor,
                    event=event,
                    rule=rule,
                    reason=reason,
                    policy_version=self.policy.version,
                    from_state=from_state,
                    to_state=to_state,
                    detail=detail or {},
                )
            )
        )

    async def _notice(self, key: str, *, kind: str, rule: str, message: str) -> None:
        await self._effect(
            PendingEffect(
                notice=NoticeInput(
                    member_id=self.profile.member_id,
                    key=key,
                    kind=kind,
                    rule=rule,
                    message=message,
                    at=workflow.now(),
                )
            )
        )

    def _publish(self) -> None:
        """Search attributes and current details, so operators see business state in the Web UI."""
        self._attention_published = self._attention_published or self._attention_flag
        updates: list[SearchAttributeUpdate[Any]] = [
            sa.SELLER_STATE.value_set(self.chart.state),
            sa.MEMBER_ID.value_set(self.profile.member_id),
            sa.REGION.value_set(self.profile.region),
            sa.PRODUCT_COUNT.value_set(len(self.state.products_live)),
            sa.PENALTY_POINTS.value_set(sum(self._points(x) for x in ("ip", "trade", "listing"))),
            # Only a live account can still be decided on: a closed one has settled its cases.
            sa.OPEN_CASE.value_set(
                not self.chart.is_closed and any(c.decision is None for c in self.state.cases)
            ),
        ]
        if self._attention_published:  # published once it has been true (older histories replay unchanged)
            updates.append(sa.NEEDS_ATTENTION.value_set(self._attention_flag))
        if self.state.closed_reason:
            updates.append(sa.CLOSED_REASON.value_set(self.state.closed_reason))
        workflow.upsert_search_attributes(updates)
        lines = [f"**{self.chart.state}**"]
        if self.state.closed_reason:
            lines.append(f"closed: {self.state.closed_reason}")
        lines += [f"waiting for {w}" for w in self._waiting_for()]
        needs = self._requirements()
        lines += [f"due: {r.requirement} ({r.rule})" for r in needs.currently_due]
        lines += [f"past due: {r.requirement} ({r.rule})" for r in needs.past_due]
        lines += [f"last refusal: {e.requirement} {e.rule} {e.code}" for e in needs.errors]
        lines += [f"needs attention: {a}" for a in self._attention_lines()]
        workflow.set_current_details("\n\n".join(lines))

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= self.max_history_events
        )
