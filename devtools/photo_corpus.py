"""An OPEN-1 evaluation corpus that is not the detector's mirror: many card designs, real backgrounds,
rotation, perspective, scale, fingers, glare, JPEG loss, photocopies, screen recaptures.

    .venv/bin/python -m devtools.photo_corpus OUT_DIR [--split tune|report] [--per-kind N]

Every photo is drawn from a seed; the split decides which seeds, card designs and backgrounds are used,
so that the reporting split has designs and backgrounds the checks were never tuned on:

    tune    designs light, guilloche, dark           backgrounds: generated walls, astronaut's room
    report  designs header, white, sand, gradient    backgrounds: the portraits' rooms, shirts, walls,
                                                     a white wall, brick

The people are the real portraits in tests/fixtures/faces. A genuine photo is a person holding a card
that carries another photo of the same person and the number they registered with. Each failing kind
breaks one thing, and names the reason code the check must give.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

from devtools.identity_factory import id_card_number
from devtools.photo_fixtures import FACES, SCENE, feathered, head

# Same person on the card (a different photo where there is one) and live.
GENUINE_PAIRS = [
    ("obama.jpg", "obama2.jpg"),
    ("obama2.jpg", "obama.jpg"),
    ("biden.jpg", "biden.jpg"),
    ("astronaut.png", "astronaut.png"),
]
OTHER = {
    "obama.jpg": "biden.jpg",
    "obama2.jpg": "astronaut.png",
    "biden.jpg": "obama.jpg",
    "astronaut.png": "biden.jpg",
}


@dataclass(frozen=True)
class Split:
    designs: tuple[str, ...]
    backgrounds: tuple[str, ...]
    seed: int


SPLITS = {
    "tune": Split(("light", "guilloche", "dark"), ("wall", "astronaut_room", "gradient_wall"), 1000),
    "report": Split(
        ("header", "white", "sand", "gradient"),
        ("obama_room", "obama2_wall", "biden_shirt", "white_wall", "brick"),
        5000,
    ),
}
# kind -> the verdict the check must give
KINDS = {
    "genuine": "pass",
    "corner_covered": "card_corner_missing",
    "out_of_frame": "card_out_of_frame",
    "no_card": "card_not_found",
    "two_cards": "two_documents",
    "steep": "card_perspective_too_steep",
    "photocopy": "photocopy_or_greyscale",
    "screen": "screen_recapture",
    "face_covered": "face_covered",
    "other_face": "face_mismatch",
    "other_number": "id_number_mismatch",
    "number_covered": "card_text_unreadable",
    "glare": "glare",
    "blurred": "too_blurry",
}


@dataclass(frozen=True)
class Photo:
    name: str
    kind: str
    expect: str
    seed: int
    design: str
    backdrop: str
    live: str
    registered_id: str  # the number the seller registered (what --id-card / id_fingerprint carry)


# ---------------------------------------------------------------- fonts and text


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


# ---------------------------------------------------------------- card designs

CARD_W, CARD_H = 856, 540  # drawn at 10 px per mm, then scaled into the scene


def _portrait(who: str, size: tuple[int, int], rng: np.random.Generator) -> Image.Image:
    face = head(who, int(size[1] * 0.5), scale_box=1.7)
    if rng.random() < 0.4:
        face = ImageOps.mirror(face)
    return ImageOps.fit(face, size, Image.Resampling.LANCZOS, centering=(0.5, 0.4))


def _guilloche(d: ImageDraw.ImageDraw, colour: tuple[int, int, int, int], rng: np.random.Generator) -> None:
    xs = np.arange(0, CARD_W, 4)
    for k in range(18):
        phase, amp, freq = rng.uniform(0, 6.3), rng.uniform(20, 60), rng.uniform(0.008, 0.02)
        ys = CARD_H * (k + 0.5) / 18 + amp * np.sin(xs * freq + phase)
        d.line(list(zip(xs.tolist(), ys.tolist(), strict=True)), fill=colour, width=2)


def draw_card(
    design: str, who: str | None, number: str, rng: np.random.Generator, *, grey: bool = False
) -> Image.Image:
    """An ID-1 card, RGBA with transparent rounded corners."""
    img = Image.new("RGBA", (CARD_W, CARD_H), (0, 0, 0, 0))
    mask = Image.new("L", (CARD_W, CARD_H), 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, CARD_W - 1, CARD_H - 1), radius=32, fill=255)
    base = Image.new("RGBA", (CARD_W, CARD_H))
    d = ImageDraw.Draw(base)
    ink, label = (25, 25, 30, 255), (70, 70, 80, 255)
    photo_at, text_x, top = (40, 120), 330, 130
    if design == "light":
        d.rectangle((0, 0, CARD_W, CARD_H), fill=(232, 236, 240, 255))
        d.rectangle((0, 30, CARD_W, 90), fill=(208, 222, 236, 255))
        d.text((36, 42), "RESIDENT IDENTITY CARD", fill=(40, 60, 100, 255), font=font(34, bold=True))
    elif design == "guilloche":
        d.rectangle((0, 0, CARD_W, CARD_H), fill=(204, 230, 222, 255))
        _guilloche(d, (160, 200, 196, 255), rng)
        top = 70
    elif design == "dark":
        d.rectangle((0, 0, CARD_W, CARD_H), fill=(24, 40, 92, 255))
        _guilloche(d, (36, 56, 112, 255), rng)
        ink, label = (245, 245, 250, 255), (190, 200, 230, 255)
        d.text((36, 36), "IDENTITY CARD", fill=ink, font=font(36, bold=True))
    elif design == "header":
        colour = [(170, 30, 40, 255), (20, 90, 60, 255), (30, 60, 150, 255)][int(rng.integers(3))]
        d.rectangle((0, 0, CARD_W, CARD_H), fill=(246, 242, 232, 255))
        d.rectangle((0, 0, CARD_W, 100), fill=colour)
        d.text((36, 28), "NATIONAL ID CARD", fill=(255, 255, 255, 255), font=font(40, bold=True))
    elif design == "white":
        d.rectangle((0, 0, CARD_W, CARD_H), fill=(250, 250, 250, 255))
        d.ellipse((CARD_W - 120, 30, CARD_W - 40, 110), outline=(200, 40, 40, 255), width=6)
        d.text((36, 40), "IDENTITY DOCUMENT", fill=ink, font=font(32, bold=True))
    elif design == "sand":
        d.rectangle((0, 0, CARD_W, CARD_H), fill=(236, 222, 190, 255))
        _guilloche(d, (220, 200, 160, 255), rng)
        d.rectangle((CARD_W - 70, 0, CARD_W, CARD_H), fill=(200, 160, 110, 255))
        photo_at, text_x = (CARD_W - 340, 110), 40
        d.text((40, 36), "CARTE D'IDENTITE / ID CARD", fill=(90, 60, 30, 255), font=font(32, bold=True))
    elif design == "gradient":
        y = np.linspace(0, 1, CARD_H)[:, None, None]
        x = np.linspace(0, 1, CARD_W)[None, :, None]
        arr = (np.array([236, 214, 232]) * (1 - x) + np.array([200, 206, 244]) * x) * (1 - 0.1 * y)
        base = Image.fromarray(
            np.concatenate([arr, np.full((CARD_H, CARD_W, 1), 255)], -1).astype(np.uint8), "RGBA"
        )
        d = ImageDraw.Draw(base)
        d.text((36, 36), "PERSONAL ID", fill=(80, 40, 110, 255), font=font(38, bold=True))
    else:
        raise ValueError(design)
    if who:
        base.paste(_portrait(who, (250, 310), rng).convert("RGBA"), photo_at)
    else:
        d.rectangle((*photo_at, photo_at[0] + 250, photo_at[1] + 310), outline=label, width=3)
    given = ["LEE MING", "ANNA MARTIN", "SAMPLE SELLER", "WANG FANG"][int(rng.integers(4))]
    rows = [
        ("Name", given),
        ("Born", f"19{int(rng.integers(60, 99))}-0{int(rng.integers(1, 9))}-1{int(rng.integers(0, 9))}"),
        ("Sex", "F" if rng.random() < 0.5 else "M"),
    ]
    for i, (k, v) in enumerate(rows):
        d.text((text_x, top + i * 70), k, fill=label, font=font(22))
        d.text((text_x, top + i * 70 + 24), v, fill=ink, font=font(34))
    spaced = number if rng.random() < 0.5 else " ".join([number[:6], number[6:14], number[14:]])
    d.text((text_x if design != "sand" else 40, 460), "ID No.", fill=label, font=font(24))
    d.text(((text_x if design != "sand" else 40) + 90, 452), spaced, fill=ink, font=font(32, mono=True))
    if grey:
        base = ImageOps.grayscale(base).convert("RGBA")
    img.paste(base, (0, 0), mask)
    # The card's cut edge: a thin rim a shade darker than its face, as a laminated card shows.
    rim = Image.new("RGBA", (CARD_W, CARD_H), (0, 0, 0, 0))
    ImageDraw.Draw(rim).rounded_rectangle(
        (0, 0, CARD_W - 1, CARD_H - 1), radius=32, outline=(110, 110, 115, 110), width=5
    )
    img = Image.alpha_composite(img, rim)
    return img


# ---------------------------------------------------------------- backgrounds


def _fill(img: Image.Image) -> Image.Image:
    return ImageOps.fit(img, SCENE, Image.Resampling.BICUBIC).filter(ImageFilter.GaussianBlur(3))


def backdrop(kind: str, rng: np.random.Generator) -> Image.Image:
    """A background, exposed as a phone would (its mean lightness brought between 90 and 190)."""
    img = np.asarray(_backdrop(kind, rng)).astype(np.float32)
    mean = float(img.mean())
    target = float(np.clip(mean, 90, 190))
    img = 255 * (img / 255) ** (np.log(target / 255) / np.log(max(mean, 1) / 255))
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def _backdrop(kind: str, rng: np.random.Generator) -> Image.Image:
    w, h = SCENE
    src = lambda n: ImageOps.exif_transpose(Image.open(FACES / n)).convert("RGB")  # noqa: E731
    if kind == "astronaut_room":
        return _fill(src("astronaut.png").crop((300, 0, 512, 300)))
    if kind == "obama_room":
        return _fill(src("obama.jpg").crop((0, 500, 300, 1137)))
    if kind == "obama2_wall":
        return _fill(src("obama2.jpg").crop((0, 0, 626, 170)))
    if kind == "biden_shirt":
        return _fill(src("biden.jpg").crop((330, 600, 830, 1000)))
    ys = np.linspace(0, 1, h)[:, None, None]
    xs = np.linspace(0, 1, w)[None, :, None]
    if kind == "white_wall":
        base = np.full((h, w, 3), 232.0) - 18 * xs + 8 * ys
    elif kind == "brick":
        base = np.empty((h, w, 3))
        base[:] = (150, 78, 60)
        arr = base
        for r in range(0, h, 60):
            arr[r : r + 6] = (200, 196, 186)
            off = 0 if (r // 60) % 2 else 60
            for c in range(off, w, 120):
                arr[r : r + 60, c : c + 6] = (200, 196, 186)
    else:
        c0 = rng.uniform(60, 200, 3)
        c1 = rng.uniform(60, 200, 3)
        base = c0 * (1 - xs) + c1 * xs - 25 * ys
        if kind == "gradient_wall":
            base = base + 12 * np.sin(xs * 40)
    noise = rng.normal(0, 5, (h, w, 1))
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1))


# ---------------------------------------------------------------- putting things in the scene


def finger(width: int, rng: np.random.Generator) -> Image.Image:
    t = Image.new("RGBA", (width, int(width * 1.6)), (0, 0, 0, 0))
    tone = tuple(int(v) for v in rng.uniform([170, 110, 85], [230, 175, 150])) + (255,)
    d = ImageDraw.Draw(t)
    d.rounded_rectangle((0, 0, t.width - 1, t.height - 1), radius=width // 2, fill=tone)
    d.ellipse(
        (width * 0.2, width * 0.1, width * 0.8, width * 0.6),
        fill=tuple(min(255, c + 18) for c in tone[:3]) + (255,),
    )
    return t.filter(ImageFilter.GaussianBlur(1.5))


def card_quad(
    rng: np.random.Generator, width: float, angle: float, lean: float, centre: tuple[float, float]
) -> np.ndarray:
    """Corners TL, TR, BR, BL of a card `width` px wide, turned `angle` degrees, leaned back by `lean`
    (0: facing the camera; the top edge shortens as if tilted away)."""
    hgt = width * 54 / 85.6 * (1 - 0.5 * lean)
    top = width * (1 - lean) / 2
    pts = np.array([[-top, -hgt / 2], [top, -hgt / 2], [width / 2, hgt / 2], [-width / 2, hgt / 2]])
    a = np.deg2rad(angle)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return pts @ rot.T + np.array(centre)


def paste_quad(scene: np.ndarray, card: Image.Image, quad: np.ndarray) -> None:
    src = np.array([[0, 0], [card.width, 0], [card.width, card.height], [0, card.height]], np.float32)
    m = cv2.getPerspectiveTransform(src, quad.astype(np.float32))
    h, w = scene.shape[:2]
    rgba = cv2.warpPerspective(np.asarray(card), m, (w, h), flags=cv2.INTER_AREA, borderValue=(0, 0, 0, 0))
    alpha = rgba[..., 3:4].astype(np.float32) / 255
    # A soft shadow under the card: a white card on a white wall is still seen by its edge.
    shadow = cv2.GaussianBlur(alpha, (0, 0), 3).reshape(h, w, 1)
    scene[:] = scene * (1 - 0.3 * shadow)
    scene[:] = scene * (1 - alpha) + rgba[..., :3] * alpha


def paste(scene: np.ndarray, img: Image.Image, at: tuple[int, int]) -> None:
    h, w = scene.shape[:2]
    x, y = at
    x0, y0, x1, y1 = max(0, x), max(0, y), min(w, x + img.width), min(h, y + img.height)
    if x1 <= x0 or y1 <= y0:
        return
    arr = np.asarray(img.convert("RGBA")).astype(np.float32)[y0 - y : y1 - y, x0 - x : x1 - x]
    a = arr[..., 3:4] / 255
    scene[y0:y1, x0:x1] = scene[y0:y1, x0:x1] * (1 - a) + arr[..., :3] * a


def glare_spot(scene: np.ndarray, centre: np.ndarray, radius: float, strength: float) -> None:
    h, w = scene.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    d = np.hypot(xx - centre[0], yy - centre[1]) / radius
    scene += (np.clip(1.5 - d, 0, 1) ** 1.5 * strength)[..., None]


def screen(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The scene shown on a monitor and photographed: bezel, pixel grid moire, blue cast, some blur."""
    h, w = img.shape[:2]
    bez = int(rng.uniform(0.05, 0.09) * w)
    inner = cv2.resize(img, (w - 2 * bez, h - 2 * bez), interpolation=cv2.INTER_AREA)
    yy, xx = np.mgrid[0 : inner.shape[0], 0 : inner.shape[1]]
    angle, period = rng.uniform(0.1, 0.5), rng.uniform(3.2, 5.5)
    moire = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period)
    inner = inner * (0.85 + 0.12 * moire[..., None]) * np.array([0.92, 0.97, 1.08])
    out = np.empty_like(img)
    out[:] = rng.uniform(12, 30)
    out[bez:-bez, bez:-bez] = inner
    out += rng.normal(0, 3, out.shape)
    return cv2.GaussianBlur(out, (0, 0), 0.8)


