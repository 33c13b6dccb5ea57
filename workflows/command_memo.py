"""Exactly once across continue-as-new: the account remembers its recent commands' answers.

A caller's request id is the command's update id (seller_client.command). Within one run the server
deduplicates update ids itself: the same id sent again gets the first answer. A new run (after
continue-as-new) starts with no memory of them, so a retry whose first attempt was answered by the
previous run would be applied again. `CommandMemory` closes that window: it keeps the answer of each
command this run completed (or refused); the account hands `recent()` to the next run in its
continue-as-new input (`recent_commands`), and a request id found there is answered with the same
answer (or refusal), without validating or running the command again. Every update handler of the
account is `@remembered`, its validator `@unless_remembered`.

RECENT bounds what is carried (an account continues as new after thousands of events, so 256 answers
cover the commands of that run and the run before it many times over). A request id older than that
is applied again: callers retry within minutes, not across two continue-as-new cycles.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, TypeVar

from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from models.account_state import CommandAnswer
    from models.refusals import REFUSAL_ERROR_TYPE, Refusal, refusal_failure

RECENT = 256
_JSON = {"encoding": b"json/plain"}


class CommandMemory:
    def __init__(self, carried: list[CommandAnswer]) -> None:
        self._carried = {answer.update_id: answer for answer in carried}
        self._recent = list(carried)

    def recent(self) -> list[CommandAnswer]:
        """What the next run must remember (its continue-as-new input's `recent_commands`)."""
        return self._recent[-RECENT:]

    def known(self) -> CommandAnswer | None:
        """The answer an earlier run gave the update being handled now, if it gave one."""
        info = workflow.current_update_info()
        return None if info is None else self._carried.get(info.id)

    async def answer(self, run: Callable[[], Awaitable[Any]], handler: Callable[..., Any]) -> Any:
        """The update's answer: the remembered one, or what `run` answers (kept for the next run)."""
        info = workflow.current_update_info()
        assert info is not None, "only update handlers are remembered"
        known = self._carried.get(info.id)
        if known is not None:
            return _replay(known, handler)
        try:
            result = await run()
        except ApplicationError as err:
            detail = err.details[0] if err.details else None
            if err.type == REFUSAL_ERROR_TYPE and isinstance(detail, Refusal):
                self._recent.append(CommandAnswer(info.id, info.name, refusal=detail))
            raise
        text = None if result is None else workflow.payload_converter().to_payloads([result])[0].data.decode()
        self._recent.append(CommandAnswer(info.id, info.name, result_json=text))
        return result


class Remembering(Protocol):
    commands: CommandMemory

    def command_slot(self, inp: Any) -> AbstractAsyncContextManager[None]: ...


W = TypeVar("W", bound=Remembering)
M = TypeVar("M")
R = TypeVar("R")


def remembered(handler: Callable[[W, M], Awaitable[R]]) -> Callable[[W, M], Awaitable[R]]:
    """An update handler answered once per request id, across continue-as-new (`CommandMemory`), in the
    account's `command_slot` (admitted, counted)."""

    @functools.wraps(handler)
    async def answered_once(self: W, inp: M) -> R:
        # Admitted first, and counted (the account's `command_slot`: workflows/admission.py, traffic.py).
        async with self.command_slot(inp):
            result: R = await self.commands.answer(lambda: handler(self, inp), handler)
        return result

    return answered_once


def unless_remembered(validator: Callable[[W, M], None]) -> Callable[[W, M], None]:
    """An update validator skipped for a request an earlier run already decided (and answered)."""

    @functools.wraps(validator)
    def checked_once(self: W, inp: M) -> None:
        if self.commands.known() is None:
            validator(self, inp)

    return checked_once


def _replay(known: CommandAnswer, handler: Callable[..., Any]) -> Any:
    if known.refusal is not None:
        raise refusal_failure(known.refusal)
    if known.result_json is None:
        return None
    hint: Any = None
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

