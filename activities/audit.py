"""ENF-4: the append-only audit log, written by the workflow for every transition and refusal."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select
from temporalio import activity

from activities.storage.db import engine
from models.activity_io import AuditBatch, AuditInput, NoticeInput
from models.policy import load_policy
from models.settings import settings
from models.tables import Account, AuditRecord, Notice


def _same_key(session: Session, model: type, **key: object) -> bool:
    stmt: Any = select(model)
    for name, value in key.items():
        stmt = stmt.where(getattr(model, name) == value)
    return session.exec(stmt).first() is not None


def next_audit_seq(session: Session, workflow_id: str) -> int:
    """The next sequence number of `workflow_id`'s audit trail, for rows written outside an account's
    own workflow (an erasure, a consent withdrawal), in the caller's transaction."""
    last = session.exec(select(func.max(AuditRecord.seq)).where(AuditRecord.workflow_id == workflow_id)).one()
    return (last or 0) + 1


def registry_audit(
    session: Session,
    workflow_id: str,
    *,
    at: datetime,
    event: str,
    rule: str,
    reason: str,
    detail: dict[str, str],
    actor: str = "system",
    seq: int | None = None,
) -> AuditRecord:
    """An audit row written by the registry itself (retention, erasure, consent withdrawal), not by an
    account's workflow: the next row of `workflow_id`'s trail unless `seq` is given, under the policy in
    force, added to the caller's transaction."""
    row = AuditRecord(
        workflow_id=workflow_id[:64],
        seq=next_audit_seq(session, workflow_id[:64]) if seq is None else seq,
        at=at,
        actor=actor[:64],
        event=event,
        rule=rule,
        reason=reason[:64],
        policy_version=load_policy(settings().policy_file).version,
        detail=detail,
    )
    session.add(row)
    return row


@activity.defn
def record_audit(inp: AuditInput) -> bool:
    """Append one audit row; True once it stands.

    The unique (workflow id, seq) key makes the write idempotent: a retry after a lost response
    finds (or hits the constraint on) the row its first attempt wrote, which stands, and answers the
    same True: the key is this record's own, so the row found is this record.
    """
    with Session(engine()) as session:
        if not _add_audit(session, inp):
            return True
        try:
            session.commit()
        except IntegrityError:
            # Another attempt of this activity won the race between our check and our insert.
            session.rollback()
    return True


@activity.defn
def record_audits(batch: AuditBatch) -> int:
    """Append a run's bulk audit rows (refused and dropped signals) in one transaction; how many stand.
    Idempotent as `record_audit` is, row by row: an attempt after a lost response finds its rows."""
    with Session(engine()) as session:
        for inp in batch.records:
            _add_audit(session, inp)
        try:
            session.commit()
        except IntegrityError:
            # Another attempt raced this one to some rows: write what it did not, each on its own.
            session.rollback()
            for inp in batch.records:
                record_audit(inp)
    return len(batch.records)


def _add_audit(session: Session, inp: AuditInput) -> bool:
    """Add `inp`'s row (and the registry's copy of a state change) to the session, unless it stands."""
    if _same_key(session, AuditRecord, workflow_id=inp.workflow_id, seq=inp.seq):
        return False
    session.add(
        AuditRecord(
            workflow_id=inp.workflow_id,
            seq=inp.seq,
            at=inp.at,
            actor=inp.actor,
            event=inp.event,
            rule=inp.rule,
            reason=inp.reason,
            from_state=inp.from_state,
            to_state=inp.to_state,
            policy_version=inp.policy_version,
            detail=dict(inp.detail),
        )
    )
    if inp.to_state and inp.to_state != inp.from_state:
        # The registry's copy of the state, for listings; the workflow stays the source of truth.
        account = session.get(Account, inp.workflow_id.removeprefix("seller-"))
        if account is not None:
            account.state = inp.to_state
            account.updated_at = inp.at
            if inp.to_state == "closed":
                account.closed_reason = inp.reason
            session.add(account)
    return True


@activity.defn
def send_notice(inp: NoticeInput) -> bool:
    """Put a notice in the seller's outbox, once per key (warnings, reminders, advisories); True once
    it is there, on every attempt."""
    with Session(engine()) as session:
        if _same_key(session, Notice, member_id=inp.member_id, key=inp.key):
            return True
        session.add(
            Notice(
                member_id=inp.member_id,
                key=inp.key,
                kind=inp.kind,
                rule=inp.rule,
                message=inp.message,
                at=inp.at,
            )
        )
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            return True
    return True
