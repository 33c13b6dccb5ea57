"""What every activity gets from the worker: failures recorded small, and heartbeats while it runs.

Failures: an exception from the database carries the SQL and its parameters (personal data, and more
than the server keeps: "Failure exceeds size limit" hid the cause in issue 18). The worker reports
instead the error's kind and the first line of the driver's message, cut short, as a retryable
`ApplicationError` of type `DatabaseError` (or `InfrastructureError` for mail and network errors).

Heartbeats: when the workflow gave an activity a heartbeat timeout, the worker heartbeats for it from
the event loop every third of that timeout while the activity's thread runs. A worker that dies stops
heartbeating, so the server hands the task to another worker after the heartbeat timeout instead of
the whole start-to-close timeout. (An activity that reports progress itself may heartbeat too.)
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ActivityOutboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

MAX_MESSAGE = 200


def short_failure(err: BaseException) -> ApplicationError | None:
    """The error as a small, readable, retryable failure; None when it is not infrastructure's."""
    if isinstance(err, SQLAlchemyError):
        cause: BaseException = err.orig if isinstance(err, DBAPIError) and err.orig is not None else err
        kind = "DatabaseError"
    elif isinstance(err, OSError):  # SMTP refused, connection reset, disk full...
        cause, kind = err, "InfrastructureError"
    else:
        return None
    # The first line of a driver message names the trouble; later lines (DETAIL, the SQL, the
    # parameters) may hold personal data.
    text = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    if isinstance(err, SQLAlchemyError) and not isinstance(err, DBAPIError):
        text = text.split("[SQL:")[0].strip()
    message = f"{type(cause).__name__}: {text}"[:MAX_MESSAGE]
    return ApplicationError(message, type=kind)


class _Inbound(ActivityInboundInterceptor):
    def init(self, outbound: ActivityOutboundInterceptor) -> None:
        self._outbound = outbound
        super().init(outbound)

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        timeout = activity.info().heartbeat_timeout
        ticker = asyncio.create_task(self._heartbeat(timeout)) if timeout else None
        try:
            return await super().execute_activity(input)
        except Exception as err:
            failure = short_failure(err)
            if failure is None:
                raise
            # `from None`: the cause would carry the statement and its parameters into history.
            raise failure from None
        finally:
            if ticker is not None:
                ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticker

    async def _heartbeat(self, timeout: timedelta) -> None:
        every = max(timeout.total_seconds() / 3, 0.2)
        while True:
            await asyncio.sleep(every)
            self._outbound.heartbeat()


class ActivitySupervision(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Inbound(next)
