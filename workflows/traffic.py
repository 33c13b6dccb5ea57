"""What callers may spend on one run of an account, so that nobody can outrun or outlast enforcement
(issue 24). A part of SellerAccount, as the others are: the account hands it every message it receives.

Temporal caps every workflow run (server defaults; the dynamic config key in brackets); past a cap the
server refuses whatever comes next, a serious violation or an operator's decision included. The account
keeps far below each cap by continuing as new (README, *Production*: limits and budgets):

| per run                 | Temporal's cap                              | the account continues as new at        |
|-------------------------|---------------------------------------------|----------------------------------------|
| history events          | 51,200 (limit.historyCount.error)           | 10,000 (max_history_events), or when the server suggests it |
| history size            | 50 MB (limit.historySize.error)             | 10 MB (CONTINUE_AT_HISTORY_BYTES)      |
| signals received        | 10,000 (history.maximumSignalsPerExecution) | 1,000 (max_signals_per_run)            |
| updates                 | 2,000 (history.maxTotalUpdates)             | 500 (max_updates_per_run)              |
| updates in flight       | 10 (history.maxInFlightUpdates)             | a seller holds at most 6               |

Logins are a command (the `login` update, since LOGINS_BY_UPDATE_PATCH), not a signal: the server holds at
most 10 updates in flight per workflow and refuses the rest, so however many logins are sent, one workflow
task sees a handful. A signal cannot be bounded that way: every signal delivered to a handler costs the SDK
a task in the workflow's activation (measured 0.65-1 ms on a loaded machine, payload decoding aside), all
those of one workflow task run before it can yield, and a flood that outpaces the worker for a moment puts
thousands in one task (1,500 and more, 7 s, past the SDK's 2-second deadlock detector: TMPRL1101). A run
started under the patch has no `login` signal handler at all, so a login *signal* (an old client, or a
flood) is set aside by the SDK at no cost in the activation and never applied; runs recorded before the
patch keep their signal handler and replay as they were.

Whatever arrives in one workflow task, its work stays bounded: a run takes at most LOGINS_PER_RUN logins
(those it carries from the run before included; later ones are shed before they are even parsed, so
that neither a task nor the next run's input grows with a flood), the logins taken are applied together
(one credential check, one activity), at most REFUSALS_KEPT refused signals (or signals dropped for
their credential) are recorded one by one, and
whatever was shed is recorded once per run with its count (a count not yet recorded when the run
continues is carried and recorded by the next).

Continuing as new while commands are in flight: once a cap is near the run is *draining*: it takes no
new update (each is refused `account_busy`, retryable; seller_client sends it again, to the next run),
waits for the handlers already running (`workflow.all_handlers_finished`) for at most HANDLERS_GRACE,
cancels the steps they still wait on, and continues as new.

Deterministic: the counts come from the messages the run has handled (signals and accepted updates are in
its history; validators, which do not run on replay, only read them).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.auth import Credential
    from models.refusals import Refusal, RefusedError

from workflows.refusing import refusal_error

# Temporal's caps per run (server defaults), for the record and the README's table.
SERVER_MAX_EVENTS = 51_200
SERVER_MAX_HISTORY_BYTES = 50 * 1024 * 1024
SERVER_MAX_SIGNALS = 10_000
SERVER_MAX_UPDATES = 2_000
SERVER_UPDATES_IN_FLIGHT = 10
# Where the account continues as new on history size; the signal and update counts are the account's
# input (AccountInput.max_signals_per_run / max_updates_per_run: 1,000 and 500), so that a test on a
# server whose caps are lowered can lower them too. Each is a fifth of its cap (or less), so that what
# arrives while a run finishes (a flood of 133 signals/s, as measured, for a minute) still fits.
CONTINUE_AT_HISTORY_BYTES = 10 * 1024 * 1024
# Sellers' commands running at once; the rest of the server's 10 stay for services and operators.
SELLER_UPDATES_IN_FLIGHT = 6
# Refused signals (payloads that do not fit their declaration) a run records one by one; the rest are
# counted. Logins past the run's signal budget are shed the same way: they cannot tell the account more
# than that the seller logs in, which it already knows.
REFUSALS_KEPT = 100
LOGINS_PER_RUN = 200
# How long a run that must continue waits for the commands still running before cancelling their steps.
HANDLERS_GRACE = timedelta(minutes=1)
# Release v3: runs started under it are bounded (budgets, draining, the grace timer, the shed-login row);
# runs recorded before replay as they were. See docs/DEPLOYING.md.
BOUNDED_RUNS_PATCH = "v3-bounded-runs"
# Release v3 (issue 24): logins by the `login` update; a run started before has its `login` signal handler.
LOGINS_BY_UPDATE_PATCH = "v3-logins-by-update"

BUSY = Refusal(
    "ENF-4",
    "account_busy",
    "The account is moving onto a new run; send the command again in a moment (same request id).",
    retryable=True,
)
SELLER_BUSY = Refusal(
    "ENF-4",
    "too_many_commands",
    f"At most {SELLER_UPDATES_IN_FLIGHT} of a seller's commands run at once; send it again when one is answered.",
    retryable=True,
)


class Traffic:
    """What this run has received, and what it still takes (see the module's docstring)."""

    def __init__(
        self, *, max_events: int, max_signals: int, max_updates: int, carried_logins: int = 0, shed: int = 0
    ) -> None:
        self.max_events = max_events
        self.max_signals = max_signals
        self.max_updates = max_updates
        self.bounded = False  # BOUNDED_RUNS_PATCH: set by `bound`; off for runs recorded before
        self.logins_by_update = False  # LOGINS_BY_UPDATE_PATCH: set by `bound`
        self.signals = 0
        self.updates = 0
        self.logins_taken = carried_logins  # the logins carried from the run before count against this one's
        self.logins_shed = shed
        self.refusals_kept = 0
        self.refusals_shed = 0
        self.seller_running = 0
        self.draining = False

    def bound(self) -> None:
        """Called once, as the run is made (workflow.init), before any message is handled: budgets apply
        from here on (runs recorded before v3: never)."""
        self.bounded = workflow.patched(BOUNDED_RUNS_PATCH)
        self.logins_by_update = workflow.patched(LOGINS_BY_UPDATE_PATCH)

    # ------------------------------------------------------------------ what comes in

    def take_signal(self, name: str) -> bool:
        """Count a signal; False for a login past the run's budget, shed before it is parsed (O(1))."""
        self.signals += 1
        if name != "login" or not self.bounded:
            return True
        if self.logins_taken >= LOGINS_PER_RUN:
            self.logins_shed += 1
            return False
        self.logins_taken += 1
        return True

    def admit_login(self) -> None:
        """For the `login` update's validator: once the run has taken its LOGINS_PER_RUN, a login waits
        for the next run (`account_busy`, retryable: the facade sends it again), which this one is about
        to start (`continue_due`). Nothing is shed: every login a seller makes is counted."""
        if self.logins_by_update and self.logins_taken >= LOGINS_PER_RUN:
            raise refusal_error(RefusedError(BUSY))

    def take_login(self) -> None:
        """An accepted `login` update, counted against the run's logins."""
        self.logins_taken += 1

    def keep_refusal(self) -> bool:
        """Whether a refused signal is recorded one by one (else it is counted, REFUSALS_KEPT)."""
        if not self.bounded or self.refusals_kept < REFUSALS_KEPT:
            self.refusals_kept += 1
            return True
        self.refusals_shed += 1
        return False

    def admit_update(self, auth: Credential | None) -> None:
        """For validators: refuse (retryable) a command while the run drains, or a seller's beyond its
        slots. Reads the counts only: validators do not run on replay."""
        if not self.bounded:
            return
        if self.draining:
            raise refusal_error(RefusedError(BUSY))
        if _role(auth) == "seller" and self.seller_running >= SELLER_UPDATES_IN_FLIGHT:
            raise refusal_error(RefusedError(SELLER_BUSY))

    @contextlib.contextmanager
    def handling(self, auth: Credential | None) -> Iterator[None]:
        """Around an accepted command's handler: counted once, and its seller slot held while it runs."""
        self.updates += 1
        seller = _role(auth) == "seller"
        self.seller_running += seller
        try:
            yield
        finally:
            self.seller_running -= seller

    # ------------------------------------------------------------------ when to move on

    def continue_due(self) -> bool:
        """True once any cap is near; from then on (runs started under v3) the run takes no new update."""
        info = workflow.info()
        due = info.is_continue_as_new_suggested() or info.get_current_history_length() >= self.max_events
        if self.bounded:
            due = due or (
                info.get_current_history_size() >= CONTINUE_AT_HISTORY_BYTES
                or self.signals >= self.max_signals
                or self.updates >= self.max_updates
                or (self.logins_by_update and self.logins_taken >= LOGINS_PER_RUN)
                # Signals set aside unread (a login signal, since LOGINS_BY_UPDATE_PATCH) are counted by
                # no handler; the run's events bound its signals, so it continues before their cap too.
                or (self.logins_by_update and info.get_current_history_length() >= self.max_signals)
            )
            self.draining = self.draining or due
        return due

    async def finish_handlers(self, cancel_commands: Callable[[], None]) -> None:
        """Before continuing as new: the commands already running end (within HANDLERS_GRACE; then the
        steps they wait on are cancelled and they end refused), and none starts (`draining`)."""
        if not self.bounded:
            await workflow.wait_condition(workflow.all_handlers_finished)
            return
        self.draining = True
        try:
            await workflow.wait_condition(workflow.all_handlers_finished, timeout=HANDLERS_GRACE)
        except TimeoutError:
            cancel_commands()
            try:
                await workflow.wait_condition(workflow.all_handlers_finished, timeout=HANDLERS_GRACE)
            except TimeoutError:
                workflow.logger.warning("continuing as new with commands still running")

    async def record_shed(self, audit: Callable[..., Awaitable[None]]) -> None:
        """One audit row for the logins this run shed (REG-4 `login_budget_exceeded`) and one for the
        refused signals it only counted (ENF-4 `refusal_budget_exceeded`), not one each."""
        if self.logins_shed:
            shed, self.logins_shed = self.logins_shed, 0
            await audit(
                "signals_shed",
                rule="REG-4",
                reason="login_budget_exceeded",
                detail={"signal": "login", "count": str(shed), "budget": str(LOGINS_PER_RUN)},
            )
        if self.refusals_shed:
            shed, self.refusals_shed = self.refusals_shed, 0
            await audit(
                "signals_shed",
                rule="ENF-4",
                reason="refusal_budget_exceeded",
                detail={"signal": "refused", "count": str(shed), "budget": str(REFUSALS_KEPT)},
            )


def _role(auth: Any) -> str | None:
    return getattr(auth, "role", None)
