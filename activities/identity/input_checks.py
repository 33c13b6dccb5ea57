"""Registration input and contact checks, pure (no database, no I/O): the registration workflow's
screening activity and the account workflow's update validators both use them, so a malformed value
never reaches an activity or a mail header."""

from __future__ import annotations

import re
import unicodedata

from activities.identity.canonical import MAINLAND_CHINA, refusal_for
from models.contract import RegistrationInput
from models.refusals import Refusal

# Controls, format characters and line/paragraph separators: never part of a name or an identity.
_CONTROL_CATEGORIES = ("Cc", "Cf", "Cs", "Co", "Zl", "Zp")
REGION = re.compile(r"^[A-Z]{2}$")
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
    if not REGION.match(region):
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


