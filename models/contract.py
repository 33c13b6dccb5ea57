"""The public contract of the account workflow: its input, state, and message payloads.

Every payload is a dataclass so that it can grow fields without breaking old callers (Temporal
samples). Fields that hold personal data (email, mobile, ID numbers, IP) only ever travel inside
payloads encrypted by the codec (models/codec.py); the workflow's own state keeps none of them.
Every update and signal payload is `Signed`: it carries the sender's credential (models/credentials.py).
"""

from dataclasses import dataclass, field
from datetime import datetime

from models.credentials import Signed
from models.policy import AuthenticationPolicy, Policy
from models.refusals import Refusal


@dataclass
class ChartModel:
    """What the chart reads and writes; plain data so it travels through continue-as-new."""

    state: str = "registered"
    resume_state: str | None = None  # the state `dormant` / `suspended` interrupted
    products_released: int = 0
    products_to_open: int = 10


WORKFLOW_ID_PREFIX = "seller-"
LOGIN_CHANNELS = ("marketplace", "messenger")  # REG-4: either counts as a login


def account_workflow_id(member_id: str) -> str:
    return f"{WORKFLOW_ID_PREFIX}{member_id}"


@dataclass
class AccountProfile:
    """What the account workflow knows about its seller: no personal data."""

    member_id: str
    store_name: str
    region: str
    account_type: str = "main"  # main | sub (REG-9: sub-accounts cannot sell)
    main_member_id: str | None = None


@dataclass
class ExamPaper:
    """What the workflow keeps of a drawn paper: enough to grade it, nothing the seller may see."""

    paper_id: str
    bank_version: str
    question_ids: list[str]
    option_orders: list[list[int]]  # per question, the bank's option indexes in the order shown


@dataclass
class ExamQuestionView:
    number: int
    rule: str
    text: str
    options: list[str]


@dataclass
class ExamPaperView:
    """What the seller sees: the questions and shuffled options, no answers."""

    paper_id: str
    attempt: int
    pass_mark: int
    questions: list[ExamQuestionView]


@dataclass
class AssociationCase:
    case_id: str
    cause: str
    linked_member_id: str
    opened_at: datetime
    appeal_deadline: datetime
    appealed_at: datetime | None = None
    appeal_letter_chars: int = 0
    invoice_refs: list[str] = field(default_factory=list)
    decision: str | None = None  # approved | rejected | expired
    decided_by: str | None = None


@dataclass
class Hold:
    """Something keeping the account suspended: a penalty freeze (until a time) or a case."""

    hold_id: str
    kind: str  # freeze | case
    rule: str
    until: datetime | None = None


@dataclass
class Deduction:
    """ENF-2: points on one ledger (ip | trade | listing) or a strike, counted for expiry_days."""

    violation_id: str
    ledger: str  # ip | trade | listing | strike
    points: int
    given_at: datetime
    rule: str = "ENF-2"


@dataclass
class Requirement:
    """Something the seller (or a reviewer) still has to do, the rule that asks for it and by when."""

    requirement: str  # email_verification | authentication_photo | rules_exam | products | login | appeal
    rule: str
    description: str
    due_at: datetime | None = None


@dataclass
class RequirementError:
    """Why the last attempt at a requirement was refused (the refusal's reason code)."""

    requirement: str
    rule: str
    code: str
    retryable: bool
    message: str


@dataclass
class DisabledReason:
    """Why the account cannot trade: closed for good, suspended by holds and cases, or dormant."""

    state: str  # closed | suspended | dormant
    reason: str  # the closure reason, or the holds' kinds
    rules: list[str] = field(default_factory=list)
    until: datetime | None = None  # when the last timed hold lifts, if all are timed
    case_ids: list[str] = field(default_factory=list)  # ASSOC-4 cases keeping it suspended


@dataclass
class Requirements:
    """What the account still needs, as data (the shape payment platforms give connected accounts)."""

    currently_due: list[Requirement] = field(default_factory=list)
    eventually_due: list[Requirement] = field(default_factory=list)  # not yet asked for, with a deadline
    past_due: list[Requirement] = field(default_factory=list)
    pending_review: list[Requirement] = field(default_factory=list)  # an appeal awaiting an operator
    errors: list[RequirementError] = field(default_factory=list)
    disabled_reason: DisabledReason | None = None


