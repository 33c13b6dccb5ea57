"""ASSOC-3 evaluation corpus beyond studio shots: flat artwork, smooth photographs and real photographs,
the copies copycats make of them (issue 27's six kinds) and look-alikes that must not match.

Picture classes:

- "flat": flat artwork on a product template (T-shirt, sticker, phone case, poster): a plain ground, the
  product in one colour and a print in one of five styles (shapes, logo, lettering, pattern,
  illustration). A look-alike is another print of the same style on the same template: two T-shirt
  designs in one template.
- "smooth": smooth photographs (large soft colour fields, some motion-blurred or defocused); a
  look-alike is another draw with the template's palette and blur.
- "real": photographs nobody here made, the PNG/JPEG files shipped inside the scikit-image wheel
  (read from the installed package's files; nothing is fetched). Split by file between tune and held
  out. Their look-alikes are the other real photographs (unrelated pictures).

Every function is a pure function of its integer arguments (fixed seeds); `split` picks disjoint
parameter draws (and, for real photographs, disjoint files) for tuning and held-out scoring.
"""

from __future__ import annotations

import io
import math
import random
from functools import cache
from importlib.util import find_spec
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

SIZE = 512
PICTURE_CLASSES = ("flat", "smooth", "real")
COPY_KINDS = (
    "crop_mirror_tag",  # cropped 12-15% a side, mirrored, a sale tag
    "rotate_shrink_jpeg",  # turned 7 degrees, shrunk to 70%, JPEG 55
    "border_watermark",  # a border and a tiled watermark
    "hue_saturation",  # hue and saturation shifted
    "repost_200",  # a 200-pixel repost blown up again
    "pasted_banner",  # pasted small on a coloured canvas with a price banner
)
PRODUCTS = ("tshirt", "sticker", "phone_case", "poster")
STYLES = ("shapes", "logo", "lettering", "pattern", "illustration")
WORDS = [
    "WILD", "OCEAN", "RETRO", "BOLD", "SUNNY", "NIGHT", "FOX", "LOVE", "PEACE", "ROCK", "SURF", "CAT",
    "SKULL", "STAR", "MOON", "FIRE", "WAVE", "CITY", "TIGER", "BEE", "ROSE", "JAZZ", "ZEN", "HERO",
]  # fmt: skip
# Real photographs in the scikit-image wheel (the files fetched on demand are not used). motorcycle_right
# is left out: it is the same scene as motorcycle_left, a copy by any reading.
REAL_TUNE = ("astronaut.png", "brick.png", "coffee.png", "coins.png", "clock_motion.png", "ihc.png",
             "grass.png", "logo.png")  # fmt: skip
REAL_HELDOUT = ("camera.png", "chelsea.png", "gravel.png", "hubble_deep_field.jpg", "motorcycle_left.png",
                "rocket.jpg", "cell.png", "color.png", "moon.png", "retina.jpg", "horse.png",
                "phantom.png")  # fmt: skip


def split(name: str, k: int) -> int:
    """Picture numbers for tuning ("tune") and held-out scoring ("heldout"): disjoint ranges."""
    return {"tune": 0, "heldout": 5_000_000}[name] + k


def _rgb(rng: random.Random, lo: int = 0, hi: int = 256) -> tuple[int, int, int]:
    return (rng.randrange(lo, hi), rng.randrange(lo, hi), rng.randrange(lo, hi))


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


# ---------------------------------------------------------------- flat artwork


def flat_template(n: int) -> tuple[str, tuple[int, int, int], tuple[int, int, int], str]:
    """What artwork n shares with its look-alikes: product, ground colour, product colour, print style."""
    rng = random.Random(f"flat-template-{n}")
    return rng.choice(PRODUCTS), _rgb(rng, 200, 256), _rgb(rng), rng.choice(STYLES)


