"""One bounded decoder for every image the system reads (authentication photos, product images).

Every cost is decided from the file's header before a single pixel is decoded:

    bytes      the file's size                                   -> file_too_large
    pixels     width x height from the header                    -> image_too_large
    memory     pixels x bytes per pixel of the decoded mode      -> image_too_large
               (JPEG: of the reduced size libjpeg will produce, see `draft`, plus
               the full image's DCT coefficients for a progressive JPEG)
    scans      SOS markers of a JPEG, counted before decoding    -> too_many_scans
               (libjpeg walks every block of the image once per scan, whatever the scan holds: a
               0.4 MB file of 2000 near-empty scans over 40 Mpx takes 5 s, 13 000 scans take 40 s)

HEIC/HEIF (what iPhones send) is read by pillow-heif (libheif, libde265): the container's header gives
width and height before anything is decoded; libheif applies the container's rotation and mirroring
itself (the EXIF orientation it leaves is 1), and a file of several top-level images (a burst) is
refused as animated. HEVC has no DCT scaling: the whole frame is decoded, then reduced, and its memory
is counted as libheif's RGB output plus Pillow's copy of it (`_HEIF_BYTES_PER_PIXEL`).

then the pixels are decoded at the smallest size the checks need (JPEG: DCT scaling, 1/2 to 1/8,
for free), under a process-wide memory budget so that the worker's 16 activity slots cannot all hold
a large image at once (`DecodeBudget`). EXIF orientation is applied from the parsed tag by a plain
transpose, never by re-serialising the EXIF block, and a malformed EXIF block means "orientation
unknown", never an exception. Every decoder failure maps to a reason code (`REASONS`); nothing else
escapes `decode_image`.
"""

from __future__ import annotations

import io
import math
import os
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pillow_heif
from PIL import Image, ImageFile, UnidentifiedImageError

# Our own header checks are the bound; Pillow's process-wide bomb warning would only add noise (and
# catch_warnings, which could turn it into an error, is not thread-safe).
warnings.simplefilter("ignore", Image.DecompressionBombWarning)
# HEIC/HEIF through Pillow's own Image.open; thumbnails and depth maps are never decoded.
pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)

REASONS = {
    "empty_file": "The file is empty.",
    "file_too_large": "The file is larger than we accept.",
    "not_an_image": "The file is not a picture.",
    "unsupported_format": "This picture format is not accepted: use JPEG, HEIC, PNG or WebP.",
    "animated_image": "Animated pictures are not accepted: send a still photo.",
    "image_too_large": "The picture has far more pixels than any photo we need.",
    "too_many_scans": "The picture is encoded in an unusual way that costs too much to read. Save it again"
    " as a normal JPEG or PNG.",
    "image_malformed": "The picture is damaged or incomplete.",
}
SOS, SOI, EOI = 0xDA, 0xD8, 0xD9
# Bytes per pixel Pillow holds for each decoded mode (RGB is stored in 32-bit pixels).
_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}
# libheif's interleaved RGB output (3 bytes a pixel) and Pillow's image made from it (4): both are alive
# at once while the frame is handed over; HEVC tiles are decoded one at a time.
_HEIF_BYTES_PER_PIXEL = 7


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int
    max_pixels: int  # width x height in the header
    max_decode_bytes: int = 100_000_000  # one decoded image in memory
    max_side: int | None = None  # decode no larger than this (long side); None: full size
    max_jpeg_scans: int = 64
    formats: frozenset[str] = frozenset({"JPEG", "PNG", "WEBP", "HEIF"})


@dataclass
class DecodedImage:
    image: Image.Image  # RGB, upright, long side <= limits.max_side
    original_size: tuple[int, int]  # as stored, before orientation and reduction
    format: str
    notes: list[str] = field(default_factory=list)  # e.g. "exif_ignored": worth knowing, not a refusal


