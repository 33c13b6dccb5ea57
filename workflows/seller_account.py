"""One workflow per seller account, for the account's whole life (years). Over 400 lines: it is the
account's life in one class, every handler and its validator, each a few lines (the parts do the work).

Workflow id: `seller-<member id>`; task queue from settings (`seller-accounts` by default).

Signals:  report_violation(ViolationInput), report_closure(ClosureReport),
          open_case(AssociationCaseInput), ban(BanInput); login(LoginInput) for runs started before
          release v3 only
Updates:  login(LoginInput), verify_email(VerifyEmailInput), request_email_code(RequestCodeInput),
          change_contact(ChangeContactInput), submit_authentication_photo(PhotoSubmission),
          unbind_identity(UnbindInput) (always refused, REG-8), start_exam, submit_exam,
          release_product, remove_product, appeal, decide_appeal (kept: decide_review does it)
          retry(RetryInput) (operator: write again what ran out of retries, workflows/effects.py)
          claim_review(ClaimReviewInput), decide_review(DecideReviewInput) (operator: review items,
          workflows/reviews.py)
Queries:  status() -> AccountStatus, review_items() -> ReviewItems, review_text(key) -> ReviewText
Timers:   the account's deadlines (workflows/deadlines.py): REG-4 warnings and dormancy (reclaim or
          dormant), OPEN-1 authentication due date, ENF-2 freezes and point expiry, ASSOC-4 appeal
          windows, review items past their due time (they escalate), and the run's own age: a run
          continues-as-new after `max_run_days` so a sleeping
          account reaches new code in bounded time.

Changing this workflow: docs/DEPLOYING.md (patches, recorded histories per release, the deploy test).

The parts, handed to each other explicitly in `__init__`:
- the chart (workflows/lifecycle.py): the account's state; it changes only through `effects.transition`,
  which fires the chart and writes the audit row (ENF-4) before anything else happens;
- steps (workflows/steps.py): activities with bounded retries and typed results; a step that ran out of
  retries is recorded as needing attention (`attention`, workflows/effects.py);
- effects (workflows/effects.py): audit rows, notices, bars and cascades through an outbox;
- contact (workflows/contact.py: REG-6, REG-11), opening (workflows/opening.py: OPEN-1..3) and
  enforcement (workflows/enforcement.py: ENF, ASSOC-4/5, REG-9/10); the penalty ledgers are pure
  functions (workflows/penalties.py);
- commands (workflows/command_memo.py): each command's answer by request id, across continue-as-new.
Every message is checked against its declaration (models/boundary.py) where it enters; enforcement
never waits behind a seller's command (`CommandLock`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any, NoReturn, TypeVar

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from models import boundary
    from models.account_state import AccountInput, AccountState, ChartModel, Fact
    from models.activity_io import LoginIpInput
    from models.contract import (
        AccountProfile,
        AccountStatus,
        AppealDecisionInput,
        AppealInput,
        AssociationCaseInput,
        AuthenticationResult,
        BanInput,
        ChangeContactInput,
        ClosureReport,
        ExamAnswers,
        ExamPaperView,
        ExamResult,
        ExamStartInput,
        LoginInput,
        PhotoSubmission,
        ProductInput,
        ProductReleaseResult,
        ProductRemoval,
        RequestCodeInput,
        Requirements,
        RetryInput,
        RetryResult,
        UnbindInput,
        VerifyEmailInput,
        ViolationInput,
    )
    from models.refusals import Refusal, RefusedError, refuse
    from models.review import (
        APPEAL,
        ASSOCIATION,
        NEEDS_ATTENTION,
        PHOTO_REVIEW,
        REFUSE,
        ClaimReviewInput,
        DecideReviewInput,
        ReviewItem,
        ReviewItems,
        ReviewText,
        association_of,
    )
    from workflows import search_attributes as sa
    from workflows.lifecycle import LifecycleChart
    from workflows.requirements import clear_errors, record_error, requirements_of

from workflows import penalties
from workflows.activity_refs import RECORD_LOGIN_IP
from workflows.admission import Admission
from workflows.authorization import actor, authorize, verified
from workflows.command_memo import CommandMemory, remembered, unless_remembered
from workflows.contact import CODE_ON_ITS_WAY, Contact
from workflows.deadlines import Deadline, DeadlineKind, deadlines, next_deadline, run_refresh
from workflows.effects import AUDITS_TOGETHER_PATCH, Attentions, Effects
from workflows.enforcement import Enforcement
from workflows.opening import Opening
from workflows.refusing import at_boundary, refusal_error, require_live
from workflows.reviews import REVIEWS_PATCH, Reviews
from workflows.steps import CommandLock, Steps
from workflows.traffic import Traffic

# The first patch of the account workflow (release v2): the run-age timer. See docs/DEPLOYING.md.
RUN_REFRESH_PATCH = "v2-run-age-continue-as-new"
# Runs recorded before it end on a cancellation request (issue 24): see `run`.
CANCELLATION_REFUSED_PATCH = "v3-cancellation-refused"
M = TypeVar("M")


@workflow.defn
class SellerAccount:
    @workflow.init
    def __init__(self, inp: AccountInput) -> None:
        self.profile = _parsed_profile(inp.profile)
        self.policy = inp.policy
        self.max_history_events = inp.max_history_events
        self.max_run_days = inp.max_run_days
        self._run_refresh = False  # patch RUN_REFRESH_PATCH: set by run(), False on runs started by v1
        self._run_started = inp.registered_at
        self._refresh_due = False
        self._cancellations_refused = 0
        self.state = inp.state or AccountState(
            chart=ChartModel(products_to_open=inp.policy.store.products_to_open),
            registered_at=inp.registered_at,
            last_login_at=inp.registered_at,
        )
        self.chart = LifecycleChart(self.state.chart)
        self._lock = CommandLock()  # per command kind: never held by enforcement, timers or logins
        self._first_code: asyncio.Task[None] | None = None  # REG-6 mail through an outage (issue 32)
        if inp.state is None and inp.first_code is not None:  # shown from the account's first query on
            record_error(self.state, "request_email_code", CODE_ON_ITS_WAY)
        self._timers_moved = False
        self._pending_logins: list[LoginInput] = list(inp.pending_logins)
        self._facts: list[Fact] = list(inp.pending_facts)
        self._rejected_signals: list[tuple[str, Refusal]] = []
        self._attention_published = bool(self.state.attention or self.state.outbox)
        # The parts, each given what it uses.
        self.admission = Admission()  # decided first thing in run(): only the registration opens an account
        # What callers may spend on this run, and when it must move on (workflows/traffic.py).
        self.traffic = Traffic(
            max_events=inp.max_history_events,
            max_signals=inp.max_signals_per_run,
            max_updates=inp.max_updates_per_run,
            carried_logins=len(inp.pending_logins),
            shed=inp.logins_shed,
        )
        self.traffic.bound()  # here, before the first signals are handled: a flood comes with the start
        if not self.traffic.logins_by_update:  # runs recorded before logins were a command replay as they were
            workflow.set_signal_handler("login", self._login_signal)
        self.commands = CommandMemory(inp.recent_commands)
        self.attention = Attentions(self.state, wake=self._wake, publish=self._publish)
        self.steps = Steps(
            self.policy.steps,
            on_failed=self.attention.step_failed,
            on_succeeded=self.attention.step_succeeded,
        )
        # Each part is handed what it uses by name (docs/STYLE.md), so their __init__s repeat these four: a
        # base class or a bundle of them would hide which part reads what.
        state, chart, profile, policy = self.state, self.chart, self.profile, self.policy
        self.effects = Effects(
            state=state,
            chart=chart,
            profile=profile,
            policy=policy,
            steps=self.steps,
            attention=self.attention,
            wake=self._wake,
            publish=self._publish,
        )
        self.reviews = Reviews(
            state=state,
            chart=chart,
            profile=profile,
            policy=policy,
            effects=self.effects,
            is_attention=lambda step: any(a.step == step for a in self.state.attention),
        )
        self.enforcement = Enforcement(
            state=state, chart=chart, profile=profile, policy=policy, effects=self.effects, reviews=self.reviews
        )
        self.contact = Contact(
            state=state, profile=profile, policy=policy, effects=self.effects, enforcement=self.enforcement
        )
        self.opening = Opening(
            state=state,
            chart=chart,
            profile=profile,
            policy=policy,
            effects=self.effects,
            enforcement=self.enforcement,
            reviews=self.reviews,
        )

    # ------------------------------------------------------------------ the account's life

    @workflow.run
    async def run(self, inp: AccountInput) -> AccountStatus:
        """The account's life, which no cancellation request ends: only its rules close it (a cancel
        from the Web UI or from anyone who reaches the frontend would otherwise end enforcement while the
        registry still says the store is open). The request is refused and audited; the life goes on."""
        if not workflow.patched(CANCELLATION_REFUSED_PATCH):
            return await self._live(inp)  # runs recorded before the patch replay as they were
        life = asyncio.create_task(self._live(inp))
        while True:
            try:
                return await asyncio.shield(life)  # the SDK cancels this task only, never `life`
            except asyncio.CancelledError:
                self._cancellations_refused += 1
                self._wake()

    async def _live(self, inp: AccountInput) -> AccountStatus:
        try:
            boundary.parse(AccountProfile, inp.profile)
        except RefusedError as err:
            raise refusal_error(err) from None  # never started: nothing to record yet
        # Only the registration opens an account, and a closed one stays closed (workflows/admission.py).
        await self.admission.decide(inp)
        # Patch (docs/DEPLOYING.md): runs started before v2 replay without the run-age timer.
        self._run_refresh = workflow.patched(RUN_REFRESH_PATCH)
        self._run_started = workflow.now()
        # Patch (docs/DEPLOYING.md, issue 25): review items, and OPEN-1's `review` verdict put before one.
        self.reviews.enabled = workflow.patched(REVIEWS_PATCH)
        # Patch (docs/DEPLOYING.md, issue 24): refused and dropped signals audited in one step a pass.
        self.effects.audits_together = workflow.patched(AUDITS_TOGETHER_PATCH)
        if self.reviews.enabled:
            self.reviews.adopt_appeals()
        if inp.state is None and inp.first_code is not None:  # from registrations patched for it only
            self._first_code = asyncio.create_task(self.contact.mail_first_code(inp.first_code))
        if inp.state is None:
            await self.effects.audit(
                "register", rule="REG-7", reason="registered", actor="seller", to_state="registered"
            )
        self._publish()

        while not self.chart.is_closed:
            deadline = self._next_deadline()
            fired = await self._wait(deadline)
            if fired and deadline is not None:
                await self.effects.guarded(self._on_deadline(deadline))
            await self.effects.guarded(self._drain_logins())
            await self._drain_facts()
            await self._record_rejected_signals()
            await self._record_refused_cancellations()
            await self.effects.record_attention()
            if self.reviews.enabled:
                await self.effects.guarded(self.reviews.sync_attention())
            if self._history_is_long() or self._refresh_due:
                break

        # Handlers may still be awaiting activities; finishing under them would lose their answers. No new
        # command is taken meanwhile, and held-open ones cannot hold the run (workflows/traffic.py).
        await self.traffic.finish_handlers(self.steps.cancel_commands)
        # Refused signals and exhausted steps of the last moments are on the record before the run ends.
        await self._record_rejected_signals()
        await self._record_refused_cancellations()
        await self.effects.record_attention()
        await self.traffic.record_shed(self.effects.audit)
        if not self.chart.is_closed:
            workflow.continue_as_new(self._next_run())
        return self.status()

    def _next_run(self) -> AccountInput:
        """Everything the account carries into its next run."""
        return AccountInput(
            profile=self.profile,
            policy=self.policy,
            registered_at=self.state.registered_at,
            state=self.state,
            max_history_events=self.max_history_events,
            max_run_days=self.max_run_days,
            max_signals_per_run=self.traffic.max_signals,
            max_updates_per_run=self.traffic.max_updates,
            logins_shed=self.traffic.logins_shed,
            # Logins and facts signalled while this run was finishing are applied by the next one.
            pending_logins=self._pending_logins,
            pending_facts=self._facts,
            recent_commands=self.commands.recent(),  # a request answered here is answered the same there
        )

    async def _wait(self, deadline: Deadline | None) -> bool:
        """Sleep until the deadline or until a message moves the timers; True when the deadline fired."""
        self._timers_moved = False
        timeout = None if deadline is None else max(deadline.at - workflow.now(), timedelta(0))
        try:
            await workflow.wait_condition(
                lambda: (
                    self._timers_moved
                    or bool(self._rejected_signals or self.attention.to_record or self._cancellations_refused)
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

    def _wake(self) -> None:
        self._timers_moved = True

    def _deadlines(self, *, with_run_refresh: bool) -> list[Deadline]:
        found = deadlines(self.chart.state, self.state, self.policy)
        if self._run_refresh and with_run_refresh and not self.chart.is_closed:
            found.append(run_refresh(self._run_started, self.max_run_days))
        return found

    def _next_deadline(self) -> Deadline | None:
        return next_deadline(self._deadlines(with_run_refresh=True))

    async def _on_deadline(self, deadline: Deadline) -> None:
        match deadline.kind:
            case DeadlineKind.REG4_WARNING:
                await self._warn_of_reclaim(deadline.days_before)
            case DeadlineKind.AUTHENTICATION_DUE:
                self.state.authentication_overdue = True
                await self.effects.audit("authentication_overdue", rule="OPEN-1", reason="authentication_overdue")
                await self.effects.notice(
                    "open1-overdue",
                    kind="authentication_reminder",
                    rule="OPEN-1",
                    message="Identity authentication is overdue: submit your photo holding your ID card.",
                )
            case DeadlineKind.HOLD_EXPIRY:
                await self.enforcement.lift_expired_holds()
            case DeadlineKind.APPEAL_DEADLINE:
                await self.enforcement.expire_appeal_windows()
            case DeadlineKind.POINTS_EXPIRY:
                self.enforcement.prune_points()
                self._publish()
            case DeadlineKind.REVIEW_DUE:
                await self.reviews.escalate_overdue()
            case DeadlineKind.RUN_REFRESH:
                self._refresh_due = True  # the run loop ends and the account continues on the current code
            case DeadlineKind.DORMANCY if self.chart.state == "registered":
                await self.effects.transition("reclaim", rule="REG-4", reason="dormancy_reclaim")
            case DeadlineKind.DORMANCY:
                await self.effects.transition("go_dormant", rule="REG-4", reason="no_login_for_a_year")

    async def _warn_of_reclaim(self, days_before: float) -> None:
        self.state.warnings_sent.append(days_before)
        await self.effects.notice(
            f"reg4-warning-{self.state.last_login_at.isoformat()}-{days_before:g}",
            kind="reclaim_warning",
            rule="REG-4",
            message=(
                f"Your account has not completed identity authentication and has not logged in for a long "
                f"time. Log in within {days_before:g} day(s) or it will be taken back."
            ),
        )

    # ------------------------------------------------------------------ signals: checked, then queued

    # Signals cannot be refused: checked here (an invalid one is recorded and dropped), applied in
    # order by the run loop. Undecoded, so that a payload that does not fit is seen too.

    def _login_signal(self, *payloads: Any) -> None:
        """`login` as runs started before LOGINS_BY_UPDATE_PATCH take it (registered by `__init__` for
        them only): a signal. Since, a login is the `login` command (workflows/traffic.py says why)."""
        if (login := self._receive("login", LoginInput, payloads)) is not None:
            self._pending_logins.append(login)

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

    def _receive(self, signal: str, cls: type[M], payloads: tuple[Any, ...]) -> M | None:
        """The signal's payload as its checked dataclass, or None (recorded for the audit) if invalid, or
        shed unparsed past the run's budget (workflows/traffic.py)."""
        if not self.traffic.take_signal(signal):
            return None
        try:
            if len(payloads) != 1:
                rule = boundary.declaration(cls).rule
                raise refuse(rule, "wrong_arity", f"{signal} takes exactly one argument, got {len(payloads)}.")
            return boundary.parse(cls, payloads[0])
        except RefusedError as err:
            if self.traffic.keep_refusal():
                self._rejected_signals.append((signal, err.refusal))
            self._wake()  # the run loop records it
            return None

    async def _audit_dropped(self, event: str, **fields: Any) -> None:
        """A signal dropped for its credential, on the record one by one up to the run's REFUSALS_KEPT
        (shared with refused signals), then counted: a flood of well-formed facts under a credential that
        may not send them costs a run at most that many audit rows (workflows/traffic.py), written
        together with the pass's refused signals by `_record_rejected_signals`."""
        if self.traffic.keep_refusal():
            await self._audit_in_bulk(event, **fields)

    async def _record_rejected_signals(self) -> None:
        """The pass's refused signals and those dropped for their credential, on the record: one step for
        all of them, after the pass's facts took effect (no flood of bad messages holds enforcement up)."""
        while self._rejected_signals:
            signal, refusal = self._rejected_signals.pop(0)
            workflow.logger.warning("signal %s refused: %s %s", signal, refusal.rule, refusal.code)
            await self._audit_in_bulk(
                "signal_refused",
                rule=refusal.rule,
                reason=refusal.code,
                detail={"signal": signal, "message": refusal.message[:200]},
            )
        await self.effects.write_held_audits()

    async def _record_refused_cancellations(self) -> None:
        if self._cancellations_refused:
            count, self._cancellations_refused = self._cancellations_refused, 0
            await self.effects.audit(
                "cancel_refused",
                rule="ENF-4",
                reason="cancellation_refused",
                actor="unverified",  # Temporal does not say who asked
                detail={"count": str(count)},
            )

    async def _audit_in_bulk(self, event: str, **fields: Any) -> None:
        if self.effects.audits_together:
            self.effects.hold_audit(event, **fields)
        else:  # runs recorded before AUDITS_TOGETHER_PATCH: a step each, where it happened
            await self.effects.audit(event, **fields)

    async def _drain_logins(self) -> None:
        logins = list(self._pending_logins)
        self._pending_logins.clear()
        if not logins or self.chart.is_closed:
            return
        actors = await verified(
            [("login", x) for x in logins], account=self.profile.member_id, audit=self._audit_dropped
        )
        logins = [x for x, by in zip(logins, actors, strict=True) if by is not None]
        if not logins:
            return
        self.state.last_login_at = workflow.now()
        self.state.login_count += len(logins)
        self.state.warnings_sent.clear()
        if self.chart.state == "dormant":
            await self.effects.transition("wake", rule="REG-4", reason="login", actor=actors[0] or "seller")
        # One activity for every login applied in this task keeps a burst of logins cheap in history.
        await self.steps.run(
            RECORD_LOGIN_IP,
            LoginIpInput(
                member_id=self.profile.member_id,
                ips=[x.ip for x in logins],
                devices=[x.device_id for x in logins if x.device_id],
                at=workflow.now(),
                threshold=self.policy.association.ip_advisory_threshold,
            ),
            summary="ASSOC-1 login addresses",
        )

    async def _drain_facts(self) -> None:
        """Apply inbound facts one at a time, in arrival order; duplicates are recognised by id. Each
        fact's credential is verified first (ENF-4): one with a bad credential is audited and dropped. No
        seller's command holds them up, and one that fails is recorded without stopping the rest."""
        while self._facts and not self.chart.is_closed:
            batch, self._facts = self._facts, []
            messages = [m for m in map(_fact_message, batch) if m is not None]
            actors = iter(await verified(messages, account=self.profile.member_id, audit=self._audit_dropped))
            for fact in batch:
                by = next(actors) if _fact_message(fact) is not None else None
                if by is None or self.chart.is_closed:
                    continue
                if fact.violation is not None:
                    await self.effects.guarded(self.enforcement.apply_violation(fact.violation, actor=by))
                elif fact.closure is not None:
                    await self.effects.guarded(self.enforcement.apply_closure(fact.closure, actor=by))
                elif fact.case is not None:
                    await self.effects.guarded(self.enforcement.open_case(fact.case, tell_other=False, actor=by))
                elif fact.ban is not None:
                    await self.effects.guarded(self.enforcement.apply_ban(fact.ban, actor=by))
        self._facts.clear()  # a closed account applies nothing more

    # ------------------------------------------------------------------ REG-4: logins

    @workflow.update
    async def login(self, inp: LoginInput) -> str:
        """REG-4: the seller logged in (a login service reports it): the year starts again, a dormant
        store wakes, the address is recorded (ASSOC-1). A command, not a signal, so that no flood of
        logins can outgrow a workflow task (workflows/traffic.py); applied by the run loop, in order with
        the logins carried from the run before. Not keyed: a login sent twice is two logins."""
        async with self.command_slot(inp):
            self.traffic.take_login()
            self._pending_logins.append(inp)
            return self.chart.state

    @login.validator
    def _check_login(self, inp: LoginInput) -> None:
        self._admit("login", inp)
        self.traffic.admit_login()

    # ------------------------------------------------------------------ REG-6, REG-11: email and contact

    @workflow.update
    @remembered
    async def verify_email(self, inp: VerifyEmailInput) -> str:
        """REG-6: the one-time code mailed at registration proves the email is the registrant's own."""
        async with self._lock:  # per command kind (CommandLock)
            await self.contact.verify_email(inp.code, actor=actor(inp.auth, "seller"))
            return self.chart.state

    @verify_email.validator
    @unless_remembered
    def _check_verify_email(self, inp: VerifyEmailInput) -> None:
        self._admit("verify_email", inp)
        require_live(self.chart, "verify_email")
        self.contact.check_code(inp.code)

    @workflow.update
    @remembered
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
            await self.contact.mail_code(inp.email, actor=actor(inp.auth, "seller"))
            return self.chart.state

    @request_email_code.validator
    @unless_remembered
    def _check_request_email_code(self, inp: RequestCodeInput) -> None:
        self._admit("request_email_code", inp)
        require_live(self.chart, "request_email_code")
        self.contact.check_code_request(inp.email)

    @workflow.update
    @remembered
    async def change_contact(self, inp: ChangeContactInput) -> str:
        """REG-11 / ASSOC-2: a new email or mobile must be free; one held by another seller links the two."""
        async with self._lock:
            await self.contact.change(inp, actor=actor(inp.auth, "seller"))
            return self.chart.state

    @change_contact.validator
    @unless_remembered
    def _check_change_contact(self, inp: ChangeContactInput) -> None:
        self._admit("change_contact", inp)
        require_live(self.chart, "change_contact")
        self.contact.check_contact(inp.kind, inp.value)

    # ------------------------------------------------------------------ OPEN-1..3: opening the store

    @workflow.update
    @remembered
    async def submit_authentication_photo(self, photo: PhotoSubmission) -> AuthenticationResult:
        """OPEN-1: the photo (by blob reference) is checked; a pass binds the identity for good (REG-8)."""
        async with self._lock:
            return await self.opening.authenticate(photo, actor=actor(photo.auth, "seller"))

    @submit_authentication_photo.validator
    @unless_remembered
    def _check_photo(self, photo: PhotoSubmission) -> None:
        self._admit("submit_authentication_photo", photo)
        self.opening.check_photo(photo)

    @workflow.update
    @remembered
    async def start_exam(self, inp: ExamStartInput) -> ExamPaperView:
        """OPEN-2: draw a fresh paper for this attempt (or return the one being taken)."""
        async with self._lock:
            return await self.opening.start_exam(actor=actor(inp.auth, "seller"))

    @start_exam.validator
    @unless_remembered
    def _check_start_exam(self, inp: ExamStartInput) -> None:
        self._admit("start_exam", inp)
        self.opening.check_exam_allowed()

    @workflow.update
    @remembered
    async def submit_exam(self, inp: ExamAnswers) -> ExamResult:
        async with self._lock:
            return await self.opening.submit_exam(inp, actor=actor(inp.auth, "seller"))

    @submit_exam.validator
    @unless_remembered
    def _check_submit_exam(self, inp: ExamAnswers) -> None:
        self._admit("submit_exam", inp)
        self.opening.check_answers(inp)

    @workflow.update
    @remembered
    async def release_product(self, product: ProductInput) -> ProductReleaseResult:
        """OPEN-3: a product accepted by the checks counts towards opening; the tenth opens the store."""
        async with self._lock:
            return await self.opening.release_product(product, actor=actor(product.auth, "seller"))

    @release_product.validator
    @unless_remembered
    def _check_release_product(self, product: ProductInput) -> None:
        self._admit("release_product", product)
        self.opening.check_product(product)

    @workflow.update
    @remembered
    async def remove_product(self, removal: ProductRemoval) -> str:
        """Taking products down never closes an open store (OPEN-3 counts releases, not what is listed)."""
        async with self._lock:
            await self.opening.remove_product(removal, actor=actor(removal.auth, "seller"))
            return self.chart.state

    @remove_product.validator
    @unless_remembered
    def _check_remove_product(self, removal: ProductRemoval) -> None:
        self._admit("remove_product", removal)
        self.opening.check_removal(removal)

    @workflow.update
    @remembered
    async def unbind_identity(self, inp: UnbindInput) -> NoReturn:
        """REG-8: never allowed; the request and its refusal go on the record (ENF-4)."""
        async with self._lock:
            if self.chart.state == "registered":
                message = "Identity binding cannot be undone; no identity has been authenticated yet either."
            else:
                message = "The authenticated identity is bound to this account for good and cannot be unbound."
            refusal = Refusal("REG-8", "unbind_not_allowed", message, retryable=False)  # never allowed
            await self.effects.refuse("unbind_identity", refusal, actor=actor(inp.auth, "seller"))

    @unbind_identity.validator
    @unless_remembered
    def _check_unbind(self, inp: UnbindInput) -> None:
        # A malformed request is refused here; a well-formed one is recorded. Refused either way
        # (REG-8), but only the seller's own request goes on the record.
        self._admit("unbind_identity", inp)

    # ------------------------------------------------------------------ ASSOC-4/5: appeals

    @workflow.update
    @remembered
    async def appeal(self, inp: AppealInput) -> str:
        """ASSOC-5: one appeal per case, within the window, with opening information, invoices and a letter."""
        async with self._lock:
            await self.enforcement.appeal(inp, actor=actor(inp.auth, "seller"))
            if self.reviews.enabled:
                await self.reviews.open_appeal(
                    inp.case_id,
                    letter=inp.letter,
                    opening_info=inp.store_opening_info,
                    invoice_refs=inp.invoice_refs,
                )
            return self.chart.state

    @appeal.validator
    @unless_remembered
    def _check_appeal(self, inp: AppealInput) -> None:
        self._admit("appeal", inp)
        self.enforcement.appealable_case(inp)

    @workflow.update
    @remembered
    async def decide_appeal(self, inp: AppealDecisionInput) -> str:
        """ASSOC-5: an operator approves (the store returns to where it was) or rejects (closed)."""
        async with self._lock:
            await self.enforcement.decide_appeal(inp, actor=actor(inp.auth, f"operator:{inp.operator.strip()}"))
            return self.chart.state

    @decide_appeal.validator
    @unless_remembered
    def _check_decision(self, inp: AppealDecisionInput) -> None:
        self._admit("decide_appeal", inp)
        # The decision is recorded under the verified operator; a different name typed beside it is refused.
        assert inp.auth is not None
        if inp.operator.strip() and inp.operator.strip() != inp.auth.actor:
            raise refusal_error(
                refuse("ENF-4", "operator_mismatch", "The decision names another operator than the credential.")
            )
        self.enforcement.decidable_case(inp)

    # ------------------------------------------------------------------ issue 25: review items

    @workflow.update
    @remembered
    async def claim_review(self, inp: ClaimReviewInput) -> ReviewItem:
        """An operator takes an item (or gives it back: `release`), so two people never decide it twice."""
        async with self._lock:
            assert inp.auth is not None  # the validator admitted it
            return await self.reviews.claim(inp, actor=actor(inp.auth, "operator"), operator=inp.auth.actor)

    @claim_review.validator
    @unless_remembered
    def _check_claim_review(self, inp: ClaimReviewInput) -> None:
        self._admit("claim_review", inp)
        require_live(self.chart, "claim_review")

    @workflow.update
    @remembered
    async def decide_review(self, inp: DecideReviewInput) -> ReviewItem:
        """An operator decides an item, with a note (and, refusing, a code of the rule's vocabulary); the
        part that owns the question carries the decision out: an appeal as decide_appeal did, a photo
        passed (authenticated) or refused with the operator's code."""
        async with self._lock:
            assert inp.auth is not None  # the validator admitted it
            by, operator = actor(inp.auth, "operator"), inp.auth.actor
            item = await self.reviews.decidable(inp, actor=by, operator=operator)
            try:
                if item.kind == APPEAL:
                    case_id = item.item_id.removeprefix(f"{APPEAL}-")
                    verdict = AppealDecisionInput(case_id, inp.decision != REFUSE, operator, inp.note)
                    self.enforcement.decidable_case(verdict)
                    await self.enforcement.decide_appeal(verdict, actor=by, code=inp.code)
                elif item.kind == PHOTO_REVIEW:
                    await self.opening.decide_reviewed_photo(item, inp, actor=by)
                elif item.kind == ASSOCIATION:  # refuse (link_confirmed): ASSOC-4; approve: not linked
                    linked, cause = association_of(item)
                    if inp.decision == REFUSE:
                        await self.enforcement.confirm_link(linked, rule=item.rule, cause=cause)
                    else:
                        await self.enforcement.dismiss_link(
                            linked, rule=item.rule, cause=cause, actor=by, note=inp.note
                        )
                elif item.kind == NEEDS_ATTENTION and inp.decision != REFUSE:
                    await self.effects.retry_outbox()  # approve: write again what waits
            finally:
                self.reviews.deciding.discard(item.item_id)
            return await self.reviews.decided(item, inp, actor=by, operator=operator)

    @decide_review.validator
    @unless_remembered
    def _check_decide_review(self, inp: DecideReviewInput) -> None:
        self._admit("decide_review", inp)
        require_live(self.chart, "decide_review")

    @workflow.query
    def review_items(self) -> ReviewItems:
        """Every item of this account, open ones and the last decided ones, with their histories."""
        return ReviewItems(list(self.state.reviews))

    @workflow.query
    def review_text(self, key: str) -> ReviewText:
        """A text an item names as evidence (ReviewEvidence.text_key): for the evidence page only."""
        return ReviewText(key, self.state.review_texts.get(key))

    # ------------------------------------------------------------------ ENF-4: the operator's retry

    @workflow.update
    @remembered
    async def retry(self, inp: RetryInput) -> RetryResult:
        """ENF-4: write again what waits in the outbox; answers what still fails."""
        retried = await self.effects.retry_outbox()
        await self.effects.audit(
            "retry",
            rule="ENF-4",
            reason="retried",
            actor=actor(inp.auth, f"operator:{inp.operator.strip()}"),
            detail={"effects": str(retried), "still_pending": str(len(self.state.outbox))},
        )
        return RetryResult(retried=retried, still_failing=self.attention.lines())

    @retry.validator
    @unless_remembered
    def _check_retry(self, inp: RetryInput) -> None:
        self._admit("retry", inp)

    # ------------------------------------------------------------------ what every command shares

    def _admit(self, command: str, inp: Any) -> None:
        """A command's payload fits its declaration and its credential lets the sender send it."""
        self.admission.require()
        self.traffic.admit_update(getattr(inp, "auth", None))
        at_boundary(inp)
        authorize(command, inp, account=self.profile.member_id)

    @contextlib.asynccontextmanager
    async def command_slot(self, inp: Any) -> AsyncIterator[None]:
        """Around every command's handler (`@remembered`): nothing is done before the run is admitted
        (workflows/admission.py), and the command is counted, its seller slot held (workflows/traffic.py)."""
        await self.admission.until_decided()
        with self.traffic.handling(getattr(inp, "auth", None)):
            yield

    # ------------------------------------------------------------------ what the account shows

    @workflow.query
    def status(self) -> AccountStatus:
        self.admission.require()
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
            penalty_points={ledger: self._points(ledger) for ledger in penalties.SHOWN_LEDGERS},
            holds=[h.hold_id for h in self.state.holds],
            open_cases=[c.case_id for c in self.state.cases if c.decision is None],
            needs_attention=self.attention.lines(),
            requirements=self._requirements(),
        )

    def _points(self, ledger: str) -> int:
        return penalties.points(self.state.deductions, ledger)

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
            # One spelling of a case: its id, never the hold's `case-` key (issue 25).
            "suspended": [f"{h.kind} {_shown(h.hold_id)} to be lifted ({h.rule})" for h in self.state.holds],
            "closed": [],
        }[state]
        # The run's age is not the seller's concern.
        deadline = next_deadline(self._deadlines(with_run_refresh=False))
        if deadline is not None and state != "closed":
            waits.append(f"{deadline.summary} at {deadline.at.isoformat(timespec='seconds')}")
        return waits

    def _publish(self) -> None:
        """Search attributes and current details, so operators see business state in the Web UI."""
        self.reviews.tidy()
        self._attention_published = self._attention_published or self.attention.flag
        updates: list[SearchAttributeUpdate[Any]] = [
            sa.SELLER_STATE.value_set(self.chart.state),
            sa.MEMBER_ID.value_set(self.profile.member_id),
            sa.REGION.value_set(self.profile.region),
            sa.PRODUCT_COUNT.value_set(len(self.state.products_live)),
            sa.PENALTY_POINTS.value_set(sum(self._points(x) for x in penalties.PUBLISHED_LEDGERS)),
            # Only a live account can still be decided on: a closed one has settled its cases.
            sa.OPEN_CASE.value_set(not self.chart.is_closed and any(c.decision is None for c in self.state.cases)),
        ]
        if self._attention_published:  # published once it has been true (older histories replay unchanged)
            updates.append(sa.NEEDS_ATTENTION.value_set(self.attention.flag))
        if self.state.closed_reason:
            updates.append(sa.CLOSED_REASON.value_set(self.state.closed_reason))
        if self.reviews.published:  # published once items existed (older histories replay unchanged)
            waiting = self.reviews.open_items()
            updates.append(sa.REVIEW_KINDS.value_set(sorted({i.kind for i in waiting})))
            updates.append(sa.REVIEW_OVERDUE.value_set(any(i.escalated for i in waiting)))
            # Kept, not unset, once nothing waits (the queue filters on ReviewKinds): the time-skipping
            # server keeps an unset Datetime as a null that no client can decode.
            if waiting:
                updates.append(sa.REVIEW_DUE_AT.value_set(min(i.due_at for i in waiting)))
        workflow.upsert_search_attributes(updates)
        lines = [f"**{self.chart.state}**"]
        if self.state.closed_reason:
            lines.append(f"closed: {self.state.closed_reason}")
        lines += [f"waiting for {w}" for w in self._waiting_for()]
        needs = self._requirements()
        lines += [f"due: {r.requirement} ({r.rule})" for r in needs.currently_due]
        lines += [f"past due: {r.requirement} ({r.rule})" for r in needs.past_due]
        lines += [f"last refusal: {e.requirement} {e.rule} {e.code}" for e in needs.errors]
        lines += [f"needs attention: {a}" for a in self.attention.lines()]
        lines += self.reviews.detail_lines()
        workflow.set_current_details("\n\n".join(lines))

    def _history_is_long(self) -> bool:
        """A Temporal cap on this run is near (events, size, signals, updates): continue as new."""
        return self.traffic.continue_due()


def _parsed_profile(profile: AccountProfile) -> AccountProfile:
    """The profile as checked at the boundary; an invalid one is kept as it came, and `run` refuses it."""
    try:
        return boundary.parse(AccountProfile, profile)
    except RefusedError:
        return profile


def _shown(hold_id: str) -> str:
    return hold_id.removeprefix("case-")


def _fact_message(fact: Fact) -> tuple[str, Any] | None:
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
