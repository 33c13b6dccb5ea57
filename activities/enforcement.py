"""ENF-1/3, REG-5, ASSOC-5, REG-3: the registry side of enforcement.

The account workflows decide; these activities record what must outlive them or be shared between
accounts: barred identities (REG-5), which links a cascade follows (ENF-3) and which an approved
appeal cleared (ASSOC-5), and the screening of buyer accounts against seller identities (REG-3).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from temporalio import activity

from activities.identity.canonical import ANY_REGION
from activities.identity_registry import candidate_fingerprints
from activities.login_ip import device_digest
from activities.storage.db import engine
from models.activity_io import BarIdentityInput, ClearLinkInput
from models.contract import BuyerScreening, BuyerScreeningResult
from models.tables import AccountLink, BarredFingerprint, BuyerAccount, IdentityFingerprint, LoginDevice

MAINLAND_CHINA = "CN"


@activity.defn
def bar_identity(inp: BarIdentityInput) -> int:
    """REG-5: every identity fingerprint of the closed account is barred. Idempotent; returns how many
    fingerprints are barred for it."""
    with Session(engine()) as session:
        prints = session.exec(
            select(IdentityFingerprint).where(IdentityFingerprint.member_id == inp.member_id)
        ).all()
        for fp in prints:
            exists = session.exec(
                select(BarredFingerprint).where(
                    BarredFingerprint.kind == fp.kind, BarredFingerprint.digest == fp.digest
                )
            ).first()
            if exists is None:
                session.add(
                    BarredFingerprint(
                        kind=fp.kind, digest=fp.digest, origin_member_id=inp.member_id, barred_at=inp.at
                    )
                )
        try:
            session.commit()
        except IntegrityError:
            session.rollback()  # a concurrent attempt barred them first
        return len(prints)


@activity.defn
def active_links(member_id: str) -> list[str]:
    """ENF-3: the accounts an account is linked to (shared identity, duplicate products), minus the
    links an approved appeal cleared. Sorted, so the cascade is the same on every replay."""
    with Session(engine()) as session:
        links = session.exec(
            select(AccountLink).where(
                (AccountLink.member_a == member_id) | (AccountLink.member_b == member_id),
                AccountLink.cleared_at.is_(None),  # type: ignore[union-attr]
            )
        ).all()
    return sorted({link.member_b if link.member_a == member_id else link.member_a for link in links})


@activity.defn
def clear_link(inp: ClearLinkInput) -> int:
    """ASSOC-5: an approved appeal clears the links between the two accounts. Idempotent: returns how
    many links this decision cleared, the same on a retry after its commit."""
    a, b = sorted((inp.member_id, inp.linked_member_id))
    with Session(engine()) as session:
        links = session.exec(
            select(AccountLink).where(AccountLink.member_a == a, AccountLink.member_b == b)
        ).all()
        open_links = [link for link in links if link.cleared_at is None]
        for link in open_links:
            link.cleared_at = inp.at
            link.cleared_by = inp.operator
            session.add(link)
        session.commit()
        return sum(
            1
            for link in links
            if link.cleared_by == inp.operator
            and link.cleared_at is not None
            and link.cleared_at.replace(tzinfo=None) == inp.at.replace(tzinfo=None)
        )


@activity.defn
def screen_buyer(inp: BuyerScreening) -> BuyerScreeningResult:
    """REG-3: an overseas buyer account that matches a seller's identity or login device is a false
    buyer account: it is closed, and the matching seller is named so it receives a violation."""
    with Session(engine()) as session:
        existing = session.get(BuyerAccount, inp.buyer_id)
        if existing is not None:  # a retry, or the same buyer screened twice
            return BuyerScreeningResult(
                closed=existing.state == "closed", seller_member_id=existing.matched_member_id
            )
        seller = None
        if inp.region.strip().upper() != MAINLAND_CHINA:
            # The seller's identity was claimed under mainland rules; the buyer's values may be
            # written for either region. A value valid under neither cannot match anything.
            regions = (MAINLAND_CHINA, inp.region.strip().upper(), ANY_REGION)
            digests = [
                digest
                for kind, value in (
                    ("id_card", inp.id_card_number),
                    ("mobile", inp.mobile),
                    ("email", inp.email),
                )
                if value
                for digest in candidate_fingerprints(kind, value, regions)
            ]
            if digests:
                match = session.exec(
                    select(IdentityFingerprint).where(col(IdentityFingerprint.digest).in_(digests))
                ).first()
                seller = match.member_id if match else None
            if seller is None and inp.device_id:
                device = session.exec(
                    select(LoginDevice).where(LoginDevice.device_digest == device_digest(inp.device_id))
                ).first()
                seller = device.member_id if device else None
        session.add(
            BuyerAccount(
                buyer_id=inp.buyer_id,
                region=inp.region.strip().upper(),
                state="closed" if seller else "active",
                closed_reason="false_buyer_registration" if seller else None,
                matched_member_id=seller,
                screened_at=inp.at or datetime.now(UTC),
            )
        )
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            again = session.get(BuyerAccount, inp.buyer_id)
            assert again is not None
            return BuyerScreeningResult(
                closed=again.state == "closed", seller_member_id=again.matched_member_id
            )
        return BuyerScreeningResult(closed=seller is not None, seller_member_id=seller)
