"""OPEN-1..3 on the account workflow: the authentication photo, the rules exam and products. Called by
SellerAccount (workflows/seller_account.py) through the parts it is given: the state, the chart, the
account's effects and steps, enforcement for the associations a check finds (ASSOC-2/3), and the
review items (workflows/reviews.py) a photo goes to when the check is unsure or the seller is stuck.
Over 400 lines: the three opening rules side by side, each step a few lines."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.products.checks import product_refusal
    from models.account_state import AccountState
    from models.activity_io import (
        DrawExamInput,
        GradeExamInput,
        ListProductInput,
        PhotoCheckInput,
        PhotoCheckResult,
        UnlistProductInput,
    )
    from models.boundary import BLOB_REF
    from models.contract import (
        AccountProfile,
        AuthenticationResult,
        ExamAnswers,
        ExamPaperView,
        ExamResult,
        PhotoSubmission,
        ProductInput,
        ProductReleaseResult,
        ProductRemoval,
    )
    from models.policy import Policy
    from models.refusals import Refusal, RefusedError, refuse
    from models.review import (
        OPEN1_REFUSALS,
        PHOTO_REVIEW,
        REFUSE,
        DecideReviewInput,
        ReviewEvidence,
        ReviewItem,
    )
    from workflows.lifecycle import LifecycleChart
    from workflows.requirements import clear_errors, record_error

from workflows.activity_refs import (
    CHECK_AUTHENTICATION_PHOTO,
    DRAW_EXAM_PAPER,
    ENROL_REVIEWED_PHOTO,
    GRADE_EXAM,
    LIST_PRODUCT,
    UNLIST_PRODUCT,
)
from workflows.effects import Effects
from workflows.enforcement import Enforcement
from workflows.refusing import refusal_error, require_allowed, require_live
from workflows.reviews import Reviews


class Opening:
    def __init__(
        self,
        *,
        state: AccountState,
        chart: LifecycleChart,
        profile: AccountProfile,
        policy: Policy,
        effects: Effects,
        enforcement: Enforcement,
        reviews: Reviews,
    ) -> None:
        self.state, self.chart, self.profile, self.policy = state, chart, profile, policy
        self.effects = effects
        self.enforcement = enforcement
        self.reviews = reviews

    # ------------------------------------------------------------------ OPEN-1 the authentication photo

    async def authenticate(self, photo: PhotoSubmission, *, actor: str) -> AuthenticationResult:
        """The photo (by blob reference) is checked; a pass binds the identity for good (REG-8)."""
        require_allowed(self.chart, "submit_authentication_photo", "authenticate")
        result = await workflow.execute_activity(
            CHECK_AUTHENTICATION_PHOTO.name,
            PhotoCheckInput(
                photo_ref=photo.photo_ref,
                policy=self.policy.authentication,
                member_id=self.profile.member_id,
            ),
            start_to_close_timeout=timedelta(minutes=2),
            # The check heartbeats every few seconds: a dead worker's check moves on in 15 s.
            heartbeat_timeout=timedelta(seconds=15),
            retry_policy=RetryPolicy(maximum_attempts=3),
            summary="OPEN-1 photo checks",
            result_type=CHECK_AUTHENTICATION_PHOTO.output,
        )
        if self.reviews.enabled and not result.passed and (result.review is not None or self._stuck()):
            return await self._to_review(photo, result, actor=actor)
        if not result.passed and result.refusal is not None:
            if self.reviews.enabled and result.refusal.retryable:
                code = result.refusal.code
                self.state.photo_refusals[code] = self.state.photo_refusals.get(code, 0) + 1
            self.state.reasons = [str(result.refusal)]
            record_error(self.state, "submit_authentication_photo", result.refusal)
            await self.effects.audit(
                "authentication_failed",
                rule=result.refusal.rule,
                reason=result.refusal.code,
                actor=actor,
                detail={"photo_ref": photo.photo_ref},
            )
            self.effects.publish()
            # A failed photo is a refusal like any other (RuleRefusal): one shape for every answer.
            raise refusal_error(RefusedError(result.refusal))
        await self._authenticated(result.linked_member_ids, actor=actor, reason="photo_authenticated")
        return AuthenticationResult(passed=True, state=self.chart.state)

    async def _authenticated(self, linked_member_ids: list[str], *, actor: str, reason: str) -> None:
        self.state.reasons = []
        self.state.photo_refusals = {}
        clear_errors(self.state, "authentication_photo")
        await self.effects.transition("authenticate", rule="OPEN-1", reason=reason, actor=actor)
        for other in linked_member_ids:  # ASSOC-2: the same person holds another account
            await self.effects.audit(
                "identity_link", rule="ASSOC-2", reason="shared_face", detail={"linked_member_id": other}
            )
            await self.enforcement.associate(other, rule="ASSOC-2", cause="shared_face")

    def _stuck(self) -> bool:
        """Issue 26: refused this many times for one retryable reason, the seller is not left to the
        check alone: the next photo goes to a person, whatever the check says of it (a pass passes)."""
        limit = self.policy.review.photo_refusals_before_review
        return any(n >= limit for n in self.state.photo_refusals.values())

    async def _to_review(
        self, photo: PhotoSubmission, result: PhotoCheckResult, *, actor: str
    ) -> AuthenticationResult:
        """Neither passed nor refused: the seller's requirement waits on an operator (pending_review)."""
        if result.review is not None:
            why = "photo_needs_review"
            label = f"the check was unsure of {result.review.cue} (it suspected {result.review.suspected})"
        else:
            code = result.refusal.code if result.refusal is not None else "refused"
            why = "refusals_repeated"
            label = f"refused {code}, after repeated refusals for one reason: {_streak(self.state.photo_refusals)}"
        evidence = [
            ReviewEvidence("authentication_photo", "the photo the seller sent", ref=photo.photo_ref),
            ReviewEvidence("photo_measures", label, measures=dict(result.measures)),
        ]
        item = await self.reviews.open(
            PHOTO_REVIEW, photo.photo_ref.removeprefix("sha256:")[:16], rule="OPEN-1", evidence=evidence
        )
        self.state.reasons = []
        clear_errors(self.state, "authentication_photo")
        await self.effects.audit(
            "photo_sent_to_review",
            rule="OPEN-1",
            reason=why,
            actor=actor,
            detail={"item_id": item.item_id, "photo_ref": photo.photo_ref},
        )
        self.effects.publish()
        return AuthenticationResult(passed=False, state=self.chart.state, review_item_id=item.item_id)

    async def decide_reviewed_photo(self, item: ReviewItem, inp: DecideReviewInput, *, actor: str) -> None:
        """An operator passes the photo (enrolled and authenticated as a passing photo is) or refuses it
        with a code of OPEN-1's own vocabulary, which the seller reads as the check's refusals."""
        photo_ref = next(e.ref for e in item.evidence if e.kind == "authentication_photo" and e.ref)
        if inp.decision == REFUSE:
            sentence, retryable = OPEN1_REFUSALS[inp.code or ""]
            refusal = Refusal("OPEN-1", inp.code or "", sentence, retryable=retryable)
            self.state.reasons = [str(refusal)]
            record_error(self.state, "submit_authentication_photo", refusal)
            await self.effects.audit(
                "authentication_failed",
                rule="OPEN-1",
                reason=refusal.code,
                actor=actor,
                detail={"photo_ref": photo_ref, "item_id": item.item_id},
            )
            await self.effects.notice(
                f"photo-refused-{item.item_id}"[:96],
                kind="authentication_refused",
                rule="OPEN-1",
                message=sentence,
            )
            return
        require_allowed(self.chart, "decide_review", "authenticate")
        enrolled = await workflow.execute_activity(
            ENROL_REVIEWED_PHOTO.name,
            PhotoCheckInput(
                photo_ref=photo_ref, policy=self.policy.authentication, member_id=self.profile.member_id
            ),
            start_to_close_timeout=timedelta(minutes=2),
            heartbeat_timeout=timedelta(seconds=15),
            retry_policy=RetryPolicy(maximum_attempts=3),
            summary="OPEN-1 enrol the reviewed photo",
            result_type=ENROL_REVIEWED_PHOTO.output,
        )
        if not enrolled.passed and enrolled.refusal is not None:
            await self.effects.audit(
                "decide_review",
                rule="OPEN-1",
                reason=enrolled.refusal.code,
                actor=actor,
                detail={"item_id": item.item_id},
            )
            raise refusal_error(RefusedError(enrolled.refusal))
        await self._authenticated(enrolled.linked_member_ids, actor=actor, reason="photo_passed_on_review")

    def check_photo(self, photo: PhotoSubmission) -> None:
        require_allowed(self.chart, "submit_authentication_photo", "authenticate")
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

    async def start_exam(self, *, actor: str) -> ExamPaperView:
        """Draw a fresh paper for this attempt (or return the one being taken)."""
        self.check_exam_allowed()
        if self.state.exam_paper is None:
            self.state.exam_attempts += 1
            drawn = await self.effects.steps.run(
                DRAW_EXAM_PAPER,
                DrawExamInput(
                    seed=f"{self.profile.member_id}:{self.state.exam_attempts}",
                    questions=self.policy.exam.questions_per_paper,
                    attempt=self.state.exam_attempts,
                ),
                summary=f"OPEN-2 draw paper {self.state.exam_attempts}",
            )
            self.state.exam_paper = drawn.paper
            self.state.exam_view = drawn.view
            await self.effects.audit(
                "exam_started", rule="OPEN-2", reason=f"attempt_{self.state.exam_attempts}", actor=actor
            )
        view = self.state.exam_view
        assert view is not None
        view.pass_mark = self.policy.exam.pass_mark
        return view

    def check_exam_allowed(self) -> None:
        require_allowed(self.chart, "start_exam", "pass_exam")
        retake_at = self.state.exam_retake_at
        if self.state.exam_paper is None and retake_at is not None and workflow.now() < retake_at:
            raise refusal_error(
                refuse(
                    "OPEN-2",
                    "retake_too_soon",
                    f"The exam can be retaken from {retake_at.isoformat(timespec='minutes')}.",
                )
            )

    async def submit_exam(self, inp: ExamAnswers, *, actor: str) -> ExamResult:
        self.check_answers(inp)
        paper = self.state.exam_paper
        assert paper is not None
        grade = await self.effects.steps.run(
            GRADE_EXAM, GradeExamInput(paper=paper, answers=inp.answers), summary="OPEN-2 grade"
        )
        self.state.exam_paper = None
        self.state.exam_view = None
        pass_mark = self.policy.exam.pass_mark
        detail = {"score": str(grade.score), "pass_mark": str(pass_mark)}
        if grade.score >= pass_mark:
            self.state.reasons = []
            clear_errors(self.state, "rules_exam")
            await self.effects.transition(
                "pass_exam", rule="OPEN-2", reason="exam_passed", actor=actor, detail=detail
            )
            return ExamResult(passed=True, score=grade.score, pass_mark=pass_mark, state=self.chart.state)
        self.state.exam_retake_at = workflow.now() + timedelta(hours=self.policy.exam.retake_delay_hours)
        self.state.reasons = [f"OPEN-2 exam_failed: scored {grade.score}, the pass mark is {pass_mark}"]
        record_error(
            self.state,
            "submit_exam",
            Refusal("OPEN-2", "exam_failed", f"Scored {grade.score}; the pass mark is {pass_mark}."),
        )
        await self.effects.audit("exam_failed", rule="OPEN-2", reason="exam_failed", actor=actor, detail=detail)
        self.effects.publish()
        return ExamResult(
            passed=False,
            score=grade.score,
            pass_mark=pass_mark,
            state=self.chart.state,
            retake_at=self.state.exam_retake_at,
        )

    def check_answers(self, inp: ExamAnswers) -> None:
        require_allowed(self.chart, "submit_exam", "pass_exam")
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

    async def release_product(self, product: ProductInput, *, actor: str) -> ProductReleaseResult:
        """A product accepted by the checks counts towards opening; the tenth opens the store."""
        self.check_product(product)
        product_id = f"{self.profile.member_id}-P{self.state.product_seq + 1}"
        self.state.product_seq += 1
        listing = await self.effects.steps.run(
            LIST_PRODUCT,
            ListProductInput(
                member_id=self.profile.member_id,
                product_id=product_id,
                product=replace(product, auth=None),  # the credential is the workflow's, not the index's
                at=workflow.now(),
                text_threshold=self.policy.association.text_similarity_threshold,
                image_max_distance=self.policy.association.image_hash_max_distance,
            ),
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
            await self.effects.audit(
                "product_refused", rule=listing.refusal.rule, reason=listing.refusal.code, actor=actor, detail=detail
            )
            if listing.duplicate_of_member_id:
                await self.enforcement.associate(
                    listing.duplicate_of_member_id, rule="ASSOC-3", cause="duplicate_product"
                )
            raise refusal_error(RefusedError(listing.refusal))
        self.state.products_live.append(product_id)
        await self.effects.transition(
            "release_product", rule="OPEN-3", reason="product_released", actor=actor, detail={"product_id": product_id}
        )
        if self.chart.state == "ten_products":
            await self.effects.transition("open_store", rule="OPEN-3", reason="ten_products_released")
        return ProductReleaseResult(
            accepted=True,
            state=self.chart.state,
            product_id=product_id,
            products_released=self.state.chart.products_released,
        )

    def check_product(self, product: ProductInput) -> None:
        if self.profile.account_type == "sub":
            raise refusal_error(
                refuse(
                    "REG-9",
                    "sub_account_cannot_sell",
                    "Sub-accounts cannot sell; release products from the main account.",
                )
            )
        require_allowed(self.chart, "release_product", "release_product")
        refusal = product_refusal(product)
        if refusal is not None:
            raise refusal_error(RefusedError(refusal))

    async def remove_product(self, removal: ProductRemoval, *, actor: str) -> None:
        """Taking products down never closes an open store (OPEN-3 counts releases, not what is listed)."""
        self.check_listed(removal)
        await self.effects.steps.run(
            UNLIST_PRODUCT,
            UnlistProductInput(member_id=self.profile.member_id, product_id=removal.product_id),
            summary="OPEN-3 unlist",
        )
        self.state.products_live.remove(removal.product_id)
        await self.effects.audit(
            "remove_product",
            rule="OPEN-3",
            reason="product_removed",
            actor=actor,
            detail={"product_id": removal.product_id},
        )
        self.effects.publish()

    def check_listed(self, removal: ProductRemoval) -> None:
        if removal.product_id not in self.state.products_live:
            raise refusal_error(refuse("OPEN-3", "no_such_product", "This store has no such listed product."))

    def check_removal(self, removal: ProductRemoval) -> None:
        require_live(self.chart, "remove_product")
        self.check_listed(removal)


def _streak(refusals: dict[str, int]) -> str:
    return ", ".join(f"{code} x{n}" for code, n in sorted(refusals.items()))
