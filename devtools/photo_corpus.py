"""An OPEN-1 evaluation corpus drawn from a parameter space, not from a list: card designs from
parameters (devtools/card_designs.py), backgrounds that are real photographs and real textures, the
holding hand, the phone's own effects, and every failing kind.

    .venv/bin/python -m devtools.photo_corpus OUT_DIR [--split tune|report] [--per-kind N] [--genuine N]

Every photo is drawn from its seed. Each continuous parameter's range is cut into six bins, and the
two splits take alternate bins (tune the even ones, report the odd ones): the report split only ever
sees values of every continuous parameter (card hue, lightness, saturation, wash angle and strength,
band thickness and hue, corner radius, card size, angle and lean, finger width, the background's
blur, white balance, vignetting, sensor noise, JPEG quality, a covering finger's offset) that the
tune split never saw. Categorical parameters the splits do not share where there are enough of them
(backgrounds, patterns); the rest (EXIF orientation, 12 MP or not, JPEG or HEIC, sides, edges,
corners, finger tones) both draw from.

    backgrounds, tune    plain colour; skimage's coffee and rocket photographs; grass and brick
                         textures (skimage, tinted); the Oval Office (obama.jpg)
    backgrounds, report  a two-colour gradient; a white wall; skimage's chelsea, motorcycle,
                         immunohistochemistry and Hubble photographs (none with a face: a face in
                         the background is a second person); the gravel texture; a shirt (biden.jpg);
                         a wall (obama2.jpg); generated brick
    patterns             tune: none, guilloche, stripes; report: none, dots, microtext

The people are the real portraits in tests/fixtures/faces. A genuine photo is a person holding a card
that carries another photo of the same person and the number they registered with, fingers along any
side, corners free. Each failing kind breaks one thing and names the reason code the check must give.
Over 400 lines: the sampling plan, the scene and the phone effects are one description of a photo.
"""

from __future__ import annotations

import io
import json
import sys
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from devtools.card_designs import EDGES, Band, CardDesign, draw_card, hls
from devtools.identity_factory import id_card_number
from devtools.photo_fixtures import FACES, SCENE, feathered, head

SKIMAGE_DATA = Path(str(__import__("skimage").__file__)).parent / "data"  # files inside the wheel only

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
    index: int  # which alternate bins of every continuous range
    backgrounds: tuple[str, ...]
    patterns: tuple[str, ...]
    seed: int


