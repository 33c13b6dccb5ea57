"""Failures have a kind. An activity that fails because of its input (a value no retry will change)
fails as a non-retryable `BadInput` error with a reason code; infrastructure trouble (database, mail,
disk, network) is left to the retry policy, which is bounded (workflows/steps.py).

Applied to every activity by a worker interceptor, so each activity need not sort its own errors.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import exc as sa_exc
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from models.refusals import BAD_INPUT_ERROR_TYPE

# Errors that say "this value cannot be processed": retrying the same input fails the same way.
# (sqlalchemy's DataError is a value too long for its column, out of range, or badly encoded.)
_BAD_INPUT = (
    ValueError,  # includes UnicodeError
    TypeError,
    LookupError,
    ArithmeticError,
    sa_exc.DataError,
)
# ... unless they are really the infrastructure's (a database that went away raises these too).
_INFRASTRUCTURE = (OSError, sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError)


def bad_input(err: BaseException) -> bool:
    return isinstance(err, _BAD_INPUT) and not isinstance(err, _INFRASTRUCTURE)


def _reason(err: BaseException) -> str:
    if isinstance(err, sa_exc.DataError):
        return "value_not_storable"
    if isinstance(err, UnicodeError):
        return "bad_encoding"
    return "bad_value"


class _Inbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            return await self.next.execute_activity(input)
        except ApplicationError:
            raise
        except Exception as err:
            if not bad_input(err):
                raise
            # The message is the error's kind and first line, never the SQL with its parameters.
            first_line = (str(err).splitlines() or [""])[0][:160]
            activity.logger.warning("bad input refused: %s", type(err).__name__)
            raise ApplicationError(
                f"{_reason(err)}: {type(err).__name__}: {first_line}",
                _reason(err),
                type=BAD_INPUT_ERROR_TYPE,
                non_retryable=True,
            ) from None


class FailureKinds(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Inbound(next)
