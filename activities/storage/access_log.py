"""The evidence access log (issue 25): who looked at which item's evidence, who decided, and when.

Written by the evidence page (evidence/page.py) before it answers: a view that could not be logged is
not shown. Rows are only ever added (models/tables.py installs triggers refusing updates and deletes).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session, select

from activities.storage.db import engine
from models import limits
from models.tables import EvidenceAccess


def record(operator: str, workflow_id: str, item_id: str, what: str, note: str = "") -> EvidenceAccess:
    row = EvidenceAccess(
        at=datetime.now(UTC),
        operator=operator[: limits.ACTOR],
        workflow_id=workflow_id[: limits.WORKFLOW_ID],
        item_id=item_id[: limits.REVIEW_ITEM_ID],
        what=what[: limits.ACCESS_WHAT],
        note=note[: limits.NOTE],
    )
    with Session(engine()) as session:
        session.add(row)
        session.commit()
        session.refresh(row)
    return row


def entries(workflow_id: str, item_id: str | None = None) -> list[EvidenceAccess]:
    """An account's rows (one item's, when given), oldest first."""
    with Session(engine()) as session:
        query = select(EvidenceAccess).where(EvidenceAccess.workflow_id == workflow_id)
        if item_id is not None:
            query = query.where(EvidenceAccess.item_id == item_id)
        return list(session.exec(query.order_by(EvidenceAccess.id)))  # type: ignore[arg-type]
