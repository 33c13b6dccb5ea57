"""ENF-4 audit rows: append-only, and written once however often the activity is retried."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, select
from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.audit import record_audit, record_audits
from activities.storage.db import engine
from models.activity_io import AuditBatch, AuditInput
from models.tables import AuditRecord
from tests.support.draws import hex_id


def audit_input(workflow_id: str, seq: int = 1) -> AuditInput:
    return AuditInput(
        workflow_id=workflow_id,
        seq=seq,
        at=datetime(2026, 1, 1, tzinfo=UTC),
        actor="system",
        event="reclaim",
        rule="REG-4",
        reason="dormancy_reclaim",
        policy_version="test",
        from_state="registered",
        to_state="closed",
    )


def rows(workflow_id: str) -> list[AuditRecord]:
    with Session(engine()) as session:
        return list(session.exec(select(AuditRecord).where(AuditRecord.workflow_id == workflow_id)))


@activity.defn(name="record_audit")
def record_audit_then_lose_the_answer(inp: AuditInput) -> bool:
    """Fault injection around the real activity: the row is committed, then the first attempt fails,
    as when a worker dies before reporting success."""
    written = record_audit(inp)
    if activity.info().attempt == 1:
        raise RuntimeError("worker lost before reporting the result")
    return written


# Only the activity is under test; this module imports the database settings, which the sandbox forbids.
@workflow.defn(sandboxed=False)
class AuditOnce:
    @workflow.run
    async def run(self, inp: AuditInput) -> bool:
        return await workflow.execute_activity(
            "record_audit",
            inp,
            result_type=bool,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=10)),
        )


async def test_retried_activity_leaves_one_audit_row(time_env: WorkflowEnvironment) -> None:
    workflow_id = f"seller-AUDIT{hex_id(8)}"
    tq = f"tq-{hex_id()}"
    from concurrent.futures import ThreadPoolExecutor

    async with Worker(
        time_env.client,
        task_queue=tq,
        workflows=[AuditOnce],
        activities=[record_audit_then_lose_the_answer],
        activity_executor=ThreadPoolExecutor(2),
    ):
        second_attempt_wrote = await time_env.client.execute_workflow(
            AuditOnce.run, audit_input(workflow_id), id=f"audit-{hex_id()}", task_queue=tq
        )
    # The retry answers as the lost first attempt did, and writes nothing more.
    assert second_attempt_wrote is True
    assert len(rows(workflow_id)) == 1


def test_audit_log_refuses_update_and_delete() -> None:
    workflow_id = f"seller-AUDIT{hex_id(8)}"
    assert record_audit(audit_input(workflow_id)) is True
    with engine().begin() as conn, pytest.raises(DBAPIError, match="ENF-4"):
        conn.execute(
            text("UPDATE auditrecord SET reason = 'rewritten' WHERE workflow_id = :w"), {"w": workflow_id}
        )
    with engine().begin() as conn, pytest.raises(DBAPIError, match="ENF-4"):
        conn.execute(text("DELETE FROM auditrecord WHERE workflow_id = :w"), {"w": workflow_id})
    assert [r.reason for r in rows(workflow_id)] == ["dormancy_reclaim"]


def test_a_bulk_write_is_idempotent_row_by_row() -> None:
    """A bulk step retried after a lost answer, or overlapping rows already written one by one, leaves
    each row once."""
    workflow_id = f"seller-{hex_id(16)}"
    batch = AuditBatch([audit_input(workflow_id, seq) for seq in (1, 2, 3)])
    record_audit(batch.records[1])
    assert record_audits(batch) == 3
    assert record_audits(batch) == 3
    assert sorted(r.seq for r in rows(workflow_id)) == [1, 2, 3]
