"""Generated authentication photos: a real person holding an ID card that carries a real portrait.

    .venv/bin/python -m devtools.photo_fixtures OUT_DIR      # writes every variant as JPEG + index.json

The portraits are the real photos in tests/fixtures/faces/ (provenance in PROVENANCE.txt). Each scene
is a phone-sized photo: a textured background, the person (feathered into the scene, so the photo's
own rectangle does not look like a card), and an ID-1 sized card (85.6 x 54 mm) with a portrait and
text, held by a thumb on its lower edge. Variants break one thing each, so that every OPEN-1 reason
code has an image that triggers it, and every passing variant is a scene a real seller could send.
Everything is deterministic: the same variant gives the same bytes.
"""

from __future__ import annotations

import io
import json
import sys
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

FACES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "faces"
SCENE = (1600, 1200)
CARD = (560, 353)  # ID-1 aspect ratio 85.6 : 54
CARD_AT = (930, 520)  # top-left of the card's box in the scene
LIVE_FACE_HEIGHT = 300

# Face boxes (top, right, bottom, left) in each source photo, measured once with face_recognition
# (HOG); used only to crop heads, never by the checks themselves.
FACE_BOXES = {
    "obama.jpg": (142, 617, 409, 349),
    "obama2.jpg": (290, 438, 558, 171),
    "biden.jpg": (241, 740, 562, 419),
    "astronaut.png": (76, 265, 166, 175),
    "obama_partial_face.jpg": (142, 191, 365, 0),
}


@dataclass(frozen=True)
class Variant:
    name: str
    live: str | None  # the person in the photo (None: nobody)
    card: str | None  # whose portrait is on the card (None: no card)
    expect: str  # "pass" or the reason code the check must give
    note: str = ""


VARIANTS = [
    Variant("pass_obama", "obama.jpg", "obama2.jpg", "pass", "card portrait is another photo of him"),
    Variant("pass_obama2", "obama2.jpg", "obama.jpg", "pass"),
    # A greyscale portrait on this nearly colourless card would be a photocopy (photocopy_or_greyscale).
    Variant("pass_biden", "biden.jpg", "biden.jpg", "pass", "card portrait mirrored"),
    Variant("pass_astronaut", "astronaut.png", "astronaut.png", "pass"),
    Variant("pass_rotated_exif", "obama.jpg", "obama2.jpg", "pass", "pixels turned, EXIF orientation 6"),
    Variant("pass_tilted_card", "obama2.jpg", "obama.jpg", "pass", "card held at 8 degrees"),
    Variant("corner_cut_off", "obama.jpg", "obama2.jpg", "card_out_of_frame", "card runs off the frame"),
    Variant("corner_covered", "obama.jpg", "obama2.jpg", "card_corner_missing", "a thumb over a corner"),
    Variant("blurred", "obama.jpg", "obama2.jpg", "too_blurry"),
    Variant("dark", "obama.jpg", "obama2.jpg", "too_dark"),
    Variant("overexposed", "obama.jpg", "obama2.jpg", "too_bright"),
    Variant("glare", "obama.jpg", "obama2.jpg", "glare", "a reflection on the card"),
    Variant("other_portrait", "obama.jpg", "biden.jpg", "face_mismatch", "someone else's card"),
    Variant("other_portrait_2", "biden.jpg", "obama.jpg", "face_mismatch"),
    Variant("no_card", "obama.jpg", None, "card_not_found"),
    Variant("two_people", "obama.jpg", "obama2.jpg", "multiple_people", "a second person beside"),
    Variant("nobody", None, "obama2.jpg", "no_face", "only the card"),
    Variant(
        "face_cut_off", "obama_partial_face.jpg", "obama2.jpg", "face_not_clear", "face cut by the frame"
    ),
    Variant("tiny_face", "obama.jpg", "obama2.jpg", "face_not_clear", "the person far from the camera"),
    Variant("blank_card", "obama.jpg", "", "card_portrait_missing", "a card with no portrait"),
    Variant(
        "soft_card",
        "obama.jpg",
        "obama2.jpg",
        "photo_needs_review",
        "the card alone a little soft (2 px Gaussian): between sure blur and sharp, a person looks",
    ),  # fmt: skip
]


@cache
def _source(name: str) -> Image.Image:
    return ImageOps.exif_transpose(Image.open(FACES / name)).convert("RGB")


def head(name: str, face_height: int, *, scale_box: float = 2.2) -> Image.Image:
    """The head and shoulders around the face, scaled so the face box is `face_height` tall."""
    img = _source(name)
    top, right, bottom, left = FACE_BOXES[name]
    h = bottom - top
    cx, cy = (left + right) / 2, (top + bottom) / 2
    half_w, half_h = h * scale_box * 0.45, h * scale_box * 0.6
    box = (
        int(max(0, cx - half_w)),
        int(max(0, cy - half_h * 0.8)),
        int(min(img.width, cx + half_w)),
        int(min(img.height, cy + half_h * 1.2)),
    )
    if name == "astronaut.png":  # keep the mission patch (a face look-alike for HOG) out of the crop
        box = (box[0], box[1], box[2], min(box[3], 300))
    crop = img.crop(box)
    factor = face_height / h
    return crop.resize(
        (max(1, int(crop.width * factor)), max(1, int(crop.height * factor))), Image.Resampling.LANCZOS
    )


