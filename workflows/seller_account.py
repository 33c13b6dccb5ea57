"""One workflow per seller account, for the account's whole life (years).

Workflow id: `seller-<member id>`; task queue from settings (`seller-accounts` by default).

Signals:  login(LoginInput), report_violation(ViolationInput), report_closure(ClosureReport),
          open_case(AssociationCaseInput), ban(BanInput)
Updates:  verify_email(VerifyEmailInput), request_email_code(RequestCodeInput),
          change_contact(ChangeContactInput), submit_authentication_photo(PhotoSubmission),
          unbind_identity(UnbindInput) (always refused, REG-8)
Queries:  status() -> AccountStatus
Timers:   REG-4 warnings and dormancy (reclaim or dormant), OPEN-1 authentication due date.

The account's state is the chart in workflows/lifecycle.py; every change goes through `_transition`,
which fires the chart and writes the audit row (ENF-4) before anything else happens.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.audit import record_audit, send_notice
    from activities.blobs import BLOB_REF
    from activities.email_verification import send_verification_code, verify_email_code
    from activities.enforcement import active_links, bar_identity, clear_link
    from activities.exam import draw_exam_paper, grade_exam
    from activities.identity_photo import check_authentication_photo
    from activities.identity_registry import rebind_contact
    from activities.login_ip import record_login_ip
    from activities.product_index import list_product, product_refusal, unlist_product
    from activities.registration_checks import contact_refusal
    from models.contract import (
        LOGIN_CHANNELS,
        AccountInput,
        AccountState,
        AccountStatus,
        AppealDecisionInput,
        AppealInput,
        AssociationCase,
        AssociationCaseInput,
        AuditInput,
        AuthenticationResult,
        BanInput,
        BarIdentityInput,
        ChangeContactInput,
        ChartModel,
        ClearLinkInput,
        ClosureReport,
        Deduction,
        DrawExamInput,
        ExamAnswers,
        ExamPaperView,
        ExamResult,
        ExamStartInput,
        Fact,
        GradeExamInput,
        Hold,
        ListProductInput,
        LoginInput,
        LoginIpInput,
        NoticeInput,
        PhotoCheckInput,
        PhotoSubmission,
        ProductInput,
        ProductReleaseResult,
        ProductRemoval,
        RebindContactInput,
        RequestCodeInput,
        SendCodeInput,
        UnbindInput,
        UnlistProductInput,
        VerifyCodeInput,
        VerifyEmailInput,
        ViolationInput,
        account_workflow_id,
    )
    from models.refusals import REFUSAL_ERROR_TYPE, Refusal, RefusedError, refuse
    from workflows import search_attributes as sa
    from workflows.lifecycle import DORMANT_FROM, LifecycleChart

ACTIVITY_TIMEOUT = timedelta(seconds=30)
# ENF-2 ledgers: (a) intellectual property and prohibited goods, (b) trade, (c) listing quality, and
# serious IP infringement strikes. REG-3 false buyer accounts count on the trade ledger.
LEDGERS = {"ip": "ip", "trade": "trade", "false_buyer": "trade", "listing": "listing", "ip_strike": "strike"}
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


@dataclass
class Deadline:
    at: datetime
    kind: str  # reg4_warning | dormancy | authentication_due | hold_expiry | appeal_deadline | points_expiry
    days_before: float = 0

    @property
    def summary(self) -> str:
        if self.kind == "reg4_warning":
            return f"REG-4 warning {self.days_before:g}d before reclaim"
        return {
            "dormancy": "REG-4 dormancy check",
            "authentication_due": "OPEN-1 authentication due",
            "hold_expiry": "ENF-2 freeze lifts",
            "appeal_deadline": "ASSOC-4 appeal window closes",
            "points_expiry": "ENF-2 points expire",
        }[self.kind]


def refusal_error(err: RefusedError) -> ApplicationError:
    """Business refusals fail the command, never the workflow task (which would retry forever)."""
    return ApplicationError(err.refusal.message, err.refusal, type=REFUSAL_ERROR_TYPE, non_retryable=True)


@workflow.defn
class SellerAccount:
    @workflow.init
    def __init__(self, inp: AccountInput) -> None:
        self.profile = inp.profile
        self.policy = inp.policy
        self.max_history_events = inp.max_history_events
        self.state = inp.state or AccountState(
            chart=ChartModel(products_to_open=inp.policy.store.products_to_open),
            registered_at=inp.registered_at,
            last_login_at=inp.registered_at,
        )
        self.chart = LifecycleChart(self.state.chart)
        self._lock = asyncio.Lock()
        self._timers_moved = False
        self._pending_logins: list[LoginInput] = list(inp.pending_logins)
        self._facts: list[Fact] = list(inp.pending_facts)

    # ------------------------------------------------------------------ the account's life

    @workflow.run
    async def run(self, inp: AccountInput) -> AccountStatus:
        if inp.state is None:
            await self._audit(
                "register", rule="REG-7", reason="registered", actor="seller", to_state="registered"
            )
        self._publish()

        while not self.chart.is_closed:
            deadline = self._next_deadline()
            fired = await self._wait(deadline)
            if fired and deadline is not None:
                async with self._lock:
                    await self._on_deadline(deadline)
            await self._drain_logins()
            await self._drain_facts()
            if self._history_is_long():
                break

        # Handlers may still be awaiting activities; finishing under them would lose their answers.
        await workflow.wait_condition(workflow.all_handlers_finished)
        if not self.chart.is_closed:
            workflow.continue_as_new(
                AccountInput(
                    profile=self.profile,
                    policy=self.policy,
                    registered_at=self.state.registered_at,
                    state=self.state,
                    max_history_events=self.max_history_events,
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

    def _next_deadline(self) -> Deadline | None:
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
        elif deadline.kind == "dormancy":
            if self.chart.state == "registered":
                await self._transition("reclaim", rule="REG-4", reason="dormancy_reclaim")
            else:
                await self._transition("go_dormant", rule="REG-4", reason="no_login_for_a_year")

    # ------------------------------------------------------------------ messages

    @workflow.signal
    def login(self, login: LoginInput) -> None:
        # Signals cannot be refused; the run loop applies queued logins in order, under the lock.
        self._pending_logins.append(login)

    async def _drain_logins(self) -> None:
        logins = [x for x in self._pending_logins if x.channel in LOGIN_CHANNELS]
        self._pending_logins.clear()
        if not logins or self.chart.is_closed:
            return
        async with self._lock:
            self.state.last_login_at = workflow.now()
            self.state.login_count += len(logins)
            self.state.warnings_sent.clear()
            if self.chart.state == "dormant":
                await self._transition("wake", rule="REG-4", reason="login", actor="seller")
        # One activity for every login applied in this task keeps a burst of logins cheap in history.
        await workflow.execute_activity(
            record_login_ip,
            LoginIpInput(
                member_id=self.profile.member_id,
                ips=[x.ip for x in logins],
                devices=[x.device_id for x in logins if x.device_id],
                at=workflow.now(),
                threshold=self.policy.association.ip_advisory_threshold,
            ),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
            summary="ASSOC-1 login addresses",
        )

    # ------------------------------------------------------------------ ENF, REG-9/10, ASSOC-4 facts

    @workflow.signal
    def report_violation(self, violation: ViolationInput) -> None:
        self._facts.append(Fact(violation=violation))

    @workflow.signal
    def report_closure(self, report: ClosureReport) -> None:
        self._facts.append(Fact(closure=report))

    @workflow.signal
    def open_case(self, case: AssociationCaseInput) -> None:
        self._facts.append(Fact(case=case))

    @workflow.signal
    def ban(self, ban: BanInput) -> None:
        self._facts.append(Fact(ban=ban))

    async def _drain_facts(self) -> None:
        """Apply inbound facts one at a time, in arrival order; duplicates are recognised by id."""
        while self._facts and not self.chart.is_closed:
            fact = self._facts.pop(0)
            async with self._lock:
                if fact.violation is not None:
                    await self._apply_violation(fact.violation)
                elif fact.closure is not None:
                    await self._apply_closure(fact.closure)
                elif fact.case is not None:
                    await self._open_case(fact.case, tell_other=False)
                elif fact.ban is not None:
                    await self._apply_ban(fact.ban)
        self._facts.clear()  # a closed account applies nothing more

    def _first_time(self, report_id: str) -> bool:
        if report_id in self.state.seen_reports:
            return False
        self.state.seen_reports.append(report_id)
        return True

    async def _apply_violation(self, v: ViolationInput) -> None:
        if not self._first_time(v.violation_id):
            return
        penalties = self.policy.penalties
        detail = {"violation_id": v.violation_id, "category": v.category, "evidence": v.evidence_ref[:80]}
        if v.severity == "serious":
            await self._audit("violation", rule=v.rule, reason=f"serious_{v.category}", detail=detail)
            await self._close(rule="ENF-1", reason="serious_violation", bar=True, cascade=True, detail=detail)
            return
        ledger = LEDGERS.get(v.category)
        if ledger is None:
            await self._audit("violation_ignored", rule="ENF-1", reason="unknown_category", detail=detail)
            return
        now = workflow.now()
        given = min(v.given_at or now, now)
        self._prune_deductions()
        points = 1 if ledger == "strike" else max(0, v.points)
        self.state.deductions.append(Deduction(v.violation_id, ledger, points, given, rule=v.rule))
        self.state.deductions.sort(key=lambda d: d.given_at)
        self._prune_deductions()
        total = self._points(ledger)
        await self._audit(
            "violation",
            rule=v.rule,
            reason=f"{ledger}_points",
            detail=detail | {"points": str(points), "total": str(total)},
        )
        if ledger in ("ip", "trade"):
            limit = penalties.ip_close_points if ledger == "ip" else penalties.trade_close_points
            if total >= limit:
                await self._close(rule="ENF-2", reason=f"{ledger}_points_{limit}", detail=detail)
        elif ledger == "listing":
            steps = total // penalties.listing_freeze_every
            if steps > self.state.listing_freeze_steps:
                self.state.listing_freeze_steps = steps
                await self._freeze(
                    v.violation_id, days=penalties.listing_freeze_days, reason=f"listing_points_{total}"
                )
        elif ledger == "strike":
            if total >= penalties.strikes_to_close:
                await self._close(rule="ENF-2", reason="third_strike", bar=True, cascade=True, detail=detail)
            else:
                days = penalties.strike_freeze_days[min(total, len(penalties.strike_freeze_days)) - 1]
                await self._freeze(v.violation_id, days=days, reason=f"strike_{total}")
        self._publish()

    def _prune_deductions(self) -> None:
        """ENF-2: a deduction counts for expiry_days after it was given (a rolling window)."""
        horizon = workflow.now() - timedelta(days=self.policy.penalties.expiry_days)
        self.state.deductions = [d for d in self.state.deductions if d.given_at > horizon]
        every = self.policy.penalties.listing_freeze_every
        # Points that expired take their freeze steps with them, so the next 12 freeze again.
        self.state.listing_freeze_steps = min(
            self.state.listing_freeze_steps, self._points("listing") // every
        )

    def _points(self, ledger: str) -> int:
        return sum(d.points for d in self.state.deductions if d.ledger == ledger)

    async def _freeze(self, violation_id: str, *, days: float, reason: str) -> None:
        until = workflow.now() + timedelta(days=days)
        await self._add_hold(
            Hold(hold_id=f"freeze-{violation_id}", kind="freeze", rule="ENF-2", until=until), reason
        )

    async def _apply_closure(self, report: ClosureReport) -> None:
        if not self._first_time(report.report_id):
            return
        detail = {
            "report_id": report.report_id,
            "reported_by": report.reported_by,
            "evidence": report.evidence_ref[:80],
        }
        if report.rule == "REG-10":
            # Closed on Alibaba.com for serious violations: serious here too (REG-5, ENF-3).
            await self._close(rule="REG-10", reason="alibaba_closure", bar=True, cascade=True, detail=detail)
        elif report.rule == "REG-9":
            await self._close(rule="REG-9", reason="account_rental", detail=detail)
        else:
            await self._audit(
                "closure_report_ignored", rule=report.rule, reason="unknown_rule", detail=detail
            )

    async def _apply_ban(self, ban: BanInput) -> None:
        # Closed accounts never get here: a ban is applied once, whichever path it came by.
        await self._close(
            rule="ENF-3",
            reason="linked_ban",
            cascade=True,
            chain=ban.chain,
            origin=ban.origin_member_id,
            detail={
                "origin_member_id": ban.origin_member_id,
                "via_member_id": ban.via_member_id,
                "origin_reason": ban.origin_reason,
            },
        )

    async def _add_hold(self, hold: Hold, reason: str) -> None:
        if self.chart.is_closed or any(h.hold_id == hold.hold_id for h in self.state.holds):
            return
        self.state.holds.append(hold)
        detail = {"hold_id": hold.hold_id} | ({"until": hold.until.isoformat()} if hold.until else {})
        if self.chart.state == "suspended":
            await self._audit("hold_added", rule=hold.rule, reason=reason, detail=detail)
        else:
            await self._transition("suspend", rule=hold.rule, reason=reason, detail=detail)

    async def _lift_hold(self, hold_id: str, *, rule: str, reason: str, actor: str = "system") -> None:
        self.state.holds = [h for h in self.state.holds if h.hold_id != hold_id]
        if self.state.holds or self.chart.state != "suspended":
            await self._audit(
                "hold_lifted", rule=rule, reason=reason, actor=actor, detail={"hold_id": hold_id}
            )
        else:
            await self._transition(
                "reinstate", rule=rule, reason=reason, actor=actor, detail={"hold_id": hold_id}
            )

    async def _close(
        self,
        *,
        rule: str,
        reason: str,
        actor: str = "system",
        bar: bool = False,
        cascade: bool = False,
        chain: list[str] | None = None,
        origin: str | None = None,
        detail: dict[str, str] | None = None,
    ) -> None:
        """Close for good. `bar`: the identity may never register again (REG-5). `cascade`: every linked
        account is banned too (ENF-3), each ban naming the account it came from."""
        if self.chart.is_closed:
            return
        self.state.holds.clear()
        await self._transition("close", rule=rule, reason=reason, actor=actor, detail=detail)
        me = self.profile.member_id
        if bar:
            await workflow.execute_activity(
                bar_identity,
                BarIdentityInput(member_id=me, at=workflow.now()),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=RETRY,
                summary="REG-5 bar identity",
            )
        if cascade:
            links = await workflow.execute_activity(
                active_links,
                me,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=RETRY,
                summary="ENF-3 links",
            )
            seen = set(chain or []) | {me}
            targets = [m for m in links if m not in seen]
            # Everyone banned in this wave goes in the chain, so siblings and cycles never ban back.
            wave = sorted(seen | set(targets))
            for target in targets:
                ban = BanInput(
                    origin_member_id=origin or me, via_member_id=me, origin_reason=reason, chain=wave
                )
                try:
                    await workflow.get_external_workflow_handle(account_workflow_id(target)).signal(
                        SellerAccount.ban, ban
                    )
                    outcome = "ban_sent"
                except Exception:  # the linked account's workflow has already ended (closed)
                    outcome = "ban_target_gone"
                await self._audit(
                    "cascade", rule="ENF-3", reason=outcome, detail={"target_member_id": target}
                )

    async def _open_case(self, case_input: AssociationCaseInput, *, tell_other: bool) -> None:
        if self.chart.is_closed or any(c.case_id == case_input.case_id for c in self.state.cases):
            return
        now = workflow.now()
        window = timedelta(days=self.policy.association.appeal_window_days)
        case = AssociationCase(
            case_id=case_input.case_id,
            cause=case_input.cause,
            linked_member_id=case_input.linked_member_id,
            opened_at=now,
            appeal_deadline=now + window,
        )
        self.state.cases.append(case)
        await self._notice(
            f"case-{case.case_id}",
            kind="association_case",
            rule="ASSOC-4",
            message=(
                "Your store has been found associated with another store and is suspended. Appeal within "
                f"{self.policy.association.appeal_window_days:g} days with your store-opening information, "
                "purchase invoices and a letter, or the store will be closed."
            ),
        )
        await self._add_hold(Hold(hold_id=f"case-{case.case_id}", kind="case", rule="ASSOC-4"), case.cause)
        if tell_other:
            other = AssociationCaseInput(case.case_id, case.cause, self.profile.member_id, case_input.rule)
            try:
                await workflow.get_external_workflow_handle(
                    account_workflow_id(case.linked_member_id)
                ).signal(SellerAccount.open_case, other)
            except Exception:  # the other store's workflow has already ended (closed)
                await self._audit(
                    "case_not_delivered",
                    rule="ASSOC-4",
                    reason="linked_account_closed",
                    detail={"case_id": case.case_id},
                )

    async def _associate(self, linked_member_id: str, *, rule: str, cause: str) -> None:
        """ASSOC-4: a new link suspends both stores, each with an appeal window."""
        first, second = sorted((self.profile.member_id, linked_member_id))
        case_id = f"{rule}:{cause}:{first}:{second}"
        await self._open_case(AssociationCaseInput(case_id, cause, linked_member_id, rule), tell_other=True)

    @workflow.update
    async def appeal(self, inp: AppealInput) -> str:
        """ASSOC-5: one appeal per case, within the window, with opening information, invoices and a letter."""
        async with self._lock:
            case = self._check_appeal(inp)
            case.appealed_at = workflow.now()
            case.appeal_letter_chars = len(inp.letter)
            case.invoice_refs = list(inp.invoice_refs)
            self._timers_moved = True  # an appealed case waits for the operator, not for its window
            await self._audit(
                "appeal_filed",
                rule="ASSOC-5",
                reason="appeal_filed",
                actor="seller",
                detail={"case_id": case.case_id, "invoices": str(len(inp.invoice_refs))},
            )
            self._publish()
            return self.chart.state

    @appeal.validator
    def _validate_appeal(self, inp: AppealInput) -> None:
        self._check_appeal(inp)

    def _check_appeal(self, inp: AppealInput) -> AssociationCase:
        self._require_live("appeal")
        case = next((c for c in self.state.cases if c.case_id == inp.case_id), None)
        if case is None:
            raise refusal_error(
                refuse("ASSOC-5", "no_such_case", "There is no such association case on this account.")
            )
        if case.appealed_at is not None:
            raise refusal_error(refuse("ASSOC-5", "already_appealed", "A case can be appealed only once."))
        if case.decision is not None or workflow.now() >= case.appeal_deadline:
            raise refusal_error(
                refuse("ASSOC-4", "appeal_window_closed", "The appeal window for this case has closed.")
            )
        if not inp.store_opening_info.strip() or len(inp.store_opening_info) > 2000:
            raise refusal_error(
                refuse(
                    "ASSOC-5",
                    "opening_info_required",
                    "Give the store-opening information (up to 2000 characters).",
                )
            )
        if not 1 <= len(inp.invoice_refs) <= 10 or not all(BLOB_REF.match(r) for r in inp.invoice_refs):
            raise refusal_error(
                refuse("ASSOC-5", "invoices_required", "Attach 1 to 10 uploaded purchase invoices.")
            )
        if not 20 <= len(inp.letter.strip()) <= 5000:
            raise refusal_error(
                refuse(
                    "ASSOC-5",
                    "letter_required",
                    "The letter must say what was done and how it will be corrected.",
                )
            )
        return case

    @workflow.update
    async def decide_appeal(self, inp: AppealDecisionInput) -> str:
        """ASSOC-5: an operator approves (the store returns to where it was) or rejects (closed)."""
        async with self._lock:
            case = self._check_decision(inp)
            actor = f"operator:{inp.operator.strip()}"
            case.decision = "approved" if inp.approved else "rejected"
            case.decided_by = actor
            detail = {"case_id": case.case_id, "note": inp.note[:200]}
            if inp.approved:
                await workflow.execute_activity(
                    clear_link,
                    ClearLinkInput(self.profile.member_id, case.linked_member_id, actor, workflow.now()),
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    retry_policy=RETRY,
                    summary="ASSOC-5 clear link",
                )
                await self._audit(
                    "appeal_approved", rule="ASSOC-5", reason="appeal_approved", actor=actor, detail=detail
                )
                await self._lift_hold(
                    f"case-{case.case_id}", rule="ASSOC-5", reason="appeal_approved", actor=actor
                )
            else:
                await self._audit(
                    "appeal_rejected", rule="ASSOC-5", reason="appeal_rejected", actor=actor, detail=detail
                )
                await self._close(
                    rule="ASSOC-5", reason="appeal_rejected", actor=actor, cascade=True, detail=detail
                )
            self._publish()
            return self.chart.state

    @decide_appeal.validator
    def _validate_decision(self, inp: AppealDecisionInput) -> None:
        self._check_decision(inp)

    def _check_decision(self, inp: AppealDecisionInput) -> AssociationCase:
        self._require_live("decide_appeal")
        if not inp.operator.strip() or len(inp.operator) > 64:
            raise refusal_error(
                refuse("ENF-4", "operator_required", "A decision names the operator who takes it.")
            )
        case = next((c for c in self.state.cases if c.case_id == inp.case_id), None)
        if case is None:
            raise refusal_error(
                refuse("ASSOC-5", "no_such_case", "There is no such association case on this account.")
            )
        if case.decision is not None:
            raise refusal_error(
                refuse("ASSOC-5", "already_decided", f"The case was already {case.decision}.")
            )
        if case.appealed_at is None:
            raise refusal_error(refuse("ASSOC-5", "no_appeal", "The seller has not appealed this case."))
        return case

    @workflow.update
    async def verify_email(self, inp: VerifyEmailInput) -> str:
        """REG-6: the one-time code mailed at registration proves the email is the registrant's own."""
        async with self._lock:
            result = await workflow.execute_activity(
                verify_email_code,
                VerifyCodeInput(
                    member_id=self.profile.member_id,
                    code=inp.code,
                    now=workflow.now(),
                    max_attempts=self.policy.email_verification.max_attempts,
                ),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=RETRY,
                summary="REG-6 check code",
            )
            if result.refusal is not None:
                await self._refused("verify_email", result.refusal, actor="seller")
            self.state.email_verified = True
            await self._audit("verify_email", rule="REG-6", reason="email_verified", actor="seller")
            self._publish()
            return self.chart.state

    @verify_email.validator
    def _check_verify_email(self, inp: VerifyEmailInput) -> None:
        self._require_live("verify_email")
        if self.state.email_verified:
            raise refusal_error(refuse("REG-6", "already_verified", "The email address is already verified."))
        if not inp.code.strip().isdigit() or len(inp.code.strip()) != 6:
            raise refusal_error(refuse("REG-6", "code_malformed", "The code is the 6 digits from the email."))

    @workflow.update
    async def request_email_code(self, inp: RequestCodeInput) -> str:
        """REG-6: mail a new code (the previous one stops working)."""
        async with self._lock:
            await self._mail_code(inp.email)
            return self.chart.state

    async def _mail_code(self, email: str) -> None:
        sent = await workflow.execute_activity(
            send_verification_code,
            SendCodeInput(
                member_id=self.profile.member_id,
                email=email,
                ttl_minutes=self.policy.email_verification.code_ttl_minutes,
                issued_at=workflow.now(),
            ),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
            summary="REG-6 mail code",
        )
        if sent.refusal is not None:
            await self._refused("request_email_code", sent.refusal, actor="seller")

    @request_email_code.validator
    def _check_request_email_code(self, inp: RequestCodeInput) -> None:
        self._require_live("request_email_code")
        if self.state.email_verified:
            raise refusal_error(refuse("REG-6", "already_verified", "The email address is already verified."))

    @workflow.update
    async def submit_authentication_photo(self, photo: PhotoSubmission) -> AuthenticationResult:
        """OPEN-1: the photo (by blob reference) is checked; a pass binds the identity for good (REG-8)."""
        async with self._lock:
            self._require_allowed("submit_authentication_photo", "authenticate")
            result = await workflow.execute_activity(
                check_authentication_photo,
                PhotoCheckInput(photo_ref=photo.photo_ref, policy=self.policy.authentication),
                start_to_close_timeout=timedelta(minutes=2),
                retry_policy=RetryPolicy(maximum_attempts=3),
                summary="OPEN-1 photo checks",
            )
            if not result.passed and result.refusal is not None:
                self.state.reasons = [str(result.refusal)]
                await self._audit(
                    "authentication_failed",
                    rule=result.refusal.rule,
                    reason=result.refusal.code,
                    actor="seller",
                    detail={"photo_ref": photo.photo_ref},
                )
                self._publish()
                return AuthenticationResult(passed=False, state=self.chart.state, failures=[result.refusal])
            self.state.reasons = []
            await self._transition(
                "authenticate", rule="OPEN-1", reason="photo_authenticated", actor="seller"
            )
            return AuthenticationResult(passed=True, state=self.chart.state)

    @submit_authentication_photo.validator
    def _check_photo(self, photo: PhotoSubmission) -> None:
        self._require_allowed("submit_authentication_photo", "authenticate")
        if not self.state.email_verified:
            raise refusal_error(
                refuse(
                    "REG-6",
                    "email_not_verified",
                    "Verify your email with the mailed code before authenticating.",
                )
            )
        if not BLOB_REF.match(photo.photo_ref):
            raise refusal_error(
                refuse("OPEN-1", "bad_photo_ref", "Upload the photo first; send its sha256 reference.")
            )

    # ------------------------------------------------------------------ OPEN-2 the rules exam

    @workflow.update
    async def start_exam(self, inp: ExamStartInput) -> ExamPaperView:
        """Draw a fresh paper for this attempt (or return the one being taken)."""
        async with self._lock:
            self._check_exam_allowed()
            if self.state.exam_paper is None:
                self.state.exam_attempts += 1
                drawn = await workflow.execute_activity(
                    draw_exam_paper,
                    DrawExamInput(
                        seed=f"{self.profile.member_id}:{self.state.exam_attempts}",
                        questions=self.policy.exam.questions_per_paper,
                        attempt=self.state.exam_attempts,
                    ),
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    retry_policy=RETRY,
                    summary=f"OPEN-2 draw paper {self.state.exam_attempts}",
                )
                self.state.exam_paper = drawn.paper
                self.state.exam_view = drawn.view
                await self._audit(
                    "exam_started",
                    rule="OPEN-2",
                    reason=f"attempt_{self.state.exam_attempts}",
                    actor="seller",
                )
            view = self.state.exam_view
            assert view is not None
            view.pass_mark = self.policy.exam.pass_mark
            return view

    @start_exam.validator
    def _check_start_exam(self, inp: ExamStartInput) -> None:
        self._check_exam_allowed()

    def _check_exam_allowed(self) -> None:
        self._require_allowed("start_exam", "pass_exam")
        retake_at = self.state.exam_retake_at
        if self.state.exam_paper is None and retake_at is not None and workflow.now() < retake_at:
            raise refusal_error(
                refuse(
                    "OPEN-2",
                    "retake_too_soon",
                    f"The exam can be retaken from {retake_at.isoformat(timespec='minutes')}.",
                )
            )

    @workflow.update
    async def submit_exam(self, inp: ExamAnswers) -> ExamResult:
        async with self._lock:
            self._check_answers(inp)
            paper = self.state.exam_paper
            assert paper is not None
            grade = await workflow.execute_activity(
                grade_exam,
                GradeExamInput(paper=paper, answers=inp.answers),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=RETRY,
                summary="OPEN-2 grade",
            )
            self.state.exam_paper = None
            self.state.exam_view = None
            pass_mark = self.policy.exam.pass_mark
            detail = {"score": str(grade.score), "pass_mark": str(pass_mark)}
            if grade.score >= pass_mark:
                self.state.reasons = []
                await self._transition(
                    "pass_exam", rule="OPEN-2", reason="exam_passed", actor="seller", detail=detail
                )
                return ExamResult(passed=True, score=grade.score, pass_mark=pass_mark, state=self.chart.state)
            self.state.exam_retake_at = workflow.now() + timedelta(hours=self.policy.exam.retake_delay_hours)
            self.state.reasons = [f"OPEN-2 exam_failed: scored {grade.score}, the pass mark is {pass_mark}"]
            await self._audit(
                "exam_failed", rule="OPEN-2", reason="exam_failed", actor="seller", detail=detail
            )
            self._publish()
            return ExamResult(
                passed=False,
                score=grade.score,
                pass_mark=pass_mark,
                state=self.chart.state,
                retake_at=self.state.exam_retake_at,
            )

    @submit_exam.validator
    def _check_submit_exam(self, inp: ExamAnswers) -> None:
        self._check_answers(inp)

    def _check_answers(self, inp: ExamAnswers) -> None:
        self._require_allowed("submit_exam", "pass_exam")
        paper = self.state.exam_paper
        if paper is None or paper.paper_id != inp.paper_id:
            raise refusal_error(
                refuse("OPEN-2", "no_such_paper", "Start the exam first; answer the paper you got.")
            )
        if len(inp.answers) != len(paper.question_ids):
            raise refusal_error(
                refuse("OPEN-2", "answers_incomplete", f"Answer all {len(paper.question_ids)} questions.")
            )

    # ------------------------------------------------------------------ OPEN-3 products, ASSOC-3

    @workflow.update
    async def release_product(self, product: ProductInput) -> ProductReleaseResult:
        """A product accepted by the checks counts towards opening; the tenth opens the store."""
        async with self._lock:
            self._check_product(product)
            product_id = f"{self.profile.member_id}-P{self.state.product_seq + 1}"
            self.state.product_seq += 1
            listing = await workflow.execute_activity(
                list_product,
                ListProductInput(
                    member_id=self.profile.member_id,
                    product_id=product_id,
                    product=product,
                    at=workflow.now(),
                    text_threshold=self.policy.association.text_similarity_threshold,
                    image_max_distance=self.policy.association.image_hash_max_distance,
                ),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=RETRY,
                summary="OPEN-3 checks, ASSOC-3 duplicates",
            )
            if not listing.accepted and listing.refusal is not None:
                detail = {"product_id": product_id}
                if listing.duplicate_of_member_id:
                    detail |= {
                        "linked_member_id": listing.duplicate_of_member_id,
                        "duplicate_of": listing.duplicate_of_product_id or "",
                        "text_similarity": f"{listing.text_similarity:.2f}",
                        "image_distance": str(listing.image_distance),
                    }
                await self._audit(
                    "product_refused",
                    rule=listing.refusal.rule,
                    reason=listing.refusal.code,
                    actor="seller",
                    detail=detail,
                )
                if listing.duplicate_of_member_id:
                    await self._associate(
                        listing.duplicate_of_member_id, rule="ASSOC-3", cause="duplicate_product"
                    )
                return ProductReleaseResult(
                    accepted=False,
                    state=self.chart.state,
                    products_released=self.state.chart.products_released,
                    refusal=listing.refusal,
                )
            self.state.products_live.append(product_id)
            await self._transition(
                "release_product",
                rule="OPEN-3",
                reason="product_released",
                actor="seller",
                detail={"product_id": product_id},
            )
            if self.chart.state == "ten_products":
                await self._transition("open_store", rule="OPEN-3", reason="ten_products_released")
            return ProductReleaseResult(
                accepted=True,
                state=self.chart.state,
                product_id=product_id,
                products_released=self.state.chart.products_released,
            )

    @release_product.validator
    def _check_release_product(self, product: ProductInput) -> None:
        self._check_product(product)

    def _check_product(self, product: ProductInput) -> None:
        if self.profile.account_type == "sub":
            raise refusal_error(
                refuse(
                    "REG-9",
                    "sub_account_cannot_sell",
                    "Sub-accounts cannot sell; release products from the main account.",
                )
            )
        self._require_allowed("release_product", "release_product")
        refusal = product_refusal(product)
        if refusal is not None:
            raise refusal_error(RefusedError(refusal))

    @workflow.update
    async def remove_product(self, removal: ProductRemoval) -> str:
        """Taking products down never closes an open store (OPEN-3 counts releases, not what is listed)."""
        async with self._lock:
            if removal.product_id not in self.state.products_live:
                raise refusal_error(
                    refuse("OPEN-3", "no_such_product", "This store has no such listed product.")
                )
            await workflow.execute_activity(
                unlist_product,
                UnlistProductInput(member_id=self.profile.member_id, product_id=removal.product_id),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=RETRY,
                summary="OPEN-3 unlist",
            )
            self.state.products_live.remove(removal.product_id)
            await self._audit(
                "remove_product",
                rule="OPEN-3",
                reason="product_removed",
                actor="seller",
                detail={"product_id": removal.product_id},
            )
            self._publish()
            return self.chart.state

    @remove_product.validator
    def _check_remove_product(self, removal: ProductRemoval) -> None:
        self._require_live("remove_product")
        if removal.product_id not in self.state.products_live:
            raise refusal_error(refuse("OPEN-3", "no_such_product", "This store has no such listed product."))

    # ------------------------------------------------------------------ REG-8

    @workflow.update
    async def unbind_identity(self, inp: UnbindInput) -> NoReturn:
        """REG-8: never allowed; the request and its refusal go on the record (ENF-4)."""
        async with self._lock:
            if self.chart.state == "registered":
                message = "Identity binding cannot be undone; no identity has been authenticated yet either."
            else:
                message = (
                    "The authenticated identity is bound to this account for good and cannot be unbound."
                )
            await self._refused(
                "unbind_identity", Refusal("REG-8", "unbind_not_allowed", message), actor="seller"
            )

    def _require_allowed(self, command: str, event: str) -> None:
        """Refuse (OPEN-4) a command the account's current state does not allow."""
        if not self.chart.allows(event):
            raise refusal_error(self.chart.refusal(command))

    @workflow.update
    async def change_contact(self, inp: ChangeContactInput) -> str:
        """REG-11 / ASSOC-2: a new email or mobile must be free; one held by another seller links the two."""
        async with self._lock:
            result = await workflow.execute_activity(
                rebind_contact,
                RebindContactInput(
                    member_id=self.profile.member_id, kind=inp.kind, value=inp.value, at=workflow.now()
                ),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=RETRY,
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
                await self._refused("change_contact", result.refusal, actor="seller")
            await self._audit("change_contact", rule="REG-11", reason=f"{inp.kind}_changed", actor="seller")
            if inp.kind == "email":
                # REG-6: the new address is proved like the first one.
                self.state.email_verified = False
                await self._mail_code(inp.value)
            return self.chart.state

    @change_contact.validator
    def _check_change_contact(self, inp: ChangeContactInput) -> None:
        self._require_live("change_contact")
        refusal = contact_refusal(inp.kind, inp.value)
        if refusal is not None:
            raise refusal_error(RefusedError(refusal))

    def _require_live(self, command: str) -> None:
        if self.chart.is_closed:
            raise refusal_error(self.chart.refusal(command))

    async def _refused(self, command: str, refusal: Refusal, *, actor: str) -> NoReturn:
        """Record a refusal of a processed command (ENF-4) and fail the command with it."""
        self.state.reasons = [str(refusal)]
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
        )

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
        deadline = self._next_deadline()
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
        before, after = self.chart.fire(event)
        self._timers_moved = True  # a new state has other deadlines (or, closed, none)
        if after == "closed":
            self.state.closed_reason = reason
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
        await workflow.execute_activity(
            record_audit,
            AuditInput(
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
            ),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
            summary=f"audit {event} ({rule})",
        )

    async def _notice(self, key: str, *, kind: str, rule: str, message: str) -> None:
        await workflow.execute_activity(
            send_notice,
            NoticeInput(
                member_id=self.profile.member_id,
                key=key,
                kind=kind,
                rule=rule,
                message=message,
                at=workflow.now(),
            ),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
            summary=f"notice {kind} ({rule})",
        )

    def _publish(self) -> None:
        """Search attributes and current details, so operators see business state in the Web UI."""
        workflow.upsert_search_attributes(
            [
                sa.SELLER_STATE.value_set(self.chart.state),
                sa.MEMBER_ID.value_set(self.profile.member_id),
                sa.REGION.value_set(self.profile.region),
                sa.PRODUCT_COUNT.value_set(len(self.state.products_live)),
                sa.PENALTY_POINTS.value_set(sum(self._points(x) for x in ("ip", "trade", "listing"))),
                sa.OPEN_CASE.value_set(any(c.decision is None for c in self.state.cases)),
            ]
        )
        lines = [f"**{self.chart.state}**"]
        if self.state.closed_reason:
            lines.append(f"closed: {self.state.closed_reason}")
        lines += [f"waiting for {w}" for w in self._waiting_for()]
        workflow.set_current_details("\n\n".join(lines))

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= self.max_history_events
        )
