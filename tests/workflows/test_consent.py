"""DATA-1 on the time-skipping server: consent is data; without face consent no face is compared.

Real sellers register through a real worker; the photo check is the real activity on real photos.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

import seller_client
from activities.consent import withdraw_consent as withdraw_activity
from activities.identity_photo import check_authentication_photo
from commands.privacy import export_member, withdraw_consent
from devtools.identity_factory import applicant
from devtools.smtp_sink import SmtpSink
from models.activity_io import PhotoCheckInput, PhotoCheckResult, WithdrawConsentInput
from models.consent import ConsentRecord, current_notice, notice_text
from models.contract import Consent, RegistrationInput, VerifyEmailInput
from models.known_faces import FaceTemplate
from models.policy import load_policy
from models.refusals import RefusedError
from security import credentials
from tests.conftest import new_worker
from tests.support.accounts import photo
from tests.workflows.test_retention import ref_of, rows
from workflows.seller_account import SellerAccount

POLICY = load_policy().authentication
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def identity_only() -> list[Consent]:
    return [Consent("identity", current_notice("identity"), NOW)]


async def verified(env: WorkflowEnvironment, tq: str, mailbox: SmtpSink, reg: RegistrationInput) -> str:
    result = await seller_client.register(env.client, reg, task_queue=tq)
    assert result.member_id, result.refusal
    code = await asyncio.to_thread(mailbox.latest_code, reg.email)
    await seller_client.command(env.client, result.member_id, SellerAccount.verify_email, VerifyEmailInput(code))
    return result.member_id


def check(member: str, path: Path) -> PhotoCheckResult:
    """The photo check as the account's workflow runs it (the photo is in the blob store already)."""
    return check_authentication_photo(PhotoCheckInput(ref_of(path), POLICY, member_id=member))


def test_the_notices_are_versioned_files_one_current_per_purpose() -> None:
    for purpose in ("identity", "face"):
        version = current_notice(purpose)
        assert version.startswith(f"{purpose}-v") and f"(version {version})" in notice_text(version)


async def test_registration_needs_identity_consent_to_a_published_notice(time_env: WorkflowEnvironment) -> None:
    async with new_worker(time_env.client) as worker:
        for consents, code in (
            ([Consent("face", "face-v1", NOW)], "identity_consent_missing"),
            ([Consent("identity", "identity-v0", NOW)], "unknown_notice"),
            ([Consent("identity", "face-v1", NOW)], "unknown_notice"),
        ):
            answer = await seller_client.register(
                time_env.client, applicant(consents=consents), task_queue=worker.task_queue
            )
            assert answer.refusal is not None and (answer.refusal.rule, answer.refusal.code) == ("DATA-1", code)


async def test_without_face_consent_the_photo_goes_to_review_never_the_face_comparison(
    time_env: WorkflowEnvironment, mailbox: SmtpSink, tmp_path: Path
) -> None:
    reg = applicant(consents=identity_only())
    async with new_worker(time_env.client) as worker:
        member = await verified(time_env, worker.task_queue, mailbox, reg)
        # The face in this photo is not the card's: the face comparison would refuse it (face_mismatch).
        other_face = photo(tmp_path, "other_portrait", reg.id_card_number)
        try:
            answer = await seller_client.submit_photo(time_env.client, member, other_face)
            assert not answer.passed
        except RefusedError as err:  # before the review queue (issue 25) a review answers as a refusal
            assert err.refusal.code == "no_face_consent"
    assert [(r.purpose, r.notice_version, r.withdrawn_at) for r in rows(ConsentRecord, member_id=member)] == [
        ("identity", "identity-v1", None)
    ]
    verdict = check(member, other_face)
    assert verdict.verdict == "review" and verdict.review is not None
    assert (verdict.review.cue, verdict.refusal and verdict.refusal.rule) == ("no_face_consent", "DATA-1")
    assert verdict.measures == {}, "no face was looked for, measured or compared"
    assert not rows(FaceTemplate, member_id=member), "no template made"


async def test_withdrawing_face_consent_deletes_the_template_and_sends_later_photos_to_review(
    time_env: WorkflowEnvironment, mailbox: SmtpSink, tmp_path: Path
) -> None:
    reg = applicant()
    async with new_worker(time_env.client) as worker:
        member = await verified(time_env, worker.task_queue, mailbox, reg)
        passing = photo(tmp_path, "pass_obama", reg.id_card_number)
        assert (await seller_client.submit_photo(time_env.client, member, passing)).passed
        assert rows(FaceTemplate, member_id=member)

        # Another seller's credential does not withdraw this seller's consent (judged as of now: just signed).
        other = credentials.for_command("withdraw_consent", "M0000000000000OTHER")
        forged = withdraw_activity(
            credentials.signed(WithdrawConsentInput(member_id=member, at=datetime.now(UTC)), other)
        )
        assert not forged.withdrawn and forged.refusal is not None
        assert forged.refusal.code == "credential_wrong_account" and rows(FaceTemplate, member_id=member)
        # The seller's credential, signed for another request, carries no other one (security/binding.py).
        elsewhere = credentials.sign_message(
            WithdrawConsentInput(member_id=member, purpose="identity"), command="withdraw_consent", account=member
        )
        carried = withdraw_activity(dataclasses.replace(elsewhere, purpose="face", at=datetime.now(UTC)))
        assert carried.refusal is not None and carried.refusal.code == "credential_wrong_payload"
        assert rows(FaceTemplate, member_id=member)

        first = await withdraw_consent(time_env.client, member, task_queue=worker.task_queue)
        again = await withdraw_consent(time_env.client, member, task_queue=worker.task_queue)
        data = await export_member(time_env.client, member, tmp_path / "export")
    assert first.withdrawn and first.deleted == {"face_template": 1}
    assert again.withdrawn and again.deleted == {}, "idempotent: nothing left to delete"
    assert not rows(FaceTemplate, member_id=member)
    face = [r for r in rows(ConsentRecord, member_id=member) if r.purpose == "face"]
    assert len(face) == 1 and face[0].withdrawn_at is not None, "the record stays, withdrawn"
    assert {(c["purpose"], c["withdrawn_at"] is None) for c in data["consentrecord"]} == {
        ("identity", True),
        ("face", False),
    }
    later = check(member, passing)
    assert later.verdict == "review" and later.review is not None and later.review.cue == "no_face_consent"
    assert not rows(FaceTemplate, member_id=member), "no template made again"
