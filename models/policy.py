"""The policy settings: every number RULES.md marks *policy*, loaded from one TOML file.

The dataclasses travel in workflow inputs, so a workflow keeps the policy it started with (DESIGN
decision 9) and a policy change never alters a decision already under way.
"""

import os
import tomllib
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, TypeVar

DEFAULT_POLICY_FILE = Path(__file__).with_name("policy.toml")


@dataclass(frozen=True)
class DormancyPolicy:
    inactivity_days: float = 365
    warning_days_before: list[float] = field(default_factory=lambda: [30, 7, 1])


@dataclass(frozen=True)
class AuthenticationPolicy:
    due_days: int = 60
    max_photo_bytes: int = 15_000_000
    max_image_pixels: int = 40_000_000
    min_width: int = 640
    min_height: int = 480
    face_match_tolerance: float = 0.55
    blur_min_variance: float = 60.0
    dark_max_mean: float = 50.0
    bright_min_mean: float = 215.0
    glare_max_fraction: float = 0.08
    corner_margin_fraction: float = 0.01
    detect_max_side: int = 800
    decode_max_side: int = 2400  # photos are decoded no larger than this (JPEG: by DCT scaling)
    max_decode_bytes: int = 100_000_000  # one decoded image in memory, estimated from the header
    max_jpeg_scans: int = 64  # progressive JPEGs have about 10; each scan costs a pass over the image
    known_faces: bool = True  # one photo, one account; one face, one main account (ASSOC-2)
    photo_reuse_max_distance: int = 3  # bits between perceptual hashes: "the same photo" (at most 3)
    shared_face_max_distance: float = 0.45  # face encodings closer than this: one person (ASSOC-2)
    card_aspect_tolerance: float = 0.2  # straightened aspect ratio within 20% of ID-1 (85.6 x 54)
    card_steep_side_ratio: float = 0.68  # opposite sides shorter/longer below this: held too obliquely
    card_steep_sure_ratio: float = 0.55  # ...and below this, surely so (between the two: review)
    card_min_colourfulness: float = 2.5  # colour spread over the frame below half this: a greyscale photo
    # chromaticity spread on the card below a quarter of this: a greyscale copy; below this: review
    # (tune split: copies 1.1 to 3.3 under any cast and sensor noise, genuine cards mostly 28 and more,
    # but a beige card whose inner print is a beige portrait and dark text 2.5: one hue is no proof)
    card_min_chroma_spread: float = 6.0
    screen_moire_min: float = 2.0  # strongest fine spectral peak over the strongest coarse one
    mouth_detail_min: float = 0.75  # detail at the mouth over detail at the eyes below this: covered
    mouth_detail_max: float = 1.2  # above this: an object's edge across the mouth
    ocr_min_confidence: float = 0.8  # below this a number read differently is "unreadable", not "mismatch"


@dataclass(frozen=True)
class ExamPolicy:
    pass_mark: int = 80
    questions_per_paper: int = 20
    retake_delay_hours: float = 1


@dataclass(frozen=True)
class StorePolicy:
    products_to_open: int = 10


@dataclass(frozen=True)
class AssociationPolicy:
    ip_advisory_threshold: int = 5
    appeal_window_days: float = 7
    text_similarity_threshold: float = 0.6
    image_hash_max_distance: int = 6
    # Causes of a link (shared_face, shared_email, shared_mobile, duplicate_product, ...) that a person
    # confirms before ASSOC-4 suspends anyone: an `association` review item instead of a case. Empty:
    # every link is a case at once (ASSOC-4 as written).
    confirm_causes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PenaltyPolicy:
    ip_close_points: int = 48
    trade_close_points: int = 48
    listing_freeze_every: int = 12
    listing_freeze_days: float = 7
    expiry_days: float = 365
    strike_freeze_days: list[float] = field(default_factory=lambda: [1, 7])
    strikes_to_close: int = 3
    false_buyer_points: int = 12  # REG-3: trade-ledger points for the seller behind a false buyer account


@dataclass(frozen=True)
class EmailVerificationPolicy:
    code_ttl_minutes: int = 15
    max_attempts: int = 5


