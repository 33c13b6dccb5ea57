"""What the account workflow's handler mixins (opening, enforcement, recovery, authorization) use of
one another and of SellerAccount, declared once for the type checker. At run time nothing here exists:
the attributes are set by SellerAccount.__init__ (workflows/seller_account.py) and the methods are found
through the mixins' method resolution order."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from models.account_state import AccountState, Fact
    from models.contract import AccountProfile
    from models.policy import Policy
    from models.refusals import Refusal
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
        # Effects and checks defined by SellerAccount or by another mixin.
        _audit: Callable[..., Any]
        _notice: Callable[..., Any]
        _transition: Callable[..., Any]
        _publish: Callable[..., Any]
        _refused: Callable[..., Coroutine[Any, Any, NoReturn]]
        _require_live: Callable[..., Any]
        _at_boundary: Callable[..., Any]
        _receive: Callable[..., Any]
        _guarded: Callable[..., Any]
        _effect: Callable[..., Any]
        _cascade: Callable[..., Any]
        _associate: Callable[..., Any]
        _authorize: Callable[..., Any]
        _actor: Callable[..., Any]
        _verified: Callable[..., Any]
        _system_credential: Callable[..., Any]
