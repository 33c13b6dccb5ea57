"""Synthetic product listings for tests, the demo and the ASSOC-3 bench: distinct products, and near
duplicates of them made the way copycats make them (reworded title, resized, recompressed, cropped).
Deterministic: the same number gives the same product."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw, ImageFilter

from models.contract import ProductInput

ADJECTIVES = [
    "stainless", "bamboo", "ceramic", "wireless", "portable", "vintage", "ergonomic", "waterproof", "foldable",
    "organic", "handmade", "magnetic", "insulated", "adjustable", "rechargeable", "compact", "leather", "wooden",
    "silicone", "cotton", "linen", "glass", "copper", "titanium", "solar", "smart", "mini", "heavy-duty",
]  # fmt: skip
NOUNS = [
    "water bottle", "desk lamp", "phone stand", "garden hose", "yoga mat", "tea kettle", "backpack", "wall clock",
    "cutting board", "bluetooth speaker", "plant pot", "bike light", "coffee grinder", "pillow cover",
    "kitchen scale", "pet bowl", "hair dryer", "travel mug", "camping chair", "tool box", "notebook",
    "sunglasses", "wallet", "umbrella", "keyboard", "mouse pad", "lunch box", "picture frame", "candle holder",
]  # fmt: skip
FEATURES = [
    "keeps drinks cold for 24 hours", "fits in any bag", "easy to clean", "two year warranty",
    "gift box included", "made from recycled materials", "dishwasher safe", "ships in 48 hours",
    "available in six colours", "suitable for indoor and outdoor use", "lightweight design", "anti-slip base",
    "long battery life", "food grade materials", "tool-free assembly", "scratch resistant finish",
]  # fmt: skip
COLOURS = [
    "red", "navy", "sky blue", "olive", "sand", "charcoal", "ivory", "mint", "coral", "plum", "mustard", "teal",
    "burgundy", "lilac", "rust", "forest green", "cream", "slate", "peach", "graphite",
]  # fmt: skip
MATERIALS = [
    "aluminium", "ABS plastic", "oak", "walnut", "beech", "304 steel", "tempered glass", "nylon", "polyester",
    "felt", "cork", "rubber", "porcelain", "stoneware", "brass", "zinc alloy", "canvas", "microfiber",
]  # fmt: skip
ORIGINS = ["Scandinavian", "Japanese", "industrial", "minimalist", "classic", "modern", "rustic", "art deco"]
CATEGORIES = ["home", "garden", "electronics", "sports", "office", "tools", "pets", "apparel"]
SYNONYMS = {
    "portable": "travel", "compact": "small", "stainless": "steel", "wireless": "cordless", "vintage": "retro",
    "easy to clean": "simple to wash", "lightweight design": "light weight build", "gift box included": "comes in a gift box",
}  # fmt: skip


def listing(n: int) -> tuple[str, str, str]:
    """(title, description, category) of product n."""
    rng = random.Random(n)
    adjectives = rng.sample(ADJECTIVES, 2)
    noun = rng.choice(NOUNS)
    size = rng.choice(
        ["250ml", "500ml", "1L", "small", "large", "XL", "30cm", "45cm", "set of 2", "set of 4"]
    )
    title = f"{adjectives[0].title()} {adjectives[1]} {noun} {size} model {n % 997}"
    features = rng.sample(FEATURES, 4)
    # Real listings carry specifications: they make two unrelated products' texts differ.
    specs = (
        f"Weight {rng.randrange(50, 5000)} g, {rng.randrange(5, 120)} x {rng.randrange(5, 120)} cm, "
        f"colour {rng.choice(COLOURS)} and {rng.choice(COLOURS)}, {rng.choice(MATERIALS)} body with "
        f"{rng.choice(MATERIALS)} trim, {rng.choice(ORIGINS)} design, {rng.randrange(1, 60)} month warranty"
    )
    description = (
        f"Our {adjectives[0]} {noun} is {features[0]}, {features[1]} and {features[2]}. "
        f"{features[3].capitalize()}. {specs}. Item number {n}, batch {rng.randrange(10**6)}."
    )
    return title, description, rng.choice(CATEGORIES)


def reworded(title: str, description: str) -> tuple[str, str]:
    """How a copycat rewrites a listing: synonyms, shuffled title words, the same description body."""
    t = title.lower()
    for a, b in SYNONYMS.items():
        t = t.replace(a, b)
    words = t.split()
    words = words[1:] + words[:1]
    d = description
    for a, b in SYNONYMS.items():
        d = d.replace(a, b)
    return " ".join(words).capitalize(), d + " Best price."


def image(n: int, size: int = 512) -> Image.Image:
    """A product-photo-like picture: a studio gradient and a few bold shapes in product colours."""
    rng = random.Random(n * 7919)
    img = Image.new("RGB", (size, size), (rng.randrange(200, 256),) * 3)
    d = ImageDraw.Draw(img)
    for _ in range(rng.randrange(3, 7)):
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        x0, y0 = rng.randrange(size - 60), rng.randrange(size - 60)
        x1, y1 = x0 + rng.randrange(60, size - x0 + 1), y0 + rng.randrange(60, size - y0 + 1)
        shape = rng.choice(["ellipse", "rectangle", "polygon"])
        if shape == "ellipse":
            d.ellipse((x0, y0, x1, y1), fill=colour)
        elif shape == "rectangle":
            d.rectangle((x0, y0, x1, y1), fill=colour)
        else:
            d.polygon([(rng.randrange(size), rng.randrange(size)) for _ in range(5)], fill=colour)
    return img.filter(ImageFilter.GaussianBlur(1))


def copycat_image(img: Image.Image, how: str) -> Image.Image:
    if how == "resized":
        return img.resize((img.width * 3 // 4, img.height * 3 // 4), Image.Resampling.LANCZOS)
    if how == "recompressed":
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=35)
        return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    if how == "cropped":
        m = img.width // 25
        return img.crop((m, m, img.width - m, img.height - m))
    return img.copy()


def encode(img: Image.Image, fmt: str = "JPEG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, quality=90) if fmt == "JPEG" else img.save(buf, fmt)
    return buf.getvalue()


def product(n: int, image_ref: str, price: str = "19.90") -> ProductInput:
    title, description, category = listing(n)
    return ProductInput(
        title=title, description=description, price=price, category=category, image_ref=image_ref
    )