def background(rng: np.random.Generator) -> Image.Image:
    w, h = SCENE
    y = np.linspace(0, 1, h)[:, None]
    x = np.linspace(0, 1, w)[None, :]
    ones = np.ones((h, w))
    base = np.stack([(95 + 40 * y + 10 * x) * ones, (85 + 30 * y) * ones, (80 + 20 * x) * ones], axis=-1)
    grain = rng.normal(0, 6, (h, w, 1))
    return Image.fromarray(np.clip(base + grain, 0, 255).astype(np.uint8))


def feathered(img: Image.Image) -> Image.Image:
    mask = Image.new("L", img.size, 0)
    ImageDraw.Draw(mask).ellipse((img.width * 0.04, 0, img.width * 0.96, img.height * 1.25), fill=255)
    img = img.copy()
    img.putalpha(mask.filter(ImageFilter.GaussianBlur(img.width * 0.04)))
    return img


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # very old Pillow
        return ImageFont.load_default()


SPECIMEN_NUMBER = "000000 19900101 000X"  # no one's number: not a valid region nor check character


def number_line(id_number: str) -> str:
    """The number as a resident ID card prints it: region, birth date and sequence in groups."""
    if len(id_number) == 18:
        return f"{id_number[:6]} {id_number[6:14]} {id_number[14:]}"
    return id_number


def card(
    portrait: str | None, *, mirror: bool = False, grey: bool = False, id_number: str | None = None
) -> Image.Image:
    """The card; `id_number` is printed on its number line (a specimen number when None)."""
    w, h = CARD
    img = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle(
        (0, 0, w - 1, h - 1), radius=18, fill=(232, 236, 240, 255), outline=(190, 196, 205, 255)
    )
    d.rectangle((0, 22, w, 60), fill=(208, 222, 236, 255))
    d.text((24, 28), "RESIDENT IDENTITY CARD  SPECIMEN", fill=(40, 60, 100, 255), font=_font(22))
    for i, line in enumerate(["Name  SAMPLE SELLER", "Sex  -   Born 1990-01-01", "Address  SPECIMEN ONLY"]):
        d.text((230, 96 + i * 44), line, fill=(30, 30, 30, 255), font=_font(21))
    number = number_line(id_number) if id_number else SPECIMEN_NUMBER
    d.text((230, 290), f"ID  {number}", fill=(30, 30, 30, 255), font=_font(22))
    if portrait:
        face = head(portrait, 118, scale_box=1.7)
        if mirror:
            face = ImageOps.mirror(face)
        if grey:
            face = ImageOps.grayscale(face).convert("RGB")
        face = ImageOps.fit(face, (180, 225), Image.Resampling.LANCZOS, centering=(0.5, 0.4))
        img.paste(face, (26, 90))
    return img


def thumb(size: int) -> Image.Image:
    t = Image.new("RGBA", (size, int(size * 1.35)), (0, 0, 0, 0))
    ImageDraw.Draw(t).ellipse((0, 0, t.width - 1, t.height - 1), fill=(214, 160, 130, 255))
    return t.filter(ImageFilter.GaussianBlur(2))


def place_card(scene: Image.Image, c: Image.Image, at: tuple[int, int], angle: float) -> None:
    rotated = c.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    dx, dy = (rotated.width - c.width) // 2, (rotated.height - c.height) // 2
    scene.alpha_composite(rotated, (at[0] - dx, at[1] - dy))


