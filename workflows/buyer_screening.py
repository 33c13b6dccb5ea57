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
    from models import boundary
    from models.auth import CredentialCheck, VerifyCredentialsInput
    from models.contract import BuyerScreening, BuyerScreeningResult, ViolationInput, account_workflow_id
    from models.policy import Policy
    from models.refusals import Refusal, RefusedError
    from security import credentials
    from security.binding import binding
    from workflows.seller_account import SellerAccount

from workflows.activity_refs import POLICY_IN_FORCE, SCREEN_BUYER, VERIFY_CREDENTIALS

# Release v3 (issue 24): the screening takes the worker's policy, never the caller's.
POLICY_IN_FORCE_PATCH = "v3-screening-policy-in-force"
CALLER_POLICY = Refusal(
    "ENF-4",
    "policy_not_accepted",
    "A screening takes the policy in force where it runs; send the request without one.",
    False,
)


@workflow.defn
class BuyerScreeningWorkflow:
    @workflow.run
    async def run(self, buyer: BuyerScreening, policy: Policy | None = None) -> BuyerScreeningResult:
        if not isinstance(buyer, BuyerScreening):  # sent with one argument: the SDK leaves it undecoded
            try:
                buyer = boundary.parse(BuyerScreening, buyer)
            except RefusedError as err:
                return BuyerScreeningResult(closed=False, refusal=err.refusal)
        # A screening is a service's report (ENF-4); the verdict is recorded like a signal's. Judged as it
        # arrives (its sender waits for the answer), for the request as it was sent.
        sent_as = binding(buyer)
        buyer.at = buyer.at or workflow.now()
        verdict = (
            await workflow.execute_local_activity(
                VERIFY_CREDENTIALS.name,
                VerifyCredentialsInput(
                    [CredentialCheck("screen_buyer", "*", buyer.auth, *sent_as)], workflow.now(), as_sent=False
                ),
                result_type=VERIFY_CREDENTIALS.output,
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=RetryPolicy(maximum_attempts=5),
                summary="ENF-4 verify credential",
            )
        )[0]
        if verdict.refusal is not None:
            return BuyerScreeningResult(closed=False, refusal=verdict.refusal)
        # Patch (docs/DEPLOYING.md): screenings recorded before it took the caller's policy. Since, the
        # policy is the worker's (activities/admission.py `policy_in_force`), as the account's is.
        if workflow.patched(POLICY_IN_FORCE_PATCH):
            if policy is not None:
                return BuyerScreeningResult(closed=False, refusal=CALLER_POLICY)
            policy = await workflow.execute_activity(
                POLICY_IN_FORCE.name,
                f"buyer-{buyer.buyer_id}",
                result_type=POLICY_IN_FORCE.output,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=20),
                summary="REG-3 policy in force",
            )
        if policy is None:  # a screening recorded before the patch always brought one
            return BuyerScreeningResult(closed=False, refusal=CALLER_POLICY)
        buyer.auth = None  # the registry needs the buyer's details, not the caller's credential
        result = await workflow.execute_activity(
            SCREEN_BUYER.name,
            buyer,
            result_type=SCREEN_BUYER.output,
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
            violation.auth = credentials.sign(
                role="system",
                actor=workflow.info().workflow_id,
                account=result.seller_member_id,
                command="report_violation",
                now=workflow.now(),
                ttl=timedelta(hours=1),
                payload=violation,
            )
            await workflow.get_external_workflow_handle(account_workflow_id(result.seller_member_id)).signal(
                SellerAccount.report_violation, violation
            )
        return result
