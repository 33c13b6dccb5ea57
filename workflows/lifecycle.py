"""The seller account's state chart (RULES.md "States", OPEN-4), declared once.

    registered ──authenticate──▶ authenticated ──pass_exam──▶ exam_passed ──release_product×10──▶
    ten_products ──open_store──▶ open

    registered ──reclaim (REG-4)──▶ closed
    authenticated | exam_passed | ten_products | open ──go_dormant──▶ dormant ──wake──▶ (where it was)
    any live state ──suspend──▶ suspended ──reinstate──▶ (where it was)
    any live state ──close──▶ closed   (final, with a reason)

Pure: no I/O, no clock, no Temporal. The workflow keeps the model (`ChartModel`) in its state
dataclass and rebuilds the chart from it after continue-as-new; the chart is strict
(`StateMachine`), so an event that does not fit the current state raises, and `fire` turns that into
a refusal naming the state and OPEN-4.
"""

from __future__ import annotations

from statemachine import State, StateMachine
from statemachine.exceptions import TransitionNotAllowed

from models.account_state import ChartModel
from models.refusals import RefusedError, refuse


class SellerLifecycle(StateMachine):
    registered = State(initial=True)
    authenticated = State()
    exam_passed = State()
    ten_products = State()
    open = State()
    dormant = State()
    suspended = State()
    closed = State(final=True)

    authenticate = registered.to(authenticated)
    pass_exam = authenticated.to(exam_passed)
    release_product = (
        exam_passed.to(ten_products, cond="tenth_product")
        | exam_passed.to.itself(internal=True)
        | open.to.itself(internal=True)
    )
    open_store = ten_products.to(open)

    reclaim = registered.to(closed)

    go_dormant = dormant.from_(authenticated, exam_passed, ten_products, open)
    # Back to where dormancy or the hold interrupted the account: one guard reads the remembered state.
    wake = dormant.to(authenticated, exam_passed, ten_products, open, cond="resumes")
    suspend = suspended.from_(registered, authenticated, exam_passed, ten_products, open, dormant)
    reinstate = suspended.to(registered, authenticated, exam_passed, ten_products, open, dormant, cond="resumes")
    close = closed.from_.any()  # every state but closed itself, the one final state

    # Guards read the model only: no side effects (python-statemachine docs).
    def tenth_product(self) -> bool:
        return self.model.products_released + 1 >= self.model.products_to_open

    def resumes(self, target: State) -> bool:
        """The transition leads where the account was interrupted (`resume_state`, "dormant:<state>"
        when a hold interrupted dormancy)."""
        return (self.model.resume_state or "").partition(":")[0] == target.id

    # Actions keep the model's counters in step with the transitions that change them.
    def on_release_product(self) -> None:
        self.model.products_released += 1

    def on_go_dormant(self, source: State) -> None:
        self.model.resume_state = source.id

    def on_wake(self) -> None:
        self.model.resume_state = None

    def on_suspend(self, source: State) -> None:
        # Suspending a dormant account remembers what dormancy itself interrupted, so that lifting the
        # hold returns to dormant and the next login still wakes the store into its earlier state.
        if source.id == "dormant":
            self.model.resume_state = f"dormant:{self.model.resume_state}"
        else:
            self.model.resume_state = source.id

    def on_reinstate(self, target: State) -> None:
        resumed = self.model.resume_state or ""
        self.model.resume_state = resumed.partition(":")[2] if target.id == "dormant" else None


class LifecycleChart:
    """The chart bound to a model; `fire` is the only way the workflow changes state."""

    def __init__(self, model: ChartModel) -> None:
        self.model = model
        # `start_value` rebuilds the chart at the stored state without running initial callbacks.
        self._sm = SellerLifecycle(model=model, state_field="state", start_value=model.state)

    @property
    def state(self) -> str:
        return self.model.state

    @property
    def is_closed(self) -> bool:
        return self.model.state == "closed"

    def allows(self, event: str) -> bool:
        """True when `event` has a transition whose guards pass now (used by update validators)."""
        return any(e.id == event for e in self._sm.enabled_events())

    def fire(self, event: str, *, rule: str = "OPEN-4") -> tuple[str, str]:
        """Send `event`; returns (from_state, to_state) or raises a refusal naming state and rule."""
        before = self.model.state
        try:
            self._sm.send(event)
        except TransitionNotAllowed:
            raise self.refusal(event, rule=rule) from None
        return before, self.model.state

    def refusal(self, event: str, *, rule: str = "OPEN-4") -> RefusedError:
        return refuse(
            rule,
            "not_allowed_in_state",
            f"{event.replace('_', ' ')} is not allowed while the account is {self.model.state}",
        )
