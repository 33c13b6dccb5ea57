"""What the account does, and what keeps failing infrastructure from wedging it: the state change
(`transition`: the chart fired, then the audit row, ENF-4), audit rows and notices through an outbox,
and the record of steps that ran out of retries.

- A step whose retries ran out (workflows/steps.py) is recorded (`Attention`): audit `needs_attention`,
  the `NeedsAttention` search attribute, the status query's `needs_attention`. The account keeps
  living. System effects (audit rows, notices, REG-5 bars, ENF-3 cascades) wait in an outbox that the
  operator's `retry` command writes again; a seller's command is retried by the seller's next attempt,
  whose success clears the record.
- Run-loop steps (timers, logins, violations, reports, bans) are guarded: a failed or refused step is
  recorded and the loop goes on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import NoReturn

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from models import metrics as m
    from models.account_state import AccountState, CascadeStep, PendingEffect
    from models.activity_io import AuditBatch, AuditInput, NoticeInput
    from models.contract import AccountProfile, Attention, BanInput, account_workflow_id
    from models.policy import Policy
    from models.refusals import Refusal, RefusedError
    from workflows.lifecycle import LifecycleChart
    from workflows.requirements import record_error

from workflows import metrics
from workflows.activity_refs import ACTIVE_LINKS, BAR_IDENTITY, RECORD_AUDIT, RECORD_AUDITS, SEND_NOTICE
from workflows.authorization import system_credential
from workflows.refusing import refusal_error
from workflows.steps import StepFailed, Steps

# Runs recorded before it write each refused or dropped signal's audit row as a step of its own.
AUDITS_TOGETHER_PATCH = "v3-bulk-audits-together"
# Rows a bulk step writes: REFUSALS_KEPT (workflows/traffic.py) bounds a run's bulk rows anyway.
AUDIT_BATCH = 100


class Attentions:
    """Steps that ran out of retries: kept on the state until they next succeed, each recorded once."""

    def __init__(self, state: AccountState, *, wake: Callable[[], None], publish: Callable[[], None]) -> None:
        self.state = state
        self._wake = wake
        self._publish = publish
        self.to_record: list[tuple[str, str]] = []

    def step_failed(self, failure: StepFailed) -> None:
        """A step failed for good (workflows/steps.py). Infrastructure trouble needs attention."""
        if failure.kind == "infrastructure":
            self.needs(failure.step, failure.reason)

    def needs(self, step: str, error: str) -> None:
        self.state.attention = [a for a in self.state.attention if a.step != step]
        self.state.attention.append(Attention(step=step, error=error, at=workflow.now()))
        if not step.startswith("audit "):  # an audit that cannot be written waits in the outbox
            self.to_record.append((step, error))
        self._wake()
        self._publish()

    def step_succeeded(self, step: str) -> None:
        if any(a.step == step for a in self.state.attention):
            self.state.attention = [a for a in self.state.attention if a.step != step]
            self._publish()

    @property
    def flag(self) -> bool:
        return bool(self.state.attention or self.state.outbox)

    def lines(self) -> list[str]:
        lines = [
            f"{a.step}: {a.error} (since {a.at.isoformat(timespec='seconds')})" for a in self.state.attention
        ]
        if self.state.outbox:
            lines.append(f"{len(self.state.outbox)} effect(s) waiting to be written again (retry)")
        return lines


class Effects:
    """The account's effects on the world, each through `steps`; what cannot be done now waits."""

    def __init__(
        self,
        *,
        state: AccountState,
        chart: LifecycleChart,
        profile: AccountProfile,
        policy: Policy,
        steps: Steps,
        attention: Attentions,
        wake: Callable[[], None],
        publish: Callable[[], None],
    ) -> None:
        self.state, self.chart, self.profile, self.policy = state, chart, profile, policy
        self.steps = steps
        self.attention = attention
        self.wake = wake  # the run loop looks at its deadlines and inbox again
        self.publish = publish  # search attributes and the Web UI details
        self.audits_together = False  # patch AUDITS_TOGETHER_PATCH: set by the account's run()
        self.held_audits: list[AuditInput] = []

    async def transition(
        self, event: str, *, rule: str, reason: str, actor: str = "system", detail: dict[str, str] | None = None
    ) -> None:
        """Fire the chart and record the change: the only place the account's state changes."""
        try:
            before, after = self.chart.fire(event)
        except RefusedError as err:
            # Enforcement may have moved the state while a command waited on its step.
            raise refusal_error(err) from None
        self.wake()  # a new state has other deadlines (or, closed, none)
        if after == "closed":
            self.state.closed_reason = reason
            self.steps.cancel_commands()
        elif event in ("reinstate", "wake"):
            self.state.reasons = []  # refusals from before the hold or the sleep no longer apply
        await self.audit(
            event, rule=rule, reason=reason, actor=actor, from_state=before, to_state=after, detail=detail
        )
        self.publish()

    async def refuse(self, command: str, refusal: Refusal, *, actor: str) -> NoReturn:
        """Record a refusal of a processed command (ENF-4) and fail the command with it."""
        self.state.reasons = [str(refusal)]
        record_error(self.state, command, refusal)
        await self.audit(command, rule=refusal.rule, reason=refusal.code, actor=actor)
        raise refusal_error(RefusedError(refusal))

    async def audit(
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
        row = self._row(event, rule, reason, actor, from_state, to_state, detail)
        await self.run(PendingEffect(audit=row))

    def hold_audit(
        self, event: str, *, rule: str, reason: str, actor: str = "system", detail: dict[str, str] | None = None
    ) -> None:
        """An audit row for `write_held_audits`: rows recorded in bulk (refused and dropped signals) go in
        one step, so that a flood of bad messages costs the account one step, not one per message."""
        self.held_audits.append(self._row(event, rule, reason, actor, None, None, detail))

    async def write_held_audits(self) -> None:
        """The held rows, AUDIT_BATCH to a step; what cannot be written now waits in the outbox."""
        while self.held_audits:
            rows, self.held_audits = self.held_audits[:AUDIT_BATCH], self.held_audits[AUDIT_BATCH:]
            try:
                summary = f"audit {len(rows)} ({rows[0].event})"
                await self.steps.run(RECORD_AUDITS, AuditBatch(rows), summary=summary)
            except StepFailed as failed:  # in the outbox, written again one by one by `retry`
                self._not_done(failed, [PendingEffect(audit=row) for row in rows])

    def _row(
        self,
        event: str,
        rule: str,
        reason: str,
        actor: str,
        from_state: str | None,
        to_state: str | None,
        detail: dict[str, str] | None,
    ) -> AuditInput:
        self.state.audit_seq += 1
        return AuditInput(
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

    async def notice(self, key: str, *, kind: str, rule: str, message: str) -> None:
        await self.run(
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

    async def run(self, effect: PendingEffect) -> None:
        """Run a system effect; if it cannot be done now it waits in the outbox instead of wedging the
        account (bad input in it is recorded as needing attention and dropped: no retry fixes it)."""
        try:
            if effect.audit is not None:
                a = effect.audit
                await self.steps.run(RECORD_AUDIT, a, summary=f"audit {a.event} ({a.rule})")
            elif effect.notice is not None:
                n = effect.notice
                await self.steps.run(SEND_NOTICE, n, summary=f"notice {n.kind} ({n.rule})")
            elif effect.bar is not None:
                await self.steps.run(BAR_IDENTITY, effect.bar, summary="REG-5 bar identity")
            elif effect.cascade is not None:
                await self._cascade(effect.cascade)
        except StepFailed as failed:
            self._not_done(failed, [effect])

    def _not_done(self, failed: StepFailed, effects: list[PendingEffect]) -> None:
        """Effects whose step failed: they wait in the outbox for `retry` (infrastructure), or are
        recorded as needing attention and dropped (bad input in them: no retry fixes it)."""
        if failed.kind != "infrastructure":
            self.attention.needs(failed.step, f"refused: {failed.reason}")
            return
        for effect in effects:
            self.state.outbox.append(effect)
            metrics.count(m.OUTBOX_QUEUED, effect=_kind(effect))
        self.publish()

    async def retry_outbox(self) -> int:
        """ENF-4: write again what waits in the outbox; how many effects were tried."""
        effects, self.state.outbox = list(self.state.outbox), []
        for effect in effects:
            metrics.count(m.OUTBOX_RETRIED, effect=_kind(effect))
            await self.run(effect)
        self.publish()
        return len(effects)

    async def _cascade(self, step: CascadeStep) -> None:
        """ENF-3: ban every account linked to this closed one, each ban naming where it came from."""
        me = self.profile.member_id
        reason, chain, origin = step.reason, step.chain, step.origin
        links = await self.steps.run(ACTIVE_LINKS, me, summary="ENF-3 links")
        seen = set(chain or []) | {me}
        targets = [m for m in links if m not in seen]
        # Everyone banned in this wave goes in the chain, so siblings and cycles never ban back.
        wave = sorted(seen | set(targets))
        for target in targets:
            ban = BanInput(origin_member_id=origin or me, via_member_id=me, origin_reason=reason, chain=wave)
            ban.auth = system_credential("ban", target, ban)
            try:
                await workflow.get_external_workflow_handle(account_workflow_id(target)).signal("ban", ban)
                outcome = "ban_sent"
            except Exception:  # the linked account's workflow has already ended (closed)
                outcome = "ban_target_gone"
            await self.audit("cascade", rule="ENF-3", reason=outcome, detail={"target_member_id": target})

    async def guarded(self, step: Awaitable[None]) -> None:
        """A run-loop step: whatever fails in it is recorded, and the account goes on living."""
        try:
            await step
        except StepFailed:
            pass  # recorded by Steps (needs attention) or refused as bad input
        except (RefusedError, ApplicationError) as err:
            refusal = err.refusal if isinstance(err, RefusedError) else _refusal_of(err)
            await self.audit("step_refused", rule=refusal.rule, reason=refusal.code[:64])

    async def record_attention(self) -> None:
        while self.attention.to_record:
            step, error = self.attention.to_record.pop(0)
            await self.audit(
                "needs_attention",
                rule="ENF-4",
                reason="retries_exhausted",
                detail={"step": step, "error": error},
            )


def _kind(effect: PendingEffect) -> str:
    """The outbox metrics' `effect` label: which field of the effect is set."""
    return next((k for k in ("audit", "notice", "bar", "cascade") if getattr(effect, k) is not None), "none")


def _refusal_of(err: ApplicationError) -> Refusal:
    detail = err.details[0] if err.details else None
    return detail if isinstance(detail, Refusal) else Refusal("ENF-4", "step_failed", err.message[:200])
