"""What the account workflow's handler mixins (opening, enforcement, recovery, authorization) use of
one another and of SellerAccount, declared once for the type checker. At run time nothing here exists:
the attributes are set by SellerAccount.__init__ (workflows/seller_account.py) and the methods are found
through the mixins' method resolution order.

The methods are declared with the signatures of their definitions, not as any callable: a wrong keyword
in a handler would otherwise pass the type checker and fail the workflow task at run time, and mypy
checks each definition against its declaration, so the two cannot drift apart. (One core class holding
these methods would move SellerAccount's effects out of workflows/seller_account.py and still leave the
mixins' calls to one another to declare.)"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from models.account_state import AccountState, CascadeStep, Fact, PendingEffect
    from models.contract import AccountProfile
    from models.policy import Policy
    from models.refusals import Refusal
    from security.credentials import Credential, Signed
    from workflows.account_common import CommandLock
    from workflows.lifecycle import LifecycleChart


class AccountBase:
    if TYPE_CHECKING:
        profile: AccountProfile
        policy: Policy
        state: AccountState
        chart: LifecycleChart
        _lock: CommandLock
        _timers_moved: bool
        _rejected_signals: list[tuple[str, Refusal]]
        _attention_to_record: list[tuple[str, str]]
        _facts: list[Fact]
        # Effects and checks defined by SellerAccount or by another mixin, declared with their own
        # signatures: mypy checks each call, and each definition against its declaration.

        def _at_boundary(self, inp: Any) -> None: ...
        def _require_live(self, command: str) -> None: ...
        async def _refused(self, command: str, refusal: Refusal, *, actor: str) -> NoReturn: ...
        async def _transition(
            self, event: str, *, rule: str, reason: str, actor: str = ..., detail: dict[str, str] | None = ...
        ) -> None: ...
        async def _audit(
            self,
            event: str,
            *,
            rule: str,
            reason: str,
            actor: str = ...,
            from_state: str | None = ...,
            to_state: str | None = ...,
            detail: dict[str, str] | None = ...,
        ) -> None: ...
        async def _notice(self, key: str, *, kind: str, rule: str, message: str) -> None: ...
        def _publish(self) -> None: ...
        def _receive(self, signal: str, cls: type, payloads: tuple[Any, ...]) -> Any: ...
        async def _guarded(self, step: Awaitable[None]) -> None: ...
        async def _effect(self, effect: PendingEffect) -> None: ...
        async def _cascade(self, step: CascadeStep) -> None: ...
        async def _associate(self, linked_member_id: str, *, rule: str, cause: str) -> None: ...
        def _authorize(self, command: str, auth: Credential | None) -> None: ...
        @staticmethod
        def _actor(auth: Credential | None, legacy: str) -> str: ...
        async def _verified(self, messages: Sequence[tuple[str, Signed]]) -> list[str | None]: ...
        def _system_credential(self, command: str, target_member_id: str) -> Credential: ...
