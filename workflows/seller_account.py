"""One workflow per seller account, for the account's whole life (years).

Workflow id: `seller-<member id>`; task queue from settings (`seller-accounts` by default).

Signals:  login(LoginInput)
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
        AuditInput,
        AuthenticationResult,
        ChangeContactInput,
        ChartModel,
        DrawExamInput,
        ExamAnswers,
        ExamPaperView,
        ExamResult,
        ExamStartInput,
        GradeExamInput,
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
    )
    from models.refusals import REFUSAL_ERROR_TYPE, Refusal, RefusedError, refuse
    from workflows import search_attributes as sa
    from workflows.lifecycle import DORMANT_FROM, LifecycleChart

ACTIVITY_TIMEOUT = timedelta(seconds=30)
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


@dataclass
class Deadline:
    at: datetime
    kind: str  # reg4_warning | dormancy | authentication_due
    days_before: float = 0

    @property
    def summary(self) -> str:
        if self.kind == "reg4_warning":
            return f"REG-4 warning {self.days_before:g}d before reclaim"
        return {"dormancy": "REG-4 dormancy check", "authentication_due": "OPEN-1 authentication due"}[
            self.kind
        ]


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
                )
            )
        return self.status()

    async def _wait(self, deadline: Deadline | None) -> bool:
        """Sleep until the deadline or until a message moves the timers; True when the deadline fired."""
        self._timers_moved = False
        timeout = None if deadline is None else max(deadline.at - workflow.now(), timedelta(0))
        try:
            await workflow.wait_condition(
                lambda: self._timers_moved or bool(self._pending_logins) or self._history_is_long(),
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
                at=workflow.now(),
                threshold=self.policy.association.ip_advisory_threshold,
            ),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
            summary="ASSOC-1 login addresses",
        )

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
            "suspended": ["the hold to be lifted"],
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