@dataclass(frozen=True)
class ImageRefusal:
    code: str  # a key of REASONS
    measures: dict[str, float] = field(default_factory=dict)

    @property
    def message(self) -> str:
        return REASONS[self.code]


class DecodeBudget:
    """A process-wide memory budget for decoded pixels: a decode reserves its estimate before it
    starts and gives it back when its result is small again. Waiting is bounded; a decode larger
    than the whole budget never gets here (it is refused as image_too_large)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.in_use = 0
        self.peak = 0
        self._cond = threading.Condition()

    @contextmanager
    def reserve(self, amount: int, timeout: float = 120.0) -> Iterator[None]:
        amount = min(amount, self.capacity)
        with self._cond:
            if not self._cond.wait_for(lambda: self.in_use + amount <= self.capacity, timeout=timeout):
                raise TimeoutError("image decode budget busy")  # infrastructure: the activity retries
            self.in_use += amount
            self.peak = max(self.peak, self.in_use)
        try:
            yield
        finally:
            with self._cond:
                self.in_use -= amount
                self._cond.notify_all()


# 16 slots x 128 MB would be 2 GB; 512 MB lets four of the largest decode at once and the rest wait
# a second or two. A deployment setting, not policy: it is about the machine, not the seller.
BUDGET = DecodeBudget(int(os.environ.get("IMAGE_DECODE_BUDGET_BYTES", 512_000_000)))


def jpeg_scan_count(data: bytes) -> int:
    """SOS markers in a JPEG, counted without decoding. The segments before the first scan are
    walked by their lengths (an EXIF thumbnail holds its own markers); after it, 0xFF is always
    stuffed inside entropy-coded data, so every FF DA left is a scan the decoder would run."""
    pos = 2
    n = len(data)
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            return 0  # not a well-formed marker stream: the decoder will say what is wrong
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == SOS:
            return 1 + data.count(b"\xff\xda", pos + 2)
        if marker in (SOI, EOI) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    return 0


def _sampled_components(img: Image.Image) -> float:
    """Components per pixel once chroma subsampling is counted (4:2:0 YCbCr: 1.5)."""
    layers = getattr(img, "layer", None) or []
    if not layers:
        return float(len(img.getbands()))
    h_max = max(layer[1] for layer in layers) or 1
    v_max = max(layer[2] for layer in layers) or 1
    return sum(layer[1] * layer[2] for layer in layers) / (h_max * v_max)


def _orientation(img: Image.Image) -> tuple[int, bool]:
    """The EXIF orientation tag, 1 when there is none; (1, True) when the EXIF block is unreadable."""
    try:
        value = img.getexif().get(0x0112, 1)
        value = int(value)
    except Exception:  # any malformed EXIF: the orientation is unknown, the picture is still fine
        return 1, True
    return (value, False) if 1 <= value <= 8 else (1, True)


_TRANSPOSE = {
    2: [Image.Transpose.FLIP_LEFT_RIGHT],
    3: [Image.Transpose.ROTATE_180],
    4: [Image.Transpose.FLIP_TOP_BOTTOM],
    5: [Image.Transpose.TRANSPOSE],
    6: [Image.Transpose.ROTATE_270],
    7: [Image.Transpose.TRANSVERSE],
    8: [Image.Transpose.ROTATE_90],
}


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode == "RGB":
        return img
    if img.mode.startswith("I;16"):
        # 16-bit greyscale: keep the top 8 bits (convert("L") would clip everything above 255).
        img = Image.fromarray((np.asarray(img, dtype=np.uint32) >> 8).astype(np.uint8), "L")
    elif img.mode in ("I", "F"):
        arr = np.asarray(img, dtype=np.float32)
        img = Image.fromarray((arr * (255.0 / max(float(arr.max()), 1.0))).clip(0, 255).astype(np.uint8), "L")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))  # transparency becomes white paper
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return img.convert("RGB")


def _shrink(img: Image.Image, max_side: int | None) -> Image.Image:
    if max_side is None or max(img.size) <= max_side:
        return img
    factor = max(img.size) / max_side
    size = (max(1, round(img.width / factor)), max(1, round(img.height / factor)))
    if img.mode in ("P", "1"):
        return img.resize(size, Image.Resampling.NEAREST)  # palette indices cannot be averaged
    whole = int(factor)
    if whole >= 2 and img.mode in ("L", "RGB", "RGBA", "LA", "I", "F", "CMYK"):
        img = img.reduce(whole)  # box average, in place of a full-size resampling pass
    return img.resize(size, Image.Resampling.BILINEAR) if img.size != size else img


def decode_image(data: bytes, limits: ImageLimits) -> DecodedImage | ImageRefusal:
    """The picture, upright, RGB and no larger than the checks need; or why not. Never raises for
    anything in `data` (only TimeoutError when the process's decode budget stays busy)."""
    if not data:
        return ImageRefusal("empty_file")
    if len(data) > limits.max_bytes:
        return ImageRefusal("file_too_large", {"bytes": float(len(data))})
    # face_recognition turns this on at import; it would pass half a JPEG as a photo.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        img: Image.Image = Image.open(io.BytesIO(data))  # reads the header only
        fmt = img.format or ""
        if fmt not in limits.formats:
            return ImageRefusal("unsupported_format")
        width, height = img.size
        pixels = width * height
        if pixels > limits.max_pixels or width <= 0 or height <= 0:
            return ImageRefusal("image_too_large", {"pixels": float(pixels)})
        frames = int(getattr(img, "n_frames", 1))
        if frames > 1:
            return ImageRefusal("animated_image", {"frames": float(frames)})
        notes: list[str] = []
        if fmt == "JPEG":
            scans = jpeg_scan_count(data)
            if scans > limits.max_jpeg_scans:
                return ImageRefusal("too_many_scans", {"scans": float(scans)})
            if limits.max_side is not None and max(width, height) > limits.max_side:
                # DCT scaling: libjpeg decodes at 1/2, 1/4 or 1/8 directly, to the smallest scale that
                # is at least the request. Asking for half of max_side lands between max_side / 2
                # and max_side (a 4032 px phone photo: 2016 px), never at full size.
                factor = 2 * max(width, height) / limits.max_side
                img.draft(img.mode, (math.ceil(width / factor), math.ceil(height / factor)))
        bpp = _HEIF_BYTES_PER_PIXEL if fmt == "HEIF" else _BYTES_PER_PIXEL.get(img.mode, 4)
        decode_bytes = float(img.size[0] * img.size[1] * bpp)
        if fmt == "JPEG" and img.info.get("progressive"):
            # A progressive JPEG keeps every DCT coefficient of the full image until the last scan,
            # whatever the output scale: 2 bytes each, per component at its sampling.
            decode_bytes += pixels * 2 * _sampled_components(img)
        if decode_bytes > limits.max_decode_bytes:
            return ImageRefusal(
                "image_too_large", {"pixels": float(pixels), "decode_bytes": float(decode_bytes)}
            )
        orientation, exif_bad = _orientation(img)
        if exif_bad:
            notes.append("exif_ignored")
        with BUDGET.reserve(int(decode_bytes)):
            img.load()
            img = _shrink(img, limits.max_side)
        img = _to_rgb(img)
        for op in _TRANSPOSE.get(orientation, []):
            img = img.transpose(op)
    except Image.DecompressionBombError:
        return ImageRefusal("image_too_large")
    except UnidentifiedImageError:
        return ImageRefusal("not_an_image")
    except TimeoutError:
        raise
    except ValueError as err:
        if "decompressed data too large" in str(err).lower():  # PNG text/ICC chunk bombs
            return ImageRefusal("image_too_large")
        return ImageRefusal("image_malformed")
    except Exception:  # OSError, SyntaxError, struct.error, EOFError...: whatever the plugin raises
        return ImageRefusal("image_malformed")
    return DecodedImage(image=img, original_size=(width, height), format=fmt, notes=notes)
