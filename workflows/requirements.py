"""What an account still needs, as data: the `requirements` of its status (README, "Requirements").

Pure: computed from the account's state and policy at query time, so it is never stale and costs no
history. Its dates are the account's deadlines (workflows/deadlines.py), the same the timers act on
(REG-4 reclaim or dormancy, OPEN-1 due date, ASSOC-4 appeal windows).
"""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.account_state import AccountState
    from models.contract import DisabledReason, Requirement, RequirementError, Requirements
    from models.policy import Policy
    from models.refusals import Refusal
    from workflows.deadlines import DeadlineKind, deadlines

# The command a seller sends to meet each requirement: its refusals are that requirement's errors.
REQUIREMENT_OF_COMMAND = {
    "verify_email": "email_verification",
    "request_email_code": "email_verification",
    "change_contact": "contact",
    "submit_authentication_photo": "authentication_photo",
    "start_exam": "rules_exam",
    "submit_exam": "rules_exam",
    "release_product": "products",
    "appeal": "appeal",
}


def record_error(state: AccountState, command: str, refusal: Refusal) -> None:
    """Keep the last refused attempt per requirement (a later success clears it: `clear_errors`)."""
    requirement = REQUIREMENT_OF_COMMAND.get(command, command)
    state.errors = [e for e in state.errors if e.requirement != requirement] + [
        RequirementError(
            requirement=requirement,
            rule=refusal.rule,
            code=refusal.code,
            retryable=refusal.retryable,
            message=refusal.message,
        )
    ]


def clear_errors(state: AccountState, *requirements: str) -> None:
    state.errors = [e for e in state.errors if e.requirement not in requirements]


def requirements_of(chart_state: str, state: AccountState, policy: Policy, now: datetime) -> Requirements:
    due: list[Requirement] = []
    eventually: list[Requirement] = []
    review: list[Requirement] = []
    dates = deadlines(chart_state, state, policy)
    reclaim_at = next((d.at for d in dates if d.kind is DeadlineKind.DORMANCY), None)
    appeal_by = {d.case_id: d.at for d in dates if d.kind is DeadlineKind.APPEAL_DEADLINE}

    # Issue 25: what an operator is deciding shows with the item's id and due time, not as due.
    items = [i for i in state.reviews if i.state != "decided"] if chart_state != "closed" else []
    photo_items = [i for i in items if i.kind == "photo_review"]
    review += [
        Requirement(
            "authentication_photo",
            i.rule,
            f"photo under review by an operator ({i.item_id})",
            due_at=i.due_at,
            item_id=i.item_id,
        )
        for i in photo_items
    ]
    appeal_items = {i.item_id: i for i in items if i.kind == "appeal"}
    if chart_state == "registered":
        auth_due = next(d.at for d in dates if d.kind is DeadlineKind.AUTHENTICATION_DUE)
        if not state.email_verified:
            due.append(
                Requirement("email_verification", "REG-6", "verify the email with the mailed code", auth_due)
            )
        if not photo_items:  # a photo under review is pending, not due (another may still be sent)
            due.append(
                Requirement(
                    "authentication_photo", "OPEN-1", "a photo holding the ID card, face and card clear", auth_due
                )
            )
        # REG-4 reclaims an account that never authenticated and did not log in for a year.
        due.append(Requirement("login", "REG-4", "log in before the account is reclaimed", reclaim_at))
    elif chart_state == "authenticated":
        due.append(Requirement("rules_exam", "OPEN-2", "pass the rules exam", state.exam_retake_at))
    elif chart_state == "exam_passed":
        left = state.chart.products_to_open - state.chart.products_released
        due.append(Requirement("products", "OPEN-3", f"release {left} more products to open the store"))
    elif chart_state == "dormant":
        due.append(Requirement("login", "REG-4", "log in to wake the account"))
    if chart_state in {"authenticated", "exam_passed", "ten_products", "open", "suspended"}:
        eventually.append(Requirement("login", "REG-4", "log in at least once a year", reclaim_at))

    if chart_state != "closed":
        for case in state.cases:
            if case.decision is not None:
                continue
            if case.appealed_at is None:
                due.append(
                    Requirement(
                        "appeal",
                        "ASSOC-5",
                        f"appeal association case {case.case_id} or the store closes",
                        appeal_by[case.case_id],
                    )
                )
            elif (item := appeal_items.get(f"appeal-{case.case_id}")) is not None:
                review.append(
                    Requirement(
                        "appeal",
                        "ASSOC-5",
                        f"appeal of case {case.case_id} under review by an operator ({item.item_id})",
                        due_at=item.due_at,
                        item_id=item.item_id,
                    )
                )
            else:
                review.append(Requirement("appeal", "ASSOC-5", f"appeal of case {case.case_id} under review"))

    # An exam's date is when a retake opens, not a deadline.
    past = [r for r in due if r.due_at is not None and r.due_at <= now and r.requirement != "rules_exam"]
    due = [r for r in due if r not in past]
    return Requirements(
        currently_due=due,
        eventually_due=eventually,
        past_due=past,
        pending_review=review,
        errors=list(state.errors) if chart_state != "closed" else [],
        disabled_reason=_disabled(chart_state, state),
    )


def _disabled(chart_state: str, state: AccountState) -> DisabledReason | None:
    if chart_state == "closed":
        return DisabledReason(state="closed", reason=state.closed_reason or "closed")
    if chart_state == "dormant":
        return DisabledReason(state="dormant", reason="no_login_for_a_year", rules=["REG-4"])
    if chart_state == "suspended":
        timed = [h.until for h in state.holds if h.until is not None]
        return DisabledReason(
            state="suspended",
            reason="+".join(sorted({h.kind for h in state.holds})) or "hold",
            rules=sorted({h.rule for h in state.holds}),
            until=max(timed) if timed and len(timed) == len(state.holds) else None,
            case_ids=[c.case_id for c in state.cases if c.decision is None],
        )
    return None
