"""The public contract of the seller-account system: what other services send and receive.

Workflow ids, signal and update payloads, query results. Every payload is a dataclass so that it can grow
fields without breaking old callers (Temporal samples). Fields that hold personal data (email, mobile, ID
numbers, IP) only ever travel inside payloads encrypted by the codec (security/codec.py). The workflow's own
state is in models/account_state.py, activity payloads in models/activity_io.py.
"""

from dataclasses import dataclass, field
from datetime import datetime

from models.auth import Signed
from models.refusals import Refusal

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
class Requirement:
    """Something the seller (or a reviewer) still has to do, the rule that asks for it and by when."""

    requirement: str  # email_verification | authentication_photo | rules_exam | products | login | appeal
    rule: str
    description: str
    due_at: datetime | None = None
    item_id: str | None = None  # pending_review: the review item an operator decides (models/review.py)


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
class CommandResult:
    """The answer to an update: the state after the command, and the refusal if it was refused."""

    state: str
    accepted: bool = True
    refusal: Refusal | None = None
    detail: dict[str, str] = field(default_factory=dict)


@dataclass
class Consent:
    """DATA-1: the applicant accepted a notice (models/terms/notices/<version>.md) at this time."""

    purpose: str  # identity | face: each is consented to separately
    notice_version: str  # e.g. identity-v1, face-v1
    accepted_at: datetime


@dataclass
class RegistrationInput(Signed):
    """A registration command. Holds personal data: it only travels encrypted (payload codec). Signed by a
    registration service (`register`, security/credentials.py)."""

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
    # DATA-1: identity consent is required; without face consent authentication goes to an operator.
    consents: list[Consent] = field(default_factory=list)


@dataclass
class RegistrationResult:
    accepted: bool
    member_id: str | None = None
    workflow_id: str | None = None
    refusal: Refusal | None = None
    # Accepted, but the REG-6 code could not be mailed yet (`code_on_its_way`, retryable): the account
    # keeps trying through the outage and shows it in `status().requirements.errors` meanwhile.
    mail_error: Refusal | None = None


@dataclass
class ChangeContactInput(Signed):
    """Change the account's email or mobile (ASSOC-2: the new value may not belong to another seller)."""

    kind: str  # email | mobile
    value: str


@dataclass
class VerifyEmailInput(Signed):
    code: str


@dataclass
class PhotoSubmission(Signed):
    photo_ref: str  # `sha256:<hex>` in the blob store: the image itself never travels in history


@dataclass
class AuthenticationResult:
    """A photo that passed (one that fails is refused: RuleRefusal with the failing check's code)."""

    passed: bool  # always true since the contract of issue 29; answers of older releases may say false
    state: str
    failures: list[Refusal] = field(default_factory=list)  # always empty since issue 29
    # OPEN-1 `review` (issue 26): not passed, not refused; an operator decides this review item.
    review_item_id: str | None = None


@dataclass
class UnbindInput(Signed):
    reason: str = ""


@dataclass
class ExamStartInput(Signed):
    pass


@dataclass
class ExamAnswers(Signed):
    paper_id: str
    answers: list[int]  # per question, the index of the chosen option as shown


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
class ProductRemoval(Signed):
    product_id: str


@dataclass
class ProductReleaseResult:
    """A product released (one the checks refuse is refused: RuleRefusal, OPEN-3 or ASSOC-3)."""

    accepted: bool  # always true since the contract of issue 29; answers of older releases may say false
    state: str
    product_id: str | None = None
    products_released: int = 0
    refusal: Refusal | None = None  # always null since issue 29


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
class RequestCodeInput(Signed):
    """Ask for a new code; the address must be the one registered (REG-6: the registrant's own)."""

    email: str


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


@dataclass
class Attention:
    """A step that failed after its retry budget (infrastructure trouble): the account keeps living,
    operators see it (NeedsAttention) and the step is tried again by `retry` or the next attempt."""

    step: str  # the activity's summary, e.g. "REG-6 mail code"
    error: str  # the failure's kind and message, short
    at: datetime


@dataclass
class RetryInput(Signed):
    """Operator command: try again the steps that ran out of retries (signed by the operator)."""

    operator: str = ""  # informative: the audit names the credential's verified operator


@dataclass
class RetryResult:
    retried: int
    still_failing: list[str] = field(default_factory=list)


# Signals arrive undecoded (models/boundary.py parses them, so that a payload that does not fit is seen
# and audited): their payload types are declared here, for the contract's schemas (docs/contract/).
SIGNAL_PAYLOADS: dict[str, type] = {
    "report_violation": ViolationInput,
    "report_closure": ClosureReport,
    "open_case": AssociationCaseInput,
    "ban": BanInput,
}
