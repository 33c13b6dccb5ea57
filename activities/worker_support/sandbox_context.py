"""The sandboxed workflow runner, with the payload codec's context answered outside the sandbox.

Before every workflow activation the worker decodes its payloads through the codec (security/codec.py),
and for each payload sequence it asks the workflow instance which serialization context applies. The
sandboxed instance answers that by compiling and running a snippet inside the sandbox, with its import
restrictions applied: measured at 1-3 ms a payload on this machine, about 85% of decoding a signal, paid
three times per payload (three passes over the activation). A flood of 1,500 signals spent 4.6 s there
before the workflow code ran (issue 24; bench/traffic_bench.py). The payloads of an activation that no
pending command claims (signals, updates, the workflow's input) always take the workflow's own context,
`WorkflowSerializationContext(namespace, workflow_id)`, which this wrapper returns from the instance's
info without entering the sandbox; every other question goes to the sandboxed instance as before.

Nothing that runs workflow code changes: activations still run in the sandbox, and the context returned
is the one the sandboxed instance would return (temporalio's `_WorkflowInstanceImpl.get_serialization_context`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import temporalio.converter
import temporalio.workflow
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails, WorkflowRunner


class WorkflowContextRunner(WorkflowRunner):
    """`inner` (the sandboxed runner), its instances answering the workflow's own context directly."""

    def __init__(self, inner: WorkflowRunner) -> None:
        self.inner = inner

    def prepare_workflow(self, defn: temporalio.workflow._Definition) -> None:
        self.inner.prepare_workflow(defn)

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _Instance(self.inner.create_instance(det), det.info)

    def set_worker_level_failure_exception_types(self, types: Sequence[type[BaseException]]) -> None:
        self.inner.set_worker_level_failure_exception_types(types)


class _Instance(WorkflowInstance):
    def __init__(self, inner: WorkflowInstance, info: temporalio.workflow.Info) -> None:
        self.inner = inner
        # A run's namespace and workflow id never change: one context for its whole life.
        self.own = temporalio.converter.WorkflowSerializationContext(
            namespace=info.namespace, workflow_id=info.workflow_id
        )

    def activate(self, act: Any) -> Any:
        return self.inner.activate(act)

    def get_serialization_context(
        self, command_info: Any
    ) -> temporalio.converter.SerializationContext | None:
        if command_info is None:
            return self.own
        return self.inner.get_serialization_context(command_info)

    def get_external_store_context(self, command_info: Any) -> Any:
        return self.inner.get_external_store_context(command_info)

    def get_info(self) -> temporalio.workflow.Info:
        return self.inner.get_info()

    def get_thread_id(self) -> int | None:
        return self.inner.get_thread_id()
