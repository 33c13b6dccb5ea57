"""Review items on the account workflow (issue 25): everything that waits for a person, as data in the
account's state (models/review.py), with the queue's search attributes, the overdue timer's escalation,
claims, and the bookkeeping of decisions. Called by SellerAccount (workflows/seller_account.py), which
hands the decision itself to the part that owns it (an appeal to enforcement, a photo to opening).

An operator's command that the account refuses (no such item, decided already, claimed by another, a
blank note, a code outside the rule's vocabulary) is refused by the handler, not the validator, so that
the refusal is on the record: an audit row with its rule and reason, naming the operator.

Over 400 lines: an item's whole life (open, tidy, escalate, claim, decide, refuse on the record) is read
together when a decision rule changes.

Items exist only on runs patched for them (`REVIEWS_PATCH`, set by `run()`); older runs replay as
recorded, and an appeal filed before the patch gets its item when the account's next run starts.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import NoReturn

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models import metrics as m
    from models import review as rv
    from models.account_state import AccountState
    from models.contract import AccountProfile
    from models.policy import Policy
    from models.refusals import Refusal, RefusedError
    from models.review import ClaimReviewInput, DecideReviewInput, ReviewEvent, ReviewEvidence, ReviewItem
    from workflows.lifecycle import LifecycleChart

from workflows import metrics
from workflows.effects import Effects
from workflows.refusing import refusal_error

REVIEWS_PATCH = "v3-review-items"
DECIDED_KEPT = 20  # decided items kept for their history (the audit keeps every decision for good)
RULE = "ENF-4"  # who may decide what, and how: the rule of refusals about the item itself
# What the seller's requirement is called while an item of each kind waits (requirements.pending_review).
REQUIREMENT_OF_KIND = {rv.APPEAL: "appeal", rv.PHOTO_REVIEW: "authentication_photo"}


class Reviews:
    def __init__(
        self,
        *,
        state: AccountState,
        chart: LifecycleChart,
        profile: AccountProfile,
        policy: Policy,
        effects: Effects,
        is_attention: Callable[[str], bool],
    ) -> None:
        self.state, self.chart, self.profile, self.policy = state, chart, profile, policy
        self.effects = effects
        self._is_attention = is_attention  # is this step still recorded as needing attention?
        self.enabled = False  # patch REVIEWS_PATCH: set by run(); False on runs recorded before it
        self.published = bool(state.reviews)  # search attributes published once items existed
        self.deciding: set[str] = set()  # items whose decision is being carried out (`tidy` leaves them)

    # ------------------------------------------------------------------ reading

    def find(self, item_id: str) -> ReviewItem | None:
        return next((i for i in reversed(self.state.reviews) if i.item_id == item_id), None)

    def open_items(self) -> list[ReviewItem]:
        """Items still waiting for a person (none on a closed account: closing settles everything)."""
        if self.chart.is_closed:
            return []
        return [i for i in self.state.reviews if i.state != rv.DECIDED]

    def open_of(self, kind: str) -> list[ReviewItem]:
        return [i for i in self.open_items() if i.kind == kind]

    def detail_lines(self) -> list[str]:
        """For the Web UI's current details: the one spelling of each open item's id, linked to its
        evidence page (evidence/page.py; a relative link: the UI is served on the codec server's origin,
        security/ui_front.py). Ids are the system's own (kind and case or photo ref): no seller text."""
        wid = workflow.info().workflow_id
        return [
            f"review: [{i.item_id}](/review/{wid}/{i.item_id}) "
            f"({i.kind}, {i.state}{' by ' + i.claimed_by if i.claimed_by else ''}, "
            f"due {i.due_at.isoformat(timespec='minutes')}{', OVERDUE' if i.escalated else ''})"
            for i in self.open_items()
        ]

    # ------------------------------------------------------------------ opening and closing

    async def open(self, kind: str, ref: str, *, rule: str, evidence: list[ReviewEvidence]) -> ReviewItem:
        """Put something before an operator; an item already open for the same thing is answered."""
        iid = rv.item_id(kind, ref)
        existing = self.find(iid)
        if existing is not None and existing.state != rv.DECIDED:
            return existing
        if existing is not None:  # decided before (the same photo sent again): a new item, a new id
            self.state.review_seq += 1
            iid = rv.item_id(kind, f"{ref}.{self.state.review_seq}")
        now = workflow.now()
        item = ReviewItem(
            item_id=iid,
            kind=kind,
            rule=rule,
            member_id=self.profile.member_id,
            opened_at=now,
            due_at=now + timedelta(hours=self.policy.review.due_hours(kind)),
            evidence=evidence,
            history=[ReviewEvent(now, "opened", "system")],
        )
        self.state.reviews.append(item)
        self.published = True
        metrics.count(m.REVIEWS_OPENED, kind=kind)
        self.effects.wake()  # a new due time for the run loop's timer
        await self.effects.audit(
            "review_opened",
            rule=rule,
            reason=kind,
            detail={"item_id": iid, "due_at": item.due_at.isoformat(timespec="seconds")},
        )
        self.effects.publish()
        return item

    def adopt_appeals(self) -> None:
        """Appeals filed before items existed get theirs (state only: no command, nothing recorded, not
        counted as opened: the worker that took the appeal counted it)."""
        for case in self.state.cases:
            iid = rv.item_id(rv.APPEAL, case.case_id)
            if case.appealed_at is None or case.decision is not None or self.find(iid) is not None:
                continue
            self.state.reviews.append(
                ReviewItem(
                    item_id=iid,
                    kind=rv.APPEAL,
                    rule="ASSOC-5",
                    member_id=self.profile.member_id,
                    opened_at=case.appealed_at,
                    due_at=case.appealed_at + timedelta(hours=self.policy.review.appeal_due_hours),
                    evidence=appeal_evidence(case.case_id, case.invoice_refs),
                    history=[ReviewEvent(case.appealed_at, "opened", "system")],
                )
            )
            self.published = True

    def tidy(self) -> None:
        """Close the items whose question was answered another way (state only, deterministic): a case
        decided otherwise (window, closure), the account authenticated by a later photo, a step that
        succeeded since. Decided items beyond DECIDED_KEPT are dropped (the audit has them)."""
        now = workflow.now()
        for item in self.state.reviews:
            if item.state == rv.DECIDED or item.item_id in self.deciding:
                continue
            why = self._answered_elsewhere(item)
            if why is None:
                continue
            item.state, item.decision, item.decided_by = rv.DECIDED, rv.RESOLVED, "system"
            case = next(
                (c for c in self.state.cases if rv.item_id(rv.APPEAL, c.case_id) == item.item_id), None
            )
            if item.kind == rv.APPEAL and case is not None and case.decision in ("approved", "rejected"):
                # decided by decide_appeal (the older command): the operator's decision is the item's
                item.decision = rv.APPROVE if case.decision == "approved" else rv.REFUSE
                item.decided_by = (case.decided_by or "").removeprefix("operator:")
            metrics.review_left_queue(item, now)
            item.history.append(
                ReviewEvent(
                    now,
                    f"decided: {item.decision}",
                    case.decided_by if case and case.decided_by else "system",
                    why,
                )
            )
        decided = [i for i in self.state.reviews if i.state == rv.DECIDED]
        if len(decided) > DECIDED_KEPT:
            gone = decided[: len(decided) - DECIDED_KEPT]
            for key in (e.text_key for i in gone for e in i.evidence if e.text_key):
                self.state.review_texts.pop(key, None)
            self.state.reviews = [i for i in self.state.reviews if all(i is not g for g in gone)]

    def _answered_elsewhere(self, item: ReviewItem) -> str | None:
        if self.chart.is_closed:
            return "account closed"
        if item.kind == rv.APPEAL:
            case = next(
                (c for c in self.state.cases if rv.item_id(rv.APPEAL, c.case_id) == item.item_id), None
            )
            if case is None or case.decision is not None:
                return f"case {case.decision if case else 'gone'}"
        if item.kind == rv.PHOTO_REVIEW and self.chart.state != "registered":
            return "authenticated by another photo"
        if item.kind == rv.ASSOCIATION:
            linked = rv.association_of(item)[0]
            if any(c.linked_member_id == linked and c.opened_at >= item.opened_at for c in self.state.cases):
                return "a case was opened on the link (the other store's, or another cause)"
        if item.kind == rv.NEEDS_ATTENTION:
            step = next((e.label for e in item.evidence if e.kind == "step"), "")
            if not self._is_attention(step):
                return "the step succeeded since"
        return None

    async def sync_attention(self) -> None:
        """One `needs_attention` item per step that ran out of retries and has none open."""
        open_steps = {
            e.label for i in self.open_of(rv.NEEDS_ATTENTION) for e in i.evidence if e.kind == "step"
        }
        for attention in list(self.state.attention):
            if attention.step in open_steps or self.chart.is_closed:
                continue
            self.state.review_seq += 1
            await self.open(
                rv.NEEDS_ATTENTION,
                str(self.state.review_seq),
                rule=RULE,
                evidence=[
                    ReviewEvidence("step", attention.step),
                    ReviewEvidence("error", attention.error[:200]),
                ],
            )

    # ------------------------------------------------------------------ the overdue timer

    async def escalate_overdue(self) -> None:
        now = workflow.now()
        for item in self.open_items():
            if item.escalated or item.due_at > now:
                continue
            item.escalated = True
            item.history.append(ReviewEvent(now, "escalated", "system", "past its due time"))
            metrics.count(m.REVIEWS_OVERDUE, kind=item.kind)
            await self.effects.audit(
                "review_overdue", rule=item.rule, reason=item.kind, detail={"item_id": item.item_id}
            )
            if item.kind in REQUIREMENT_OF_KIND:  # the seller waits on it: say so
                await self.effects.notice(
                    f"overdue-{item.item_id}"[:96],
                    kind="review_overdue",
                    rule=item.rule,
                    message=(
                        f"The review of your {REQUIREMENT_OF_KIND[item.kind].replace('_', ' ')} is taking "
                        f"longer than planned ({item.item_id}); it has been escalated to a senior operator."
                    ),
                )
        self.effects.publish()

    async def open_appeal(
        self, case_id: str, *, letter: str, opening_info: str, invoice_refs: list[str]
    ) -> None:
        """ASSOC-5: a filed appeal waits for an operator with its letter, opening information and invoices."""
        evidence = appeal_evidence(case_id, invoice_refs)
        for e in evidence:
            if e.kind == "letter" and e.text_key:
                self.state.review_texts[e.text_key] = letter
            elif e.kind == "opening_info" and e.text_key:
                self.state.review_texts[e.text_key] = opening_info
        await self.open(rv.APPEAL, case_id, rule="ASSOC-5", evidence=evidence)

    async def open_association(self, linked_member_id: str, *, rule: str, cause: str) -> None:
        """ASSOC-2/3 where policy asks a person to confirm the link before ASSOC-4 applies: the evidence
        is the link itself (its cause, the other account); the page shows which kind of identity is
        shared or the two listings from the registry (evidence/source.py), never an identity value."""
        await self.open(
            rv.ASSOCIATION,
            linked_member_id,
            rule=rule,
            evidence=[ReviewEvidence("link_cause", cause), ReviewEvidence("linked_account", linked_member_id)],
        )

    # ------------------------------------------------------------------ operators' commands

    async def claim(self, inp: ClaimReviewInput, *, actor: str, operator: str) -> ReviewItem:
        item = await self._live_item(
            "claim_review", inp.item_id, inp.operator, actor=actor, operator=operator
        )
        now = workflow.now()
        if inp.release:
            if item.claimed_by != operator:
                await self._refuse(
                    "claim_review",
                    item,
                    "not_claimed_by_you",
                    "Only the operator who claimed it can release it.",
                    actor,
                )
            item.state, item.claimed_by = rv.OPEN, None
            item.history.append(ReviewEvent(now, "released", actor))
        else:
            if item.claimed_by not in (None, operator):
                await self._refuse(
                    "claim_review",
                    item,
                    "claimed_by_other",
                    f"{item.claimed_by} has claimed this item.",
                    actor,
                )
            item.state, item.claimed_by = rv.CLAIMED, operator
            item.history.append(ReviewEvent(now, "claimed", actor))
        await self.effects.audit(
            "review_released" if inp.release else "review_claimed",
            rule=item.rule,
            reason=item.kind,
            actor=actor,
            detail={"item_id": item.item_id},
        )
        self.effects.publish()
        return item

    async def decidable(self, inp: DecideReviewInput, *, actor: str, operator: str) -> ReviewItem:
        """The item the decision is about, or the decision refused on the record."""
        item = await self._live_item(
            "decide_review", inp.item_id, inp.operator, actor=actor, operator=operator
        )
        if item.claimed_by not in (None, operator):
            await self._refuse(
                "decide_review", item, "claimed_by_other", f"{item.claimed_by} has claimed this item.", actor
            )
        if not inp.note.strip():
            await self._refuse(
                "decide_review",
                item,
                "note_required",
                "Say why in the note: it is kept with the decision.",
                actor,
            )
        if inp.decision == rv.REFUSE:
            codes = rv.REFUSAL_CODES.get(item.rule, ())
            if inp.code not in codes:
                await self._refuse(
                    "decide_review",
                    item,
                    "code_not_in_vocabulary",
                    f"A refusal of a {item.rule} item takes one of these codes: {', '.join(codes) or 'none'}.",
                    actor,
                )
        self.deciding.add(item.item_id)
        return item

    async def decided(
        self, item: ReviewItem, inp: DecideReviewInput, *, actor: str, operator: str
    ) -> ReviewItem:
        """Record the decision on the item, once the part that owns it has carried it out."""
        self.deciding.discard(item.item_id)
        item.state, item.decision, item.decided_by = rv.DECIDED, inp.decision, operator
        item.decision_code = inp.code if inp.decision == rv.REFUSE else None
        item.note = inp.note[:500]
        item.history.append(ReviewEvent(workflow.now(), f"decided: {inp.decision}", actor, item.note))
        metrics.review_left_queue(item, workflow.now())
        if item.kind == rv.PHOTO_REVIEW:
            self.state.photo_refusals = {}  # a person has looked: the seller gets automatic tries again
        await self.effects.audit(
            "review_decided",
            rule=item.rule,
            reason=item.decision_code or inp.decision,
            actor=actor,
            detail={"item_id": item.item_id, "decision": inp.decision, "note": item.note[:200]},
        )
        self.effects.publish()
        return item

    async def _live_item(
        self, command: str, iid: str, typed: str, *, actor: str, operator: str
    ) -> ReviewItem:
        if typed.strip() and typed.strip() != operator:
            await self._refuse(
                command,
                None,
                "operator_mismatch",
                "The command names another operator than the credential.",
                actor,
                iid,
            )
        item = self.find(iid)
        if item is None:
            await self._refuse(command, None, "no_such_item", self._no_such_item(iid), actor, iid)
        assert item is not None
        if item.state == rv.DECIDED:
            await self._refuse(
                command, item, "already_decided", f"The item was already decided ({item.decision}).", actor
            )
        return item

    def _no_such_item(self, iid: str) -> str:
        """Name the item the operator meant when they typed a case or hold id (one spelling: `<kind>-<ref>`)."""
        bare = iid.removeprefix("case-")
        if any(c.case_id == bare for c in self.state.cases):
            return (
                f"Items are named <kind>-<ref>: the appeal of case {bare} is {rv.item_id(rv.APPEAL, bare)}."
            )
        return "There is no such review item on this account (see the account's review_items)."

    async def _refuse(
        self, command: str, item: ReviewItem | None, code: str, message: str, actor: str, iid: str = ""
    ) -> NoReturn:
        refusal = Refusal(
            item.rule if item is not None and code == "code_not_in_vocabulary" else RULE, code, message
        )
        await self.effects.audit(
            command,
            rule=refusal.rule,
            reason=code,
            actor=actor,
            detail={"item_id": (item.item_id if item else iid)[:96]},
        )
        raise refusal_error(RefusedError(refusal))


def appeal_evidence(case_id: str, invoice_refs: list[str]) -> list[ReviewEvidence]:
    """What an appeal item carries: the letter and the opening information (texts the account keeps,
    by key), and each invoice by its blob reference."""
    return [
        ReviewEvidence("letter", "the seller's letter", text_key=f"appeal-letter-{case_id}"),
        ReviewEvidence("opening_info", "store-opening information", text_key=f"appeal-opening-{case_id}"),
        *(ReviewEvidence("invoice", f"invoice {n}", ref=ref) for n, ref in enumerate(invoice_refs, 1)),
    ]
