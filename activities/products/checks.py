"""OPEN-3: a product's listing input, checked (pure: the account workflow's validator and the
listing activity both use it)."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation

from models.contract import ProductInput
from models.refusals import Refusal

CATEGORIES = (
    "apparel", "beauty", "electronics", "home", "garden", "toys", "sports", "tools", "jewellery", "food",
    "books", "automotive", "pets", "office", "health",
)  # fmt: skip
MAX_TITLE, MAX_DESCRIPTION = 200, 5000
MAX_PRICE = Decimal("1000000")


def product_refusal(p: ProductInput) -> Refusal | None:
    def bad(code: str, message: str) -> Refusal:
        return Refusal("OPEN-3", code, message)

    for name, value in (("title", p.title), ("description", p.description), ("category", p.category)):
        if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co") and c not in "\n\t" for c in value):
            return bad("control_characters", f"The {name} contains control characters.")
    if not p.title.strip():
        return bad("empty_title", "A product needs a title.")
    if len(p.title) > MAX_TITLE:
        return bad("title_too_long", f"The title is longer than {MAX_TITLE} characters.")
    if len(p.description) > MAX_DESCRIPTION:
        return bad("description_too_long", f"The description is longer than {MAX_DESCRIPTION} characters.")
    if p.category not in CATEGORIES:
        return bad("bad_category", f"The category must be one of: {', '.join(CATEGORIES)}.")
    cents = price_cents(p.price)
    if cents is None:
        return bad(
            "bad_price", f"The price must be a positive amount up to {MAX_PRICE} with at most 2 decimals."
        )
    if not re.fullmatch(r"sha256:[0-9a-f]{64}", p.image_ref):
        return bad("bad_image_ref", "Upload the product image first and send its sha256 reference.")
    return None


def price_cents(price: str) -> int | None:
    try:
        value = Decimal(price.strip())
    except (InvalidOperation, AttributeError):
        return None
    if not value.is_finite() or value <= 0 or value > MAX_PRICE or value.as_tuple().exponent < -2:  # type: ignore[operator]
        return None
    return int(value * 100)