@dataclass(frozen=True)
class StepsPolicy:
    """Nothing retries forever: an account step (activity) hit by infrastructure trouble is retried
    with backoff for at most this long, then recorded as needing attention (workflows/effects.py)."""

    retry_budget_seconds: float = 300
    max_attempts: int = 12


@dataclass(frozen=True)
class LifecyclePolicy:
    """Not a rulebook figure: how long one run of an account workflow lasts before it continues as new
    onto the deployed code (docs/DEPLOYING.md)."""

    # SELLER_MAX_RUN_DAYS: the test suite lengthens it, so that accounts a test leaves behind do not
    # ask the time-skipping server for a timer every 30 days in every later test.
    max_run_days: float = float(os.environ.get("SELLER_MAX_RUN_DAYS", "30"))


@dataclass(frozen=True)
class RetentionPolicy:
    """DATA-2 and DATA-5: how long personal data is kept once its purpose is met (docs/PRIVACY.md)."""

    refused_photo_days: float = 30  # an authentication photo that did not pass
    closed_account_days: float = 180  # a closed account's photos, face template and contacts
    email_code_days: float = 7  # REG-6 one-time codes, used or not
    appeal_evidence_days: float = 90  # DATA-2: an appeal's invoices, after its case is decided (ASSOC-5)
    # A data key of no account (a refused registration's: the applicant's numbers in its history), after
    # it was made: then destroyed, so that history no longer decodes (crypto-shredding, DATA-4).
    refused_registration_days: float = 30
    sweep_every_hours: float = 24  # how often the retention keeper looks
    face_filing_threshold: int = 100_000  # DATA-5: face templates held before the regulator's filing


@dataclass(frozen=True)
class ReviewPolicy:
    """Issue 25: how long each kind of review item may wait for an operator before it escalates, and
    when a seller's repeated photo refusals go to a person instead (OPEN-1, issue 26)."""

    appeal_due_hours: float = 72  # ASSOC-5: an appeal filed
    photo_review_due_hours: float = 24  # OPEN-1: a photo the check could not decide, or a stuck seller
    association_due_hours: float = 72  # ASSOC-2/3: a link policy asks a person to confirm
    needs_attention_due_hours: float = 8  # a step that ran out of retries
    photo_refusals_before_review: int = 3  # refusals for one retryable reason; the next photo goes to review

    def due_hours(self, kind: str) -> float:
        return float(getattr(self, f"{kind}_due_hours"))


@dataclass(frozen=True)
class Policy:
    version: str = "builtin"
    lifecycle: LifecyclePolicy = field(default_factory=LifecyclePolicy)
    dormancy: DormancyPolicy = field(default_factory=DormancyPolicy)
    authentication: AuthenticationPolicy = field(default_factory=AuthenticationPolicy)
    exam: ExamPolicy = field(default_factory=ExamPolicy)
    store: StorePolicy = field(default_factory=StorePolicy)
    association: AssociationPolicy = field(default_factory=AssociationPolicy)
    penalties: PenaltyPolicy = field(default_factory=PenaltyPolicy)
    email_verification: EmailVerificationPolicy = field(default_factory=EmailVerificationPolicy)
    steps: StepsPolicy = field(default_factory=StepsPolicy)
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    review: ReviewPolicy = field(default_factory=ReviewPolicy)


T = TypeVar("T")


def _build(cls: type[T], raw: dict[str, Any], where: str) -> T:
    known = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
    unknown = set(raw) - set(known)
    if unknown:
        # A misspelt key would otherwise silently keep its default.
        raise ValueError(f"policy: unknown setting(s) {sorted(unknown)} in [{where}]")
    kwargs: dict[str, Any] = {}
    for name, value in raw.items():
        spec = known[name]
        factory: Any = spec.default_factory
        default = factory() if callable(factory) else spec.default
        if is_dataclass(default):
            kwargs[name] = _build(type(default), value, name)
        else:
            kwargs[name] = value
    return cls(**kwargs)


def load_policy(path: Path | None = None) -> Policy:
    with open(path or DEFAULT_POLICY_FILE, "rb") as fh:
        return _build(Policy, tomllib.load(fh), "top")
