"""Messages of who may open an account (issue 24): the admission check an account's first run makes, and
the registration's own check of its caller (activities/admission.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from models.account_state import AccountInput
from models.contract import RegistrationInput


@dataclass
class AdmitAccountInput:
    start: AccountInput  # the run's input as it was started (admission included)
    now: datetime  # the workflow's clock: the admission is judged as the start arrives


@dataclass
class VerifyRegistrationInput:
    registration: RegistrationInput
    fact_id: str  # binding of the request as it arrived (security/binding.py)
    digest: str
    now: datetime
    caller_policy: bool  # the caller sent a policy of its own
