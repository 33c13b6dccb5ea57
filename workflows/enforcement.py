"""ENF-1..3, REG-9/10, ASSOC-4/5: what the account does with violations, closure reports, association
cases and linked bans (applied in order by the run loop), with appeals and operator decisions, and
the holds and closure they lead to. Called by SellerAccount (workflows/seller_account.py) through
the parts it is given: the state, the chart, the account's effects and steps."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.account_state import (
        AccountState,
        AssociationCase,
        CascadeStep,
        Deduction,
        Hold,
        PendingEffect,
    )
    from models.activity_io import BarIdentityInput, ClearLinkInput
    from models.boundary import BLOB_REF
    from models.contract import (
        AccountProfile,
        AppealDecisionInput,
        AppealInput,
        AssociationCaseInput,
        BanInput,
        ClosureReport,
        ViolationInput,
        account_workflow_id,
    )
    from models.limits import APPEAL_OPENING_INFO
    from models.policy import Policy
    from models.refusals import refuse
    from workflows.lifecycle import LifecycleChart

from workflows import penalties
from workflows.activity_refs import CLEAR_LINK
from workflows.authorization import system_credential
from workflows.effects import Effects
from workflows.refusing import refusal_error, require_live
from workflows.reviews import Reviews


class Enforcement:
    def __init__(
        self,
        *,
        state: AccountState,
        chart: LifecycleChart,
        profile: AccountProfile,
        policy: Policy,
        effects: Effects,
        reviews: Reviews,
    ) -> None:
        self.state, self.chart, self.profile, self.policy = state, chart, profile, policy
        self.effects = effects
        self.reviews = reviews

    # ------------------------------------------------------------------ facts (run loop)

    def first_time(self, report_id: str) -> bool:
        if report_id in self.state.seen_reports:
            return False
        self.state.seen_reports.append(report_id)
        return True

    async def apply_violation(self, v: ViolationInput, *, actor: str) -> None:
        if not self.first_time(v.violation_id):
            return
        detail = {"violation_id": v.violation_id, "category": v.category, "evidence": v.evidence_ref[:80]}
        if v.severity == "serious":
            await self.effects.audit(
                "violation", rule=v.rule, reason=f"serious_{v.category}", actor=actor, detail=detail
            )
            await self.close(
                rule="ENF-1", reason="serious_violation", actor=actor, bar=True, cascade=True, detail=detail
            )
            return
        ledger = penalties.LEDGERS.get(v.category)
        if ledger is None:
            await self.effects.audit(
                "violation_ignored", rule="ENF-1", reason="unknown_category", actor=actor, detail=detail
            )
            return
        now = workflow.now()
        points = 1 if ledger == "strike" else max(0, v.points)
        deduction = Deduction(v.violation_id, ledger, points, min(v.given_at or now, now), rule=v.rule)
        total = penalties.deduct(self.state, self.policy.penalties, deduction, now)
        await self.effects.audit(
            "violation",
            rule=v.rule,
            reason=f"{ledger}_points",
            actor=actor,
            detail=detail | {"points": str(points), "total": str(total)},
        )
        sanction = penalties.sanction(self.state, self.policy.penalties, ledger, total)
        if sanction.close_reason is not None:
            await self.close(
                rule="ENF-2",
                reason=sanction.close_reason,
                actor=actor,
                bar=sanction.bar,
                cascade=sanction.bar,
                detail=detail,
            )
        elif sanction.freeze_days is not None:
            await self.freeze(v.violation_id, days=sanction.freeze_days, reason=sanction.freeze_reason)
        self.effects.publish()

    def prune_points(self) -> None:
        penalties.prune(self.state, self.policy.penalties, workflow.now())

    async def freeze(self, violation_id: str, *, days: float, reason: str) -> None:
        until = workflow.now() + timedelta(days=days)
        await self.add_hold(
            Hold(hold_id=f"freeze-{violation_id}", kind="freeze", rule="ENF-2", until=until), reason
        )

    async def apply_closure(self, report: ClosureReport, *, actor: str) -> None:
        if not self.first_time(report.report_id):
            return
        detail = {
            "report_id": report.report_id,
            "reported_by": report.reported_by,
            "evidence": report.evidence_ref[:80],
        }
        if report.rule == "REG-10":
            # Closed on Alibaba.com for serious violations: serious here too (REG-5, ENF-3).
            await self.close(
                rule="REG-10", reason="alibaba_closure", actor=actor, bar=True, cascade=True, detail=detail
            )
        elif report.rule == "REG-9":
            await self.close(rule="REG-9", reason="account_rental", actor=actor, detail=detail)
        else:
            await self.effects.audit(
                "closure_report_ignored", rule=report.rule, reason="unknown_rule", actor=actor, detail=detail
            )

    async def apply_ban(self, ban: BanInput, *, actor: str) -> None:
        # Closed accounts never get here: a ban is applied once, whichever path it came by.
        await self.close(
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

    # ------------------------------------------------------------------ holds and closure

    async def add_hold(self, hold: Hold, reason: str, *, actor: str = "system") -> None:
        if self.chart.is_closed or any(h.hold_id == hold.hold_id for h in self.state.holds):
            return
        self.state.holds.append(hold)
        detail = {"hold_id": hold.hold_id} | ({"until": hold.until.isoformat()} if hold.until else {})
        if self.chart.state == "suspended":
            await self.effects.audit("hold_added", rule=hold.rule, reason=reason, actor=actor, detail=detail)
        else:
            await self.effects.transition("suspend", rule=hold.rule, reason=reason, actor=actor, detail=detail)

    async def lift_hold(self, hold_id: str, *, rule: str, reason: str, actor: str = "system") -> None:
        self.state.holds = [h for h in self.state.holds if h.hold_id != hold_id]
        if self.state.holds or self.chart.state != "suspended":
            await self.effects.audit(
                "hold_lifted", rule=rule, reason=reason, actor=actor, detail={"hold_id": hold_id}
            )
        else:
            await self.effects.transition(
                "reinstate", rule=rule, reason=reason, actor=actor, detail={"hold_id": hold_id}
            )

    async def lift_expired_holds(self) -> None:
        for hold in [h for h in self.state.holds if h.until is not None and h.until <= workflow.now()]:
            await self.lift_hold(hold.hold_id, rule=hold.rule, reason="freeze_lifted")

    async def close(
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
        await self.effects.transition("close", rule=rule, reason=reason, actor=actor, detail=detail)
        # Effects: if they cannot be done now they wait in the outbox (workflows/effects.py).
        if bar:
            await self.effects.run(
                PendingEffect(bar=BarIdentityInput(member_id=self.profile.member_id, at=workflow.now()))
            )
        if cascade:
            cascade_step = CascadeStep(reason=reason, chain=list(chain or []), origin=origin)
            await self.effects.run(PendingEffect(cascade=cascade_step))

    # ------------------------------------------------------------------ ASSOC-4/5 cases and appeals

    async def open_case(self, case_input: AssociationCaseInput, *, tell_other: bool, actor: str = "system") -> None:
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
        await self.effects.notice(
            f"case-{case.case_id}",
            kind="association_case",
            rule="ASSOC-4",
            message=(
                f"Your store has been found associated with another store and is suspended (case "
                f"{case.case_id}). Appeal within {self.policy.association.appeal_window_days:g} days with "
                "your store-opening information, purchase invoices and a letter, or the store will be closed."
            ),
        )
        await self.add_hold(
            Hold(hold_id=f"case-{case.case_id}", kind="case", rule="ASSOC-4"), case.cause, actor=actor
        )
        if tell_other:
            other = AssociationCaseInput(case.case_id, case.cause, self.profile.member_id, case_input.rule)
            other.auth = system_credential("open_case", case.linked_member_id, other)
            try:
                await workflow.get_external_workflow_handle(
                    account_workflow_id(case.linked_member_id)
                ).signal("open_case", other)
            except Exception:  # the other store's workflow has already ended (closed)
                await self.effects.audit(
                    "case_not_delivered",
                    rule="ASSOC-4",
                    reason="linked_account_closed",
                    detail={"case_id": case.case_id},
                )

    async def associate(self, linked_member_id: str, *, rule: str, cause: str) -> None:
        """ASSOC-4: a new link suspends both stores, each with an appeal window. The case id is opaque
        (it is shown to both sellers, so it must name neither); a link already under an undecided case
        opens no second one."""
        if any(c.linked_member_id == linked_member_id and c.decision is None for c in self.state.cases):
            return
        if self.reviews.enabled and cause in self.policy.association.confirm_causes:
            # Policy asks a person first (issue 25): nobody is suspended on a link no one has confirmed.
            await self.reviews.open_association(linked_member_id, rule=rule, cause=cause)
            return
        await self.confirm_link(linked_member_id, rule=rule, cause=cause)

    async def confirm_link(self, linked_member_id: str, *, rule: str, cause: str) -> None:
        """ASSOC-4 on a link: a case on both stores, each suspended with its appeal window."""
        case_id = f"C{workflow.uuid4().hex[:20]}"
        await self.open_case(AssociationCaseInput(case_id, cause, linked_member_id, rule), tell_other=True)

    async def dismiss_link(self, linked_member_id: str, *, rule: str, cause: str, actor: str, note: str) -> None:
        """An operator found the link wrong (a look-alike, a recycled phone number): the registry forgets
        it, so ENF-3 never cascades along it, and nobody was suspended."""
        await self.effects.steps.run(
            CLEAR_LINK,
            ClearLinkInput(self.profile.member_id, linked_member_id, actor, workflow.now()),
            summary=f"{rule} clear link",
        )
        await self.effects.audit(
            "link_dismissed",
            rule=rule,
            reason=cause,
            actor=actor,
            detail={"linked_member_id": linked_member_id, "note": note[:200]},
        )

    async def expire_appeal_windows(self) -> None:
        for case in self.state.cases:
            if case.decision is None and case.appealed_at is None and case.appeal_deadline <= workflow.now():
                case.decision = "expired"
                await self.close(
                    rule="ASSOC-4", reason="appeal_window_expired", cascade=True, detail={"case_id": case.case_id}
                )
                return

    async def appeal(self, inp: AppealInput, *, actor: str) -> None:
        """ASSOC-5: one appeal per case, within the window, with opening information, invoices and a letter."""
        case = self.appealable_case(inp)
        case.appealed_at = workflow.now()
        case.appeal_letter_chars = len(inp.letter)
        case.invoice_refs = list(inp.invoice_refs)
        self.effects.wake()  # an appealed case waits for the operator, not for its window
        await self.effects.audit(
            "appeal_filed",
            rule="ASSOC-5",
            reason="appeal_filed",
            actor=actor,
            # The invoices' blob refs (content hashes, not their content): the retention keeper deletes the
            # blobs DATA-2's period after the case is decided (activities/retention.py).
            detail={
                "case_id": case.case_id,
                "invoices": str(len(inp.invoice_refs)),
                "invoice_refs": " ".join(inp.invoice_refs),
            },
        )
        self.effects.publish()

    def _case(self, case_id: str) -> AssociationCase:
        """The account's association case `case_id`, or ASSOC-5's refusal."""
        case = next((c for c in self.state.cases if c.case_id == case_id), None)
        if case is None:
            raise refusal_error(
                refuse("ASSOC-5", "no_such_case", "There is no such association case on this account.")
            )
        return case

    def appealable_case(self, inp: AppealInput) -> AssociationCase:
        require_live(self.chart, "appeal")
        case = self._case(inp.case_id)
        if case.appealed_at is not None:
            raise refusal_error(refuse("ASSOC-5", "already_appealed", "A case can be appealed only once."))
        if case.decision is not None or workflow.now() >= case.appeal_deadline:
            raise refusal_error(
                refuse("ASSOC-4", "appeal_window_closed", "The appeal window for this case has closed.")
            )
        if not inp.store_opening_info.strip() or len(inp.store_opening_info) > APPEAL_OPENING_INFO:
            raise refusal_error(
                refuse(
                    "ASSOC-5",
                    "opening_info_required",
                    f"Give the store-opening information (up to {APPEAL_OPENING_INFO} characters).",
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

    async def decide_appeal(self, inp: AppealDecisionInput, *, actor: str, code: str | None = None) -> None:
        """ASSOC-5: an operator approves (the store returns to where it was) or rejects (closed); `code`:
        the rejection's reason from ASSOC-5's vocabulary, when decided as a review item."""
        case = self.decidable_case(inp)
        case.decision = "approved" if inp.approved else "rejected"
        case.decided_by = actor
        detail = {"case_id": case.case_id, "note": inp.note[:200]} | ({"code": code} if code else {})
        if inp.approved:
            await self.effects.steps.run(
                CLEAR_LINK,
                ClearLinkInput(self.profile.member_id, case.linked_member_id, actor, workflow.now()),
                summary="ASSOC-5 clear link",
            )
            await self.effects.audit(
                "appeal_approved", rule="ASSOC-5", reason="appeal_approved", actor=actor, detail=detail
            )
            await self.lift_hold(f"case-{case.case_id}", rule="ASSOC-5", reason="appeal_approved", actor=actor)
        else:
            await self.effects.audit(
                "appeal_rejected", rule="ASSOC-5", reason="appeal_rejected", actor=actor, detail=detail
            )
            await self.close(rule="ASSOC-5", reason="appeal_rejected", actor=actor, cascade=True, detail=detail)
        self.effects.publish()

    def decidable_case(self, inp: AppealDecisionInput) -> AssociationCase:
        require_live(self.chart, "decide_appeal")
        case = self._case(inp.case_id)
        if case.decision is not None:
            raise refusal_error(refuse("ASSOC-5", "already_decided", f"The case was already {case.decision}."))
        if case.appealed_at is None:
            raise refusal_error(refuse("ASSOC-5", "no_appeal", "The seller has not appealed this case."))
        return case
