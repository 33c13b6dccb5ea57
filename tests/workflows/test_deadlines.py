"""workflows/deadlines.py: the one list of an account's deadlines, read by the timer (the next armed
one), status, requirements and the Web UI details. Pure: no server needed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models.account_state import AccountState, AssociationCase, ChartModel, Deduction, Hold
from models.policy import Policy
from workflows.deadlines import DeadlineKind, deadlines, next_deadline, run_refresh
from workflows.requirements import requirements_of

POLICY = Policy()
START = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
DAY = timedelta(days=1)


def account(state: str, **fields: object) -> AccountState:
    return AccountState(chart=ChartModel(state=state), registered_at=START, last_login_at=START, **fields)  # type: ignore[arg-type]


def test_a_new_account_waits_for_its_photo_then_the_reclaim_warnings() -> None:
    found = deadlines("registered", account("registered"), POLICY)
    first = next_deadline(found)
    assert first is not None and first.kind is DeadlineKind.AUTHENTICATION_DUE
    assert first.at == START + 60 * DAY and first.summary == "OPEN-1 authentication due"
    warnings = [d for d in found if d.kind is DeadlineKind.REG4_WARNING]
    assert [d.days_before for d in warnings] == [30, 7, 1]
    assert warnings[0].at == START + 335 * DAY and warnings[0].summary == "REG-4 warning 30d before reclaim"
    # Once overdue, the due date is still the seller's (requirements: past due) but no timer waits for it.
    overdue = deadlines("registered", account("registered", authentication_overdue=True), POLICY)
    assert next_deadline(overdue).kind is DeadlineKind.REG4_WARNING  # type: ignore[union-attr]
    assert any(d.kind is DeadlineKind.AUTHENTICATION_DUE and not d.armed for d in overdue)


def test_requirements_are_dated_by_the_same_deadlines() -> None:
    state = account(
        "suspended",
        holds=[Hold("case-C1", "case", "ASSOC-4")],
        cases=[AssociationCase("C1", "shared_face", "M2", START, START + 15 * DAY)],
    )
    found = deadlines("suspended", state, POLICY)
    needs = requirements_of("suspended", state, POLICY, START + DAY)
    appeal = next(d for d in found if d.kind is DeadlineKind.APPEAL_DEADLINE)
    assert [r.due_at for r in needs.currently_due if r.requirement == "appeal"] == [appeal.at]
    dormancy = next(d for d in found if d.kind is DeadlineKind.DORMANCY)
    assert not dormancy.armed, "while suspended the hold decides, not the yearly login"
    assert [r.due_at for r in needs.eventually_due] == [dormancy.at]
    assert next_deadline(found) == appeal


def test_freezes_points_and_the_run_age_and_nothing_once_closed() -> None:
    state = account(
        "open",
        holds=[Hold("freeze-v1", "freeze", "ENF-2", until=START + 7 * DAY)],
        deductions=[Deduction("v1", "listing", 12, START)],
    )
    kinds = {d.kind for d in deadlines("open", state, POLICY)}
    assert kinds == {DeadlineKind.DORMANCY, DeadlineKind.HOLD_EXPIRY, DeadlineKind.POINTS_EXPIRY}
    refresh = run_refresh(START, 5)  # before the freeze lifts
    assert next_deadline([*deadlines("open", state, POLICY), refresh]) == refresh
    assert deadlines("closed", state, POLICY) == []
