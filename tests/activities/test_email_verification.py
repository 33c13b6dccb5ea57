"""REG-6 codes over real SMTP (the aiosmtpd sink) and a real SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from activities.email_verification import send_verification_code, verify_email_code
from devtools.smtp_sink import SmtpSink
from models.activity_io import SendCodeInput, VerifyCodeInput
from tests.support.registry_rows import new_member_id, registered_account

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def member() -> tuple[str, str]:
    member_id = new_member_id("E")
    email = f"owner-{member_id.lower()}@example.com"
    registered_account(member_id, store_name="Mail Test", at=T0, email=email)
    return member_id, email


def send(member_id: str, email: str, at: datetime = T0) -> None:
    result = send_verification_code(
        SendCodeInput(member_id=member_id, email=email, ttl_minutes=15, issued_at=at)
    )
    assert result.sent, result.refusal


def verify(member_id: str, code: str, now: datetime = T0 + timedelta(minutes=1), attempts: int = 5):  # type: ignore[no-untyped-def]
    return verify_email_code(VerifyCodeInput(member_id=member_id, code=code, now=now, max_attempts=attempts))


def test_code_arrives_by_mail_and_verifies_once(member: tuple[str, str], mailbox: SmtpSink) -> None:
    member_id, email = member
    send(member_id, email)
    code = mailbox.latest_code(email)
    assert verify(member_id, code).verified
    # Another check (a later command, so a later workflow time) finds the code used.
    again = verify(member_id, code, now=T0 + timedelta(minutes=2))
    assert (
        not again.verified
        and again.refusal
        and (again.refusal.rule, again.refusal.code) == ("REG-6", "code_used")
    )


def test_a_check_retried_after_it_committed_answers_success(
    member: tuple[str, str], mailbox: SmtpSink
) -> None:
    """The same command's check (same workflow time) retried after its commit: still success."""
    member_id, email = member
    send(member_id, email)
    code = mailbox.latest_code(email)
    assert verify(member_id, code).verified
    assert verify(member_id, code).verified
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    assert verify(member_id, wrong).refusal.code == "code_used"  # type: ignore[union-attr]


def test_a_send_retried_mails_the_same_code(member: tuple[str, str], mailbox: SmtpSink) -> None:
    """A retry of one issue (the worker died after mailing) sends the same code: the first stays good."""
    member_id, email = member
    send(member_id, email)
    first = mailbox.latest_code(email)
    send(member_id, email)
    assert mailbox.latest_code(email) == first
    assert verify(member_id, first).verified


def test_wrong_codes_count_and_lock_out_the_right_one(member: tuple[str, str], mailbox: SmtpSink) -> None:
    member_id, email = member
    send(member_id, email)
    code = mailbox.latest_code(email)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    assert [verify(member_id, wrong, attempts=3).refusal.code for _ in range(3)] == ["code_wrong"] * 3  # type: ignore[union-attr]
    locked = verify(member_id, code, attempts=3)
    assert not locked.verified and locked.refusal.code == "too_many_attempts"  # type: ignore[union-attr]


def test_expired_code_is_refused(member: tuple[str, str], mailbox: SmtpSink) -> None:
    member_id, email = member
    send(member_id, email)
    late = verify(member_id, mailbox.latest_code(email), now=T0 + timedelta(minutes=16))
    assert late.refusal and late.refusal.code == "code_expired"


def test_a_new_code_supersedes_the_old(member: tuple[str, str], mailbox: SmtpSink) -> None:
    member_id, email = member
    send(member_id, email)
    old = mailbox.latest_code(email)
    send(member_id, email, at=T0 + timedelta(minutes=2))
    mailbox.wait_for(email, after=1)
    new = mailbox.latest_code(email)
    if new != old:  # two random codes may coincide once in a million
        assert verify(member_id, old, now=T0 + timedelta(minutes=3)).refusal.code == "code_wrong"  # type: ignore[union-attr]
    assert verify(member_id, new, now=T0 + timedelta(minutes=3)).verified


def test_codes_go_only_to_the_registered_address(member: tuple[str, str], mailbox: SmtpSink) -> None:
    member_id, _ = member
    result = send_verification_code(
        SendCodeInput(member_id=member_id, email="someone.else@example.com", ttl_minutes=15, issued_at=T0)
    )
    assert not result.sent and result.refusal and result.refusal.code == "email_not_registered"
    assert mailbox.messages("someone.else@example.com") == []


def test_neither_code_nor_email_is_stored_in_clear(
    member: tuple[str, str], mailbox: SmtpSink, data_dir
) -> None:  # type: ignore[no-untyped-def]
    member_id, email = member
    send(member_id, email)
    code = mailbox.latest_code(email)
    db_bytes = b"".join(p.read_bytes() for p in data_dir.glob("seller.db*"))
    assert email.encode() not in db_bytes
    assert f"code {code}".encode() not in db_bytes and code.encode() not in db_bytes
