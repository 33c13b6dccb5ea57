"""ASSOC-3 evaluation corpus: studio product photos, the copies copycats make of them, and unrelated
look-alikes (same category, same photo template, a different object) that must not match.

Every function is a pure function of its integer arguments (fixed seeds), so a corpus is reproducible.
Parameters are drawn from ranges; `split` picks disjoint parameter draws for tuning and for held-out
evaluation (tests use the held-out split), so nothing is tuned to the cases that are scored.
"""

from __future__ import annotations

import io
import random

from PIL import Image, ImageChops, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

SIZE = 512
# Photo templates a catalogue shares: a studio background and a product silhouette per category.
BACKGROUNDS = [(255, 255, 255), (246, 246, 246), (238, 240, 244), (250, 247, 240)]
BODIES = ["bottle", "box", "jar", "round", "tall_box", "bag"]
WORDS = [
    "ORGANIC", "PREMIUM", "NATURAL", "FRESH", "CLASSIC", "PRO", "ULTRA", "PURE", "DAILY", "HOME", "SPORT",
    "MAX", "LITE", "ECO", "GOLD", "SILVER", "BASIC", "PLUS", "VITA", "AQUA", "TERRA", "NOVA", "ZEN", "PRIME",
]  # fmt: skip
COPY_KINDS = (
    "resized", "recompressed", "cropped", "flipped", "rotated", "text_overlay", "logo", "border",
    "background", "colour_shift",
)  # fmt: skip


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def template(n: int) -> tuple[tuple[int, int, int], str]:
    """The photo template product n shares with its look-alikes: background and silhouette."""
    rng = random.Random(f"template-{n}")
    return rng.choice(BACKGROUNDS), rng.choice(BODIES)


