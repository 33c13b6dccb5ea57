"""What the account does with bad input and failing infrastructure, so that neither can wedge it.

- Signals cannot be refused: each is checked against its declaration (models/boundary.py) where it
  enters; an invalid one is recorded (audit `signal_refused`, naming the signal, rule and reason) and
  dropped, and never fails a workflow task.
- A step whose retries ran out (workflows/account_common.py `run_activity`) is recorded: audit
  `needs_attention`, the `NeedsAttention` search attribute, the status query's `needs_attention`. The
  account keeps living. System effects (audit rows, notices, REG-5 bars, ENF-3 cascades) wait in an
  outbox that the operator's `retry` command writes again; a seller's command is retried by the
  seller's next attempt, whose success clears the record.
- Run-loop steps (timers, logins, violations, reports, bans) are guarded: a failed or refused step is
  recorded and the loop goes on.

Mixed into SellerAccount (workflows/seller_account.py).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows.account_base import AccountBase

with workflow.unsafe.imports_passed_through():
    from activities.audit import record_audit, send_notice
    from activities.enforcement import bar_identity
    from models import boundary
    from models.account_state import PendingEffect
    from models.contract import Attention, RetryInput, RetryResult
    from models.refusals import Refusal, RefusedError, refuse

from workflows.account_common import StepFailed, refusal_error, run_activity


class Recovery(AccountBase):
    # ------------------------------------------------------------------ signals at the boundary

    def _receive(self, signal: str, cls: type, payloads: tuple[Any, ...]) -> Any:
        """The signal's payload as its checked dataclass, or None (recorded for the audit) if invalid."""
        try:
            if len(payloads) != 1:
                rule = boundary.declaration(cls).rule
                raise refuse(
                    rule, "wrong_arity", f"{signal} takes exactly one argument, got {len(payloads)}."
                )
            return boundary.parse(cls, payloads[0])
        except RefusedError as err:
            self._rejected_signals.append((signal, err.refusal))
            self._timers_moved = True  # wake the run loop to record it
            return None

    async def _record_rejected_signals(self) -> None:
        while self._rejected_signals:
            signal, refusal = self._rejected_signals.pop(0)
            workflow.logger.warning("signal %s refused: %s %s", signal, refusal.rule, refusal.code)
            await self._audit(
                "signal_refused",
                rule=refusal.rule,
                reason=refusal.code,
                detail={"signal": signal, "message": refusal.message[:200]},
            )

    # ------------------------------------------------------------------ steps that ran out of retries

    def _step_failed(self, failure: StepFailed) -> None:
        """Called by run_activity when a step failed for good. Infrastructure trouble needs attention."""
        if failure.kind != "infrastructure":
            return
        self._needs_attention(failure.step, failure.reason)

    def _needs_attention(self, step: str, error: str) -> None:
        self.state.attention = [a for a in self.state.attention if a.step != step]
        self.state.attention.append(Attention(step=step, error=error, at=workflow.now()))
        if not step.startswith("audit "):  # an audit that cannot be written waits in the outbox
            self._attention_to_record.append((step, error))
        self._timers_moved = True
        self._publish()

    def _step_succeeded(self, step: str) -> None:
        if any(a.step == step for a in self.state.attention):
            self.state.attention = [a for a in self.state.attention if a.step != step]
            self._publish()

    async def _record_attention(self) -> None:
        while self._attention_to_record:
            step, error = self._attention_to_record.pop(0)
            await self._audit(
                "needs_attention",
                rule="ENF-4",
                reason="retries_exhausted",
                detail={"step": step, "error": error},
            )

    @property
    def _attention_flag(self) -> bool:
        return bool(self.state.attention or self.state.outbox)

    def _attention_lines(self) -> list[str]:
        lines = [
            f"{a.step}: {a.error} (since {a.at.isoformat(timespec='seconds')})" for a in self.state.attention
        ]
        if self.state.outbox:
            lines.append(f"{len(self.state.outbox)} effect(s) waiting to be written again (retry)")
        return lines

    async def _effect(self, effect: PendingEffect) -> None:
        """Run a system effect; if it cannot be done now it waits in the outbox instead of wedging the
        account (bad input in it is recorded as needing attention and dropped: no retry fixes it)."""
        try:
            if effect.audit is not None:
                a = effect.audit
                await run_activity(record_audit, a, summary=f"audit {a.event} ({a.rule})")
            elif effect.notice is not None:
                n = effect.notice
                await run_activity(send_notice, n, summary=f"notice {n.kind} ({n.rule})")
            elif effect.bar is not None:
                await run_activity(bar_identity, effect.bar, summary="REG-5 bar identity")
            elif effect.cascade is not None:
                await self._cascade(effect.cascade)
        except StepFailed as failed:
            if failed.kind == "infrastructure":
                self.state.outbox.append(effect)
                self._publish()
            else:
                self._needs_attention(failed.step, f"refused: {failed.reason}")

    async def _guarded(self, step: Awaitable[None]) -> None:
        """A run-loop step: whatever fails in it is recorded, and the account goes on living."""
        try:
            await step
        except StepFailed:
            pass  # recorded by run_activity (needs attention) or refused as bad input
        except (RefusedError, ApplicationError) as err:
            refusal = err.refusal if isinstance(err, RefusedError) else _refusal_of(err)
            await self._audit("step_refused", rule=refusal.rule, reason=refusal.code[:64])

    # ------------------------------------------------------------------ operator: try again

    @workflow.update
    async def retry(self, inp: RetryInput) -> RetryResult:
        """ENF-4: write again what waits in the outbox; answers what still fails."""
        effects, self.state.outbox = list(self.state.outbox), []
        for effect in effects:
            await self._effect(effect)
        self._publish()
        await self._audit(
            "retry",
            rule="ENF-4",
            reason="retried",
            actor=self._actor(inp.auth, f"operator:{inp.operator.strip()}"),
            detail={"effects": str(len(effects)), "still_pending": str(len(self.state.outbox))},
        )
        return RetryResult(retried=len(effects), still_failing=self._attention_lines())

    @retry.validator
    def _check_retry(self, inp: RetryInput) -> None:
        try:
            boundary.check(inp)
        except RefusedError as err:
            raise refusal_error(err) from None
        self._authorize("retry", inp.auth)


def _refusal_of(err: ApplicationError) -> Refusal:
    detail = err.details[0] if err.details else None
    return detail if isinstance(detail, Refusal) else Refusal("ENF-4", "step_failed", err.message[:200])
