"""Exactly once across continue-as-new: the account remembers its recent commands' answers.

A caller's request id is the command's update id (seller_client.command). Within one run the server
deduplicates update ids itself: the same id sent again gets the first answer. A new run (after
continue-as-new) starts with no memory of them, so a retry whose first attempt was answered by the
previous run would be applied again. This interceptor closes that window: it keeps the answer of
each command this run completed (or refused), hands the last RECENT of them to the next run in the
continue-as-new input (`recent_commands`), and answers a request id it finds there with the same
answer (or refusal), without validating or running the command again.

RECENT bounds what is carried (an account continues as new after thousands of events, so 256 answers
cover the commands of that run and the run before it many times over). A request id older than that
is applied again: callers retry within minutes, not across two continue-as-new cycles.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.exceptions import ApplicationError
from temporalio.worker import (
    ContinueAsNewInput,
    ExecuteWorkflowInput,
    HandleUpdateInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)

with workflow.unsafe.imports_passed_through():
    from models.account_state import CommandAnswer
    from models.refusals import REFUSAL_ERROR_TYPE, Refusal, refusal_failure

RECENT = 256
_JSON = {"encoding": b"json/plain"}


class _Outbound(WorkflowOutboundInterceptor):
    def __init__(self, next: WorkflowOutboundInterceptor, memo: _Inbound) -> None:
        super().__init__(next)
        self._memo = memo

    def continue_as_new(self, input: ContinueAsNewInput) -> typing.NoReturn:
        args = list(input.args)
        if args and dataclasses.is_dataclass(args[0]) and hasattr(args[0], "recent_commands"):
            args[0] = dataclasses.replace(args[0], recent_commands=self._memo.recent[-RECENT:])  # type: ignore[type-var]
            input.args = args
        super().continue_as_new(input)


class _Inbound(WorkflowInboundInterceptor):
    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        self.carried: dict[str, CommandAnswer] = {}
        self.recent: list[CommandAnswer] = []
        super().init(_Outbound(outbound, self))

    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        for answer in getattr(input.args[0] if input.args else None, "recent_commands", None) or []:
            self.carried[answer.update_id] = answer
            self.recent.append(answer)
        return await super().execute_workflow(input)

    def handle_update_validator(self, input: HandleUpdateInput) -> None:
        if input.id in self.carried:
            return  # decided by an earlier run: answered below, never validated again
        super().handle_update_validator(input)

    async def handle_update_handler(self, input: HandleUpdateInput) -> Any:
        known = self.carried.get(input.id)
        if known is not None:
            return _replay(known)
        try:
            result = await super().handle_update_handler(input)
        except ApplicationError as err:
            detail = err.details[0] if err.details else None
            if err.type == REFUSAL_ERROR_TYPE and isinstance(detail, Refusal):
                self.recent.append(CommandAnswer(input.id, input.update, refusal=detail))
            raise
        text = None if result is None else workflow.payload_converter().to_payloads([result])[0].data.decode()
        self.recent.append(CommandAnswer(input.id, input.update, result_json=text))
        return result


def _replay(known: CommandAnswer) -> Any:
    if known.refusal is not None:
        raise refusal_failure(known.refusal)
    if known.result_json is None:
        return None
    handler = workflow.get_update_handler(known.update)
    hint: Any = None
    if handler is not None:
        try:
            hint = typing.get_type_hints(handler).get("return")
        except Exception:  # an unresolvable annotation: answer the plain JSON value
            hint = None
    payload = Payload(metadata=_JSON, data=known.result_json.encode())
    value = workflow.payload_converter().from_payloads([payload], [hint] if hint else None)[0]
    refusal = _older_refusal(value)
    if refusal is not None:
        raise refusal_failure(refusal)
    return value


def _older_refusal(value: Any) -> Refusal | None:
    """Before issue 29 a failed photo or a refused product answered a result carrying its refusal; a
    request id answered so by the previous run is answered now as every refusal is (RuleRefusal)."""
    failures = _field(value, "failures")
    if _field(value, "passed") is False and failures:
        return _refusal(failures[0])
    if _field(value, "accepted") is False and _field(value, "refusal") is not None:
        return _refusal(_field(value, "refusal"))
    return None


def _field(value: Any, name: str) -> Any:
    return value.get(name) if isinstance(value, dict) else getattr(value, name, None)


def _refusal(value: Any) -> Refusal | None:
    if isinstance(value, Refusal) or value is None:
        return value
    try:
        return Refusal(value["rule"], value["code"], value["message"], bool(value.get("retryable", True)))
    except (KeyError, TypeError, AttributeError):
        return None


class CommandMemo(Interceptor):
    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        return _Inbound
