"""OPEN-1..4 and REG-8 on the account workflow: the authentication photo, the rules exam, products
and the refused unbinding. Mixed into SellerAccount (workflows/seller_account.py), whose effects
(_transition, _audit, _publish) these handlers use."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import NoReturn

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows.account_base import AccountBase

with workflow.unsafe.imports_passed_through():
    from activities.exam import draw_exam_paper, grade_exam
    from activities.identity_photo import check_authentication_photo
    from activities.product_index import list_product, product_refusal, unlist_product
    from activities.storage.blobs import BLOB_REF
    from models.activity_io import (
        DrawExamInput,
        GradeExamInput,
        ListProductInput,
        PhotoCheckInput,
        UnlistProductInput,
    )
    from models.contract import (
        AuthenticationResult,
        ExamAnswers,
        ExamPaperView,
        ExamResult,
        ExamStartInput,
        PhotoSubmission,
        ProductInput,
        ProductReleaseResult,
        ProductRemoval,
        UnbindInput,
    )
    from models.refusals import Refusal, RefusedError, refuse
    from workflows.requirements import clear_errors, record_error


from workflows.account_common import refusal_error, run_activity


class Opening(AccountBase):
    @workflow.update
    async def submit_authentication_photo(self, photo: PhotoSubmission) -> AuthenticationResult:
        """OPEN-1: the photo (by blob reference) is checked; a pass binds the identity for good (REG-8)."""
        async with self._lock:
            self._require_allowed("submit_authentication_photo", "authenticate")
            result = await workflow.execute_activity(
                check_authentication_photo,
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
            )
            if not result.passed and result.refusal is not None:
                self.state.reasons = [str(result.refusal)]
                record_error(self.state, "submit_authentication_photo", result.refusal)
                await self._audit(
                    "authentication_failed",
                    rule=result.refusal.rule,
                    reason=result.refusal.code,
                    actor=self._actor(photo.auth, "seller"),
                    detail={"photo_ref": photo.photo_ref},
                )
                self._publish()
                return AuthenticationResult(passed=False, state=self.chart.state, failures=[result.refusal])
            self.state.reasons = []
            clear_errors(self.state, "authentication_photo")
            await self._transition(
                "authenticate",
                rule="OPEN-1",
                reason="photo_authenticated",
                actor=self._actor(photo.auth, "seller"),
            )
            for other in result.linked_member_ids:  # ASSOC-2: the same person holds another account
                await self._audit(
                    "identity_link", rule="ASSOC-2", reason="shared_face", detail={"linked_member_id": other}
                )
                await self._associate(other, rule="ASSOC-2", cause="shared_face")
            return AuthenticationResult(passed=True, state=self.chart.state)

    @submit_authentication_photo.validator
    def _check_photo(self, photo: PhotoSubmission) -> None:
        self._at_boundary(photo)
        self._authorize("submit_authentication_photo", photo.auth)
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
                drawn = await run_activity(
                    draw_exam_paper,
                    DrawExamInput(
                        seed=f"{self.profile.member_id}:{self.state.exam_attempts}",
                        questions=self.policy.exam.questions_per_paper,
                        attempt=self.state.exam_attempts,
                    ),
                    summary=f"OPEN-2 draw paper {self.state.exam_attempts}",
                )
                self.state.exam_paper = drawn.paper
                self.state.exam_view = drawn.view
                await self._audit(
                    "exam_started",
                    rule="OPEN-2",
                    reason=f"attempt_{self.state.exam_attempts}",
                    actor=self._actor(inp.auth, "seller"),
                )
            view = self.state.exam_view
            assert view is not None
            view.pass_mark = self.policy.exam.pass_mark
            return view

    @start_exam.validator
    def _check_start_exam(self, inp: ExamStartInput) -> None:
        self._at_boundary(inp)
        self._authorize("start_exam", inp.auth)
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
            grade = await run_activity(
                grade_exam,
                GradeExamInput(paper=paper, answers=inp.answers),
                summary="OPEN-2 grade",
            )
            self.state.exam_paper = None
            self.state.exam_view = None
            pass_mark = self.policy.exam.pass_mark
            detail = {"score": str(grade.score), "pass_mark": str(pass_mark)}
            if grade.score >= pass_mark:
                self.state.reasons = []
                clear_errors(self.state, "rules_exam")
                await self._transition(
                    "pass_exam",
                    rule="OPEN-2",
                    reason="exam_passed",
                    actor=self._actor(inp.auth, "seller"),
                    detail=detail,
                )
                return ExamResult(passed=True, score=grade.score, pass_mark=pass_mark, state=self.chart.state)
            self.state.exam_retake_at = workflow.now() + timedelta(hours=self.policy.exam.retake_delay_hours)
            self.state.reasons = [f"OPEN-2 exam_failed: scored {grade.score}, the pass mark is {pass_mark}"]
            record_error(
                self.state,
                "submit_exam",
                Refusal("OPEN-2", "exam_failed", f"Scored {grade.score}; the pass mark is {pass_mark}."),
            )
            await self._audit(
                "exam_failed",
                rule="OPEN-2",
                reason="exam_failed",
                actor=self._actor(inp.auth, "seller"),
                detail=detail,
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
        self._at_boundary(inp)
        self._authorize("submit_exam", inp.auth)
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
            listing = await run_activity(
                list_product,
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
                await self._audit(
                    "product_refused",
                    rule=listing.refusal.rule,
                    reason=listing.refusal.code,
                    actor=self._actor(product.auth, "seller"),
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
                actor=self._actor(product.auth, "seller"),
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
        self._at_boundary(product)
        self._authorize("release_product", product.auth)
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
            await run_activity(
                unlist_product,
                UnlistProductInput(member_id=self.profile.member_id, product_id=removal.product_id),
                summary="OPEN-3 unlist",
            )
            self.state.products_live.remove(removal.product_id)
            await self._audit(
                "remove_product",
                rule="OPEN-3",
                reason="product_removed",
                actor=self._actor(removal.auth, "seller"),
                detail={"product_id": removal.product_id},
            )
            self._publish()
            return self.chart.state

    @remove_product.validator
    def _check_remove_product(self, removal: ProductRemoval) -> None:
        self._at_boundary(removal)
        self._authorize("remove_product", removal.auth)
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
                "unbind_identity",
                Refusal("REG-8", "unbind_not_allowed", message),
                actor=self._actor(inp.auth, "seller"),
            )

    @unbind_identity.validator
    def _check_unbind(self, inp: UnbindInput) -> None:
        self._at_boundary(inp)  # a malformed request is refused here; a well-formed one is recorded
        # Refused either way (REG-8), but only the seller's own request goes on the record.
        self._authorize("unbind_identity", inp.auth)

    def _require_allowed(self, command: str, event: str) -> None:
        """Refuse (OPEN-4) a command the account's current state does not allow."""
        if not self.chart.allows(event):
            raise refusal_error(self.chart.refusal(command))
