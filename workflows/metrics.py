"""Business metrics only a workflow sees: registrations' outcomes, commands refused, review items
(opened, overdue, decided, and how long they waited) and the outbox.

Recorded with the workflow's own metric meter, which records nothing while a workflow replays its
history, so a worker restart or a cache eviction never counts an answer twice. Update validators run
when an update arrives and never on replay; a refused update never reaches history at all, so this is
the one place it can be counted. The account's parts call `count` and `observe_seconds` where the
thing happens (workflows/reviews.py, workflows/effects.py). The names are declared in models/metrics.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError
from temporalio.worker import (
    ExecuteWorkflowInput,
    HandleUpdateInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

with workflow.unsafe.imports_passed_through():
    from models import metrics as m
    from models.contract import RegistrationResult
    from models.refusals import REFUSAL_ERROR_TYPE, Refusal
    from models.review import RESOLVED, ReviewItem


def count(metric: m.Metric, value: int = 1, **labels: str) -> None:
    """Count with the workflow's meter (nothing during replay). A metric never fails a workflow task:
    a mistake here is logged and dropped (the observability test finds the missing count)."""
    try:
        workflow.metric_meter().create_counter(metric.name, metric.description).add(
            value, metric.attributes(labels)
        )
    except Exception as err:
        workflow.logger.warning("metric %s not recorded: %s", metric.name, type(err).__name__)


def observe_seconds(metric: m.Metric, seconds: float, **labels: str) -> None:
    """One observation of a duration histogram, with the workflow's meter (nothing during replay)."""
    try:
        workflow.metric_meter().create_histogram_float(metric.name, metric.description, "s").record(
            max(seconds, 0.0), metric.attributes(labels)
        )
    except Exception as err:
        workflow.logger.warning("metric %s not recorded: %s", metric.name, type(err).__name__)


def review_left_queue(item: ReviewItem, now: datetime) -> None:
    """An item leaves the queue: by kind, decision and whether it had gone overdue, with its wait."""
    decision = item.decision or RESOLVED
    count(m.REVIEWS_DECIDED, kind=item.kind, decision=decision, overdue=str(item.escalated).lower())
    observe_seconds(m.REVIEW_WAIT_SECONDS, (now - item.opened_at).total_seconds(), kind=item.kind, decision=decision)


def _refused(command: str, err: ApplicationError) -> None:
    detail = err.details[0] if err.details else None
    if err.type == REFUSAL_ERROR_TYPE and isinstance(detail, Refusal):
        count(m.REFUSALS, command=command, rule=detail.rule, code=detail.code)


class _Inbound(WorkflowInboundInterceptor):
    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        result = await super().execute_workflow(input)
        if isinstance(result, RegistrationResult):
            refusal = result.refusal
            count(
                m.REGISTRATIONS,
                outcome="accepted" if result.accepted else "refused",
                rule=refusal.rule if refusal else "",
                code=refusal.code if refusal else "",
            )
        return result

    def handle_update_validator(self, input: HandleUpdateInput) -> None:
        try:
            super().handle_update_validator(input)
        except ApplicationError as err:
            _refused(input.update, err)
            raise

    async def handle_update_handler(self, input: HandleUpdateInput) -> Any:
        try:
            return await super().handle_update_handler(input)
        except ApplicationError as err:
            _refused(input.update, err)
            raise


class WorkflowMetrics(Interceptor):
    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        return _Inbound