@dataclass
class AccountState:
    """All of the workflow's state; handed to continue-as-new and restored in @workflow.init."""

    chart: ChartModel
    registered_at: datetime
    last_login_at: datetime
    login_count: int = 0
    audit_seq: int = 0
    closed_reason: str | None = None
    reasons: list[str] = field(default_factory=list)  # latest refusals/failures, for the seller
    errors: list[RequirementError] = field(default_factory=list)  # the last refused attempt per requirement
    warnings_sent: list[float] = field(default_factory=list)  # REG-4 warnings (days before) this year
    authentication_overdue: bool = False  # OPEN-1
    email_verified: bool = False  # REG-6
    exam_attempts: int = 0  # OPEN-2
    exam_paper: ExamPaper | None = None  # the paper being taken, if any
    exam_view: ExamPaperView | None = None  # the same paper as the seller sees it
    exam_retake_at: datetime | None = None  # OPEN-2: no retake before this
    product_seq: int = 0  # OPEN-3: product ids are <member id>-P<seq>
    products_live: list[str] = field(default_factory=list)  # listed product ids
    deductions: list[Deduction] = field(default_factory=list)  # ENF-2, pruned once expired
    seen_reports: list[str] = field(
        default_factory=list
    )  # violation/report ids applied (duplicates count once)
    listing_freeze_steps: int = 0  # ENF-2 (c): how many 12-point steps have frozen the store
    holds: list[Hold] = field(default_factory=list)  # what keeps the account suspended
    cases: list[AssociationCase] = field(default_factory=list)  # ASSOC-4/5
    attention: list["Attention"] = field(default_factory=list)  # steps that ran out of retries
    outbox: list["PendingEffect"] = field(default_factory=list)  # effects to write again (`retry`)


@dataclass
class LoginInput(Signed):
    channel: str  # marketplace | messenger
    ip: str
    device_id: str = ""  # the client's device identifier, if known (REG-3 matching)


@dataclass
class ViolationInput(Signed):
    """ENF-1/2: a violation reported by another service. The same violation id twice counts once."""

    violation_id: str
    category: str  # ip | trade | listing | ip_strike | false_buyer
    rule: str  # the rule it breaks, e.g. ENF-2 or REG-3
    points: int = 0
    severity: str = "normal"  # normal | serious (serious closes the account and bars its identity)
    evidence_ref: str = ""  # blob reference or the reporting service's reference
    given_at: datetime | None = None  # when the penalty was given (expiry runs from it); default: receipt


@dataclass
class ClosureReport(Signed):
    """REG-9 rental/lending/transfer, REG-10 Alibaba.com closure: the account is closed."""

    report_id: str
    rule: str  # REG-9 | REG-10
    reason: str  # account_rental | alibaba_closure
    evidence_ref: str = ""
    reported_by: str = "service"


@dataclass
class AssociationCaseInput(Signed):
    """ASSOC-2/3: this account is linked to another; opens a case (suspension + appeal window)."""

    case_id: str
    cause: str  # shared_email | shared_mobile | duplicate_product | ...
    linked_member_id: str
    rule: str = "ASSOC-4"


@dataclass
class BanInput(Signed):
    """ENF-3: a ban cascading from a closed account; names the account it came from."""

    origin_member_id: str
    via_member_id: str
    origin_reason: str
    chain: list[str] = field(default_factory=list)  # accounts already banned in this cascade


@dataclass
class Fact:
    """One inbound signal waiting to be applied, in arrival order (exactly one field is set)."""

    violation: ViolationInput | None = None
    closure: ClosureReport | None = None
    case: AssociationCaseInput | None = None
    ban: BanInput | None = None


@dataclass
class CommandAnswer:
    """A command's answer kept by request id (its update id), so that the same request sent again
    after a continue-as-new answers the same (workflows/command_memo.py)."""

    update_id: str
    update: str
    result_json: str | None = None  # the answer as JSON (payload converter), when it succeeded
    refusal: Refusal | None = None  # the refusal, when it was refused


@dataclass
class AccountInput:
    profile: AccountProfile
    policy: Policy
    registered_at: datetime
    state: AccountState | None = None  # set only by continue-as-new
    # Continue-as-new when the server suggests it, or at this many events, whichever comes first.
    max_history_events: int = 10_000
    # ...and after this many days in one run, so that every account reaches newly deployed code in
    # bounded time, however long it sleeps (docs/DEPLOYING.md). Absent from inputs of v1 runs: default.
    max_run_days: float = 30
    pending_logins: list[LoginInput] = field(default_factory=list)  # carried over by continue-as-new
    pending_facts: list[Fact] = field(
        default_factory=list
    )  # violations, reports, cases, bans not yet applied
    recent_commands: list[CommandAnswer] = field(default_factory=list)  # carried over by continue-as-new


@dataclass
class AccountStatus:
    member_id: str
    state: str
    resume_state: str | None
    closed_reason: str | None
    reasons: list[str]
    waiting_for: list[str]
    last_login_at: datetime
    login_count: int
    products_released: int
    policy_version: str
    penalty_points: dict[str, int] = field(default_factory=dict)  # ENF-2 live points per ledger
    holds: list[str] = field(default_factory=list)  # what keeps it suspended
    open_cases: list[str] = field(default_factory=list)  # ASSOC-4 cases not yet decided
    needs_attention: list[str] = field(default_factory=list)  # what failed after its retries, and why
    requirements: Requirements = field(default_factory=Requirements)  # what is due, as data


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
class NoticeInput:
    member_id: str
    key: str  # idempotency key: one notice per key, however often the activity runs
    kind: str
    rule: str
    message: str
    at: datetime


@dataclass
class CommandResult:
    """The answer to an update: the state after the command, and the refusal if it was refused."""

    state: str
    accepted: bool = True
    refusal: Refusal | None = None
    detail: dict[str, str] = field(default_factory=dict)


