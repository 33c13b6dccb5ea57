"""Review items' vocabulary (models/review.py) is the rules' own: an operator refusing a photo gives the
codes, sentences and retryability the automatic check gives, so a seller reads one reason whoever decided."""

from __future__ import annotations

from activities.identity_photo import REASONS
from activities.known_faces.index import PHOTO_REUSED
from models import review as rv
from models.policy import load_policy


def test_an_operators_photo_refusal_speaks_the_checks_vocabulary() -> None:
    checks = {code: value for code, value in REASONS.items() if code != "photo_needs_review"}
    checks[PHOTO_REUSED.code] = (PHOTO_REUSED.message, PHOTO_REUSED.retryable)
    for code, (sentence, retryable) in rv.OPEN1_REFUSALS.items():
        assert code in checks, code
        assert (sentence, retryable) == checks[code], code
    assert "photo_needs_review" not in rv.REFUSAL_CODES["OPEN-1"]


def test_every_kind_has_a_due_period_in_the_policy() -> None:
    policy = load_policy().review
    assert all(policy.due_hours(kind) > 0 for kind in rv.KINDS)
    assert rv.item_id(rv.APPEAL, "C1") == "appeal-C1"
