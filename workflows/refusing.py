"""Refusals as the errors that fail a command (never the workflow task), and the checks every
validator makes first: the payload against its declaration, the account still live, the event
allowed in the account's state (OPEN-4)."""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from models import boundary
    from models.refusals import RefusedError, refusal_failure
    from workflows.lifecycle import LifecycleChart


def refusal_error(err: RefusedError) -> ApplicationError:
    """Business refusals fail the command, never the workflow task (which would retry forever)."""
    return refusal_failure(err.refusal)


def at_boundary(inp: Any) -> None:
    """Refuse a command whose payload breaks its declaration (models/boundary.py)."""
    try:
        boundary.check(inp)
    except RefusedError as err:
        raise refusal_error(err) from None


def require_live(chart: LifecycleChart, command: str) -> None:
    if chart.is_closed:
        raise refusal_error(chart.refusal(command))


def require_allowed(chart: LifecycleChart, command: str, event: str) -> None:
    """Refuse (OPEN-4) a command the account's current state does not allow."""
    if not chart.allows(event):
        raise refusal_error(chart.refusal(command))
