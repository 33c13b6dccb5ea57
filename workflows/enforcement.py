"""ENF-1..3, REG-9/10, ASSOC-4/5 on the account workflow: violations, closure reports, association
cases and linked bans arrive as signals and are applied in order by the run loop; appeals and
operator decisions are updates. Mixed into SellerAccount (workflows/seller_account.py), whose
effects (_transition, _audit, _notice, _publish) these handlers use."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow

from workflows.account_base import AccountBase

with workflow.unsafe.imports_passed_through():
    from activities.enforcement import active_links, clear_link
    from activities.storage.blobs import BLOB_REF
    from models.account_state import AssociationCase, CascadeStep, Deduction, Fact, Hold, PendingEffect
    from models.activity_io import BarIdentityInput, ClearLinkInput
    from models.contract import (
        AppealDecisionInput,
        AppealInput,
        AssociationCaseInput,
        BanInput,
        ClosureReport,
        ViolationInput,
        account_workflow_id,
    )
    from models.refusals import refuse
    from security.credentials import Signed


from workflows.account_common import LEDGERS, refusal_error, run_activity


class Enforcement(AccountBase):
    # ------------------------------------------------------------------ ENF, REG-9/10, ASSOC-4 facts

    # Signals are undecoded (`*payloads`) and checked at the boundary (workflows/recovery.py `_receive`):
    # an invalid one is recorded and dropped, a valid one queued for the run loop.

    @workflow.signal
    def report_violation(self, *payloads: Any) -> None:
        if (violation := self._receive("report_violation", ViolationInput, payloads)) is not None:
            self._facts.append(Fact(violation=violation))

    @workflow.signal
    def report_closure(self, *payloads: Any) -> None:
        if (report := self._receive("report_closure", ClosureReport, payloads)) is not None:
            self._facts.append(Fact(closure=report))

    @workflow.signal
    def open_case(self, *payloads: Any) -> None:
        if (case := self._receive("open_case", AssociationCaseInput, payloads)) is not None:
            self._facts.append(Fact(case=case))

    @workflow.signal
    def ban(self, *payloads: Any) -> None:
        if (ban := self._receive("ban", BanInput, payloads)) is not None:
            self._facts.append(Fact(ban=ban))

    async def _drain_facts(self) -> None:
        """Apply inbound facts one at a time, in arrival order; duplicates are recognised by id. Each
        fact's credential is verified first (ENF-4): one with a bad credential is audited and dropped. No
        seller's command holds them up, and one that fails is recorded without stopping the rest."""
        while self._facts and not self.chart.is_closed:
            batch, self._facts = self._facts, []
            messages = [m for m in map(_fact_message, batch) if m is not None]
            actors = iter(await self._verified(messages))
            for fact in batch:
                message = _fact_message(fact)
                actor = next(actors) if message is not None else None
                if actor is None or self.chart.is_closed:
                    continue
                if fact.violation is not None:
                    await self._guarded(self._apply_violation(fact.violation, actor=actor))
                elif fact.closure is not None:
                    await self._guarded(self._apply_closure(fact.closure, actor=actor))
                elif fact.case is not None:
                    await self._guarded(self._open_case(fact.case, tell_other=False, actor=actor))
                elif fact.ban is not None:
                    await self._guarded(self._apply_ban(fact.ban, actor=actor))
        self._facts.clear()  # a closed account applies nothing more

    def _first_time(self, report_id: str) -> bool:
        if report_id in self.state.seen_reports:
            return False
        self.state.seen_reports.append(report_id)
        return True

    async def _apply_violation(self, v: ViolationInput, *, actor: str) -> None:
        if not self._first_time(v.violation_id):
            return
        penalties = self.policy.penalties
        detail = {"violation_id": v.violation_id, "category": v.category, "evidence": v.evidence_ref[:80]}
        if v.severity == "serious":
            await self._audit(
                "violation", rule=v.rule, reason=f"serious_{v.category}", actor=actor, detail=detail
            )
            await self._close(
                rule="ENF-1", reason="serious_violation", actor=actor, bar=True, cascade=True, detail=detail
            )
            return
        ledger = LEDGERS.get(v.category)
        if ledger is None:
            await self._audit(
                "violation_ignored", rule="ENF-1", reason="unknown_category", actor=actor, detail=detail
            )
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
            actor=actor,
            detail=detail | {"points": str(points), "total": str(total)},
        )
        if ledger in ("ip", "trade"):
            limit = penalties.ip_close_points if ledger == "ip" else penalties.trade_close_points
            if total >= limit:
                await self._close(rule="ENF-2", reason=f"{ledger}_points_{limit}", actor=actor, detail=detail)
        elif ledger == "listing":
            steps = total // penalties.listing_freeze_every
            if steps > self.state.listing_freeze_steps:
                self.state.listing_freeze_steps = steps
                await self._freeze(
                    v.violation_id, days=penalties.listing_freeze_days, reason=f"listing_points_{total}"
                )
        elif ledger == "strike":
            if total >= penalties.strikes_to_close:
                await self._close(
                    rule="ENF-2", reason="third_strike", actor=actor, bar=True, cascade=True, detail=detail
                )
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

    async def _apply_closure(self, report: ClosureReport, *, actor: str) -> None:
        if not self._first_time(report.report_id):
            return
        detail = {
            "report_id": report.report_id,
            "reported_by": report.reported_by,
            "evidence": report.evidence_ref[:80],
        }
        if report.rule == "REG-10":
            # Closed on Alibaba.com for serious violations: serious here too (REG-5, ENF-3).
            await self._close(
                rule="REG-10", reason="alibaba_closure", actor=actor, bar=True, cascade=True, detail=detail
            )
        elif report.rule == "REG-9":
            await self._close(rule="REG-9", reason="account_rental", actor=actor, detail=detail)
        else:
            await self._audit(
                "closure_report_ignored", rule=report.rule, reason="unknown_rule", actor=actor, detail=detail
            )

    async def _apply_ban(self, ban: BanInput, *, actor: str) -> None:
        # Closed accounts never get here: a ban is applied once, whichever path it came by.
        await self._close(
            rule="ENF-3",
            reason="linked_ban",
            actor=actor,
            cascade=True,
            chain=ban.chain,
            origin=ban.origin_member_id,
            detail={
                "origin_member_id": ban.origin_member_id,
                "via_member_id": ban.via_member_id,
                "origin_reason": ban.origin_reason,
            },
        )

    async def _add_hold(self, hold: Hold, reason: str, *, actor: str = "system") -> None:
        if self.chart.is_closed or any(h.hold_id == hold.hold_id for h in self.state.holds):
            return
        self.state.holds.append(hold)
        detail = {"hold_id": hold.hold_id} | ({"until": hold.until.isoformat()} if hold.until else {})
        if self.chart.state == "suspended":
            await self._audit("hold_added", rule=hold.rule, reason=reason, actor=actor, detail=detail)
        else:
            await self._transition("suspend", rule=hold.rule, reason=reason, actor=actor, detail=detail)

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
        for case in self.state.cases:
            if case.decision is None:  # a closed store has nothing left to appeal (ASSOC-4)
                case.decision = "closed"
                case.decided_by = actor
        await self._transition("close", rule=rule, reason=reason, actor=actor, detail=detail)
        # Effects: if they cannot be done now they wait in the outbox (workflows/recovery.py).
        if bar:
            await self._effect(
                PendingEffect(bar=BarIdentityInput(member_id=self.profile.member_id, at=workflow.now()))
            )
        if cascade:
            cascade_step = CascadeStep(reason=reason, chain=list(chain or []), origin=origin)
            await self._effect(PendingEffect(cascade=cascade_step))

    async def _cascade(self, step: CascadeStep) -> None:
        """ENF-3: ban every account linked to this closed one, each ban naming where it came from."""
        me = self.profile.member_id
        reason, chain, origin = step.reason, step.chain, step.origin
        links = await run_activity(active_links, me, summary="ENF-3 links")
        seen = set(chain or []) | {me}
        targets = [m for m in links if m not in seen]
        # Everyone banned in this wave goes in the chain, so siblings and cycles never ban back.
        wave = sorted(seen | set(targets))
        for target in targets:
            ban = BanInput(
                origin_member_id=origin or me,
                via_member_id=me,
                origin_reason=reason,
                chain=wave,
                auth=self._system_credential("ban", target),
            )
            try:
                await workflow.get_external_workflow_handle(account_workflow_id(target)).signal("ban", ban)
                outcome = "ban_sent"
            except Exception:  # the linked account's workflow has already ended (closed)
                outcome = "ban_target_gone"
            await self._audit("cascade", rule="ENF-3", reason=outcome, detail={"target_member_id": target})

    async def _open_case(
        self, case_input: AssociationCaseInput, *, tell_other: bool, actor: str = "system"
    ) -> None:
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
                f"Your store has been found associated with another store and is suspended (case "
                f"{case.case_id}). Appeal within {self.policy.association.appeal_window_days:g} days with "
                "your store-opening information, purchase invoices and a letter, or the store will be closed."
            ),
        )
        await self._add_hold(
            Hold(hold_id=f"case-{case.case_id}", kind="case", rule="ASSOC-4"), case.cause, actor=actor
        )
        if tell_other:
            other = AssociationCaseInput(
                case.case_id,
                case.cause,
                self.profile.member_id,
                case_input.rule,
                auth=self._system_credential("open_case", case.linked_member_id),
            )
            try:
                await workflow.get_external_workflow_handle(
                    account_workflow_id(case.linked_member_id)
                ).signal("open_case", other)
            except Exception:  # the other store's workflow has already ended (closed)
                await self._audit(
                    "case_not_delivered",
                    rule="ASSOC-4",
                    reason="linked_account_closed",
                    detail={"case_id": case.case_id},
                )

    async def _associate(self, linked_member_id: str, *, rule: str, cause: str) -> None:
        """ASSOC-4: a new link suspends both stores, each with an appeal window. The case id is opaque
        (it is shown to both sellers, so it must name neither); a link already under an undecided case
        opens no second one."""
        if any(c.linked_member_id == linked_member_id and c.decision is None for c in self.state.cases):
            return
        case_id = f"C{workflow.uuid4().hex[:20]}"
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
                actor=self._actor(inp.auth, "seller"),
                detail={"case_id": case.case_id, "invoices": str(len(inp.invoice_refs))},
            )
            self._publish()
            return self.chart.state

    @appeal.validator
    def _validate_appeal(self, inp: AppealInput) -> None:
        self._at_boundary(inp)
        self._authorize("appeal", inp.auth)
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
            actor = self._actor(inp.auth, f"operator:{inp.operator.strip()}")
            case.decision = "approved" if inp.approved else "rejected"
            case.decided_by = actor
            detail = {"case_id": case.case_id, "note": inp.note[:200]}
            if inp.approved:
                await run_activity(
                    clear_link,
                    ClearLinkInput(self.profile.member_id, case.linked_member_id, actor, workflow.now()),
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
        self._at_boundary(inp)
        self._authorize("decide_appeal", inp.auth)
        # The decision is recorded under the verified operator; a different name typed beside it is refused.
        assert inp.auth is not None
        if inp.operator.strip() and inp.operator.strip() != inp.auth.actor:
            raise refusal_error(
                refuse(
                    "ENF-4", "operator_mismatch", "The decision names another operator than the credential."
                )
            )
        self._check_decision(inp)

    def _check_decision(self, inp: AppealDecisionInput) -> AssociationCase:
        self._require_live("decide_appeal")
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


def _fact_message(fact: Fact) -> tuple[str, Signed] | None:
    """The signal a fact came in by, and its payload (whose credential is verified)."""
    if fact.violation is not None:
        return "report_violation", fact.violation
    if fact.closure is not None:
        return "report_closure", fact.closure
    if fact.case is not None:
        return "open_case", fact.case
    if fact.ban is not None:
        return "ban", fact.ban
    return None
