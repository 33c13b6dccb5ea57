"""The issue's attack on one account, for the traffic tests and bench/traffic_bench.py: a flood of login
signals or login commands, all one message with one valid seller credential (the caller signs it)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from temporalio.client import WorkflowHandle
from temporalio.service import RPCError

import seller_client
from models.contract import LoginInput
from workflows.seller_account import SellerAccount


async def flood_login_signals(handle: WorkflowHandle, login: LoginInput, count: int, at_once: int) -> int:
    """`count` login signals, `at_once` in flight; how many the server took (it refuses them while a run is
    at its cap; the attacker goes on regardless)."""

    async def one() -> bool:
        try:
            await handle.signal("login", login)
            return True
        except RPCError:
            return False

    taken = 0
    for start in range(0, count, at_once):
        taken += sum(await asyncio.gather(*(one() for _ in range(min(at_once, count - start)))))
    return taken


async def outcome_of(update: Awaitable[object], answered: str, detail: bool = False) -> str:
    """What one command got: `answered`, its refusal's code, or the error's kind (with its text)."""
    try:
        await update
        return answered
    except Exception as err:  # noqa: BLE001 - every outcome is counted: the attacker sends the next one
        refusal = seller_client.as_refusal(err)
        if refusal is not None:
            return refusal.code
        return f"{type(err).__name__}: {str(err)[:60]}" if detail else type(err).__name__


async def flood_login_commands(
    handle: WorkflowHandle,
    login: LoginInput,
    count: int,
    at_once: int,
    *,
    ids: str,
    outcomes: dict[str, int] | None = None,
    detail: bool = False,
) -> dict[str, int]:
    """`count` login commands, `at_once` in flight, none sent again (request ids `<ids>-<n>`): what each
    got, into `outcomes`, which holds the counts so far if the flood is stopped."""
    sent = iter(range(count))
    outcomes = {} if outcomes is None else outcomes

    async def sender() -> None:
        for i in sent:
            code = await outcome_of(handle.execute_update(SellerAccount.login, login, id=f"{ids}-{i}"), "counted", detail)
            outcomes[code] = outcomes.get(code, 0) + 1

    await asyncio.gather(*(sender() for _ in range(at_once)))
    return outcomes
