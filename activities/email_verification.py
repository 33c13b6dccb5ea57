"""REG-6: send a one-time code over SMTP and check it: single use, expiring, limited attempts."""

from __future__ import annotations

import hashlib
import hmac
import smtplib
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from temporalio import activity

from activities.identity.canonical import email_address
from activities.storage.db import engine
from models.activity_io import SendCodeInput, SendCodeResult, VerifyCodeInput, VerifyCodeResult
from models.email_verification import EmailCode
from models.refusals import Refusal, RefusedError
from models.settings import settings
from models.tables import Account, IdentityFingerprint


def _digest(member_id: str, code: str) -> str:
    return hmac.new(
        settings().fingerprint_secret, f"email-code:{member_id}:{code}".encode(), hashlib.sha256
    ).hexdigest()


def issue_code(member_id: str, issued_at: datetime) -> str:
    """The code of one issue, the same on every attempt: a keyed digest of the issue, so that no one
    without the secret can compute it, and a retry never sends a second, different code."""
    key = hmac.new(
        settings().fingerprint_secret,
        f"email-code-value:{member_id}:{_aware(issued_at).isoformat()}".encode(),
        hashlib.sha256,
    ).digest()
    return f"{int.from_bytes(key[:8], 'big') % 10**6:06d}"


def _matches(row: EmailCode, inp: VerifyCodeInput) -> bool:
    return hmac.compare_digest(row.code_digest, _digest(inp.member_id, inp.code.strip()))


def _aware(moment: datetime) -> datetime:
    # SQLite hands datetimes back without their zone; every time here is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _send(to: str, code: str, ttl_minutes: int) -> None:
    msg = EmailMessage()
    msg["From"] = settings().mail_from
    msg["To"] = to
    msg["Subject"] = "Your seller account verification code"
    msg.set_content(
        f"Your verification code is {code}.\n\n"
        f"It is valid for {ttl_minutes} minutes and can be used once. If you did not register a seller "
        "account, ignore this message."
    )
    with smtplib.SMTP(settings().smtp_host, settings().smtp_port, timeout=10) as smtp:
        smtp.send_message(msg)


def _registered_email(session: Session, member_id: str, email: str) -> bool:
    """REG-6: codes go only to the address registered for the account (or its main account)."""
    from activities.identity_registry import fingerprint

    account = session.get(Account, member_id)
    if account is None:
        return False
    owner = account.member_id if account.is_main else account.main_member_id
    found = session.exec(
        select(IdentityFingerprint).where(
            IdentityFingerprint.kind == "email",
            IdentityFingerprint.digest == fingerprint("email", email),
            IdentityFingerprint.member_id == owner,
        )
    ).first()
    return found is not None


@activity.defn
def send_verification_code(inp: SendCodeInput) -> SendCodeResult:
    """Issue a code and mail it to the registered address.

    One issue (member and issued_at, fixed by the workflow) has one code: a retry after the first
    attempt committed, or even mailed, finds the same row and mails the same code again, so the code
    the seller already holds stays good (issue 18, case 2).
    """
    try:
        # Defence in depth behind the update validators: only an address email-validator accepts (and
        # normalises) reaches a mail header; anything else is refused for good, never retried.
        address = email_address(inp.email)
    except RefusedError as err:
        return SendCodeResult(sent=False, refusal=err.refusal)
    code = issue_code(inp.member_id, inp.issued_at)
    expires_at = inp.issued_at + timedelta(minutes=inp.ttl_minutes)
    with Session(engine()) as session:
        if not _registered_email(session, inp.member_id, address):
            return SendCodeResult(
                sent=False,
                refusal=Refusal(
                    "REG-6", "email_not_registered", "Codes are sent only to the registered email."
                ),
            )
        # An earlier, still unused code stops working when a new one is issued.
        session.exec(  # type: ignore[call-overload]
            update(EmailCode)
            .where(EmailCode.member_id == inp.member_id, EmailCode.issued_at != inp.issued_at)  # type: ignore[arg-type]
            .values(superseded=True)
        )
        row = session.exec(
            select(EmailCode).where(
                EmailCode.member_id == inp.member_id, EmailCode.issued_at == inp.issued_at
            )
        ).first()
        if row is None:
            row = EmailCode(
                member_id=inp.member_id,
                code_digest=_digest(inp.member_id, code),
                issued_at=inp.issued_at,
                expires_at=expires_at,
            )
            session.add(row)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            raise  # a concurrent attempt of the same issue: let Temporal retry it
    _send(address, code, inp.ttl_minutes)
    return SendCodeResult(sent=True, expires_at=expires_at)


@activity.defn
def verify_email_code(inp: VerifyCodeInput) -> VerifyCodeResult:
    def refused(code: str, message: str) -> VerifyCodeResult:
        return VerifyCodeResult(verified=False, refusal=Refusal("REG-6", code, message))

    with Session(engine()) as session:
        row = session.exec(
            select(EmailCode)
            .where(EmailCode.member_id == inp.member_id, EmailCode.superseded == False)  # noqa: E712
            .order_by(EmailCode.issued_at.desc())  # type: ignore[attr-defined]
        ).first()
        if row is None:
            return refused("no_code", "No verification code has been sent; ask for a new one.")
        if row.used_at is not None:
            if _aware(row.used_at) == _aware(inp.now) and _matches(row, inp):
                # This very check, retried after it committed (the workflow's `now` is fixed for one
                # command): its answer was success, and stays so.
                return VerifyCodeResult(verified=True)
            return refused("code_used", "This code has already been used.")
        if row.attempts >= inp.max_attempts:
            return refused("too_many_attempts", "Too many wrong codes; ask for a new one.")
        if _aware(inp.now) > _aware(row.expires_at):
            return refused("code_expired", "The code has expired; ask for a new one.")
        # Count the attempt in the same statement that checks the limit, so parallel guesses cannot
        # exceed it.
        counted = session.exec(  # type: ignore[call-overload]
            update(EmailCode)
            .where(EmailCode.id == row.id, EmailCode.attempts < inp.max_attempts)  # type: ignore[arg-type]
            .values(attempts=EmailCode.attempts + 1)
        ).rowcount
        if not counted:
            session.rollback()
            return refused("too_many_attempts", "Too many wrong codes; ask for a new one.")
        if not _matches(row, inp):
            session.commit()
            return refused("code_wrong", "The code is not correct.")
        row.used_at = inp.now
        session.add(row)
        session.commit()
    return VerifyCodeResult(verified=True)