@dataclass
class RegistrationInput:
    """A registration command. Holds personal data: it only travels encrypted (payload codec)."""

    request_id: str  # the caller's idempotency key: the same request never registers twice
    store_name: str
    email: str
    mobile: str
    region: str  # ISO 3166-1 alpha-2; "CN" is mainland China (REG-2)
    licence_number: str
    id_card_number: str
    account_type: str = "main"  # main | sub
    main_member_id: str | None = None  # for a sub-account: its main account
    pre_approval_ref: str | None = None  # REG-2: operator-created approval for non-mainland applicants
    owned_brands: list[str] = field(default_factory=list)  # REG-1: brands the applicant has shown it owns


@dataclass
class RegistrationResult:
    accepted: bool
    member_id: str | None = None
    workflow_id: str | None = None
    refusal: Refusal | None = None


@dataclass
class ClaimIdentityInput:
    member_id: str
    registration: RegistrationInput
    at: datetime


@dataclass
class ClaimIdentityResult:
    member_id: str | None
    refusal: Refusal | None = None


# ---------------------------------------------------------------- commands (updates) and facts (signals)


@dataclass
class ChangeContactInput(Signed):
    """Change the account's email or mobile (ASSOC-2: the new value may not belong to another seller)."""

    kind: str  # email | mobile
    value: str


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
class VerifyEmailInput(Signed):
    code: str


@dataclass
class PhotoSubmission(Signed):
    photo_ref: str  # `sha256:<hex>` in the blob store: the image itself never travels in history


@dataclass
class PhotoCheckInput:
    photo_ref: str
    policy: AuthenticationPolicy
    member_id: str = ""  # whose photo: the registry finds its ID card and its known-face matches by it


@dataclass
class PhotoCheckResult:
    passed: bool
    refusal: Refusal | None = None
    measures: dict[str, float] = field(default_factory=dict)  # for operators and the bench
    # ASSOC-2 shared_face: other accounts (not of the same main, REG-9) whose face is this one's.
    linked_member_ids: list[str] = field(default_factory=list)


@dataclass
class AuthenticationResult:
    passed: bool
    state: str
    failures: list[Refusal] = field(default_factory=list)


@dataclass
class UnbindInput(Signed):
    reason: str = ""


@dataclass
class ExamStartInput(Signed):
    pass


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
class ExamAnswers(Signed):
    paper_id: str
    answers: list[int]  # per question, the index of the chosen option as shown


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
class ExamResult:
    passed: bool
    score: int
    pass_mark: int
    state: str
    retake_at: datetime | None = None


@dataclass
class ProductInput(Signed):
    """A product release (OPEN-3). The image is uploaded to the blob store first; only its reference travels."""

    title: str
    description: str
    price: str  # decimal string, e.g. "19.90"
    category: str
    image_ref: str


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


@dataclass
class UnlistProductInput:
    member_id: str
    product_id: str


@dataclass
class ProductRemoval(Signed):
    product_id: str


@dataclass
class ProductReleaseResult:
    accepted: bool
    state: str
    product_id: str | None = None
    products_released: int = 0
    refusal: Refusal | None = None


@dataclass
class AppealInput(Signed):
    case_id: str
    store_opening_info: str
    invoice_refs: list[str]  # blob references of the purchase invoices
    letter: str


@dataclass
class AppealDecisionInput(Signed):
    case_id: str
    approved: bool
    operator: str
    note: str = ""


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
class RequestCodeInput(Signed):
    """Ask for a new code; the address must be the one registered (REG-6: the registrant's own)."""

    email: str


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
class BuyerScreening(Signed):
    """REG-3: a new buyer account's details, screened against seller identities. Personal data:
    travels encrypted, stored only as fingerprints."""

    buyer_id: str
    region: str
    id_card_number: str = ""
    mobile: str = ""
    email: str = ""
    device_id: str = ""
    at: datetime | None = None


@dataclass
class BuyerScreeningResult:
    closed: bool
    seller_member_id: str | None = None
    refusal: Refusal | None = None  # ENF-4: the request's credential did not allow it


# ---------------------------------------------------------------- failures that ran out of retries


@dataclass
class Attention:
    """A step that failed after its retry budget (infrastructure trouble): the account keeps living,
    operators see it (NeedsAttention) and the step is tried again by `retry` or the next attempt."""

    step: str  # the activity's summary, e.g. "REG-6 mail code"
    error: str  # the failure's kind and message, short
    at: datetime


@dataclass
class CascadeStep:
    reason: str
    chain: list[str] = field(default_factory=list)
    origin: str | None = None


@dataclass
class PendingEffect:
    """A system effect (no personal data) not yet written; exactly one field is set."""

    audit: AuditInput | None = None
    notice: NoticeInput | None = None
    bar: BarIdentityInput | None = None
    cascade: CascadeStep | None = None


@dataclass
class RetryInput(Signed):
    """Operator command: try again the steps that ran out of retries (signed by the operator)."""

    operator: str = ""  # informative: the audit names the credential's verified operator


@dataclass
class RetryResult:
    retried: int
    still_failing: list[str] = field(default_factory=list)
