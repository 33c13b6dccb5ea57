"""Business metrics only a workflow sees: registrations' outcomes and commands refused.

Recorded with the workflow's own metric meter, which records nothing while a workflow replays its
history, so a worker restart or a cache eviction never counts an answer twice. Update validators run
when an update arrives and never on replay; a refused update never reaches history at all, so this is
the one place it can be counted. The names are declared in models/metrics.py.
"""

from __future__ import annotations

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


def _count(metric: m.Metric, **labels: str) -> None:
    workflow.metric_meter().create_counter(metric.name, metric.description).add(
        1, {k: str(v)[:64] for k, v in labels.items()}
    )


def _refused(command: str, err: ApplicationError) -> None:
    detail = err.details[0] if err.details else None
    if err.type == REFUSAL_ERROR_TYPE and isinstance(detail, Refusal):
        _count(m.REFUSALS, command=command, rule=detail.rule, code=detail.code)


class _Inbound(WorkflowInboundInterceptor):
    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        result = await super().execute_workflow(input)
        if isinstance(result, RegistrationResult):
            refusal = result.refusal
            _count(
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