# ---------------------------------------------------------------- a photo


def registered_number(seed: int) -> str:
    return id_card_number(seed * 7919 % 10**6)


def compose(p: Photo) -> np.ndarray:
    rng = np.random.default_rng(p.seed)
    scene = np.asarray(backdrop(p.backdrop, rng)).astype(np.float32)
    h, w = scene.shape[:2]
    live_left = rng.random() < 0.6
    # The person, on one side; the card on the other, clear of the face.
    face_h = int(rng.uniform(230, 320))
    person = feathered(head(p.live, face_h))
    px = int(rng.uniform(60, 200)) if live_left else int(w - person.width - rng.uniform(60, 200))
    paste(scene, person, (px, h - person.height))
    if p.kind == "face_covered":
        fx = px + person.width // 2
        # Mouth and chin hidden (a hand, a scarf, a phone); a face hidden whole is "no_face".
        fy = h - person.height + int(person.height * 0.445)
        cover = Image.new("RGBA", (int(face_h * 0.9), int(face_h * 0.5)), (0, 0, 0, 0))
        colour = [(60, 90, 160, 255), (230, 230, 235, 255), (40, 40, 40, 255)][int(rng.integers(3))]
        ImageDraw.Draw(cover).rounded_rectangle(
            (0, 0, cover.width - 1, cover.height - 1), radius=40, fill=colour
        )
        paste(scene, cover.filter(ImageFilter.GaussianBlur(2)), (fx - cover.width // 2, fy))
    card_who = OTHER[p.live] if p.kind == "other_face" else dict(GENUINE_PAIRS)[p.live]
    number = registered_number(p.seed)
    if p.kind == "other_number":
        number = registered_number(p.seed + 1)
    n_cards = 0 if p.kind == "no_card" else 2 if p.kind == "two_cards" else 1
    frac = rng.uniform(0.26, 0.42) if p.kind != "two_cards" else rng.uniform(0.22, 0.28)
    cw = frac * w
    quads = []
    for i in range(n_cards):
        angle = rng.uniform(-20, 20)
        lean = 0.55 if p.kind == "steep" else rng.uniform(0, 0.22)
        if p.kind == "two_cards":
            cx = w * (0.55 + 0.27 * i) if live_left else w * (0.18 + 0.27 * i)
            angle = rng.uniform(-10, 10)
        else:
            cx = rng.uniform(0.62, 0.74) * w if live_left else rng.uniform(0.26, 0.38) * w
        cy = rng.uniform(0.42, 0.6) * h
        if p.kind == "out_of_frame":
            cx = w - cw * 0.3 if live_left else cw * 0.3
        quad = card_quad(rng, cw, angle, lean, (cx, cy))
        card = draw_card(
            p.design,
            card_who,
            number if i == 0 else registered_number(p.seed + 7),
            rng,
            grey=p.kind == "photocopy",
        )
        paste_quad(scene, card, quad)
        quads.append(quad)
        # The holding thumb, on the bottom edge away from the corners.
        bl, br = quad[3], quad[2]
        t = rng.uniform(0.35, 0.65)
        at = bl + (br - bl) * t
        f = finger(int(cw * 0.09), rng)
        paste(scene, f, (int(at[0] - f.width / 2), int(at[1] - f.height * 0.3)))
    if p.kind == "corner_covered":
        q = quads[0]
        corner = q[int(rng.integers(4))]
        f = finger(int(cw * 0.16), rng)
        paste(scene, f, (int(corner[0] - f.width / 2), int(corner[1] - f.height / 2)))
    if p.kind == "number_covered":
        q = quads[0]
        # Thumb laid along the number line (bottom right of the card), corners clear.
        at = q[3] + (q[2] - q[3]) * 0.62 + (q[0] - q[3]) * 0.12
        f = finger(int(cw * 0.17), rng).rotate(90, expand=True)
        paste(scene, f, (int(at[0] - f.width / 2), int(at[1] - f.height / 2)))
    if quads and p.kind in ("genuine", "other_face", "other_number") and rng.random() < 0.4:
        glare_spot(scene, quads[0].mean(axis=0) + rng.uniform(-30, 30, 2), cw * 0.05, 120)  # small: must pass
    if p.kind == "glare":
        glare_spot(scene, quads[0].mean(axis=0), cw * 0.3, 255)
    scene = np.clip(scene + rng.normal(0, 2.5, scene.shape), 0, 255).astype(np.float32)
    if p.kind == "blurred":
        scene = cv2.GaussianBlur(scene, (0, 0), 6).astype(np.float32)
    if p.kind == "screen":
        scene = screen(scene, rng)
    if p.kind == "photocopy" and rng.random() < 0.5:
        scene = np.repeat(cv2.cvtColor(scene.astype(np.uint8), cv2.COLOR_RGB2GRAY)[..., None], 3, -1).astype(
            np.float32
        )
    return np.clip(scene, 0, 255).astype(np.uint8)


def jpeg(p: Photo) -> bytes:
    rng = np.random.default_rng(p.seed + 99)
    buf = io.BytesIO()
    Image.fromarray(compose(p)).save(buf, "JPEG", quality=int(rng.integers(60, 93)))
    return buf.getvalue()


def corpus(split: str, per_kind: int = 1, genuine: int = 8, seed_offset: int = 0) -> list[Photo]:
    """`seed_offset` draws other photos of the same split (other poses, places, numbers), to check that
    what was tuned on one draw holds on the next."""
    spec = SPLITS[split]
    designs, backdrops = spec.designs, spec.backgrounds
    out, n = [], 0
    for kind, expect in KINDS.items():
        for i in range(genuine if kind == "genuine" else per_kind):
            seed = spec.seed + seed_offset + n
            pick = np.random.default_rng(seed + 31)
            n += 1
            live = GENUINE_PAIRS[(i + n) % len(GENUINE_PAIRS)][0]
            if kind == "other_face" and live == "astronaut.png":
                live = "obama.jpg"
            out.append(
                Photo(
                    name=f"{split}_{kind}_{i}",
                    kind=kind,
                    expect=expect,
                    seed=seed,
                    design=designs[int(pick.integers(len(designs)))],
                    backdrop=backdrops[int(pick.integers(len(backdrops)))],
                    live=live,
                    registered_id=registered_number(seed),
                )
            )
    return out


def write(out: Path, photos: list[Photo]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for p in photos:
        (out / f"{p.name}.jpg").write_bytes(jpeg(p))
    (out / "index.json").write_text(json.dumps([asdict(p) for p in photos], indent=2))


Builder = Callable[[Photo], bytes]

if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--split", choices=sorted(SPLITS), default="report")
    ap.add_argument("--per-kind", type=int, default=1)
    ap.add_argument("--genuine", type=int, default=8)
    a = ap.parse_args()
    photos = corpus(a.split, a.per_kind, a.genuine)
    write(a.out, photos)
    for p in photos:
        print(f"{p.name:<32} {p.expect:<28} {p.design:<10} {p.backdrop}")
    sys.exit(0)