def studio_photo(n: int, variant: int = 0) -> Image.Image:
    """Product n shot on its template's studio background. `variant` > 0 gives a look-alike: another
    object of the same kind on the same template (same background, same silhouette family)."""
    background, body = template(n)
    rng = random.Random(f"object-{n}-{variant}")
    img = Image.new("RGB", (SIZE, SIZE), background)
    d = ImageDraw.Draw(img)
    w = rng.randrange(150, 260) if body not in ("tall_box", "bottle") else rng.randrange(110, 170)
    h = rng.randrange(260, 380) if body in ("tall_box", "bottle", "bag") else rng.randrange(170, 280)
    cx, cy = SIZE // 2 + rng.randrange(-30, 31), SIZE // 2 + rng.randrange(-20, 21)
    x0, y0, x1, y1 = cx - w // 2, cy - h // 2, cx + w // 2, cy + h // 2
    base = tuple(rng.randrange(30, 230) for _ in range(3))
    accent = tuple(rng.randrange(0, 256) for _ in range(3))
    # soft shadow under the object, as studio shots have
    shadow = Image.new("L", (SIZE, SIZE), 0)
    ImageDraw.Draw(shadow).ellipse((x0 - 10, y1 - 12, x1 + 10, y1 + 14), fill=90)
    img.paste((160, 160, 160), (0, 0), shadow.filter(ImageFilter.GaussianBlur(8)))
    if body == "bottle":
        neck = w // 3
        d.rectangle((cx - neck // 2, y0 - 50, cx + neck // 2, y0 + 10), fill=accent)
        d.rounded_rectangle((x0, y0, x1, y1), radius=w // 4, fill=base)
    elif body in ("box", "tall_box"):
        d.rectangle((x0, y0, x1, y1), fill=base)
        d.polygon(
            [(x1, y0), (x1 + 25, y0 - 20), (x1 + 25, y1 - 20), (x1, y1)], fill=tuple(c // 2 for c in base)
        )
    elif body == "jar":
        d.rounded_rectangle((x0, y0, x1, y1), radius=30, fill=base)
        d.rectangle((x0 + 10, y0 - 35, x1 - 10, y0 + 5), fill=accent)
    elif body == "round":
        d.ellipse((x0, y0, x1, y1), fill=base)
    else:  # bag
        d.polygon([(x0, y0 + 20), (x1, y0 + 20), (x1 + 15, y1), (x0 - 15, y1)], fill=base)
        d.arc((cx - w // 4, y0 - 40, cx + w // 4, y0 + 40), 180, 360, fill=accent, width=8)
    # the label: what tells one product of the template from another
    lx0, ly0 = x0 + w // 8, cy - h // 5
    lx1, ly1 = x1 - w // 8, cy + h // 4
    d.rectangle((lx0, ly0, lx1, ly1), fill=tuple(255 - c // 3 for c in base))
    brand = rng.choice(WORDS)
    d.text((lx0 + 6, ly0 + 6), brand, fill=accent, font=_font(rng.randrange(18, 30)))
    d.text((lx0 + 6, ly0 + 40), f"{rng.choice(WORDS).lower()} {rng.randrange(10, 999)}", fill=(20, 20, 20),
           font=_font(rng.randrange(12, 18)))  # fmt: skip
    for _ in range(rng.randrange(3, 7)):  # pattern and pictograms on the label
        px, py = rng.randrange(lx0, max(lx0 + 1, lx1 - 20)), rng.randrange(ly0 + 60, max(ly0 + 61, ly1 - 10))
        r = rng.randrange(4, 14)
        colour = tuple(rng.randrange(256) for _ in range(3))
        getattr(d, rng.choice(["ellipse", "rectangle"]))((px - r, py - r, px + r, py + r), fill=colour)
    for k in range(rng.randrange(2, 5)):  # stripes on the body
        yy = y1 - 20 - k * rng.randrange(10, 20)
        d.line((x0 + 5, yy, x1 - 5, yy), fill=accent, width=rng.randrange(2, 6))
    return img.filter(ImageFilter.GaussianBlur(0.6))


def _jpeg(img: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def copy_of(img: Image.Image, kind: str, seed: int) -> Image.Image:
    """A copy of `img` made the way copycats make them, with the edit's strength drawn from `seed`.
    Every copy is also resized and recompressed, as a re-upload is."""
    rng = random.Random(f"copy-{kind}-{seed}")
    w, h = img.size
    out = img
    if kind == "cropped":  # up to 20% off each side, independently
        out = img.crop((int(w * rng.uniform(0, 0.2)), int(h * rng.uniform(0, 0.2)),
                        int(w * (1 - rng.uniform(0, 0.2))), int(h * (1 - rng.uniform(0, 0.2)))))  # fmt: skip
    elif kind == "flipped":
        out = ImageOps.mirror(img)
    elif kind == "rotated":  # up to 15 degrees either way, corners filled with the background
        angle = rng.uniform(3, 15) * rng.choice((-1, 1))
        out = img.rotate(
            angle,
            resample=Image.Resampling.BICUBIC,
            expand=rng.random() < 0.5,
            fillcolor=img.getpixel((2, 2)),
        )
    elif kind == "text_overlay":
        out = img.copy()
        d = ImageDraw.Draw(out)
        for _ in range(rng.randrange(1, 3)):
            text = rng.choice(["BEST PRICE", "SALE -50%", "FREE SHIPPING", "NEW", "HOT DEAL", "TOP SELLER"])
            d.text((rng.randrange(0, w // 2), rng.choice([rng.randrange(0, h // 6), rng.randrange(h * 4 // 5, h - 40)])),
                   text, fill=tuple(rng.randrange(256) for _ in range(3)), font=_font(rng.randrange(24, 44)))  # fmt: skip
    elif kind == "logo":  # a shop logo in a corner and a price tag
        out = img.copy()
        d = ImageDraw.Draw(out)
        s = rng.randrange(50, 90)
        cx = rng.choice([s // 2 + 5, w - s // 2 - 5])
        cy = rng.choice([s // 2 + 5, h - s // 2 - 5])
        d.ellipse(
            (cx - s // 2, cy - s // 2, cx + s // 2, cy + s // 2),
            fill=tuple(rng.randrange(256) for _ in range(3)),
        )
        d.text((cx - s // 3, cy - 10), rng.choice(["AB", "XY", "Q", "MX"]), fill="white", font=_font(20))
        tx, ty = rng.randrange(w // 2, w - 130), rng.randrange(h // 2, h - 60)
        d.rounded_rectangle((tx, ty, tx + 120, ty + 50), radius=10, fill=(220, 20, 30))
        d.text((tx + 10, ty + 10), f"${rng.randrange(5, 99)}.99", fill="white", font=_font(26))
    elif kind == "border":
        b = rng.randrange(w // 20, w // 6)
        out = ImageOps.expand(img, border=b, fill=tuple(rng.randrange(256) for _ in range(3)))
    elif kind == "background":  # the studio background replaced by another colour or a gradient
        bg = tuple(img.getpixel((2, 2)))  # type: ignore[arg-type]
        mask = Image.eval(ImageOps.grayscale(_difference(img, bg)), lambda v: 255 if v > 12 else 0)
        mask = mask.filter(ImageFilter.MaxFilter(3))
        top = tuple(rng.randrange(256) for _ in range(3))
        bottom = tuple(rng.randrange(256) for _ in range(3))
        grad = Image.linear_gradient("L").resize((w, h))
        back = Image.composite(Image.new("RGB", (w, h), bottom), Image.new("RGB", (w, h), top), grad)
        out = Image.composite(img, back, mask)
    elif kind == "colour_shift":
        out = ImageEnhance.Color(img).enhance(rng.uniform(0.3, 1.8))
        out = ImageEnhance.Brightness(out).enhance(rng.uniform(0.8, 1.2))
        hsv = out.convert("HSV")
        hh, ss, vv = hsv.split()
        shift = rng.randrange(20, 80)
        hh = hh.point(lambda v: (v + shift) % 256)
        out = Image.merge("HSV", (hh, ss, vv)).convert("RGB")
    # every copy is re-uploaded: resized and recompressed
    scale = rng.uniform(0.55, 1.0) if kind != "resized" else rng.uniform(0.35, 0.7)
    out = out.resize(
        (max(100, int(out.width * scale)), max(100, int(out.height * scale))), Image.Resampling.LANCZOS
    )
    return _jpeg(out, rng.randrange(30, 60) if kind == "recompressed" else rng.randrange(60, 92))


def _difference(img: Image.Image, colour: tuple[int, ...]) -> Image.Image:
    return ImageChops.difference(img, Image.new("RGB", img.size, colour))


def split(name: str, k: int) -> int:
    """Product numbers for tuning ("tune") and for held-out scoring ("heldout"): disjoint ranges."""
    return {"tune": 0, "heldout": 5_000_000}[name] + k


TEXT_KINDS = ("reworded", "reordered", "units", "synonyms", "emoji_spacing", "homoglyphs")
_SWAPS = {
    "wireless": "cordless", "vintage": "retro", "compact": "small", "portable": "travel", "large": "big",
    "stainless": "steel", "water bottle": "water flask", "lamp": "light", "colour": "color", "mug": "cup",
}  # fmt: skip
_EMOJI = ["🔥", "✨", "⭐", "💯", "🚀", "👍", "🎁"]
# Letters of other scripts that look like Latin ones (Cyrillic, Greek), accents, zero-width characters
_LOOKALIKE = {
    "a": "аα",
    "c": "сϲ",
    "e": "еé",
    "i": "іí",
    "o": "оοó",
    "p": "рρ",
    "s": "ѕ",
    "x": "х",
    "y": "уý",
}
_ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\u00ad"]


def text_copy(title: str, description: str, kind: str, seed: int) -> tuple[str, str]:
    """The listing text rewritten the way copycats disguise it."""
    import re

    from devtools.product_fixtures import reworded

    rng = random.Random(f"text-{kind}-{seed}")
    if kind == "reworded":
        return reworded(title, description)
    if kind == "reordered":
        words = title.split()
        rng.shuffle(words)
        sentences = [s for s in description.split(". ") if s]
        rng.shuffle(sentences)
        return " ".join(words), ". ".join(sentences)
    if kind == "units":

        def inch(m: re.Match[str]) -> str:
            return f"{int(m.group(1)) / 2.54:.1f} x {int(m.group(2)) / 2.54:.1f} inch"

        d = re.sub(r"(\d+) x (\d+) cm", inch, description)
        d = re.sub(r"(\d+) g\b", lambda m: f"{int(m.group(1)) / 28.3495:.2f} oz", d)
        t = re.sub(r"(\d+)cm", lambda m: f'{int(m.group(1)) / 2.54:.1f}"', title)
        return t, d
    if kind == "synonyms":
        t, d = title, description
        for a, b in _SWAPS.items():
            t = re.sub(rf"\b{a}\b", b, t, flags=re.I)
            d = re.sub(rf"\b{a}\b", b, d, flags=re.I)
        return t, d
    if kind == "homoglyphs":  # every word spelt with look-alike letters or split by a zero-width character

        def disguise(text: str) -> str:
            words = []
            for w in text.split(" "):
                chars = [
                    rng.choice(_LOOKALIKE[c]) if c in _LOOKALIKE and rng.random() < 0.4 else c for c in w
                ]
                if len(chars) > 2:
                    chars.insert(rng.randrange(1, len(chars)), rng.choice(_ZERO_WIDTH))
                words.append("".join(chars))
            return " ".join(words)

        return disguise(title), disguise(description)
    # emoji and spacing: emoji between words, a spaced-out word, fullwidth letters, doubled spaces
    words = title.split()
    words[0] = " ".join(words[0].upper())
    t = f" {rng.choice(_EMOJI)} ".join(words)
    t = "".join(chr(ord(c) + 0xFEE0) if "A" <= c <= "Z" and rng.random() < 0.3 else c for c in t)
    d = "  ".join(f"{w}{rng.choice(_EMOJI)}" if rng.random() < 0.15 else w for w in description.split())
    return t, d
