"""Which messages carry personal data: the payload converter marks their payloads for the codec.

A worker's codec sees a workflow's own payloads in the workflow's context, answers and state alike; it
cannot tell an answer (a query or update result, a refusal: kept under the ring key so that clients
without the registry decode it) from the account's continue-as-new state or the start input a
registration writes for its account (the profile, cases, appeal letters, pending logins' IPs, the first
code's email). The converter knows the value's type: it marks the payloads of these messages
(`personal-data` metadata), and the worker's codec seals a marked payload under the data key of the
workflow it goes to (security/codec.py, docs/PRIVACY.md). Marking reads the type only: deterministic,
and the same inside the workflow sandbox (`security` and `models` are passed through).

Only a value's own type counts, not what it nests: an answer that nested one of these would stay under
the ring. No answer does: answers name states, codes and ids (models/contract.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from temporalio.api.common.v1 import Payload
from temporalio.converter import DefaultPayloadConverter

from models.account_state import AccountInput, AccountState
from models.contract import (
    AccountProfile,
    AppealInput,
    BuyerScreening,
    ChangeContactInput,
    LoginInput,
    RegistrationInput,
    RequestCodeInput,
    VerifyEmailInput,
)

PERSONAL = "personal-data"
# What a workflow may write for an account (its start and continue-as-new input, above all) and what
# clients send it. The clients' go under the account's key anyway (a client's codec seals all it sends
# to an account); marked too, so that the same message written by a workflow is sealed the same way.
PERSONAL_MESSAGES: tuple[type, ...] = (
    AccountInput,  # profile, state (cases, review texts: appeal letters), pending logins, first code's email
    AccountState,
    AccountProfile,  # the store's name: often its owner's
    RegistrationInput,  # ID card, licence, mobile, email
    LoginInput,  # IP, device id
    ChangeContactInput,  # email or mobile
    RequestCodeInput,  # email
    VerifyEmailInput,  # a one-time code
    AppealInput,  # the appeal letter, store opening information
    BuyerScreening,  # a buyer's numbers (its workflow is no account's: ring key, marked all the same)
)


def is_personal(payload: Payload) -> bool:
    return PERSONAL in payload.metadata


class PersonalDataPayloadConverter(DefaultPayloadConverter):
    """The default converter (JSON for dataclasses), marking the payloads of `PERSONAL_MESSAGES`."""

    def to_payloads(self, values: Sequence[Any]) -> list[Payload]:
        payloads = super().to_payloads(values)
        for value, payload in zip(values, payloads, strict=False):
            if isinstance(value, PERSONAL_MESSAGES):
                payload.metadata[PERSONAL] = b"1"
        return payloads
