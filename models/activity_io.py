"""Payloads between the workflows and their activities: internal, never sent by other services."""

from dataclasses import dataclass, field
from datetime import datetime

from models.auth import Signed
from models.contract import ExamPaperView, ProductInput, RegistrationInput
from models.policy import AuthenticationPolicy
from models.refusals import Refusal


@dataclass
class ExamPaper:
    """What the workflow keeps of a drawn paper: enough to grade it, nothing the seller may see."""

    paper_id: str
    bank_version: str
    question_ids: list[str]
    option_orders: list[list[int]]  # per question, the bank's option indexes in the order shown


@dataclass
class AuditInput:
    workflow_id: str
    seq: int
    at: datetime
    actor: str
    event: str
    rule: str
    reason: str
    policy_version: str
    from_state: str | None = None
    to_state: str | None = None
    detail: dict[str, str] = field(default_factory=dict)


@dataclass
class AuditBatch:
    """Audit rows written in one step: what a run records in bulk (refused and dropped signals), so that
    a flood of bad messages costs the account one step, not one per message."""

    records: list[AuditInput]


@dataclass
class NoticeInput:
    member_id: str
    key: str  # idempotency key: one notice per key, however often the activity runs
    kind: str
    rule: str
    message: str
    at: datetime


@dataclass
class ClaimIdentityInput:
    member_id: str
    registration: RegistrationInput
    at: datetime


@dataclass
class ClaimIdentityResult:
    member_id: str | None
    refusal: Refusal | None = None


@dataclass
class RebindContactInput:
    member_id: str
    kind: str
    value: str
    at: datetime


@dataclass
class RebindContactResult:
    changed: bool
    refusal: Refusal | None = None
    linked_member_id: str | None = None  # for operators: never shown to the seller


@dataclass
class PhotoCheckInput:
    photo_ref: str
    policy: AuthenticationPolicy
    member_id: str = ""  # whose photo: the registry finds its ID card and its known-face matches by it


@dataclass
class PhotoReview:
    """OPEN-1 could not decide: the cue that was unsure, the reason it would give if it were sure, and
    its measures, for the person who looks at the photo."""

    cue: str
    suspected: str
    measures: dict[str, float] = field(default_factory=dict)


@dataclass
class PhotoCheckResult:
    passed: bool
    refusal: Refusal | None = None
    measures: dict[str, float] = field(default_factory=dict)  # for operators and the bench
    # ASSOC-2 shared_face: other accounts (not of the same main, REG-9) whose face is this one's.
    linked_member_ids: list[str] = field(default_factory=list)
    # Set when the verdict is `review` (passed is False; `refusal` is then the photo_needs_review
    # notice, so a reader that knows only pass and refusal never takes it for a pass).
    review: PhotoReview | None = None

    @property
    def verdict(self) -> str:
        """pass, refused or review."""
        return "pass" if self.passed else "review" if self.review is not None else "refused"


@dataclass
class DrawExamInput:
    seed: str  # from workflow data (member id and attempt): the same attempt draws the same paper
    questions: int
    attempt: int


@dataclass
class DrawnExam:
    paper: ExamPaper
    view: ExamPaperView


@dataclass
class GradeExamInput:
    paper: ExamPaper
    answers: list[int]


@dataclass
class ExamGrade:
    score: int  # 0..100
    correct: int
    total: int


@dataclass
class ListProductInput:
    member_id: str
    product_id: str
    product: ProductInput
    at: datetime
    text_threshold: float
    image_max_distance: int


@dataclass
class ListProductResult:
    accepted: bool
    refusal: Refusal | None = None
    # For operators only (ASSOC-3 names the other store to them, never to the seller):
    duplicate_of_member_id: str | None = None
    duplicate_of_product_id: str | None = None
    text_similarity: float = 0.0
    image_distance: int = 64
    # what decided ASSOC-3: "text", "local_features", "regions" or "perceptual_hash"
    evidence: str = ""


@dataclass
class UnlistProductInput:
    member_id: str
    product_id: str


@dataclass
class SendCodeInput:
    """Holds the email address: travels encrypted, and the account workflow never keeps it."""

    member_id: str
    email: str
    ttl_minutes: int
    issued_at: datetime


@dataclass
class SendCodeResult:
    sent: bool
    expires_at: datetime | None = None
    refusal: Refusal | None = None


@dataclass
class LoginIpInput:
    """The addresses (and devices) of the logins applied in one workflow task, recorded by one activity."""

    member_id: str
    ips: list[str]
    at: datetime
    threshold: int
    devices: list[str] = field(default_factory=list)


@dataclass
class LoginIpResult:
    accounts_on_ip: int  # the most accounts seen on any of the addresses
    advised: list[str] = field(default_factory=list)


@dataclass
class VerifyCodeInput:
    member_id: str
    code: str
    now: datetime
    max_attempts: int


@dataclass
class VerifyCodeResult:
    verified: bool
    refusal: Refusal | None = None


@dataclass
class BarIdentityInput:
    member_id: str
    at: datetime


@dataclass
class ClearLinkInput:
    member_id: str
    linked_member_id: str
    operator: str
    at: datetime


@dataclass
class SweepInput:
    """DATA-2: one pass of the retention keeper, as of the workflow's clock."""

    at: datetime
    batch: int = 200  # rows of each kind per pass: each activity stays short, the keeper loops


@dataclass
class SweepReport:
    refused_photos: int = 0  # deleted this pass (blob and row)
    closed_accounts: int = 0  # erased this pass
    email_codes: int = 0
    appeal_evidence: int = 0  # decided cases whose invoices were deleted this pass
    data_keys: int = 0  # data keys of no account (refused registrations) destroyed this pass
    more: bool = False  # a batch was full: sweep again now
    face_templates: int = 0  # DATA-5: held after this pass
    sweep_every_hours: float = 24.0  # the policy's, read by the activity from the worker's policy source


@dataclass
class EraseInput:
    """DATA-4: erase a closed account's personal data now (or DATA-2 when its period has ended)."""

    member_id: str
    reason: str  # a code: seller_request | retention_ended | ...
    actor: str  # operator:<name> | system
    at: datetime


@dataclass
class ErasureReport:
    member_id: str
    erased: bool
    refusal: Refusal | None = None  # DATA-4: a live account is closed first
    deleted: dict[str, int] = field(default_factory=dict)  # kind of data -> rows or blobs removed
    kept: list[str] = field(default_factory=list)  # "KIND: RULE why", what a rule requires to keep


@dataclass
class WithdrawConsentInput(Signed):
    """DATA-1: the seller withdraws a consent (face: its template is deleted and further photos go to an
    operator). Signed by the seller for `withdraw_consent`; `at` is the workflow's clock."""

    member_id: str
    purpose: str = "face"
    at: datetime | None = None


@dataclass
class ConsentWithdrawal:
    member_id: str
    withdrawn: bool
    refusal: Refusal | None = None
    deleted: dict[str, int] = field(default_factory=dict)  # kind of data -> rows removed
