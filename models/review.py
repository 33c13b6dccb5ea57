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
DECISIONS = (APPROVE, REFUSE)
# Closed by the account itself, not by an operator: the case was decided another way (the appeal
# window, a closure), the seller's next photo passed, the step that needed attention succeeded.
RESOLVED = "resolved"

# What an operator's `refuse` may say, per rule: the codes the rule's automatic checks give, so that a
# seller reads the same reason whoever decided. OPEN-1: the photo check's own codes (without
# `photo_needs_review` and the file checks) and the registry's photo_reused, each with the sentence the
# seller reads and whether another photo can fix it; activities/identity_photo.py REASONS and
# activities/known_faces/index.py take them from here.
OPEN1_REFUSALS: dict[str, tuple[str, bool]] = {
    "too_dark": (
        "The photo is too dark. Take it again in better light.",
        True,
    ),
    "too_bright": (
        "The photo is too bright. Avoid direct light and take it again.",
        True,
    ),
    "card_not_found": (
        "We cannot see your ID card. Hold it beside your face, facing the camera.",
        True,
    ),
    "card_out_of_frame": (
        "Part of your ID card is outside the photo. Move it so the whole card is in the frame.",
        True,
    ),
    "card_corner_missing": (
        "A corner of the ID card is covered. Hold the card by its edges so all four corners show.",
        True,
    ),
    "two_documents": (
        "More than one card is in the photo. Hold only your own ID card.",
        True,
    ),
    "card_perspective_too_steep": (
        "The ID card is tilted too far. Hold it flat, facing the camera.",
        True,
    ),
    "too_blurry": (
        "The photo is blurred. Hold still and make sure the card is in focus.",
        True,
    ),
    "glare": (
        "Light reflects on the ID card. Tilt the card slightly to remove the glare.",
        True,
    ),
    "photocopy_or_greyscale": (
        "This looks like a copy or a black-and-white photo. Photograph your original card in colour.",
        True,
    ),
    "screen_recapture": (
        "This looks like a photo of a screen. Take a photo of yourself and your card directly.",
        True,
    ),
    "no_face": (
        "We cannot see your face. Face the camera with your face uncovered.",
        True,
    ),
    "multiple_people": (
        "More than one person is in the photo. Only you and your ID card may appear.",
        True,
    ),
    "face_not_clear": (
        "Your face is not clear: come closer to the camera with your whole face in the frame.",
        True,
    ),
    "face_covered": (
        "Part of your face is covered. Remove anything in front of your face and take the photo again.",
        True,
    ),
    "card_portrait_missing": (
        "We cannot see the portrait on your ID card. Show the side with your photo.",
        True,
    ),
    "card_text_unreadable": (
        "We cannot read the number on your ID card. Keep it in focus, free of glare and fingers.",
        True,
    ),
    "id_number_mismatch": (
        "The ID card in the photo is not the one you registered with.",
        False,
    ),
    "face_mismatch": (
        "Your face does not match the portrait on the ID card.",
        False,
    ),
    "photo_reused": (
        "This photo has already been used to authenticate another seller account. Take a new photo of"
        " yourself holding your own ID card.",
        True,
    ),
}
REFUSAL_CODES: dict[str, tuple[str, ...]] = {
    "OPEN-1": tuple(OPEN1_REFUSALS),
    "ASSOC-5": ("appeal_rejected", "invoices_not_genuine", "opening_info_false", "letter_insufficient"),
    "ASSOC-2": ("link_confirmed",),
    "ASSOC-3": ("link_confirmed",),
    "ENF-4": ("no_action_needed",),
}


def item_id(kind: str, ref: str) -> str:
    """The one spelling of an item: `<kind>-<ref>` (the appeal of case C1 is `appeal-C1`)."""
    return f"{kind}-{ref}"


@dataclass
class ReviewEvidence:
    """One piece of evidence an item carries: what it is and where it is kept."""

    kind: str  # letter | opening_info | invoice | authentication_photo | listing | photo_measures | shared_identity
    label: str  # what the page shows above it (no personal data)
    ref: str | None = None  # a blob reference (sha256:...) when the evidence is a file
    text_key: str | None = None  # the name of a text the account keeps (e.g. the appeal letter)
    measures: dict[str, float] = field(default_factory=dict)  # photo_measures: the check's figures


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
    decision: str | None = None  # approve | refuse | resolved (closed by the account, not an operator)
    decision_code: str | None = None  # the reason code of a refusal
    decided_by: str | None = None
    note: str = ""
    escalated: bool = False  # past due_at without a decision
    history: list[ReviewEvent] = field(default_factory=list)


@dataclass
class ReviewItems:
    """The `review_items` query's answer: the account's open items and its last decided ones."""

    items: list[ReviewItem] = field(default_factory=list)


@dataclass
class ReviewText:
    """The `review_text` query's answer: a text an item names by key (None once dropped)."""

    key: str
    text: str | None = None


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


def association_of(item: ReviewItem) -> tuple[str, str]:
    """An association item's other account and the link's cause, from its evidence."""
    found = {e.kind: e.label for e in item.evidence}
    return found.get("linked_account", ""), found.get("link_cause", "")
