"""ENF-2, the penalty ledgers, as pure functions of the account's deductions and the policy: what a
violation costs, what counts now, and what the total calls for. No clock, no Temporal: the workflow
passes `now` and applies the sanction (workflows/enforcement.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from models.account_state import AccountState, Deduction
from models.policy import PenaltyPolicy

# ENF-2 ledgers: (a) intellectual property and prohibited goods, (b) trade, (c) listing quality, and
# serious IP infringement strikes. REG-3 false buyer accounts count on the trade ledger.
LEDGERS = {"ip": "ip", "trade": "trade", "false_buyer": "trade", "listing": "listing", "ip_strike": "strike"}
SHOWN_LEDGERS = ("ip", "trade", "listing", "strike")  # in status
PUBLISHED_LEDGERS = ("ip", "trade", "listing")  # summed in the PenaltyPoints search attribute


def points(deductions: list[Deduction], ledger: str) -> int:
    return sum(d.points for d in deductions if d.ledger == ledger)


def prune(state: AccountState, penalties: PenaltyPolicy, now: datetime) -> None:
    """A deduction counts for expiry_days after it was given (a rolling window). Points that expired
    take their listing freeze steps with them, so the next 12 freeze again."""
    horizon = now - timedelta(days=penalties.expiry_days)
    state.deductions = [d for d in state.deductions if d.given_at > horizon]
    state.listing_freeze_steps = min(
        state.listing_freeze_steps, points(state.deductions, "listing") // penalties.listing_freeze_every
    )


def deduct(state: AccountState, penalties: PenaltyPolicy, deduction: Deduction, now: datetime) -> int:
    """Add a deduction to its ledger (kept in the order given); the ledger's total now."""
    prune(state, penalties, now)
    state.deductions.append(deduction)
    state.deductions.sort(key=lambda d: d.given_at)
    prune(state, penalties, now)
    return points(state.deductions, deduction.ledger)


@dataclass(frozen=True)
class Sanction:
    """What a ledger's total calls for: nothing, a freeze for `days`, or closure (barred or not)."""

    close_reason: str | None = None
    bar: bool = False  # REG-5, with an ENF-3 cascade
    freeze_days: float | None = None
    freeze_reason: str = ""


def sanction(state: AccountState, penalties: PenaltyPolicy, ledger: str, total: int) -> Sanction:
    """ENF-2: the ledger's total against its limits (records a new listing freeze step on `state`)."""
    if ledger in ("ip", "trade"):
        limit = penalties.ip_close_points if ledger == "ip" else penalties.trade_close_points
        return Sanction(close_reason=f"{ledger}_points_{limit}") if total >= limit else Sanction()
    if ledger == "listing":
        steps = total // penalties.listing_freeze_every
        if steps <= state.listing_freeze_steps:
            return Sanction()
        state.listing_freeze_steps = steps
        return Sanction(freeze_days=penalties.listing_freeze_days, freeze_reason=f"listing_points_{total}")
    if total >= penalties.strikes_to_close:
        return Sanction(close_reason="third_strike", bar=True)
    days = penalties.strike_freeze_days[min(total, len(penalties.strike_freeze_days)) - 1]
    return Sanction(freeze_days=days, freeze_reason=f"strike_{total}")
