"""Review items: everything that waits for a person, as data (issue 25).

An item belongs to one account and lives in that account's workflow state; the account's search
attributes (`ReviewKinds`, `ReviewDueAt`, `ReviewOverdue`) make the queue a Web UI query, and its
`review_items` query returns the items themselves. An item's id is the one spelling of it everywhere
an operator sees it: `<kind>-<ref>`, e.g. `appeal-3f2a...` for the appeal of case `3f2a...`.

Evidence is named, never inlined: a blob reference (`sha256:...`) or a short text kept by the account
(the appeal letter), read on the evidence page by signed-in operators and written to the access log.
Identity values never appear here: an ASSOC-2 item says which kind of identity is shared, not its value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from models.auth import Signed

# What waits for a person. The rule each kind answers to is on the item (`rule`).
APPEAL = "appeal"  # ASSOC-5: an appeal filed against an association case
PHOTO_REVIEW = "photo_review"  # OPEN-1: the photo check was unsure, or the seller is stuck (3 refusals)
ASSOCIATION = "association"  # ASSOC-2/3: a link that policy asks a person to confirm
NEEDS_ATTENTION = "needs_attention"  # a step that ran out of retries (Attention)
KINDS = (APPEAL, PHOTO_REVIEW, ASSOCIATION, NEEDS_ATTENTION)

# An item's state.
OPEN = "open"
CLAIMED = "claimed"
DECIDED = "decided"

# Decisions an operator can give; `refuse` carries a reason code from the rule's own vocabulary.
APPROVE = "approve"
REFUSE = "refuse"


@dataclass
class ReviewEvidence:
    """One piece of evidence an item carries: what it is and where it is kept."""

    kind: str  # letter | opening_info | invoice | authentication_photo | listing | photo_measures | shared_identity
    label: str  # what the page shows above it (no personal data)
    ref: str | None = None  # a blob reference (sha256:...) when the evidence is a file
    text_key: str | None = None  # the name of a text the account keeps (e.g. the appeal letter)


@dataclass
class ReviewEvent:
    """One line of an item's decision history: opened, claimed, released, escalated, decided."""

    at: datetime
    event: str
    actor: str
    note: str = ""


@dataclass
class ReviewItem:
    item_id: str  # `<kind>-<ref>`: the one spelling of the item everywhere
    kind: str  # one of KINDS
    rule: str  # the rule the decision answers (ASSOC-5, OPEN-1, ...)
    member_id: str
    opened_at: datetime
    due_at: datetime  # opened_at + the policy's period for the kind
    state: str = OPEN  # open | claimed | decided
    evidence: list[ReviewEvidence] = field(default_factory=list)
    claimed_by: str | None = None
    decision: str | None = None  # approve | refuse
    decision_code: str | None = None  # the reason code of a refusal
    decided_by: str | None = None
    note: str = ""
    escalated: bool = False  # past due_at without a decision
    history: list[ReviewEvent] = field(default_factory=list)


@dataclass
class ClaimReviewInput(Signed):
    """An operator takes an item (or gives it back with `release`), so two do not decide it twice."""

    item_id: str
    operator: str
    release: bool = False


@dataclass
class DecideReviewInput(Signed):
    """An operator's decision on an item; the note is required and kept with the decision."""

    item_id: str
    decision: str  # approve | refuse
    operator: str
    note: str
    code: str | None = None  # for `refuse`: the reason code, from the rule's vocabulary
