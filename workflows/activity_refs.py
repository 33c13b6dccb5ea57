"""The activities the workflows call, by name and message types: what a workflow needs of an activity,
without importing the module that implements it (and opens the database). The names are the
activities' own (Temporal records them in history; they never change); tests/workflows/test_activity_refs.py
checks each against the definition the worker registers, name and types."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from models.activity_io import (
    AuditBatch,
    AuditInput,
    BarIdentityInput,
    ClaimIdentityInput,
    ClaimIdentityResult,
    ClearLinkInput,
    ConsentWithdrawal,
    DrawExamInput,
    DrawnExam,
    EraseInput,
    ErasureReport,
    ExamGrade,
    GradeExamInput,
    ListProductInput,
    ListProductResult,
    LoginIpInput,
    LoginIpResult,
    NoticeInput,
    PhotoCheckInput,
    PhotoCheckResult,
    RebindContactInput,
    RebindContactResult,
    SendCodeInput,
    SendCodeResult,
    SweepInput,
    SweepReport,
    UnlistProductInput,
    VerifyCodeInput,
    VerifyCodeResult,
    WithdrawConsentInput,
)
from models.admission import AdmitAccountInput, VerifyRegistrationInput
from models.auth import CredentialVerdict, VerifyCredentialsInput
from models.contract import BuyerScreening, BuyerScreeningResult, RegistrationInput
from models.healing import HealInput, HealReport, StrandedAccounts, StrandedQuery
from models.policy import Policy
from models.refusals import Refusal

In = TypeVar("In")
Out = TypeVar("Out")


@dataclass(frozen=True)
class ActivityRef(Generic[In, Out]):
    name: str
    input: Any  # the activity's one parameter's type
    output: Any  # its result's type (the payload converter decodes the result to it)


RECORD_AUDIT = ActivityRef[AuditInput, bool]("record_audit", AuditInput, bool)
RECORD_AUDITS = ActivityRef[AuditBatch, int]("record_audits", AuditBatch, int)
SEND_NOTICE = ActivityRef[NoticeInput, bool]("send_notice", NoticeInput, bool)
BAR_IDENTITY = ActivityRef[BarIdentityInput, int]("bar_identity", BarIdentityInput, int)
ACTIVE_LINKS = ActivityRef[str, list[str]]("active_links", str, list[str])
CLEAR_LINK = ActivityRef[ClearLinkInput, int]("clear_link", ClearLinkInput, int)
DRAW_EXAM_PAPER = ActivityRef[DrawExamInput, DrawnExam]("draw_exam_paper", DrawExamInput, DrawnExam)
GRADE_EXAM = ActivityRef[GradeExamInput, ExamGrade]("grade_exam", GradeExamInput, ExamGrade)
CHECK_AUTHENTICATION_PHOTO = ActivityRef[PhotoCheckInput, PhotoCheckResult](
    "check_authentication_photo", PhotoCheckInput, PhotoCheckResult
)
ENROL_REVIEWED_PHOTO = ActivityRef[PhotoCheckInput, PhotoCheckResult](
    "enrol_reviewed_photo", PhotoCheckInput, PhotoCheckResult
)
LIST_PRODUCT = ActivityRef[ListProductInput, ListProductResult]("list_product", ListProductInput, ListProductResult)
UNLIST_PRODUCT = ActivityRef[UnlistProductInput, bool]("unlist_product", UnlistProductInput, bool)
SEND_VERIFICATION_CODE = ActivityRef[SendCodeInput, SendCodeResult](
    "send_verification_code", SendCodeInput, SendCodeResult
)
VERIFY_EMAIL_CODE = ActivityRef[VerifyCodeInput, VerifyCodeResult]("verify_email_code", VerifyCodeInput, VerifyCodeResult)
REBIND_CONTACT = ActivityRef[RebindContactInput, RebindContactResult](
    "rebind_contact", RebindContactInput, RebindContactResult
)
RECORD_LOGIN_IP = ActivityRef[LoginIpInput, LoginIpResult]("record_login_ip", LoginIpInput, LoginIpResult)
CLAIM_IDENTITY = ActivityRef[ClaimIdentityInput, ClaimIdentityResult](
    "claim_identity", ClaimIdentityInput, ClaimIdentityResult
)
SCREEN_REGISTRATION = ActivityRef[RegistrationInput, Refusal | None](
    "screen_registration", RegistrationInput, Refusal | None
)
SCREEN_BUYER = ActivityRef[BuyerScreening, BuyerScreeningResult]("screen_buyer", BuyerScreening, BuyerScreeningResult)
VERIFY_CREDENTIALS = ActivityRef[VerifyCredentialsInput, list[CredentialVerdict]](
    "verify_credentials", VerifyCredentialsInput, list[CredentialVerdict]
)
SWEEP_RETENTION = ActivityRef[SweepInput, SweepReport]("sweep_retention", SweepInput, SweepReport)
ERASE_MEMBER = ActivityRef[EraseInput, ErasureReport]("erase_member", EraseInput, ErasureReport)
ADMIT_ACCOUNT = ActivityRef[AdmitAccountInput, Refusal | None]("admit_account", AdmitAccountInput, Refusal | None)
VERIFY_REGISTRATION = ActivityRef[VerifyRegistrationInput, Refusal | None](
    "verify_registration", VerifyRegistrationInput, Refusal | None
)
POLICY_IN_FORCE = ActivityRef[str, Policy]("policy_in_force", str, Policy)
WITHDRAW_CONSENT = ActivityRef[WithdrawConsentInput, ConsentWithdrawal](
    "withdraw_consent", WithdrawConsentInput, ConsentWithdrawal
)
HEAL_ACCOUNT = ActivityRef[HealInput, HealReport]("heal_account", HealInput, HealReport)
STRANDED_ACCOUNTS = ActivityRef[StrandedQuery, StrandedAccounts]("stranded_accounts", StrandedQuery, StrandedAccounts)
