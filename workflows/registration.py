"""Registration: screen the applicant, claim the identity, assign the member id, start the account.

Workflow id: `registration-<request id>`: the caller's request id makes registration idempotent
(a repeated request answers the same member id). The result is the command's answer: accepted with
the member id, or refused with the rule, a reason code and a sentence.

Only a registration service registers (a `register` credential bound to the request,
security/credentials.py), and the policy is the one in force where the worker runs
(activities/admission.py `policy_in_force`), never the caller's. The account is started with an
admission this workflow signs over the account's whole input (role system, `open_account`): nothing
else opens an account (workflows/admission.py).

Member ids (REG-7) are `M` + 16 Crockford base32 characters (80 random bits from the workflow's
replay-safe random source): unguessable, never chosen by the applicant, and never changed.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from models import boundary
    from models.account_state import AccountInput
    from models.activity_io import ClaimIdentityInput, SendCodeInput
    from models.admission import VerifyRegistrationInput
    from models.contract import AccountProfile, RegistrationInput, RegistrationResult, account_workflow_id
    from models.policy import Policy
    from models.refusals import Refusal, RefusedError
    from security import credentials
    from security.binding import binding
    from workflows.contact import CODE_ON_ITS_WAY
    from workflows.seller_account import SellerAccount

from workflows.activity_refs import (
    CLAIM_IDENTITY,
    POLICY_IN_FORCE,
    SCREEN_REGISTRATION,
    SEND_VERIFICATION_CODE,
    VERIFY_REGISTRATION,
)

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
REGISTRATION_ID_PREFIX = "registration-"
OUTAGE_PATIENCE = timedelta(minutes=15)
HEARTBEAT_TIMEOUT = timedelta(seconds=10)
# Patch (release v3): a registration mail that met an outage is handed to the account (issue 32).
MAIL_THROUGH_OUTAGE_PATCH = "v3-registration-mail-through-outage"
# Patch (release v3): a registration is signed by a registration service, takes the worker's policy and
# admits the account it starts (issue 24).
SIGNED_REGISTRATION_PATCH = "v3-signed-registration"
ADMISSION_TTL = timedelta(hours=1)


def new_member_id() -> str:
    bits = workflow.random().getrandbits(80)
    return "M" + "".join(CROCKFORD[(bits >> (5 * i)) & 31] for i in range(16))


@workflow.defn
class Registration:
    @workflow.run
    async def run(self, reg: RegistrationInput, policy: Policy | None = None) -> RegistrationResult:
        try:
            # Sizes of the columns it ends up in (models/limits.py). Sent with one argument instead of
            # two, it arrives undecoded (the SDK types arguments only when their count matches): parsed.
            reg = boundary.parse(RegistrationInput, reg)
        except RefusedError as err:
            return RegistrationResult(accepted=False, refusal=err.refusal)
        # Patch (docs/DEPLOYING.md): registrations recorded before it took the caller's policy, unsigned.
        signed_registration = workflow.patched(SIGNED_REGISTRATION_PATCH)
        if signed_registration:
            refusal = await workflow.execute_local_activity(
                VERIFY_REGISTRATION.name,
                VerifyRegistrationInput(reg, *binding(reg), workflow.now(), caller_policy=policy is not None),
                result_type=VERIFY_REGISTRATION.output,
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=RetryPolicy(maximum_attempts=5),
                summary="ENF-4 verify the registration service",
            )
            if refusal is not None:
                return RegistrationResult(accepted=False, refusal=refusal)
            policy = await workflow.execute_activity(
                POLICY_IN_FORCE.name,
                reg.request_id,
                result_type=POLICY_IN_FORCE.output,
                start_to_close_timeout=timedelta(seconds=30),
                schedule_to_close_timeout=OUTAGE_PATIENCE,
                retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)),
                summary="REG-7 policy in force",
            )
        if policy is None:  # a registration recorded before the patch always brought one
            return RegistrationResult(accepted=False, refusal=Refusal("REG-7", "policy_missing", "No policy.", False))
        reg.auth = None  # the checks and the registry need the applicant's details, not the credential
        # Infrastructure trouble (registry unwritable, database restarting) is waited out for up to
        # OUTAGE_PATIENCE, retrying every 30 s at most; a worker that dies is noticed by its missing
        # heartbeat in seconds. Past that the run fails, and the same request id starts afresh
        # (seller_client.register).
        options: dict[str, Any] = dict(
            start_to_close_timeout=timedelta(seconds=30),
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            schedule_to_close_timeout=OUTAGE_PATIENCE,
            retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)),
        )
        refusal = await workflow.execute_activity(
            SCREEN_REGISTRATION.name,
            reg,
            result_type=SCREEN_REGISTRATION.output,
            summary="REG-1/REG-2 screening",
            **options,
        )
        if refusal is not None:
            return RegistrationResult(accepted=False, refusal=refusal)

        claim = await workflow.execute_activity(
            CLAIM_IDENTITY.name,
            ClaimIdentityInput(member_id=new_member_id(), registration=reg, at=workflow.now()),
            result_type=CLAIM_IDENTITY.output,
            summary="REG-11 identity claim",
            **options,
        )
        if claim.refusal is not None or claim.member_id is None:
            return RegistrationResult(accepted=False, refusal=claim.refusal)

        member_id = claim.member_id
        code = SendCodeInput(
            member_id=member_id,
            email=reg.email,
            ttl_minutes=policy.email_verification.code_ttl_minutes,
            issued_at=workflow.now(),
        )
        mail_error: Refusal | None = None
        try:
            # REG-6: the code goes out with the registration. A few quick tries, not the whole outage:
            # the registration answers at once either way.
            await workflow.execute_activity(
                SEND_VERIFICATION_CODE.name,
                code,
                summary="REG-6 mail code",
                result_type=SEND_VERIFICATION_CODE.output,
                start_to_close_timeout=timedelta(seconds=30),
                heartbeat_timeout=HEARTBEAT_TIMEOUT,
                retry_policy=RetryPolicy(maximum_attempts=3),
            )
        except ActivityError:
            # Patch (docs/DEPLOYING.md): before it, the mail was dropped and the seller learned nothing.
            if workflow.patched(MAIL_THROUGH_OUTAGE_PATCH):
                # The account mails the same code (same issue) through up to 15 minutes of outage and
                # shows it meanwhile (requirements.errors); the answer says so too (issue 32).
                mail_error = CODE_ON_ITS_WAY
            else:
                workflow.logger.warning("verification mail not sent; the seller can request a new code")
        # An earlier run of this request may have started it, then failed before answering.
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await self._start_account(
                reg, policy, member_id, code if mail_error else None, admit=signed_registration
            )
        return RegistrationResult(
            accepted=True,
            member_id=member_id,
            workflow_id=account_workflow_id(member_id),
            mail_error=mail_error,
        )

    async def _start_account(
        self,
        reg: RegistrationInput,
        policy: Policy,
        member_id: str,
        first_code: SendCodeInput | None,
        *,
        admit: bool,
    ) -> None:
        start = AccountInput(
            profile=AccountProfile(
                member_id=member_id,
                store_name=reg.store_name.strip(),
                region=reg.region.strip().upper(),
                account_type=reg.account_type,
                main_member_id=reg.main_member_id,
            ),
            policy=policy,
            registered_at=workflow.now(),
            max_run_days=policy.lifecycle.max_run_days,
            first_code=first_code,
        )
        if admit:  # the only admission there is: signed here, over the account's whole input
            start.admission = credentials.sign(
                role="system",
                actor=workflow.info().workflow_id,
                account=member_id,
                command="open_account",
                now=workflow.now(),
                ttl=ADMISSION_TTL,
                payload=start,
            )
        await workflow.start_child_workflow(
            SellerAccount.run,
            start,
            id=account_workflow_id(member_id),
            # The account lives for years, long after its registration workflow has answered.
            parent_close_policy=ParentClosePolicy.ABANDON,
            static_summary=f"Seller account {member_id} ({reg.region.strip().upper()})",
        )
