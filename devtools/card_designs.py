"""ID cards drawn from parameters, not from a list of designs: base colour, a colour wash in any
direction, bands and headers along any edge (full length, or reaching one corner only), a patch at a
corner, a background pattern, the portrait's side, the corner radius and the density of the text.

`draw_card(design, who, number, rng)` draws one at 10 px per mm (856 x 540), RGBA with transparent
rounded corners. Every text is inked dark or light by the lightness of what it is printed on, so the
number stays legible whatever the design (the corpus asks the checks to read it).
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

from devtools.photo_fixtures import head

CARD_W, CARD_H = 856, 540  # 10 px per mm
EDGES = ("top", "bottom", "left", "right")
PATTERNS = ("none", "guilloche", "stripes", "dots", "microtext")


@dataclass(frozen=True)
class Band:
    edge: str  # top, bottom, left, right
    thickness: float  # of the card's dimension across the edge
    colour: tuple[int, int, int]
    reach: int  # 0: the whole edge, corner to corner; 1 or 2: from the first or second corner only
    length: float  # share of the edge covered when it reaches one corner only


@dataclass(frozen=True)
class CardDesign:
    base: tuple[int, int, int]
    wash_to: tuple[int, int, int]
    wash_angle: float  # degrees: the direction the wash runs
    wash_strength: float  # 0: none; 1: all the way to `wash_to`
    bands: tuple[Band, ...]
    corner_patch: int  # -1 none; else the corner (0 TL, 1 TR, 2 BR, 3 BL) a coloured patch reaches
    patch_colour: tuple[int, int, int]
    pattern: str
    pattern_scale: float  # the pattern's period, relative
    portrait_left: bool
    radius_mm: float  # ID-1: 3.18 mm
    text_rows: int  # label/value rows beside the portrait (2 to 6)


def hls(hue: float, lightness: float, saturation: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hls_to_rgb((hue % 360) / 360, lightness, saturation)
    return (int(r * 255), int(g * 255), int(b * 255))


@cache
def font(size: int, bold: bool = False, mono: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    names = (
        ["DejaVuSansMono.ttf"]
        if mono
        else (["DejaVuSans-Bold.ttf"] if bold else ["LiberationSans-Regular.ttf", "DejaVuSans.ttf"])
    )
    for base in ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype/liberation"):
        for n in names:
            p = Path(base) / n
            if p.exists():
                return ImageFont.truetype(str(p), size)
    return ImageFont.load_default(size=size)


def _portrait(who: str, size: tuple[int, int], rng: np.random.Generator) -> Image.Image:
    face = head(who, int(size[1] * 0.5), scale_box=1.7)
    if rng.random() < 0.4:
        face = ImageOps.mirror(face)
    return ImageOps.fit(face, size, Image.Resampling.LANCZOS, centering=(0.5, 0.4))


def _band_box(b: Band) -> tuple[int, int, int, int]:
    across = CARD_H if b.edge in ("top", "bottom") else CARD_W
    along = CARD_W if b.edge in ("top", "bottom") else CARD_H
    t = int(b.thickness * across)
    lo, hi = 0, along
    if b.reach == 1:
        hi = int(b.length * along)
    elif b.reach == 2:
        lo = along - int(b.length * along)
    if b.edge == "top":
        return (lo, 0, hi, t)
    if b.edge == "bottom":
        return (lo, CARD_H - t, hi, CARD_H)
    if b.edge == "left":
        return (0, lo, t, hi)
    return (CARD_W - t, lo, CARD_W, hi)


def _pattern(d: ImageDraw.ImageDraw, design: CardDesign, rng: np.random.Generator) -> None:
    lum = sum(design.base) / 3
    shade = tuple(int(np.clip(c + (-22 if lum > 110 else 22), 0, 255)) for c in design.base) + (255,)
    period = 12 + 30 * design.pattern_scale
    if design.pattern == "guilloche":
        xs = np.arange(0, CARD_W, 4)
        for k in range(int(CARD_H / period)):
            phase, amp, freq = rng.uniform(0, 6.3), rng.uniform(10, 50), rng.uniform(0.008, 0.02)
            ys = period * (k + 0.5) + amp * np.sin(xs * freq + phase)
            d.line(list(zip(xs.tolist(), ys.tolist(), strict=True)), fill=shade, width=2)
    elif design.pattern == "stripes":
        for x in np.arange(-CARD_H, CARD_W, period):
            d.line((x, CARD_H, x + CARD_H, 0), fill=shade, width=2)
    elif design.pattern == "dots":
        r = max(2, period / 6)
        for y in np.arange(period / 2, CARD_H, period):
            for x in np.arange(period / 2, CARD_W, period):
                d.ellipse((x - r, y - r, x + r, y + r), fill=shade)
    elif design.pattern == "microtext":
        f = font(max(8, int(period / 2)))
        for y in np.arange(0, CARD_H, period):
            d.text((0, y), "REPUBLIC IDENTITY " * 12, fill=shade, font=f)


def _ink(base: Image.Image, box: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    """Dark ink on a light ground, light ink on a dark one: what is printed under the text decides."""
    x0, y0, x1, y1 = (int(v) for v in box)
    region = np.asarray(base.convert("L"))[max(0, y0) : max(1, y1), max(0, x0) : max(1, x1)]
    return (20, 20, 28, 255) if float(np.median(region)) > 120 else (248, 248, 250, 255)


def draw_card(
    design: CardDesign, who: str | None, number: str, rng: np.random.Generator, *, grey: bool = False
) -> Image.Image:
    """An ID-1 card, RGBA with transparent rounded corners."""
    radius = int(design.radius_mm * 10)
    y = np.linspace(-1, 1, CARD_H)[:, None, None]
    x = np.linspace(-1, 1, CARD_W)[None, :, None]
    a = np.deg2rad(design.wash_angle)
    t = np.clip((x * np.cos(a) + y * np.sin(a)) * 0.5 + 0.5, 0, 1) * design.wash_strength
    ground = np.array(design.base) * (1 - t) + np.array(design.wash_to) * t
    base = Image.fromarray(
        np.concatenate([ground, np.full((CARD_H, CARD_W, 1), 255)], -1).astype(np.uint8), "RGBA"
    )
    d = ImageDraw.Draw(base)
    _pattern(d, design, rng)
    for b in design.bands:
        d.rectangle(_band_box(b), fill=(*b.colour, 255))
    if design.corner_patch >= 0:
        s = int(0.22 * CARD_W)
        cx = 0 if design.corner_patch in (0, 3) else CARD_W
        cy = 0 if design.corner_patch in (0, 1) else CARD_H
        d.polygon(
            [(cx, cy), (abs(cx - s), cy), (cx, abs(cy - int(s * 0.8)))], fill=(*design.patch_colour, 255)
        )
    photo_at = (40, 120) if design.portrait_left else (CARD_W - 290, 120)
    text_x = 330 if design.portrait_left else 40
    title = ["NATIONAL ID CARD", "IDENTITY DOCUMENT", "RESIDENT IDENTITY CARD", "CARTE D'IDENTITE"][
        int(rng.integers(4))
    ]
    d.text((36, 28), title, fill=_ink(base, (36, 28, 500, 70)), font=font(36, bold=True))
    if who:
        base.paste(_portrait(who, (250, 310), rng).convert("RGBA"), photo_at)
    else:
        d.rectangle((*photo_at, photo_at[0] + 250, photo_at[1] + 310), outline=(90, 90, 90, 255), width=3)
    given = ["LEE MING", "ANNA MARTIN", "SAMPLE SELLER", "WANG FANG", "JOSE SILVA", "MARIA ROSSI"]
    rows = [
        ("Name", given[int(rng.integers(len(given)))]),
        ("Born", f"19{int(rng.integers(60, 99))}-0{int(rng.integers(1, 9))}-1{int(rng.integers(0, 9))}"),
        ("Sex", "F" if rng.random() < 0.5 else "M"),
        ("Nationality", ["CHN", "FRA", "ITA", "BRA"][int(rng.integers(4))]),
        ("Issued", f"20{int(rng.integers(10, 25))}-1{int(rng.integers(0, 2))}-0{int(rng.integers(1, 9))}"),
        ("Expires", f"20{int(rng.integers(30, 40))}-0{int(rng.integers(1, 9))}-2{int(rng.integers(0, 8))}"),
    ][: design.text_rows]
    step = min(70, 310 // max(1, len(rows)))
    size = max(20, min(34, int(step * 0.48)))
    for i, (k, v) in enumerate(rows):
        top = 120 + i * step
        ink = _ink(base, (text_x, top, text_x + 400, top + step))
        d.text((text_x, top), k, fill=ink, font=font(max(14, size - 12)))
        d.text((text_x, top + size - 10), v, fill=ink, font=font(size))
    spaced = number if rng.random() < 0.5 else " ".join([number[:6], number[6:14], number[14:]])
    nx = text_x if design.portrait_left else 40
    line_ink = _ink(base, (nx, 450, nx + 560, 495))
    d.text((nx, 460), "ID No.", fill=line_ink, font=font(24))
    d.text((nx + 90, 452), spaced, fill=line_ink, font=font(32, mono=True))
    if grey:
        base = ImageOps.grayscale(base).convert("RGBA")
    img = Image.new("RGBA", (CARD_W, CARD_H), (0, 0, 0, 0))
    mask = Image.new("L", (CARD_W, CARD_H), 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, CARD_W - 1, CARD_H - 1), radius=radius, fill=255)
    img.paste(base, (0, 0), mask)
    # The card's cut edge: a thin rim a shade darker than its face, as a laminated card shows.
    rim = Image.new("RGBA", (CARD_W, CARD_H), (0, 0, 0, 0))
    ImageDraw.Draw(rim).rounded_rectangle(
        (0, 0, CARD_W - 1, CARD_H - 1), radius=radius, outline=(110, 110, 115, 90), width=4
    )
    return Image.alpha_composite(img, rim)
