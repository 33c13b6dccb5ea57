"""Registration screening: well-formed input, REG-1 names and emails, REG-2 region.

`validate_registration` is pure; `screen_registration` is the activity that adds what needs data
(the REG-1 term list, the REG-2 pre-approval records).
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlmodel import Session, select
from temporalio import activity

from activities.identity.canonical import MAINLAND_CHINA, canonical_document
from activities.identity.consents import consent_refusal
from activities.identity.input_checks import REGION, validate_registration
from activities.storage.db import engine
from models.contract import RegistrationInput
from models.refusals import Refusal, RefusedError
from models.tables import PreApproval

# Check-character tables, for devtools/identity_factory.py (validation itself is python-stdnum's).
# GB 32100-2015 unified social credit code alphabet (no I, O, S, V, Z).
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def region_refusal(reg: RegistrationInput, *, session: Session, licence_digest: str) -> Refusal | None:
    """REG-2: only mainland-China sellers, unless an operator approved this applicant in advance."""
    if reg.region.strip().upper() == MAINLAND_CHINA:
        return None
    refusal = Refusal(
        "REG-2",
        "region_not_allowed",
        "Only sellers from mainland China may register, unless the platform has approved you in advance.",
    )
    if not reg.pre_approval_ref:
        return refusal
    approval = session.exec(select(PreApproval).where(PreApproval.ref == reg.pre_approval_ref)).first()
    if approval is None or approval.licence_digest != licence_digest or approval.region != reg.region.upper():
        return refusal
    return None


def create_pre_approval(region: str, licence_number: str, *, operator: str, at: datetime) -> str:
    """REG-2: an operator approves a non-mainland applicant in advance; the reference goes to them."""
    from activities.identity_registry import fingerprint

    region = region.strip().upper()
    if not REGION.match(region) or region == MAINLAND_CHINA:
        raise RefusedError(
            Refusal("REG-2", "bad_region", "pre-approval is for a non-mainland two-letter region")
        )
    try:
        canonical_document("licence", licence_number, region)
    except RefusedError as err:
        raise RefusedError(Refusal("REG-2", err.refusal.code, err.refusal.message)) from None
    if not operator.strip():
        raise RefusedError(
            Refusal("REG-2", "operator_required", "a pre-approval names the operator who gave it")
        )
    ref = "PA-" + secrets.token_hex(8).upper()
    with Session(engine()) as session:
        session.add(
            PreApproval(
                ref=ref,
                region=region,
                licence_digest=fingerprint("licence", licence_number, region=region),
                approved_by=operator.strip(),
                created_at=at,
            )
        )
        session.commit()
    return ref


@activity.defn
def screen_registration(reg: RegistrationInput) -> Refusal | None:
    """DATA-1 consent, input form, REG-1 names and emails, REG-2 region. Reads only: safe to retry."""
    from activities.identity_registry import fingerprint

    # DATA-1 first: nothing of the applicant's identity is processed before its notice is accepted.
    refusal = consent_refusal(reg) or validate_registration(reg)
    if refusal is not None:
        return refusal
    refusal = screen_names(reg)
    if refusal is not None:
        return refusal
    with Session(engine()) as session:
        return region_refusal(
            reg,
            session=session,
            licence_digest=fingerprint("licence", reg.licence_number, region=reg.region.strip().upper()),
        )


def screen_names(reg: RegistrationInput) -> Refusal | None:
    """REG-1 on the store name and the email address."""
    from activities.identity.name_screening import screen_email, screen_store_name

    owned = frozenset(b.casefold() for b in reg.owned_brands)
    return screen_store_name(reg.store_name, owned_brands=owned) or screen_email(
        reg.email, owned_brands=owned
    )
