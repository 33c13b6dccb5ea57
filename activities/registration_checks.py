"""Registration screening: well-formed input, REG-1 names and emails, REG-2 region.

`validate_registration` is pure; `screen_registration` is the activity that adds what needs data
(the REG-1 term list, the REG-2 pre-approval records).
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from datetime import datetime

from sqlmodel import Session, select
from temporalio import activity

from activities.identity.canonical import canonical_document, refusal_for
from activities.storage.db import engine
from models.contract import RegistrationInput
from models.refusals import Refusal, RefusedError
from models.tables import PreApproval

MAINLAND_CHINA = "CN"
# Controls, format characters and line/paragraph separators: never part of a name or an identity.
_CONTROL_CATEGORIES = ("Cc", "Cf", "Cs", "Co", "Zl", "Zp")
_REGION = re.compile(r"^[A-Z]{2}$")
# Check-character tables, for devtools/identity_factory.py (validation itself is python-stdnum's).
# GB 32100-2015 unified social credit code alphabet (no I, O, S, V, Z).
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# Malformed input is refused under the rule the field serves.
FIELD_RULES = {
    "store_name": "REG-1",
    "email": "REG-6",
    "mobile": "REG-11",
    "region": "REG-2",
    "licence_number": "REG-11",
    "id_card_number": "REG-11",
    "owned_brands": "REG-1",
    "account_type": "REG-9",
}
LIMITS = {"store_name": 64, "email": 254, "mobile": 20, "licence_number": 30, "id_card_number": 30}


def _bad(field: str, code: str, message: str) -> Refusal:
    return Refusal(FIELD_RULES[field], code, message)


def contact_refusal(kind: str, value: object, region: str = MAINLAND_CHINA) -> Refusal | None:
    """The email/mobile checks of registration, for a later change of contact or a code request (pure:
    update validators use it, so a malformed value never reaches an activity or a mail header)."""
    if kind not in ("email", "mobile"):
        return Refusal("ASSOC-2", "bad_contact_kind", "only the email or the mobile number can be changed")
    if not isinstance(value, str) or not value.strip():
        return _bad(kind, "missing_field", f"{kind} is required")
    if any(unicodedata.category(c) in _CONTROL_CATEGORIES for c in value):
        return _bad(kind, "control_characters", f"{kind} contains control or line-break characters")
    if len(value) > LIMITS[kind]:
        return _bad(kind, "too_long", f"{kind} is longer than {LIMITS[kind]} characters")
    return refusal_for(kind, value, region=region or MAINLAND_CHINA)


def validate_registration(reg: RegistrationInput) -> Refusal | None:
    """Refuse malformed input before anything is written; every refusal names its field."""
    fields = {
        "store_name": reg.store_name,
        "email": reg.email,
        "mobile": reg.mobile,
        "region": reg.region,
        "licence_number": reg.licence_number,
        "id_card_number": reg.id_card_number,
    }
    for name, value in fields.items():
        if not isinstance(value, str) or not value.strip():
            return _bad(name, "missing_field", f"{name.replace('_', ' ')} is required")
        if any(unicodedata.category(c) in _CONTROL_CATEGORIES for c in value):
            return _bad(name, "control_characters", f"{name.replace('_', ' ')} contains control characters")
        if len(value) > LIMITS.get(name, 64):
            return _bad(
                name, "too_long", f"{name.replace('_', ' ')} is longer than {LIMITS.get(name, 64)} characters"
            )
    if not 2 <= len(reg.store_name.strip()) <= 64:
        return _bad("store_name", "bad_store_name", "the store name must be 2 to 64 characters")
    region = reg.region.strip().upper()
    if not _REGION.match(region):
        return _bad("region", "bad_region", "the region must be a two-letter country code")
    # The canonical forms (python-stdnum, phonenumbers, email-validator) are the validation: a value
    # passes only if it has the one form that will be fingerprinted.
    for kind, value in (
        ("email", reg.email),
        ("mobile", reg.mobile),
        ("licence", reg.licence_number),
        ("id_card", reg.id_card_number),
    ):
        refusal = refusal_for(kind, value, region=region)
        if refusal is not None:
            return refusal
    if reg.account_type not in ("main", "sub"):
        return _bad("account_type", "bad_account_type", "the account type must be main or sub")
    if reg.account_type == "sub" and not reg.main_member_id:
        return Refusal("REG-9", "main_account_required", "a sub-account must name its main account")
    if len(reg.owned_brands) > 20 or any(len(b) > 64 for b in reg.owned_brands):
        return _bad("owned_brands", "too_long", "at most 20 owned brands of up to 64 characters each")
    return None


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
    if not _REGION.match(region) or region == MAINLAND_CHINA:
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
    """Input form, REG-1 names and emails, REG-2 region. Reads only: safe to retry."""
    from activities.identity_registry import fingerprint

    refusal = validate_registration(reg)
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
