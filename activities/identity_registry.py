"""REG-11 / REG-5 / REG-7: the identity registry, where one identity holds one seller account.

Identity attributes are stored only as keyed fingerprints (HMAC-SHA256 with the secret from
settings), so that the registry can find duplicates without holding a single ID number in clear.
The unique index on (kind, digest) is what decides a race between two registrations.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from temporalio import activity

from models.contract import ClaimIdentityInput, ClaimIdentityResult, RegistrationInput
from models.db import engine
from models.refusals import Refusal
from models.settings import settings
from models.tables import Account, BarredFingerprint, IdentityFingerprint

IDENTITY_KINDS = ("licence", "id_card", "mobile", "email")


def canonical(kind: str, value: str) -> str:
    """The form two spellings of one identity share, so that `A@x.com ` and `a@x.com` collide."""
    value = unicodedata.normalize("NFKC", value).strip()
    if kind == "email":
        return value.casefold()
    if kind == "mobile":
        return re.sub(r"[^\d+]", "", value)
    return re.sub(r"[\s-]", "", value).upper()


def fingerprint(kind: str, value: str, *, secret: bytes | None = None) -> str:
    key = secret if secret is not None else settings().fingerprint_secret
    return hmac.new(key, f"{kind}:{canonical(kind, value)}".encode(), hashlib.sha256).hexdigest()


def identity_fingerprints(reg: RegistrationInput) -> dict[str, str]:
    values = {
        "licence": reg.licence_number,
        "id_card": reg.id_card_number,
        "mobile": reg.mobile,
        "email": reg.email,
    }
    return {kind: fingerprint(kind, value) for kind, value in values.items()}


def _refused(rule: str, code: str, message: str) -> ClaimIdentityResult:
    return ClaimIdentityResult(member_id=None, refusal=Refusal(rule, code, message))


@activity.defn
def claim_identity(inp: ClaimIdentityInput) -> ClaimIdentityResult:
    """Create the account row and its fingerprints in one transaction, or refuse.

    Idempotent: a retry of the same registration finds its own account (by registration id) and
    answers the same member id.
    """
    reg = inp.registration
    prints = identity_fingerprints(reg)
    with Session(engine()) as session:
        existing = session.exec(select(Account).where(Account.registration_id == reg.request_id)).first()
        if existing is not None:
            return ClaimIdentityResult(member_id=existing.member_id)

        barred = session.exec(
            select(BarredFingerprint).where(
                BarredFingerprint.digest.in_(list(prints.values()))  # type: ignore[attr-defined]
            )
        ).all()
        if any(prints.get(b.kind) == b.digest for b in barred):
            # Which attribute matched, and whose account it was, stays with the operators.
            return _refused(
                "REG-5",
                "identity_barred",
                "This identity belongs to an account closed for serious violations and may not register again.",
            )

        if reg.account_type == "sub" and (
            reg.main_member_id is None or session.get(Account, reg.main_member_id) is None
        ):
            return _refused(
                "REG-9", "main_account_unknown", "A sub-account must name an existing main account."
            )

        session.add(
            Account(
                member_id=inp.member_id,
                registration_id=reg.request_id,
                store_name=reg.store_name,
                region=reg.region.upper(),
                is_main=reg.account_type == "main",
                main_member_id=reg.main_member_id,
                created_at=inp.at,
                updated_at=inp.at,
            )
        )
        if reg.account_type == "main":
            # Sub-accounts sell nothing and share their main account's identity (REG-9), so only a
            # main account claims the identity.
            session.flush()
            for kind, digest in prints.items():
                session.add(IdentityFingerprint(kind=kind, digest=digest, member_id=inp.member_id))
        try:
            session.commit()
        except IntegrityError as err:
            session.rollback()
            if "registration_id" in str(err.orig):
                # Two attempts of the same request raced: the winner's account is this request's answer.
                again = session.exec(select(Account).where(Account.registration_id == reg.request_id)).one()
                return ClaimIdentityResult(member_id=again.member_id)
            return _refused(
                "REG-11",
                "duplicate_identity",
                "The business licence, ID card, mobile number or email is already registered to another seller"
                " account: each may register only one.",
            )
    return ClaimIdentityResult(member_id=inp.member_id)