def _product_shape(d: ImageDraw.ImageDraw, product: str, colour: tuple[int, int, int]) -> tuple[int, int, int, int]:
    """Draws the product and returns its print area."""
    s = SIZE
    if product == "tshirt":
        d.polygon([(150, 70), (210, 55), (302, 55), (362, 70), (460, 150), (410, 215), (370, 185),
                   (370, 470), (142, 470), (142, 185), (102, 215), (52, 150)], fill=colour)  # fmt: skip
        return 170, 140, 342, 400
    if product == "sticker":
        d.ellipse((40, 40, s - 40, s - 40), fill=colour)
        return 130, 130, s - 130, s - 130
    if product == "phone_case":
        d.rounded_rectangle((140, 20, 372, 492), radius=36, fill=colour)
        d.rounded_rectangle((160, 40, 230, 120), radius=14, fill=tuple(c // 2 for c in colour))
        return 160, 140, 352, 470
    d.rectangle((60, 30, s - 60, s - 30), fill=colour)  # poster
    return 90, 60, s - 90, s - 60


def _star(cx: float, cy: float, r: float, points: int, turn: float) -> list[tuple[float, float]]:
    return [
        (cx + (r if i % 2 == 0 else r * 0.45) * math.cos(turn + math.pi * i / points),
         cy + (r if i % 2 == 0 else r * 0.45) * math.sin(turn + math.pi * i / points))
        for i in range(2 * points)
    ]  # fmt: skip


def _shape(d: ImageDraw.ImageDraw, rng: random.Random, cx: float, cy: float, r: float, colour: tuple[int, ...]) -> None:
    kind = rng.choice(["circle", "square", "triangle", "star", "polygon", "ring"])
    turn = rng.uniform(0, math.tau)
    if kind == "circle":
        d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
    elif kind == "ring":
        d.ellipse((cx - r, cy - r, cx + r, cy + r), outline=colour, width=max(3, int(r / 3)))
    elif kind == "star":
        d.polygon(_star(cx, cy, r, rng.randrange(4, 8), turn), fill=colour)
    else:
        k = {"square": 4, "triangle": 3}.get(kind, rng.randrange(5, 8))
        pts = [(cx + r * rng.uniform(0.6, 1.0) * math.cos(turn + math.tau * i / k),
                cy + r * rng.uniform(0.6, 1.0) * math.sin(turn + math.tau * i / k)) for i in range(k)]  # fmt: skip
        d.polygon(pts, fill=colour)


def _print(d: ImageDraw.ImageDraw, rng: random.Random, style: str, box: tuple[int, int, int, int]) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    if style == "shapes":
        for _ in range(rng.randrange(2, 6)):
            r = rng.uniform(0.12, 0.3) * min(w, h)
            _shape(d, rng, rng.uniform(x0 + r, x1 - r), rng.uniform(y0 + r, y1 - r), r, _rgb(rng))
    elif style == "logo":
        r = rng.uniform(0.3, 0.45) * min(w, h)
        badge = rng.choice(["circle", "shield", "diamond"])
        ring = _rgb(rng)
        if badge == "circle":
            d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=ring)
        elif badge == "diamond":
            d.polygon([(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)], fill=ring)
        else:
            d.polygon([(cx - r, cy - r), (cx + r, cy - r), (cx + r, cy + 0.2 * r), (cx, cy + r),
                       (cx - r, cy + 0.2 * r)], fill=ring)  # fmt: skip
        _shape(d, rng, cx, cy - 0.15 * r, 0.45 * r, _rgb(rng))
        word = rng.choice(WORDS)
        d.text((cx, cy + 0.5 * r), word, fill=_rgb(rng), font=_font(int(r / 3.2)), anchor="mm")
    elif style == "lettering":
        lines = rng.sample(WORDS, rng.randrange(1, 3))
        size = rng.randrange(36, 64)
        ink = _rgb(rng)
        for i, word in enumerate(lines):
            y = cy + (i - (len(lines) - 1) / 2) * size * 1.2
            d.text((cx, y), word, fill=ink if rng.random() < 0.6 else _rgb(rng), font=_font(size), anchor="mm")
        if rng.random() < 0.5:
            d.rectangle((x0 + 10, cy + len(lines) * size * 0.7, x1 - 10, cy + len(lines) * size * 0.7 + 8), fill=ink)
    elif style == "pattern":
        step = rng.randrange(22, 40)
        motif = rng.choice(["dots", "stripes", "checks", "chevrons"])
        ink = _rgb(rng)
        ox, oy = rng.randrange(step), rng.randrange(step)
        for yy in range(y0 + oy, y1 - step // 2, step):
            for xx in range(x0 + ox, x1 - step // 2, step):
                if motif == "dots":
                    r = step * 0.3
                    d.ellipse((xx - r, yy - r, xx + r, yy + r), fill=ink)
                elif motif == "checks" and ((xx - x0) // step + (yy - y0) // step) % 2:
                    d.rectangle((xx, yy, xx + step // 2, yy + step // 2), fill=ink)
                elif motif == "chevrons":
                    d.line([(xx, yy), (xx + step / 2, yy - step / 3), (xx + step, yy)], fill=ink, width=4)
            if motif == "stripes":
                d.rectangle((x0, yy, x1, yy + step // 3), fill=ink)
        # a pattern alone repeats: a centre motif is what a print of this style carries too
        _shape(d, rng, cx + rng.uniform(-0.2, 0.2) * w, cy + rng.uniform(-0.2, 0.2) * h, 0.2 * min(w, h), _rgb(rng))
    else:  # illustration: a small scene
        sky, ground = _rgb(rng, 120, 256), _rgb(rng, 0, 160)
        d.rectangle(box, fill=sky)
        horizon = y0 + rng.uniform(0.55, 0.75) * h
        for _ in range(rng.randrange(1, 4)):  # mountains
            px = rng.uniform(x0, x1)
            ph = rng.uniform(0.2, 0.45) * h
            pw = rng.uniform(0.2, 0.4) * w
            d.polygon([(px - pw, horizon), (px, horizon - ph), (px + pw, horizon)], fill=_rgb(rng, 40, 200))
        d.rectangle((x0, horizon, x1, y1), fill=ground)
        sr = rng.uniform(0.06, 0.12) * w
        sx, sy = rng.uniform(x0 + sr, x1 - sr), rng.uniform(y0 + sr, horizon - 2 * sr)
        d.ellipse((sx - sr, sy - sr, sx + sr, sy + sr), fill=_rgb(rng, 180, 256))
        for _ in range(rng.randrange(1, 3)):  # trees
            tx, th = rng.uniform(x0 + 20, x1 - 20), rng.uniform(0.15, 0.3) * h
            d.rectangle((tx - 4, horizon - th * 0.3, tx + 4, horizon + 8), fill=(90, 60, 30))
            d.polygon([(tx - th * 0.3, horizon - th * 0.25), (tx, horizon - th), (tx + th * 0.3, horizon - th * 0.25)],
                      fill=_rgb(rng, 0, 140))  # fmt: skip


def flat_artwork(n: int, variant: int = 0) -> Image.Image:
    """Artwork n on its product template; `variant` > 0: a look-alike, another print of the template's
    style on the same product, ground and product colour."""
    product, ground, colour, style = flat_template(n)
    rng = random.Random(f"flat-print-{n}-{variant}")
    img = Image.new("RGB", (SIZE, SIZE), ground)
    d = ImageDraw.Draw(img)
    box = _product_shape(d, product, colour)
    _print(d, rng, style, box)
    return img.filter(ImageFilter.GaussianBlur(0.5))


# ---------------------------------------------------------------- smooth photographs


SMOOTH_BINS = 6  # each continuous range of a smooth photograph's draw is cut so; the splits take alternate bins


def _heldout(n: int) -> bool:
    """Whether picture n is held out (split "heldout"; an unrelated picture n + 10**7 keeps its split)."""
    return n % 10**7 >= 5_000_000


def _binned(rng: random.Random, lo: float, hi: float, n: int) -> float:
    """A value of [lo, hi) from the split's bins: tune the even ones, held out the odd ones, so every
    held-out blur, object size and object count is one the tuning never saw."""
    width = (hi - lo) / SMOOTH_BINS
    b = rng.randrange(1 if _heldout(n) else 0, SMOOTH_BINS, 2)
    return lo + width * (b + rng.random())


def smooth_template(n: int) -> tuple[list[tuple[int, int, int]], str, float]:
    """Palette, blur kind ('soft', 'motion', 'defocus') and blur strength artwork n shares with its look-alikes."""
    rng = random.Random(f"smooth-template-{n}")
    return [_rgb(rng) for _ in range(4)], rng.choice(["soft", "motion", "defocus"]), _binned(rng, 5, 17, n)


def smooth_photo(n: int, variant: int = 0) -> Image.Image:
    """A smooth photograph: soft colour fields (a sky, out-of-focus objects, a blurred scene), motion-blurred
    or defocused. No texture: SIFT finds little, and its few features sit on broad gradients. Blur
    strength, object count and object size come from the split's bins (_binned)."""
    palette, blur, strength = smooth_template(n)
    rng = random.Random(f"smooth-{n}-{variant}")
    img = Image.new("RGB", (SIZE, SIZE), palette[0])
    d = ImageDraw.Draw(img)
    top, bottom = palette[1], palette[0]
    for y in range(SIZE):  # a sky-like gradient
        t = y / SIZE
        d.line([(0, y), (SIZE, y)], fill=tuple(int(a * (1 - t) + b * t) for a, b in zip(top, bottom, strict=True)))
    for _ in range(int(_binned(rng, 3, 9, n))):  # objects, blurred out
        r = _binned(rng, 25, 145, n)
        cx, cy = rng.uniform(0, SIZE), rng.uniform(0, SIZE)
        colour = rng.choice(palette[2:]) if rng.random() < 0.6 else _rgb(rng)
        if rng.random() < 0.5:
            d.ellipse((cx - r, cy - r * rng.uniform(0.5, 1.2), cx + r, cy + r), fill=colour)
        else:
            d.polygon([(cx + r * math.cos(a), cy + r * math.sin(a))
                       for a in sorted(rng.uniform(0, math.tau) for _ in range(5))], fill=colour)  # fmt: skip
    if blur == "motion":
        angle = rng.uniform(0, 180)
        k = int(strength * 2.5)
        streak = Image.new("L", (k, k), 0)
        ImageDraw.Draw(streak).line([(0, k // 2), (k - 1, k // 2)], fill=255, width=1)
        streak = streak.rotate(angle)
        import numpy as np

        kernel = np.asarray(streak, np.float32)
        kernel /= kernel.sum()
        import cv2

        a = cv2.filter2D(np.asarray(img, np.float32), -1, kernel, borderType=cv2.BORDER_REFLECT)
        img = Image.fromarray(a.clip(0, 255).astype("uint8"))
        return img.filter(ImageFilter.GaussianBlur(2))
    return img.filter(ImageFilter.GaussianBlur(strength if blur == "soft" else strength * 0.6))


# ---------------------------------------------------------------- real photographs


@cache
def _skimage_data() -> Path:
    spec = find_spec("skimage")
    if spec is None or spec.origin is None:
        raise RuntimeError("scikit-image (a dev dependency) is not installed: run scripts/bootstrap.sh")
    return Path(spec.origin).parent / "data"  # the files only: skimage itself is never imported


def real_photos(split_name: str) -> tuple[str, ...]:
    return REAL_TUNE if split_name == "tune" else REAL_HELDOUT


def real_photo(name: str) -> Image.Image:
    img: Image.Image = Image.open(_skimage_data() / name)
    if img.mode in ("RGBA", "LA", "P"):
        img = img.convert("RGBA")
        back = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(back, img)
    img = img.convert("RGB")
    if max(img.size) < 300:  # a small file is shown as a listing shows it: at least 300 pixels
        k = 300 / max(img.size)
        img = img.resize((round(img.width * k), round(img.height * k)), Image.Resampling.LANCZOS)
    if max(img.size) > 800:
        img.thumbnail((800, 800), Image.Resampling.LANCZOS)
    return img


# ---------------------------------------------------------------- copies


def _jpeg(img: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def _tag(img: Image.Image, rng: random.Random, text: str) -> None:
    d = ImageDraw.Draw(img)
    w, h = img.size
    tw, th = int(w * rng.uniform(0.22, 0.3)), int(h * rng.uniform(0.09, 0.12))
    x, y = rng.choice([5, w - tw - 5]), rng.choice([5, h - th - 5])
    d.rounded_rectangle((x, y, x + tw, y + th), radius=th // 4, fill=(rng.randrange(180, 240), 20, 30))
    d.text((x + tw / 2, y + th / 2), text, fill="white", font=_font(max(10, th // 2)), anchor="mm")


def copy_of(img: Image.Image, kind: str, seed: int) -> Image.Image:
    """A copy of `img` of one of COPY_KINDS, the edit's strength drawn from `seed`, re-uploaded as JPEG."""
    rng = random.Random(f"picture-copy-{kind}-{seed}")
    w, h = img.size
    out = img
    quality = rng.randrange(70, 92)
    if kind == "crop_mirror_tag":
        c = [rng.uniform(0.12, 0.15) for _ in range(4)]
        out = ImageOps.mirror(img.crop((int(w * c[0]), int(h * c[1]), int(w * (1 - c[2])), int(h * (1 - c[3])))))
        _tag(out, rng, rng.choice(["SALE", "-40%", "HOT", "NEW"]))
    elif kind == "rotate_shrink_jpeg":
        out = img.rotate(rng.choice((-7, 7)), resample=Image.Resampling.BICUBIC, expand=True,
                         fillcolor=tuple(rng.randrange(256) for _ in range(3)))  # fmt: skip
        out = out.resize((int(out.width * 0.7), int(out.height * 0.7)), Image.Resampling.LANCZOS)
        quality = 55
    elif kind == "border_watermark":
        b = rng.randrange(w // 20, w // 8)
        out = ImageOps.expand(img, border=b, fill=_rgb(rng)).convert("RGBA")
        layer = Image.new("RGBA", out.size, (0, 0, 0, 0))
        d = ImageDraw.Draw(layer)
        mark = rng.choice(["© shopname", "SAMPLE", "mystore.com", "PREVIEW"])
        ink = (255, 255, 255, rng.randrange(70, 110)) if rng.random() < 0.5 else (0, 0, 0, rng.randrange(60, 100))
        step = rng.randrange(90, 140)
        for y in range(0, out.height, step):
            for x in range(-step if (y // step) % 2 else 0, out.width, 2 * step):
                d.text((x, y), mark, fill=ink, font=_font(rng.randrange(18, 26)))
        layer = layer.rotate(rng.uniform(-30, 30))
        out = Image.alpha_composite(out, layer).convert("RGB")
    elif kind == "hue_saturation":
        hsv = img.convert("HSV")
        hh, ss, vv = hsv.split()
        shift = rng.randrange(30, 100) * rng.choice((-1, 1))
        sat = rng.uniform(0.6, 1.4)
        hh = hh.point(lambda v: (v + shift) % 256)
        ss = ss.point(lambda v: min(255, int(v * sat)))
        out = Image.merge("HSV", (hh, ss, vv)).convert("RGB")
    elif kind == "repost_200":
        k = 200 / max(w, h)
        small = _jpeg(img.resize((max(1, round(w * k)), max(1, round(h * k))), Image.Resampling.LANCZOS), 75)
        up = rng.uniform(2.0, 3.0)
        out = small.resize((round(small.width * up), round(small.height * up)), Image.Resampling.BICUBIC)
    elif kind == "pasted_banner":
        canvas = Image.new("RGB", (int(w * rng.uniform(1.4, 1.8)), int(h * rng.uniform(1.4, 1.8))), _rgb(rng))
        k = rng.uniform(0.55, 0.7)
        small = img.resize((int(w * k), int(h * k)), Image.Resampling.LANCZOS)
        canvas.paste(small, (rng.randrange(0, canvas.width - small.width), rng.randrange(0, canvas.height // 3)))
        d = ImageDraw.Draw(canvas)
        bh = canvas.height // 6
        d.rectangle((0, canvas.height - bh, canvas.width, canvas.height), fill=_rgb(rng))
        d.text((canvas.width / 2, canvas.height - bh / 2), f"ONLY ${rng.randrange(5, 99)}.99", fill=_rgb(rng),
               font=_font(bh // 2), anchor="mm")  # fmt: skip
        out = canvas
    else:
        raise ValueError(kind)
    return _jpeg(out, quality)


def picture(cls: str, n: int, variant: int = 0) -> Image.Image:
    """Picture n of a generated class (look-alike `variant` > 0)."""
    return flat_artwork(n, variant) if cls == "flat" else smooth_photo(n, variant)
