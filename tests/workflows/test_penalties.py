"""workflows/penalties.py: the ENF-2 ledgers as pure functions (no server needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models.account_state import AccountState, ChartModel, Deduction
from models.policy import PenaltyPolicy
from workflows import penalties

RULES = PenaltyPolicy()
NOW = datetime(2026, 6, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def fresh() -> AccountState:
    return AccountState(chart=ChartModel(state="open"), registered_at=NOW, last_login_at=NOW)


def test_points_count_for_a_rolling_year() -> None:
    state = fresh()
    assert penalties.deduct(state, RULES, Deduction("a", "trade", 24, NOW - 400 * DAY), NOW) == 0
    assert penalties.deduct(state, RULES, Deduction("b", "trade", 24, NOW - 10 * DAY), NOW) == 24
    assert penalties.deduct(state, RULES, Deduction("c", "trade", 24, NOW), NOW) == 48
    assert penalties.sanction(state, RULES, "trade", 48) == penalties.Sanction(close_reason="trade_points_48")
    assert penalties.sanction(state, RULES, "ip", 47) == penalties.Sanction()


def test_every_twelve_listing_points_freeze_once_and_expired_points_take_their_step() -> None:
    state = fresh()
    total = penalties.deduct(state, RULES, Deduction("a", "listing", 12, NOW - 360 * DAY), NOW)
    assert penalties.sanction(state, RULES, "listing", total).freeze_reason == "listing_points_12"
    assert penalties.sanction(state, RULES, "listing", total) == penalties.Sanction(), "one freeze per step"
    penalties.prune(state, RULES, NOW + 10 * DAY)  # the 12 points expired
    assert state.listing_freeze_steps == 0 and penalties.points(state.deductions, "listing") == 0


def test_strikes_freeze_then_close_barred() -> None:
    state = fresh()
    assert penalties.sanction(state, RULES, "strike", 1) == penalties.Sanction(freeze_days=1, freeze_reason="strike_1")
    assert penalties.sanction(state, RULES, "strike", 2).freeze_days == 7
    assert penalties.sanction(state, RULES, "strike", 3) == penalties.Sanction(close_reason="third_strike", bar=True)
    assert penalties.LEDGERS["false_buyer"] == "trade"
