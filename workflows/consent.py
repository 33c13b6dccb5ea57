"""DATA-1: a seller's withdrawal of a consent, run by Temporal so that it is done once and retried
until it is (`starter.py withdraw-consent MEMBER --purpose face`). The credential is checked by the
activity at the workflow's time; the account workflow itself is not changed: its next photo check
finds no face consent in the registry and goes to review."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from models.activity_io import ConsentWithdrawal, WithdrawConsentInput

from workflows.activity_refs import WITHDRAW_CONSENT


def withdrawal_workflow_id(member_id: str, purpose: str) -> str:
    return f"withdraw-consent-{purpose}-{member_id}"


# Not one class with retention.ErasureRequest, though each runs one activity: a withdrawal is stamped
# with the workflow's time (the activity checks the credential at it) and each rule has its own timeout
# and retries; shared, the one line that differs would be all its parameters.
@workflow.defn
class ConsentWithdrawalRequest:
    @workflow.run
    async def run(self, inp: WithdrawConsentInput) -> ConsentWithdrawal:
        return await workflow.execute_activity(
            WITHDRAW_CONSENT.name,
            dataclasses.replace(inp, at=workflow.now()),
            result_type=WITHDRAW_CONSENT.output,
            summary="DATA-1 consent withdrawal",
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1), maximum_attempts=50),
        )
