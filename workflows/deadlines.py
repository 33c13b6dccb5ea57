"""An account's deadlines, computed in one place: the run loop's timer waits for the next armed one,
`status` and the Web UI details show it, and `requirements` dates what the seller must do by them.

Pure: computed from the account's state and policy, no clock, no Temporal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from models.account_state import AccountState
from models.policy import Policy

# Dormancy only interrupts an authenticated account: an unauthenticated one is reclaimed instead (REG-4).
DORMANT_FROM = ("authenticated", "exam_passed", "ten_products", "open")


class DeadlineKind(Enum):
    """What falls due; the value is the timer's summary (shown in the Web UI)."""

    REG4_WARNING = "REG-4 warning {days:g}d before reclaim"
    DORMANCY = "REG-4 dormancy check"
    AUTHENTICATION_DUE = "OPEN-1 authentication due"
    HOLD_EXPIRY = "ENF-2 freeze lifts"
    APPEAL_DEADLINE = "ASSOC-4 appeal window closes"
    POINTS_EXPIRY = "ENF-2 points expire"
    RUN_REFRESH = "continue-as-new onto the deployed code"
    REVIEW_DUE = "review item due (escalates)"


@dataclass(frozen=True)
class Deadline:
    at: datetime
    kind: DeadlineKind
    days_before: float = 0  # REG4_WARNING: how many days before the reclaim
    case_id: str | None = None  # APPEAL_DEADLINE: the case whose window closes
    # False for a date the seller is held to but no timer acts on now (the OPEN-1 due date once it
    # passed, the yearly login while suspended).
    armed: bool = True

    @property
    def summary(self) -> str:
        return self.kind.value.format(days=self.days_before)


def deadlines(chart_state: str, state: AccountState, policy: Policy) -> list[Deadline]:
    """Every deadline the account has in `chart_state` (the run's own age aside: `run_refresh`)."""
    if chart_state == "closed":
        return []
    found: list[Deadline] = []
    expiry = state.last_login_at + timedelta(days=policy.dormancy.inactivity_days)
    if chart_state == "registered":
        # REG-4 only reclaims accounts that never passed authentication; they are warned first.
        for days in sorted(policy.dormancy.warning_days_before, reverse=True):
            if days not in state.warnings_sent and days < policy.dormancy.inactivity_days:
                found.append(Deadline(expiry - timedelta(days=days), DeadlineKind.REG4_WARNING, days))
        due = state.registered_at + timedelta(days=policy.authentication.due_days)
        found.append(Deadline(due, DeadlineKind.AUTHENTICATION_DUE, armed=not state.authentication_overdue))
    if chart_state == "registered" or chart_state in DORMANT_FROM or chart_state == "suspended":
        # While suspended the yearly login is still asked for, but the hold decides first.
        found.append(Deadline(expiry, DeadlineKind.DORMANCY, armed=chart_state != "suspended"))
    found += [Deadline(h.until, DeadlineKind.HOLD_EXPIRY) for h in state.holds if h.until is not None]
    found += [
        Deadline(c.appeal_deadline, DeadlineKind.APPEAL_DEADLINE, case_id=c.case_id)
        for c in state.cases
        if c.decision is None and c.appealed_at is None
    ]
    # Issue 25: an item an operator has not decided by its due time escalates (workflows/reviews.py).
    found += [
        Deadline(i.due_at, DeadlineKind.REVIEW_DUE)
        for i in state.reviews
        if i.state != "decided" and not i.escalated
    ]
    keep = timedelta(days=policy.penalties.expiry_days)
    found += [Deadline(d.given_at + keep, DeadlineKind.POINTS_EXPIRY) for d in state.deductions[:1]]
    return found


def run_refresh(run_started: datetime, max_run_days: float) -> Deadline:
    return Deadline(run_started + timedelta(days=max_run_days), DeadlineKind.RUN_REFRESH)


def next_deadline(candidates: list[Deadline]) -> Deadline | None:
    """The first armed deadline (the earliest listed first among equals, as the timer always took it)."""
    return min((d for d in candidates if d.armed), key=lambda d: d.at, default=None)