def compose(v: Variant, id_number: str | None = None) -> Image.Image:
    rng = np.random.default_rng(sum(map(ord, v.name)))  # str hash() is salted per process
    scene = background(rng).convert("RGBA")
    if v.live:
        face_h = 90 if v.name == "tiny_face" else LIVE_FACE_HEIGHT
        person = feathered(head(v.live, face_h))
        if v.name == "face_cut_off":  # the source photo already cuts the face; put that edge on the frame's
            person = head(v.live, face_h)
            scene.alpha_composite(person.convert("RGBA"), (0, 1200 - person.height))
        else:
            scene.alpha_composite(person, (120, 1200 - person.height))
    if v.name == "two_people":
        other = feathered(head("biden.jpg", 230))
        scene.alpha_composite(other, (430, 1200 - other.height))
    if v.card is not None:
        c = card(v.card or None, mirror=v.name == "pass_biden", grey=False, id_number=id_number)
        at = CARD_AT
        if v.name == "corner_cut_off":
            at = (SCENE[0] - CARD[0] + 70, CARD_AT[1])
        angle = 8 if v.name == "pass_tilted_card" else -3
        place_card(scene, c, at, angle)
        # The holding thumb on the lower edge, away from the corners.
        t = thumb(70)
        scene.alpha_composite(t, (at[0] + CARD[0] // 2 - 35, at[1] + CARD[1] - 40))
        if v.name == "corner_covered":
            big = thumb(120)
            scene.alpha_composite(big, (at[0] + CARD[0] - 70, at[1] + CARD[1] - 95))
    img = scene.convert("RGB")
    if v.name == "blurred":
        img = img.filter(ImageFilter.GaussianBlur(7))
    elif v.name == "dark":
        img = Image.eval(img, lambda p: int(p * 0.18))
    elif v.name == "overexposed":
        img = Image.eval(img, lambda p: min(255, int(p * 1.9 + 60)))
    elif v.name == "glare":
        img = glare(img, (CARD_AT[0] + 300, CARD_AT[1] + 175), 80)
    elif v.name == "soft_card":
        box = (CARD_AT[0] - 20, CARD_AT[1] - 20, CARD_AT[0] + CARD[0] + 20, CARD_AT[1] + CARD[1] + 20)
        img.paste(img.crop(box).filter(ImageFilter.GaussianBlur(2)), box[:2])
    return img


def glare(img: Image.Image, centre: tuple[int, int], radius: int) -> Image.Image:
    arr = np.asarray(img).astype(np.float32)
    yy, xx = np.mgrid[0 : img.height, 0 : img.width]
    d = np.hypot(xx - centre[0], yy - centre[1]) / radius
    boost = np.clip(1.6 - d, 0, 1)[..., None] * 255
    return Image.fromarray(np.clip(arr + boost, 0, 255).astype(np.uint8))


def jpeg_bytes(v: Variant, id_number: str | None = None) -> bytes:
    """The variant as a phone's JPEG; `id_number` is the number printed on the card (the applicant's
    registered number for a photo that must pass OPEN-1's card reading)."""
    img = compose(v, id_number)
    buf = io.BytesIO()
    if v.name == "pass_rotated_exif":
        # A phone held sideways: pixels stored turned, with the tag that says how to turn them back.
        exif = Image.Exif()
        exif[0x0112] = 6
        img.transpose(Image.Transpose.ROTATE_90).save(buf, "JPEG", quality=90, exif=exif)
    else:
        img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def write_all(out: Path) -> list[dict[str, str]]:
    out.mkdir(parents=True, exist_ok=True)
    index = []
    for v in VARIANTS:
        path = out / f"{v.name}.jpg"
        path.write_bytes(jpeg_bytes(v))
        index.append({**asdict(v), "file": path.name})
    (out / "index.json").write_text(json.dumps(index, indent=2))
    return index


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else ".data/photo-fixtures")
    for row in write_all(target):
        print(f"{row['file']:<28} expect {row['expect']:<22} {row['note']}")


def png_bomb(side: int = 30_000) -> bytes:
    """A 1-bit PNG of side x side pixels (900 M by default) that compresses to about 100 kB."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = b"\x00" * (1 + (side + 7) // 8)
    z = zlib.compressobj(9)
    data = b"".join(z.compress(row) for _ in range(side)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def many_frame_gif(frames: int = 10_000) -> bytes:
    def frame(i: int) -> Image.Image:
        img = Image.new("L", (16, 16), 0)
        img.putpixel((i % 16, (i // 16) % 16), 255)  # every frame differs, so none is merged away
        return img

    first, rest = frame(0), [frame(i) for i in range(1, frames)]
    buf = io.BytesIO()
    first.save(buf, "GIF", save_all=True, append_images=rest, duration=10, loop=0)
    return buf.getvalue()


def hostile_files() -> dict[str, tuple[bytes, str]]:
    """Files a hostile or careless uploader sends, with the reason code each must get."""
    good = jpeg_bytes(VARIANTS[0])
    rng = np.random.default_rng(7)
    small = io.BytesIO()
    Image.new("RGB", (320, 200), (120, 110, 100)).save(small, "JPEG")
    bmp = io.BytesIO()
    Image.new("RGB", (1600, 1200), (120, 110, 100)).save(bmp, "BMP")
    return {
        "empty": (b"", "empty_file"),
        "random_bytes": (rng.bytes(200_000), "not_an_image"),
        "truncated_jpeg": (good[: len(good) // 2], "truncated_image"),
        "png_bomb": (png_bomb(), "decompression_bomb"),
        "fifty_megabytes": (b"\xff\xd8\xff\xe0" + rng.bytes(50_000_000), "file_too_large"),
        "gif_10k_frames": (many_frame_gif(), "unsupported_format"),
        "bmp": (bmp.getvalue(), "unsupported_format"),
        "tiny_resolution": (small.getvalue(), "resolution_too_low"),
    }