SPLITS = {
    "tune": Split(
        0,
        (
            "plain",
            "photo:coffee.png",
            "photo:rocket.jpg",
            "texture:grass.png",
            "texture:brick.png",
            "obama_room",
        ),
        ("none", "guilloche", "stripes"),
        1000,
    ),
    "report": Split(
        1,
        (
            "gradient",
            "white_wall",
            "photo:chelsea.png",
            "photo:motorcycle_left.png",
            "photo:ihc.png",
            "photo:hubble_deep_field.jpg",
            "texture:gravel.png",
            "biden_shirt",
            "obama2_wall",
            "brick",
        ),
        ("none", "dots", "microtext"),
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
TONES = {  # a holding finger: skin of several tones, or a glove
    "skin_light": (225, 180, 155),
    "skin_medium": (190, 135, 100),
    "skin_dark": (110, 72, 52),
    "glove_blue": (45, 75, 170),
    "glove_black": (40, 38, 40),
}
SIDES = ("top", "right", "bottom", "left")  # of the card as held, in the order of its quad's sides
ORIENTATIONS = {
    1: None,
    3: Image.Transpose.ROTATE_180,
    6: Image.Transpose.ROTATE_90,
    8: Image.Transpose.ROTATE_270,
}


@dataclass(frozen=True)
class Photo:
    name: str
    kind: str
    expect: str
    seed: int
    split: str
    live: str
    registered_id: str  # the number the seller registered (what --id-card / id_fingerprint carry)
    params: tuple[tuple[str, str], ...] = field(default=())  # each parameter's bin, for the failure table

    @property
    def design(self) -> str:
        return dict(self.params).get("pattern", "")

    @property
    def backdrop(self) -> str:
        return dict(self.params).get("background", "")


class Draw:
    """Draws one photo's parameters: continuous ones from the split's bins of their range, and records
    each value's bin (or category) for the per-parameter failure table."""

    BINS = 6

    def __init__(self, rng: np.random.Generator, split: Split) -> None:
        self.rng, self.split = rng, split
        self.labels: dict[str, str] = {}

    def num(self, name: str, lo: float, hi: float) -> float:
        mine = [b for b in range(self.BINS) if b % 2 == self.split.index]
        b = mine[int(self.rng.integers(len(mine)))]
        width = (hi - lo) / self.BINS
        self.labels[name] = f"{lo + b * width:.3g}..{lo + (b + 1) * width:.3g}"
        return lo + width * (b + float(self.rng.random()))

    def pick(self, name: str, options: list[str] | tuple[str, ...]) -> str:
        value = options[int(self.rng.integers(len(options)))]
        self.labels[name] = value
        return value


# ---------------------------------------------------------------- the parameters of one photo


@dataclass
class Plan:
    design: CardDesign
    background: str
    background_blur: float
    card_width: float  # of the frame's width
    angle: float
    lean: float
    hold_side: int  # 0 top, 1 right, 2 bottom, 3 left
    hold_fingers: int
    finger_width: float  # of the card's width
    tone: tuple[int, int, int]
    glare_spot: bool
    cover_corner: int
    cover_fingers: int
    cover_offset: float
    cover_angle: float
    wb_red: float
    wb_blue: float
    vignette: float
    noise: float
    quality: int
    orientation: int
    megapixels12: bool
    heic: bool
    labels: dict[str, str]


def plan(seed: int, split: str, kind: str) -> Plan:
    spec = SPLITS[split]
    dr = Draw(np.random.default_rng(seed + 31), spec)
    hue = dr.num("card_hue", 0, 360)
    lightness = dr.num("card_lightness", 0.15, 0.95)
    base = hls(hue, lightness, dr.num("card_saturation", 0.0, 0.6))
    wash = dr.pick("wash", ("none", "wash"))
    wash_angle = dr.num("wash_angle", 0, 360) if wash == "wash" else 0.0
    wash_strength = dr.num("wash_strength", 0.2, 1.0) if wash == "wash" else 0.0
    wash_to = hls(hue + dr.num("wash_hue_shift", -120, 120), float(np.clip(lightness + 0.2, 0, 0.95)), 0.5)
    bands = []
    for i in range(int(dr.pick("bands", ("0", "1", "2")))):
        bands.append(
            Band(
                dr.pick(f"band{i}_edge", EDGES),
                dr.num(f"band{i}_thickness", 0.08, 0.32),
                hls(dr.num(f"band{i}_hue", 0, 360), dr.num(f"band{i}_lightness", 0.15, 0.85), 0.7),
                int(dr.pick(f"band{i}_reach", ("0", "0", "1", "2"))),
                dr.num(f"band{i}_length", 0.3, 0.7),
            )
        )
    patch = dr.pick("corner_patch", ("none", "none", "0", "1", "2", "3"))
    design = CardDesign(
        base=base,
        wash_to=wash_to,
        wash_angle=wash_angle,
        wash_strength=wash_strength,
        bands=tuple(bands),
        corner_patch=-1 if patch == "none" else int(patch),
        patch_colour=hls(dr.num("patch_hue", 0, 360), 0.45, 0.7),
        pattern=dr.pick("pattern", spec.patterns),
        pattern_scale=dr.num("pattern_scale", 0, 1),
        portrait_left=dr.pick("portrait_side", ("left", "right")) == "left",
        radius_mm=dr.num("corner_radius_mm", 0.5, 5.0),
        text_rows=int(dr.pick("text_rows", ("2", "3", "4", "5", "6"))),
    )
    return Plan(
        design=design,
        background=dr.pick("background", spec.backgrounds),
        background_blur=dr.num("background_blur", 0, 4),
        card_width=dr.num("card_width", 0.24, 0.44) if kind != "two_cards" else 0.24,
        angle=dr.num("card_angle", -24, 24) if kind != "two_cards" else dr.num("card_angle", -10, 10),
        lean=dr.num("card_lean", 0, 0.24),
        hold_side=SIDES.index(dr.pick("hold_side", SIDES)),
        hold_fingers=int(dr.pick("hold_fingers", ("1", "2", "3"))),
        finger_width=dr.num("finger_width", 0.07, 0.12),
        tone=TONES[dr.pick("finger_tone", tuple(TONES))],
        glare_spot=dr.pick("glare_spot", ("none", "none", "spot")) == "spot",
        cover_corner=int(dr.pick("cover_corner", ("0", "1", "2", "3"))),
        cover_fingers=int(dr.pick("cover_fingers", ("1", "1", "2"))),
        cover_offset=dr.num("cover_offset", -0.3, 0.3),
        cover_angle=dr.num("cover_angle", 0, 360),
        wb_red=dr.num("white_balance_red", 0.85, 1.15),
        wb_blue=dr.num("white_balance_blue", 0.85, 1.15),
        vignette=dr.num("vignette", 0, 0.45),
        noise=dr.num("sensor_noise", 0.5, 6.5),
        quality=int(dr.num("jpeg_quality", 55, 96)),
        orientation=int(dr.pick("exif_orientation", ("1", "1", "3", "6", "8"))),
        megapixels12=dr.pick("resolution", ("1600x1200",) * 4 + ("12MP",)) == "12MP",
        heic=dr.pick("format", ("jpeg",) * 9 + ("heic",)) == "heic",
        labels=dr.labels,
    )


# Which parameters say something about each kind's photo (the failure table counts only these).
SCENE_PARAMS = ("background", "background_blur", "card_width", "card_angle", "card_lean")
PHONE_PARAMS = (
    "white_balance_red", "white_balance_blue", "vignette", "sensor_noise", "jpeg_quality",
    "exif_orientation", "resolution", "format",
)  # fmt: skip
HAND_PARAMS = ("hold_side", "hold_fingers", "finger_width", "finger_tone")
DESIGN_PARAMS = (
    "card_hue", "card_lightness", "card_saturation", "wash", "wash_angle", "wash_strength", "bands",
    "band0_edge", "band0_thickness", "band0_reach", "corner_patch", "pattern", "portrait_side",
    "corner_radius_mm", "text_rows",
)  # fmt: skip
COVER_PARAMS = ("cover_corner", "cover_fingers", "cover_offset", "cover_angle")


def relevant(kind: str, labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    names: tuple[str, ...] = DESIGN_PARAMS + SCENE_PARAMS + PHONE_PARAMS + HAND_PARAMS
    if kind == "corner_covered":
        names += COVER_PARAMS
    if kind in ("genuine", "other_face", "other_number"):
        names += ("glare_spot",)
    return tuple((n, labels[n]) for n in names if n in labels)


# ---------------------------------------------------------------- backgrounds


@cache
def _image(path: Path) -> Image.Image:
    img = Image.open(path)
    return ImageOps.exif_transpose(img).convert("RGB") if img.mode != "L" else img.convert("L")


def _crop(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A window of the picture, at least half of it each way, the frame's shape."""
    w, h = img.size
    cw = int(w * rng.uniform(0.5, 1.0))
    ch = min(h, int(cw * SCENE[1] / SCENE[0]))
    x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    return img.crop((x, y, x + cw, y + ch)).resize(SCENE, Image.Resampling.BICUBIC)


def backdrop(kind: str, blur: float, rng: np.random.Generator) -> np.ndarray:
    """A background, exposed as a phone would (its mean lightness brought between 90 and 190)."""
    img = np.asarray(_backdrop(kind, rng))
    if blur > 0.3:
        img = cv2.GaussianBlur(img, (0, 0), blur)
    mean = float(img.mean())
    target = float(np.clip(mean, 90, 190))
    curve = 255 * (np.arange(256) / 255) ** (np.log(target / 255) / np.log(max(mean, 1) / 255))
    return cv2.LUT(img, np.clip(curve, 0, 255).astype(np.uint8)).astype(np.float32)


def _backdrop(kind: str, rng: np.random.Generator) -> Image.Image:
    w, h = SCENE
    if kind.startswith("photo:"):
        return _crop(_image(SKIMAGE_DATA / kind[6:]), rng)
    if kind.startswith("texture:"):
        # A real texture in grey, tinted: the surface's detail is real, its colour any.
        grey = np.asarray(_crop(_image(SKIMAGE_DATA / kind[8:]), rng)).astype(np.float32) / 255
        tint = np.array(hls(rng.uniform(0, 360), rng.uniform(0.35, 0.65), rng.uniform(0.1, 0.6)))
        return Image.fromarray(np.clip(grey[..., None] * tint[None, None] * 1.6, 0, 255).astype(np.uint8))
    portraits = {
        "obama_room": ("obama.jpg", (0, 500, 300, 1137)),
        "obama2_wall": ("obama2.jpg", (0, 0, 626, 170)),
        "biden_shirt": ("biden.jpg", (330, 600, 830, 1000)),
    }
    if kind in portraits:
        name, box = portraits[kind]
        return _image(FACES / name).crop(box).resize(SCENE, Image.Resampling.BICUBIC)
    ys = np.linspace(0, 1, h)[:, None, None]
    xs = np.linspace(0, 1, w)[None, :, None]
    if kind == "white_wall":
        base = np.full((h, w, 3), 232.0) - 18 * xs + 8 * ys
    elif kind == "brick":
        base = np.empty((h, w, 3))
        base[:] = hls(rng.uniform(0, 40), 0.4, 0.45)
        for r in range(0, h, 60):
            base[r : r + 6] = (200, 196, 186)
            off = 0 if (r // 60) % 2 else 60
            for c in range(off, w, 120):
                base[r : r + 60, c : c + 6] = (200, 196, 186)
    else:
        c0, c1 = rng.uniform(60, 200, 3), rng.uniform(60, 200, 3)
        base = c0 * (1 - xs) + c1 * xs - 25 * ys if kind == "gradient" else c0 + 0 * xs - 10 * ys
    noise = rng.normal(0, 4, (h, w, 1))
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))


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


def held_finger(width: int, tone: tuple[int, int, int], toward: np.ndarray) -> Image.Image:
    """A finger (or gloved finger) `width` wide, turned so its length runs along `toward`."""
    f = Image.new("RGBA", (width, int(width * 1.7)), (0, 0, 0, 0))
    d = ImageDraw.Draw(f)
    d.rounded_rectangle((0, 0, f.width - 1, f.height - 1), radius=width // 2, fill=(*tone, 255))
    d.ellipse(
        (width * 0.2, width * 0.1, width * 0.8, width * 0.6),
        fill=tuple(min(255, c + 18) for c in tone) + (255,),
    )
    angle = float(np.degrees(np.arctan2(toward[0], toward[1])))
    return f.filter(ImageFilter.GaussianBlur(1.5)).rotate(
        angle, expand=True, resample=Image.Resampling.BICUBIC
    )


def paste_centred(scene: np.ndarray, img: Image.Image, centre: np.ndarray) -> None:
    paste(scene, img, (int(centre[0] - img.width / 2), int(centre[1] - img.height / 2)))


# ---------------------------------------------------------------- a photo


def registered_number(seed: int) -> str:
    return id_card_number(seed * 7919 % 10**6)


def compose(p: Photo, given: Plan | None = None) -> np.ndarray:
    """The light reaching the phone, upright, 1600 x 1200, float: a reflection may be brighter than
    the sensor can record (above 255); the sensor clips it in `phone`, after the lens."""
    pl = given or plan(p.seed, p.split, p.kind)
    rng = np.random.default_rng(p.seed)
    scene = backdrop(pl.background, pl.background_blur, rng)
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
    cw = pl.card_width * w
    quads = []
    for i in range(n_cards):
        lean = 0.55 if p.kind == "steep" else pl.lean
        if p.kind == "two_cards":
            cx = w * (0.55 + 0.27 * i) if live_left else w * (0.18 + 0.27 * i)
        else:
            cx = rng.uniform(0.62, 0.74) * w if live_left else rng.uniform(0.26, 0.38) * w
        cy = rng.uniform(0.42, 0.6) * h
        if p.kind == "out_of_frame":
            cx = w - cw * 0.3 if live_left else cw * 0.3
        quad = card_quad(rng, cw, pl.angle, lean, (cx, cy))
        card = draw_card(
            pl.design, card_who, number if i == 0 else registered_number(p.seed + 7), rng,
            grey=p.kind == "photocopy",
        )  # fmt: skip
        paste_quad(scene, card, quad)
        quads.append(quad)
        # The holding fingers along one side, clear of its corners.
        a, b = quad[pl.hold_side], quad[(pl.hold_side + 1) % 4]
        d = b - a
        outward = np.array([d[1], -d[0]]) / max(1e-6, float(np.linalg.norm(d)))
        fw = int(cw * pl.finger_width)
        for k in range(pl.hold_fingers):
            t = 0.5 + (k - (pl.hold_fingers - 1) / 2) * 0.13
            f = held_finger(fw, pl.tone, -outward)
            paste_centred(scene, f, a + d * t + outward * fw * 0.35)
    if p.kind == "corner_covered":
        q = quads[0]
        corner = q[pl.cover_corner]
        fw = int(cw * 0.15)
        for k in range(pl.cover_fingers):
            a = np.deg2rad(pl.cover_angle + 25 * k)
            toward = np.array([np.cos(a), np.sin(a)])
            side = np.array([-toward[1], toward[0]])
            f = held_finger(fw, pl.tone, toward)
            paste_centred(scene, f, corner + side * fw * (pl.cover_offset + 0.6 * k))
    if p.kind == "number_covered":
        q = quads[0]
        # A finger laid along the number line (bottom of the card), corners clear.
        x = 0.45 if pl.design.portrait_left else 0.3
        at = q[3] + (q[2] - q[3]) * (x + 0.12) + (q[0] - q[3]) * 0.12
        f = held_finger(int(cw * 0.17), pl.tone, q[2] - q[3])
        paste_centred(scene, f, at)
    if quads and p.kind in ("genuine", "other_face", "other_number") and pl.glare_spot:
        glare_spot(scene, quads[0].mean(axis=0) + rng.uniform(-30, 30, 2), cw * 0.05, 120)  # small: must pass
    if p.kind == "glare":
        glare_spot(scene, quads[0].mean(axis=0), cw * 0.3, 255)
    if p.kind == "blurred":
        scene = cv2.GaussianBlur(scene, (0, 0), 6).astype(np.float32)
    if p.kind == "screen":
        scene = screen(scene, rng)
    if p.kind == "photocopy" and rng.random() < 0.5:
        scene = np.repeat(cv2.cvtColor(np.clip(scene, 0, 255).astype(np.uint8), cv2.COLOR_RGB2GRAY)[..., None], 3, -1).astype(
            np.float32
        )
    return np.maximum(scene, 0).astype(np.float32)


@cache
def _falloff(w: int, h: int) -> np.ndarray:
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return ((xs - w / 2) / (w / 2)) ** 2 + ((ys - h / 2) / (h / 2)) ** 2


def phone(scene: np.ndarray, pl: Plan, seed: int) -> Image.Image:
    """The phone's own effects, in the order light meets them: the lens (vignetting), the sensor
    (noise, then clipping at its full scale), the image processor (white balance, which keeps a
    clipped highlight white, as phones do); upright pixels. A reflection beyond the sensor's range stays
    clipped whatever the lens's fall-off: the fall-off dims light before the sensor saturates."""
    cv2.setRNGSeed(seed)  # OpenCV's generator: ten times faster than numpy's normal at 12 MP
    h, w = scene.shape[:2]
    img = scene.astype(np.float32) * (1 - pl.vignette * _falloff(w, h) / 2)[..., None]  # the lens
    if pl.megapixels12:
        img = np.asarray(cv2.resize(img, (4032, 3024), interpolation=cv2.INTER_CUBIC), np.float32)
    luma = np.empty(img.shape[:2], np.float32)
    cv2.randn(luma, 0.0, pl.noise)  # type: ignore[call-overload]
    chroma = np.empty(img.shape, np.float32)
    cv2.randn(chroma, (0.0, 0.0, 0.0), (pl.noise / 3,) * 3)  # type: ignore[call-overload]
    # Light beyond the sensor's full scale in every channel reads full scale, noise or not; the rest
    # carries the sensor's noise and the processor's white balance.
    saturated = img.min(axis=2, keepdims=True) >= 255
    img = np.minimum(img + luma[..., None] + chroma, 255) * np.array([pl.wb_red, 1.0, pl.wb_blue], np.float32)
    img = np.where(saturated, np.float32(255), img)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def encoded(p: Photo, *, given: Plan | None = None) -> bytes:
    """The file the phone sends: JPEG (pixels stored turned, EXIF orientation says how to show them) or
    HEIC (libheif stores the turn in the container and undoes it on decoding). `given`: the photo's
    own parameters with some changed (the bench makes every photo 12 MP)."""
    pl = given or plan(p.seed, p.split, p.kind)
    img = phone(compose(p, pl), pl, p.seed)
    buf = io.BytesIO()
    if pl.heic and not pl.megapixels12:  # encoding a 12 MP HEIC takes the encoder a minute here
        import pillow_heif

        pillow_heif.register_heif_opener()
        img.save(buf, format="HEIF", quality=pl.quality, enc_params={"preset": "ultrafast"})
        return buf.getvalue()
    turn = ORIENTATIONS[pl.orientation]
    exif = Image.Exif()
    if turn is not None:
        img = img.transpose(turn)
        exif[0x0112] = pl.orientation
    img.save(buf, "JPEG", quality=pl.quality, exif=exif.tobytes())
    return buf.getvalue()


def corpus(split: str, per_kind: int = 1, genuine: int = 8, seed_offset: int = 0) -> list[Photo]:
    """`seed_offset` draws other photos of the same split (other parameters, poses, numbers)."""
    spec = SPLITS[split]
    out, n = [], 0
    for kind, expect in KINDS.items():
        for i in range(genuine if kind == "genuine" else per_kind):
            seed = spec.seed + seed_offset + n
            n += 1
            live = GENUINE_PAIRS[(i + n) % len(GENUINE_PAIRS)][0]
            if kind == "other_face" and live == "astronaut.png":
                live = "obama.jpg"
            labels = plan(seed, split, kind).labels
            out.append(
                Photo(
                    name=f"{split}_{kind}_{seed_offset + i}",
                    kind=kind,
                    expect=expect,
                    seed=seed,
                    split=split,
                    live=live,
                    registered_id=registered_number(seed),
                    params=relevant(kind, labels),
                )
            )
    return out


def write(out: Path, photos: list[Photo]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for p in photos:
        data = encoded(p)
        suffix = "jpg" if data.startswith(b"\xff\xd8") else "heic"
        (out / f"{p.name}.{suffix}").write_bytes(data)
    (out / "index.json").write_text(json.dumps([asdict(p) for p in photos], indent=2))


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
