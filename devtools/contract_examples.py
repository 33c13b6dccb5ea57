"""One valid example of every message, result and refusal of the contract (docs/contract/examples/).

Each is built as the dataclass and written by Temporal's JSON converter, so an example is exactly what a
Python caller sends or receives; tests/devtools/test_contract_schema.py validates each against its schema
and decodes it back into its dataclass (and through the boundary declaration where there is one).
Identity numbers are synthetic (devtools/identity_factory.py); credentials are signed with the test key
(bytes 0..31, key id `test-k1`), so the examples are stable from run to run.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.converter import default

from devtools.identity_factory import id_card_number, licence_number
from models.contract import AccountStatus as _AccountStatus
from models.contract import (
    AppealDecisionInput,
    AppealInput,
    AssociationCaseInput,
    AuthenticationResult,
    BanInput,
    BuyerScreening,
    BuyerScreeningResult,
    ChangeContactInput,
    ClosureReport,
    Consent,
    ExamAnswers,
    ExamPaperView,
    ExamQuestionView,
    ExamResult,
    ExamStartInput,
    LoginInput,
    PhotoSubmission,
    ProductInput,
    ProductReleaseResult,
    ProductRemoval,
    RegistrationInput,
    RegistrationResult,
    RequestCodeInput,
    Requirement,
    RequirementError,
    Requirements,
    RetryInput,
    RetryResult,
    UnbindInput,
    VerifyEmailInput,
    ViolationInput,
)
from models.policy import LifecyclePolicy, Policy
from models.refusals import Refusal
from models.review import (
    ClaimReviewInput,
    DecideReviewInput,
    ReviewEvent,
    ReviewEvidence,
    ReviewItem,
    ReviewItems,
    ReviewText,
)
from security import credentials

MEMBER = "M0123456789ABCDEF"
OTHER = "MZYXWVTSRQPNMKJHG"
AT = datetime(2027, 1, 24, 6, 0, tzinfo=UTC)
PHOTO = "sha256:" + "3f" * 32
# A test key (the 32 bytes 0..31): never a deployment's key.
TEST_KEY = credentials.SigningKey("test-k1", bytes(range(32)), frozenset(credentials.ROLES))


def _json(value: Any) -> Any:
    return json.loads(default().payload_converter.to_payloads([value])[0].data)


def _signed(message: Any, command: str, *, role: str = "seller", actor: str = MEMBER) -> Any:
    # A credential bound to its message where the credential format binds one (credential.md, v2).
    bound = {"payload": message} if "payload" in inspect.signature(credentials.sign).parameters else {}
    cred = credentials.sign(
        role=role,
        actor=actor,
        account=MEMBER,
        command=command,
        now=AT,
        ttl=timedelta(minutes=10),
        keys=(TEST_KEY,),
        **bound,
    )
    return credentials.signed(message, cred)


def _seller(command: str, message: Any) -> Any:
    return _signed(message, command)


def _service(command: str, message: Any, name: str = "risk-engine") -> Any:
    return _signed(message, command, role="service", actor=name)


def _operator(command: str, message: Any) -> Any:
    return _signed(message, command, role="operator", actor="lin")


APPEAL_ITEM = "appeal-C0123456789abcdef0123"


def _appeal_item() -> ReviewItem:
    return ReviewItem(
        item_id=APPEAL_ITEM,
        kind="appeal",
        rule="ASSOC-5",
        member_id=MEMBER,
        opened_at=AT,
        due_at=AT + timedelta(hours=72),
        state="claimed",
        evidence=[
            ReviewEvidence("letter", "the seller's letter", text_key="appeal-letter-C0123456789abcdef0123"),
            ReviewEvidence("opening_info", "store-opening information", text_key="appeal-opening-C0123456789abcdef0123"),
            ReviewEvidence("invoice", "invoice 1", ref=PHOTO),
        ],
        claimed_by="lin",
        history=[ReviewEvent(AT, "opened", "system"), ReviewEvent(AT + timedelta(hours=2), "claimed", "operator:lin")],
    )


def _status() -> _AccountStatus:
    return _AccountStatus(
        member_id=MEMBER,
        state="registered",
        resume_state=None,
        closed_reason=None,
        reasons=["OPEN-1 card_corner_missing: Show all four corners of the ID card."],
        waiting_for=[
            "identity authentication photo (OPEN-1)",
            "OPEN-1 authentication due at 2027-03-25T06:00:00+00:00",
        ],
        last_login_at=AT,
        login_count=1,
        products_released=0,
        policy_version="2026-11",
        penalty_points={"ip": 0, "trade": 0, "listing": 0, "strike": 0},
        requirements=Requirements(
            currently_due=[
                Requirement(
                    "authentication_photo",
                    "OPEN-1",
                    "a photo holding the ID card, face and card clear",
                    AT + timedelta(days=60),
                )
            ],
            eventually_due=[
                Requirement(
                    "login", "REG-4", "log in before the account is reclaimed", AT + timedelta(days=365)
                )
            ],
            errors=[
                RequirementError(
                    "authentication_photo",
                    "OPEN-1",
                    "card_corner_missing",
                    True,
                    "Show all four corners of the ID card.",
                )
            ],
        ),
    )


EXAMPLES: dict[str, Callable[[], Any]] = {
    "State": lambda: "authenticated",
    "Refusal": lambda: _json(
        Refusal("OPEN-1", "card_corner_missing", "Show all four corners of the ID card.")
    ),
    "Policy": lambda: _json(Policy(lifecycle=LifecyclePolicy(max_run_days=30))),
    "RegistrationInput": lambda: _json(
        RegistrationInput(
            request_id="5b0e6a8c2f7d4e1a9c3b8d7e6f5a4b3c",
            store_name="Garden Shop 4711",
            email="owner4711@example.com",
            mobile="+8613900004711",
            region="CN",
            licence_number=licence_number(4711),
            id_card_number=id_card_number(4711),
            consents=[Consent("identity", "identity-v1", AT), Consent("face", "face-v1", AT)],
        )
    ),
    "RegistrationResult": lambda: _json(
        RegistrationResult(accepted=True, member_id=MEMBER, workflow_id=f"seller-{MEMBER}")
    ),
    "AccountStatus": lambda: _json(_status()),
    "LoginInput": lambda: _json(
        _service("login", LoginInput("marketplace", "203.0.113.7", "device-42"), "login-service")
    ),
    "ViolationInput": lambda: _json(
        _service(
            "report_violation",
            ViolationInput("V-2027-0001", "listing", "ENF-2", points=2, evidence_ref="case-991", given_at=AT),
        )
    ),
    "ClosureReport": lambda: _json(
        _service(
            "report_closure", ClosureReport("R-2027-17", "REG-9", "account_rental", "ticket-5512", "trust")
        )
    ),
    "AssociationCaseInput": lambda: _json(
        _operator(
            "open_case", AssociationCaseInput("C0123456789abcdef0123", "shared_mobile", OTHER, "ASSOC-2")
        )
    ),
    "BanInput": lambda: _json(_operator("ban", BanInput(OTHER, OTHER, "serious_violation", [OTHER]))),
    "VerifyEmailInput": lambda: _json(_seller("verify_email", VerifyEmailInput("493027"))),
    "RequestCodeInput": lambda: _json(
        _seller("request_email_code", RequestCodeInput("owner4711@example.com"))
    ),
    "ChangeContactInput": lambda: _json(
        _seller("change_contact", ChangeContactInput("mobile", "+8613900004712"))
    ),
    "PhotoSubmission": lambda: _json(_seller("submit_authentication_photo", PhotoSubmission(PHOTO))),
    "AuthenticationResult": lambda: _json(AuthenticationResult(passed=True, state="authenticated")),
    "UnbindInput": lambda: _json(_seller("unbind_identity", UnbindInput("changed owners"))),
    "ExamStartInput": lambda: _json(_seller("start_exam", ExamStartInput())),
    "ExamPaperView": lambda: _json(
        ExamPaperView(
            "P-M0123-1",
            1,
            80,
            [ExamQuestionView(1, "REG-8", "Can an authenticated identity be unbound?", ["Yes", "No"])],
        )
    ),
    "ExamAnswers": lambda: _json(_seller("submit_exam", ExamAnswers("P-M0123-1", [1]))),
    "ExamResult": lambda: _json(ExamResult(False, 60, 80, "authenticated", AT + timedelta(hours=1))),
    "ProductInput": lambda: _json(
        _seller(
            "release_product",
            ProductInput("Ceramic teapot, 600 ml", "Hand-glazed stoneware.", "19.90", "kitchen", PHOTO),
        )
    ),
    "ProductReleaseResult": lambda: _json(
        ProductReleaseResult(True, "exam_passed", f"{MEMBER}-P1", products_released=1)
    ),
    "ProductRemoval": lambda: _json(_seller("remove_product", ProductRemoval(f"{MEMBER}-P1"))),
    "AppealInput": lambda: _json(
        _seller(
            "appeal",
            AppealInput(
                "C0123456789abcdef0123",
                "Opened in 2025 in Shenzhen; one warehouse.",
                [PHOTO],
                "The other store bought from the same supplier; invoices attached.",
            ),
        )
    ),
    "AppealDecisionInput": lambda: _json(
        _operator(
            "decide_appeal", AppealDecisionInput("C0123456789abcdef0123", True, "lin", "invoices check out")
        )
    ),
    "RetryInput": lambda: _json(_operator("retry", RetryInput("lin"))),
    "RetryResult": lambda: _json(RetryResult(2, [])),
    "BuyerScreening": lambda: _json(
        _service(
            "screen_buyer",
            BuyerScreening("B-88231", "US", mobile="+14155550134", email="buyer@example.com", at=AT),
            "signup-service",
        )
    ),
    "BuyerScreeningResult": lambda: _json(BuyerScreeningResult(False)),
    # Review items (issue 25): the queue's claims and decisions, and what the account shows of its items.
    "ClaimReviewInput": lambda: _json(_operator("claim_review", ClaimReviewInput(APPEAL_ITEM, "lin"))),
    "DecideReviewInput": lambda: _json(
        _operator(
            "decide_review",
            DecideReviewInput(APPEAL_ITEM, "refuse", "lin", "the invoices name another company", "invoices_not_genuine"),
        )
    ),
    "ReviewItem": lambda: _json(_appeal_item()),
    "ReviewItems": lambda: _json(ReviewItems([_appeal_item()])),
    "ReviewText": lambda: _json(ReviewText("appeal-letter-C0123456789abcdef0123", "We bought these goods from the maker.")),
}
