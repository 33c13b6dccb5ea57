"""REG-3: a new buyer account is screened against seller identities.

Workflow id: `buyer-<buyer id>` (a repeated screening answers the first result). An overseas buyer
account whose ID card, mobile, email or login device matches a mainland seller is closed, and that
seller receives a trade violation naming REG-3.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.enforcement import screen_buyer
    from models.contract import BuyerScreening, BuyerScreeningResult, ViolationInput, account_workflow_id
    from models.policy import Policy
    from workflows.seller_account import SellerAccount


@workflow.defn
class BuyerScreeningWorkflow:
    @workflow.run
    async def run(self, buyer: BuyerScreening, policy: Policy) -> BuyerScreeningResult:
        buyer.at = buyer.at or workflow.now()
        result = await workflow.execute_activity(
            screen_buyer,
            buyer,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=10),
            summary="REG-3 match seller identities",
        )
        if result.closed and result.seller_member_id:
            violation = ViolationInput(
                violation_id=f"reg3-{buyer.buyer_id}",
                category="false_buyer",
                rule="REG-3",
                points=policy.penalties.false_buyer_points,
                evidence_ref=f"buyer:{buyer.buyer_id}",
            )
            await workflow.get_external_workflow_handle(account_workflow_id(result.seller_member_id)).signal(
                SellerAccount.report_violation, violation
            )
        return result
