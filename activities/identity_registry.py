"""REG-11 / REG-5 / REG-7: the identity registry, where one identity holds one seller account.

Identity attributes are stored only as keyed fingerprints (HMAC-SHA256 with the secret from
settings), so that the registry can find duplicates without holding a single ID number in clear.
The unique index on (kind, digest) is what decides a race between two registrations.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from temporalio import activity

from activities.identity import canonical as identity_canonical
from activities.identity.canonical import ANY_REGION, MAINLAND_CHINA
from activities.identity.consents import record_consents
from activities.storage.db import engine
from models.activity_io import (
    ClaimIdentityInput,
    ClaimIdentityResult,
    RebindContactInput,
    RebindContactResult,
)
from models.contract import RegistrationInput
from models.refusals import Refusal, RefusedError
from models.settings import settings
from models.tables import Account, AccountLink, BarredFingerprint, IdentityFingerprint

IDENTITY_KINDS = ("licence", "id_card", "mobile", "email")


def canonical(kind: str, value: str, *, region: str = MAINLAND_CHINA) -> str:
    """The form two spellings of one identity share (activities/identity/canonical.py); raises
    RefusedError for a value that has none."""
    return identity_canonical.canonical(kind, value, region=region)


def fingerprint(kind: str, value: str, *, region: str = MAINLAND_CHINA, secret: bytes | None = None) -> str:
    """The only way an identity attribute becomes a fingerprint: canonicalise, then HMAC.

    Raises RefusedError (rule, reason code, sentence) for a value with no canonical form, so a value is
    never fingerprinted as typed.
    """
    key = secret if secret is not None else settings().fingerprint_secret
    return digest_of(kind, canonical(kind, value, region=region), secret=key)


def digest_of(kind: str, canonical_form: str, *, secret: bytes | None = None) -> str:
    """HMAC of an already canonical value (the re-fingerprinting command computes legacy digests)."""
    key = secret if secret is not None else settings().fingerprint_secret
    return hmac.new(key, f"{kind}:{canonical_form}".encode(), hashlib.sha256).hexdigest()


def candidate_fingerprints(
    kind: str, value: str, regions: tuple[str, ...] = (MAINLAND_CHINA, ANY_REGION)
) -> list[str]:
    """For lookups only (REG-3 buyer screening, REG-10 by licence): the fingerprints of a value read
    under each region where it is valid (`ANY_REGION`: the strict pattern of non-mainland numbers). A
    lookup may try several readings; a claim never does."""
    found = []
    for region in regions:
        try:
            found.append(fingerprint(kind, value, region=region))
        except RefusedError:
            continue
    return list(dict.fromkeys(found))


def identity_fingerprints(reg: RegistrationInput) -> dict[str, str]:
    values = {
        "licence": reg.licence_number,
        "id_card": reg.id_card_number,
        "mobile": reg.mobile,
        "email": reg.email,
    }
    return {kind: fingerprint(kind, value, region=reg.region) for kind, value in values.items()}


def _refused(rule: str, code: str, message: str, *, retryable: bool = True) -> ClaimIdentityResult:
    return ClaimIdentityResult(member_id=None, refusal=Refusal(rule, code, message, retryable))


def _sub_account_refusal(
    session: Session, reg: RegistrationInput, prints: dict[str, str]
) -> ClaimIdentityResult | None:
    """REG-9: a sub-account hangs off an existing main account of the same legal entity."""
    main = session.get(Account, reg.main_member_id) if reg.main_member_id else None
    if main is None or not main.is_main or main.state == "closed":
        return _refused("REG-9", "main_account_unknown", "A sub-account must name an existing main account.")
    owned = {
        (f.kind, f.digest)
        for f in session.exec(
            select(IdentityFingerprint).where(IdentityFingerprint.member_id == main.member_id)
        )
    }
    if ("licence", prints["licence"]) not in owned or ("id_card", prints["id_card"]) not in owned:
        return _refused(
            "REG-9",
            "sub_identity_mismatch",
            "A sub-account must use the business licence and ID card of its main account.",
        )
    return None


def link_accounts(
    session: Session, a: str, b: str, *, rule: str, reason: str, evidence: str, at: datetime
) -> bool:
    """Record that two accounts belong together; True if the link is new. Idempotent."""
    first, second = sorted((a, b))
    found = session.exec(
        select(AccountLink).where(
            AccountLink.member_a == first, AccountLink.member_b == second, AccountLink.reason == reason
        )
    ).first()
    if found is not None:
        return False
    session.add(
        AccountLink(
            member_a=first, member_b=second, rule=rule, reason=reason, evidence=evidence, created_at=at
        )
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    return True


def linked_accounts(member_id: str) -> list[AccountLink]:
    with Session(engine()) as session:
        return list(
            session.exec(
                select(AccountLink).where(
                    (AccountLink.member_a == member_id) | (AccountLink.member_b == member_id)
                )
            )
        )


def _account_region(member_id: str) -> str:
    with Session(engine()) as session:
        account = session.get(Account, member_id)
        return account.region if account is not None else MAINLAND_CHINA


@activity.defn
def rebind_contact(inp: RebindContactInput) -> RebindContactResult:
    """ASSOC-2: move the account's email or mobile fingerprint to a new value. A value that already
    belongs to another seller is refused, and the two accounts are linked for the operators."""
    try:
        # Defence in depth: the update's validator refused malformed values already.
        digest = fingerprint(inp.kind, inp.value, region=_account_region(inp.member_id))
    except RefusedError as err:
        return RebindContactResult(changed=False, refusal=err.refusal)
    with Session(engine()) as session:
        holder = session.exec(
            select(IdentityFingerprint).where(
                IdentityFingerprint.kind == inp.kind, IdentityFingerprint.digest == digest
            )
        ).first()
        if holder is not None and holder.member_id == inp.member_id:
            return RebindContactResult(changed=True)  # already bound: a retry of this very change
        if holder is None:
            barred = session.exec(
                select(BarredFingerprint).where(
                    BarredFingerprint.kind == inp.kind, BarredFingerprint.digest == digest
                )
            ).first()
            if barred is not None:
                return RebindContactResult(
                    changed=False,
                    refusal=Refusal(
                        "REG-5",
                        "identity_barred",
                        "This contact belongs to an account closed for serious violations.",
                        retryable=False,
                    ),
                )
            current = session.exec(
                select(IdentityFingerprint).where(
                    IdentityFingerprint.kind == inp.kind, IdentityFingerprint.member_id == inp.member_id
                )
            ).first()
            if current is None:
                session.add(IdentityFingerprint(kind=inp.kind, digest=digest, member_id=inp.member_id))
            else:
                current.digest = digest
                session.add(current)
            try:
                session.commit()
                return RebindContactResult(changed=True)
            except IntegrityError:
                session.rollback()  # another account took the value between our read and write
                holder = session.exec(
                    select(IdentityFingerprint).where(
                        IdentityFingerprint.kind == inp.kind, IdentityFingerprint.digest == digest
                    )
                ).one()
        link_accounts(
            session,
            inp.member_id,
            holder.member_id,
            rule="ASSOC-2",
            reason=f"shared_{inp.kind}",
            evidence=inp.kind,
            at=inp.at,
        )
        return RebindContactResult(
            changed=False,
            refusal=Refusal(
                "ASSOC-2",
                "identity_in_use",
                f"This {inp.kind} is registered to another seller account; the accounts have been linked"
                " for review.",
                retryable=False,
            ),
            linked_member_id=holder.member_id,
        )


@activity.defn
def claim_identity(inp: ClaimIdentityInput) -> ClaimIdentityResult:
    """Create the account row and its fingerprints in one transaction, or refuse.

    Idempotent: a retry of the same registration finds its own account (by registration id) and
    answers the same member id.
    """
    reg = inp.registration
    try:
        prints = identity_fingerprints(reg)
    except RefusedError as err:  # screening refused it already; never retry a malformed value
        return ClaimIdentityResult(member_id=None, refusal=err.refusal)
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
                retryable=False,
            )

        if reg.account_type == "sub":
            refusal = _sub_account_refusal(session, reg, prints)
            if refusal is not None:
                return refusal

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
        session.flush()
        record_consents(session, inp.member_id, reg.consents)  # DATA-1, with the account it belongs to
        if reg.account_type == "main":
            # Sub-accounts sell nothing and share their main account's identity (REG-9), so only a
            # main account claims the identity.
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
                retryable=False,
            )
    return ClaimIdentityResult(member_id=inp.member_id)
