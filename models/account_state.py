"""The account workflow's own state: the input it starts (and continues-as-new) with and
everything it carries across runs. Internal: callers read `AccountStatus` (models/contract.py).
"""

from dataclasses import dataclass, field
from datetime import datetime

from models.activity_io import AuditInput, BarIdentityInput, ExamPaper, NoticeInput, SendCodeInput
from models.auth import Credential
from models.contract import (
    AccountProfile,
    AssociationCaseInput,
    Attention,
    BanInput,
    ClosureReport,
    ExamPaperView,
    LoginInput,
    RequirementError,
    ViolationInput,
)
from models.policy import Policy
from models.refusals import Refusal
from models.review import ReviewItem


@dataclass
class ChartModel:
    """What the chart reads and writes; plain data so it travels through continue-as-new."""

    state: str = "registered"
    resume_state: str | None = None  # the state `dormant` / `suspended` interrupted
    products_released: int = 0
    products_to_open: int = 10


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
    reviews: list[ReviewItem] = field(default_factory=list)  # what waits for an operator (workflows/reviews.py)
    # Texts items name by key (ReviewEvidence.text_key): the appeal's letter and opening information,
    # read by signed-in operators through the `review_text` query; dropped with their item.
    review_texts: dict[str, str] = field(default_factory=dict)
    review_seq: int = 0  # ids of items with no natural reference (`needs_attention-<seq>`)
    # OPEN-1: refusals of this seller's photos by retryable reason code, since the last operator decision.
    photo_refusals: dict[str, int] = field(default_factory=dict)


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
    # ...and at this many signals or updates in one run, far below Temporal's caps (workflows/traffic.py).
    max_signals_per_run: int = 1_000
    max_updates_per_run: int = 500
    logins_shed: int = 0  # shed by the run before after it recorded its count: recorded by this one
    pending_logins: list[LoginInput] = field(default_factory=list)  # carried over by continue-as-new
    pending_facts: list[Fact] = field(
        default_factory=list
    )  # violations, reports, cases, bans not yet applied
    recent_commands: list[CommandAnswer] = field(default_factory=list)  # carried over by continue-as-new
    # REG-6: the registration's code mail that met a mail outage; the account mails it (never carried over).
    first_code: SendCodeInput | None = None
    # Signed by the registration (role system, `open_account`) over all of the above: the only way an
    # account's first run acts (workflows/admission.py). None on runs that continue one another.
    admission: Credential | None = None


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
