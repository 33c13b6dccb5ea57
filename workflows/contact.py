"""REG-6 and REG-11 on the account workflow: the email proved by a mailed code, and a change of email
or mobile (ASSOC-2: one held by another seller links the two). Called by SellerAccount
(workflows/seller_account.py) through the parts it is given."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, CancelledError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from activities.identity.input_checks import contact_refusal
    from models.account_state import AccountState
    from models.activity_io import RebindContactInput, SendCodeInput, VerifyCodeInput
    from models.contract import AccountProfile, ChangeContactInput
    from models.policy import Policy
    from models.refusals import Refusal, RefusedError, refuse
    from workflows.requirements import clear_errors, record_error

from workflows.activity_refs import REBIND_CONTACT, SEND_VERIFICATION_CODE, VERIFY_EMAIL_CODE
from workflows.effects import Effects
from workflows.enforcement import Enforcement
from workflows.refusing import refusal_error

# REG-6 through a mail outage (issue 32): the registration's code, mailed by the account meanwhile.
CODE_ON_ITS_WAY = Refusal(
    "REG-6",
    "code_on_its_way",
    "The mail server is not answering: your code is on its way (we keep trying for 15 minutes).",
    retryable=True,
)
MAIL_UNAVAILABLE = Refusal(
    "REG-6", "mail_unavailable", "Your code could not be mailed; ask for a new code.", retryable=True
)
MAIL_PATIENCE = timedelta(minutes=15)


class Contact:
    def __init__(
        self,
        *,
        state: AccountState,
        profile: AccountProfile,
        policy: Policy,
        effects: Effects,
        enforcement: Enforcement,
    ) -> None:
        self.state, self.profile, self.policy = state, profile, policy
        self.effects = effects
        self.enforcement = enforcement

    async def verify_email(self, code: str, *, actor: str) -> None:
        result = await self.effects.steps.run(
            VERIFY_EMAIL_CODE,
            VerifyCodeInput(
                member_id=self.profile.member_id,
                code=code,
                now=workflow.now(),
                max_attempts=self.policy.email_verification.max_attempts,
            ),
            summary="REG-6 check code",
        )
        if result.refusal is not None:
            await self.effects.refuse("verify_email", result.refusal, actor=actor)
        self.state.email_verified = True
        clear_errors(self.state, "email_verification")
        await self.effects.audit("verify_email", rule="REG-6", reason="email_verified", actor=actor)
        self.effects.publish()

    def check_code(self, code: str) -> None:
        self.require_unverified()
        if not code.strip().isdigit() or len(code.strip()) != 6:
            raise refusal_error(refuse("REG-6", "code_malformed", "The code is the 6 digits from the email."))

    async def mail_code(self, email: str, *, actor: str) -> None:
        sent = await self.effects.steps.run(
            SEND_VERIFICATION_CODE,
            SendCodeInput(
                member_id=self.profile.member_id,
                email=email,
                ttl_minutes=self.policy.email_verification.code_ttl_minutes,
                issued_at=workflow.now(),
            ),
            summary="REG-6 mail code",
        )
        if sent.refusal is not None:
            await self.effects.refuse("request_email_code", sent.refusal, actor=actor)
        clear_errors(self.state, "email_verification")

    async def mail_first_code(self, code: SendCodeInput) -> None:
        """REG-6: the registration's code, through up to MAIL_PATIENCE of mail outage (the same issue,
        so the same code); `status` shows it on its way, then mailed (error cleared) or failed."""
        try:
            sent = await workflow.execute_activity(
                SEND_VERIFICATION_CODE.name,
                code,
                result_type=SEND_VERIFICATION_CODE.output,
                summary="REG-6 mail code (through an outage)",
                start_to_close_timeout=timedelta(seconds=30),
                heartbeat_timeout=timedelta(seconds=10),
                schedule_to_close_timeout=MAIL_PATIENCE,
                retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)),
                cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            )
        except ActivityError as err:
            if isinstance(err.cause, CancelledError):  # the seller asked for a new code meanwhile
                return
            if any(e.code == CODE_ON_ITS_WAY.code for e in self.state.errors):
                record_error(self.state, "request_email_code", MAIL_UNAVAILABLE)
        else:
            if sent.refusal is not None:
                record_error(self.state, "request_email_code", sent.refusal)
            else:
                clear_errors(self.state, "email_verification")
        self.effects.publish()

    def check_code_request(self, email: str) -> None:
        self.require_unverified()
        # REG-6: a malformed address (a line break, a header) is refused here, before any activity.
        self.check_contact("email", email)

    async def change(self, inp: ChangeContactInput, *, actor: str) -> None:
        result = await self.effects.steps.run(
            REBIND_CONTACT,
            RebindContactInput(member_id=self.profile.member_id, kind=inp.kind, value=inp.value, at=workflow.now()),
            summary=f"ASSOC-2 rebind {inp.kind}",
        )
        if result.refusal is not None:
            if result.linked_member_id:
                await self.effects.audit(
                    "identity_link",
                    rule="ASSOC-2",
                    reason=f"shared_{inp.kind}",
                    detail={"linked_member_id": result.linked_member_id},
                )
                await self.enforcement.associate(result.linked_member_id, rule="ASSOC-2", cause=f"shared_{inp.kind}")
            await self.effects.refuse("change_contact", result.refusal, actor=actor)
        await self.effects.audit("change_contact", rule="REG-11", reason=f"{inp.kind}_changed", actor=actor)
        if inp.kind == "email":
            # REG-6: the new address is proved like the first one.
            self.state.email_verified = False
            await self.mail_code(inp.value, actor=actor)

    def check_contact(self, kind: str, value: str) -> None:
        refusal = contact_refusal(kind, value, self.profile.region)
        if refusal is not None:
            raise refusal_error(RefusedError(refusal))

    def require_unverified(self) -> None:
        if self.state.email_verified:
            raise refusal_error(refuse("REG-6", "already_verified", "The email address is already verified."))
