"""What the registry keeps of a closed account, for callers whose message arrives after it closed.

A closed account's workflow has ended, so it can no longer answer; the registry keeps its final state
and its audit trail (ENF-4), which names every violation and closure report it counted. The
facade (seller_client) answers from here: a report counted before answers as it did then, a new one
is refused with the rule that closed the account (issue 32).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session, select

from activities.storage.db import engine
from models.contract import account_workflow_id
from models.tables import Account, AuditRecord


@dataclass
class ClosedAccount:
    member_id: str
    state: str  # "closed", or the last state the registry holds
    closed_reason: str | None
    closed_by_rule: str | None  # the rule of the transition that closed it (ENF-1, ENF-2, REG-9 ...)
    violation_ids: set[str] = field(default_factory=set)  # violations it counted, ignored ones too
    report_ids: set[str] = field(default_factory=set)  # closure reports it counted


def closed_account(member_id: str) -> ClosedAccount | None:
    """The registry's record of the account; None when no account has that member id."""
    with Session(engine()) as session:
        account = session.get(Account, member_id)
        if account is None:
            return None
        rows = session.exec(
            select(AuditRecord)
            .where(AuditRecord.workflow_id == account_workflow_id(member_id))
            .order_by(AuditRecord.seq)  # type: ignore[arg-type]
        ).all()
    found = ClosedAccount(member_id, account.state, account.closed_reason, None)
    for row in rows:
        detail = row.detail or {}
        if row.to_state == "closed" and found.closed_by_rule is None:
            found.closed_by_rule = row.rule
        if "violation_id" in detail:
            found.violation_ids.add(str(detail["violation_id"]))
        if "report_id" in detail:
            found.report_ids.add(str(detail["report_id"]))
    return found


def open_in_registry(member_id: str) -> bool:
    """Whether the registry holds the account and not closed (one row read, no audit trail)."""
    with Session(engine()) as session:
        row = session.get(Account, member_id)
        return row is not None and row.state != "closed"
