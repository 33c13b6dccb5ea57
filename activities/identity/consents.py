"""DATA-1 consent in the registry: which notices an account accepted, and whether face processing is
consented to now (a withdrawal ends it; the records stay as proof of what was consented before)."""

from __future__ import annotations

from sqlmodel import Session, select

from models.consent import ConsentRecord, notices
from models.contract import Consent, RegistrationInput
from models.refusals import Refusal


def consent_refusal(reg: RegistrationInput) -> Refusal | None:
    """DATA-1: every consent names a published notice of its own purpose; identity consent is required."""
    published = notices()
    for consent in reg.consents:
        if published.get(consent.notice_version) != consent.purpose:
            return Refusal(
                "DATA-1",
                "unknown_notice",
                f"The {consent.purpose} notice you accepted is not one we published: accept the current one.",
            )
    if not any(c.purpose == "identity" for c in reg.consents):
        return Refusal(
            "DATA-1",
            "identity_consent_missing",
            "Registration processes your ID card, licence, mobile and email: accept the identity notice"
            " to register.",
        )
    return None


def latest_per_purpose(consents: list[Consent]) -> list[Consent]:
    last: dict[str, Consent] = {}
    for c in sorted(consents, key=lambda c: c.accepted_at):
        last[c.purpose] = c
    return list(last.values())


def record_consents(session: Session, member_id: str, consents: list[Consent]) -> None:
    """The accepted notices as registry rows (in the caller's transaction)."""
    for c in latest_per_purpose(consents):
        session.add(
            ConsentRecord(
                member_id=member_id,
                purpose=c.purpose,
                notice_version=c.notice_version,
                accepted_at=c.accepted_at,
            )
        )


def consented(session: Session, member_id: str, purpose: str) -> bool:
    """The purpose is consented to now: an accepted notice not withdrawn since."""
    return (
        session.exec(
            select(ConsentRecord).where(
                ConsentRecord.member_id == member_id,
                ConsentRecord.purpose == purpose,
                ConsentRecord.withdrawn_at.is_(None),  # type: ignore[union-attr]
            )
        ).first()
        is not None
    )
