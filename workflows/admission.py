"""Only the registration opens an account (issue 24): a run of the account workflow acts only if it is the
account's own continue-as-new, or the first run the registration started, with an admission it signed,
for an account the registry holds, not closed, in the state the run starts in (activities/admission.py).
Anything else (SellerAccount started by hand, under a closed account's id, with `state="open"`) ends at
once with the refusal, having done nothing: no audit row, no search attribute, no answer to `status`.

The verdict is an activity's, recorded in history, so a replay after keys rotate or the registry changes
reads the verdict it had.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from models.account_state import AccountInput
    from models.admission import AdmitAccountInput
    from models.refusals import Refusal, RefusedError

from workflows.activity_refs import ADMIT_ACCOUNT
from workflows.refusing import refusal_error

# Release v3: runs that are not their own continue-as-new are admitted first. See docs/DEPLOYING.md.
ADMISSION_PATCH = "v3-admitted-start"


def continued_by_itself() -> bool:
    """This run was started by the account's own continue-as-new: not a first run, not a retry of one
    (a run timeout with a retry policy) and not a cron schedule's next run, which a caller could ask for."""
    info = workflow.info()
    return info.continued_run_id is not None and info.attempt == 1 and not info.cron_schedule


class Admission:
    """Whether this run may act: undecided until `decide` has its verdict (run() asks first of all)."""

    def __init__(self) -> None:
        self.decided = False
        self.refusal: Refusal | None = None

    @staticmethod
    def asked() -> bool:
        """Whether this run asks to be admitted: not before v3 (a history recorded without the patch
        replays as it was, its commands in the order they were), not on runs the account continued itself."""
        return not continued_by_itself() and workflow.patched(ADMISSION_PATCH)

    async def decide(self, start: AccountInput) -> None:
        """Ask (see the module's docstring), when `asked`. Raises the refusal, which ends the run."""
        if self.asked():
            self.refusal = await workflow.execute_activity(
                ADMIT_ACCOUNT.name,
                AdmitAccountInput(start, workflow.now()),
                result_type=ADMIT_ACCOUNT.output,
                start_to_close_timeout=timedelta(seconds=30),
                # The registration wrote the registry seconds before; an hour covers a database restart.
                schedule_to_close_timeout=timedelta(hours=1),
                retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)),
                summary="REG-7 admit the account",
            )
        self.decided = True
        if self.refusal is not None:
            raise refusal_error(RefusedError(self.refusal))

    def require(self) -> None:
        """For queries and validators: a run refused admission answers nothing and takes nothing. (While
        its admission is being asked, a command is taken and its handler waits: `until_decided`.)"""
        if self.refusal is not None:
            raise refusal_error(RefusedError(self.refusal))

    async def until_decided(self) -> None:
        """For handlers: nothing is done before the run is admitted; a refused run refuses the command."""
        if not self.decided and self.asked():
            await workflow.wait_condition(lambda: self.decided)
        self.require()
