"""A hostile-image corpus, generated: every file a careless or hostile uploader could send to an image
check, with the outcome the bounded decoder (activities/images/safe_image.py) must give it.

    .venv/bin/python -m devtools.hostile_images OUT_DIR    # writes every case, and index.json

`expect` is a safe_image reason code, or "ok" for files that are odd but are pictures (CMYK, 16-bit,
palette with transparency, malformed EXIF, a PNG named .jpg): those must decode, upright and RGB.
Everything is deterministic (fixed seeds), so a case gives the same bytes on every run.
"""

from __future__ import annotations

import io
import json
import math
import struct
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class HostileImage:
    name: str  # with the extension the uploader gave it (which the decoder ignores)
    data: bytes
    expect: str
    note: str = ""


def _save(img: Image.Image, fmt: str, **kwargs: object) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **kwargs)
    return out.getvalue()


def _photo_like(size: tuple[int, int], seed: int = 3) -> Image.Image:
    """Smooth colour gradients with noise: compresses like a photo, not like a flat colour."""
    rng = np.random.default_rng(seed)
    w, h = size
    small = rng.integers(0, 255, (max(2, h // 64), max(2, w // 64), 3), dtype=np.uint8)
    return Image.fromarray(small).resize(size, Image.Resampling.BICUBIC)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_header_only(width: int, height: int, *, colour_type: int = 2, bit_depth: int = 8) -> bytes:
    """A PNG whose header claims `width x height` and whose pixel data is one tiny deflate stream of
    zeros: kilobytes on disk, gigabytes once decoded."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour_type]
    row = 1 + math.ceil(width * channels * bit_depth / 8)
    comp = zlib.compressobj(9)
    idat = b""
    zero_rows = bytes(row * 64)
    for _ in range(height // 64):
        idat += comp.compress(zero_rows)
    idat += comp.compress(bytes(row * (height % 64))) + comp.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def png_huge_dimensions() -> bytes:
    """A classic bomb: 100k x 100k declared, a few bytes of (never read) data."""
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(bytes(1000)))
        + _png_chunk(b"IEND", b"")
    )


def png_text_bomb() -> bytes:
    """A small PNG with a compressed text chunk that inflates to 200 MB."""
    good = _save(Image.new("RGB", (800, 600), (10, 20, 30)), "PNG")
    comp = zlib.compressobj(9)
    text = b"".join(comp.compress(bytes(1_000_000)) for _ in range(200)) + comp.flush()
    ztxt = _png_chunk(b"zTXt", b"Comment\x00\x00" + text)
    return good[:33] + ztxt + good[33:]  # after the 8-byte signature and the 25-byte IHDR


def _pack_bits(bits: str) -> bytes:
    out = bytearray()
    bits += "1" * (-len(bits) % 8)
    for i in range(0, len(bits), 8):
        byte = int(bits[i : i + 8], 2)
        out.append(byte)
        if byte == 0xFF:
            out.append(0)  # byte stuffing inside entropy-coded data
    return bytes(out)


def many_scan_jpeg(width: int = 8000, height: int = 5000, scans: int = 2000) -> bytes:
    """A progressive JPEG followed by `scans` extra AC scans of the luma, each a few bytes: one EOB
    run code (EOB14, 32767 blocks) per 32767 blocks. libjpeg still visits every block once per scan,
    so the decode costs scans x blocks whatever the file's size (0.37 MB here, ~5 s)."""
    base = _save(Image.new("RGB", (width, height), (128, 120, 110)), "JPEG", progressive=True, quality=70)
    # An AC Huffman table (class 1, id 3) with one code, "0", for the symbol E0 (EOB14 run).
    dht = b"\xff\xc4" + struct.pack(">H", 2 + 1 + 16 + 1) + bytes([0x13, 1] + [0] * 15 + [0xE0])
    blocks = math.ceil(width / 8) * math.ceil(height / 8)
    entropy = _pack_bits(("0" + "1" * 14) * math.ceil(blocks / 32767))
    sos = b"\xff\xda" + struct.pack(">HB", 8, 1) + bytes([1, 0x03, 1, 63, 0]) + entropy
    return base[:-2] + dht + sos * scans + b"\xff\xd9"


def jpeg_with_exif(payload: bytes, size: tuple[int, int] = (1200, 900)) -> bytes:
    base = _save(_photo_like(size), "JPEG", quality=85)
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return base[:2] + app1 + base[2:]


def _tiff_ifd(entries: list[tuple[int, int, int, int]], extra: bytes = b"") -> bytes:
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *e) for e in entries)
    return b"Exif\x00\x00II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + extra


def jpeg_huge_dimensions() -> bytes:
    """A JPEG whose frame header says 65000 x 65000 (4.2 Gpx) and whose data is a few bytes."""
    base = _save(Image.new("RGB", (64, 64), (1, 2, 3)), "JPEG")
    i = base.index(b"\xff\xc0")
    return base[: i + 5] + struct.pack(">HH", 65000, 65000) + base[i + 9 :]


def animated_gif(frames: int = 2000) -> bytes:
    imgs = [Image.new("P", (64, 64), i % 256) for i in range(frames)]
    return _save(imgs[0], "GIF", save_all=True, append_images=imgs[1:], duration=10)


def animated_png(frames: int = 20) -> bytes:
    imgs = [_photo_like((640, 480), seed=i) for i in range(frames)]
    return _save(imgs[0], "PNG", save_all=True, append_images=imgs[1:])


def animated_webp(frames: int = 20) -> bytes:
    imgs = [_photo_like((800, 600), seed=i) for i in range(frames)]
    return _save(imgs[0], "WEBP", save_all=True, append_images=imgs[1:], quality=50)


def cases() -> Iterator[HostileImage]:
    rng = np.random.default_rng(11)
    photo = _photo_like((1600, 1200))
    jpeg = _save(photo, "JPEG", quality=85)
    png = _save(photo, "PNG")

    yield HostileImage("empty.jpg", b"", "empty_file")
    yield HostileImage("random.jpg", rng.bytes(200_000), "not_an_image")
    yield HostileImage("html.png", b"<!doctype html><html><body>" + b"x" * 5000, "not_an_image")
    yield HostileImage("truncated.jpg", jpeg[: len(jpeg) // 2], "image_malformed")
    yield HostileImage("truncated.png", png[: len(png) // 2], "image_malformed")
    dht = jpeg.index(b"\xff\xc4")
    bogus = jpeg[: dht + 5] + b"\xff" * 16 + jpeg[dht + 21 :]
    yield HostileImage("bogus_huffman.jpg", bogus, "image_malformed", "a Huffman table of 4080 codes")
    yield HostileImage("png_named_jpg.jpg", png, "ok", "wrong extension: the content decides")
    yield HostileImage("tiff_named_jpg.jpg", _save(photo, "TIFF"), "unsupported_format")
    yield HostileImage("bmp.png", _save(photo, "BMP"), "unsupported_format")
    yield HostileImage("animated.gif", animated_gif(), "unsupported_format", "GIF, 2000 frames")
    yield HostileImage("animated.png", animated_png(), "animated_image", "APNG, 20 frames")
    yield HostileImage("animated.webp", animated_webp(), "animated_image")
    yield HostileImage("bomb_dimensions.png", png_huge_dimensions(), "image_too_large", "10 Gpx declared")
    yield HostileImage("bomb_dimensions.jpg", jpeg_huge_dimensions(), "image_too_large", "4.2 Gpx declared")
    yield HostileImage(
        "bomb_gif_screen.gif", _gif_huge_screen(), "image_too_large", "65535 x 65535 logical screen"
    )
    yield HostileImage("bomb_text_chunk.png", png_text_bomb(), "image_too_large", "zTXt inflating to 200 MB")
    yield HostileImage(
        "flat_40mp_rgb.png", png_header_only(8000, 5000), "image_too_large", "160 MB decoded: over the budget"
    )
    yield HostileImage(
        "flat_40mp_grey.png", png_header_only(8000, 5000, colour_type=0), "ok", "40 MB decoded, then reduced"
    )
    yield HostileImage(
        "flat_25mp_rgb.png", png_header_only(6000, 4150), "ok", "the largest RGB PNG within the budget"
    )
    yield HostileImage(
        "flat_30mp_rgb.png", png_header_only(6400, 4700), "image_too_large", "120 MB decoded: over the budget"
    )
    yield HostileImage("many_scans.jpg", many_scan_jpeg(), "too_many_scans", "2000 scans over 40 Mpx")
    yield HostileImage(
        "many_scans_small.jpg", many_scan_jpeg(1600, 1200, 5000), "too_many_scans", "5000 scans, 2 Mpx"
    )
    yield HostileImage(
        "progressive_40mp.jpg",
        _save(_photo_like((8000, 5000)), "JPEG", progressive=True, quality=80),
        "image_too_large",
        "libjpeg holds 120 MB of coefficients for a progressive 40 Mpx image, at any output scale",
    )
    yield HostileImage(
        "progressive_16mp.jpg",
        _save(_photo_like((4600, 3450)), "JPEG", progressive=True, quality=80),
        "ok",
        "an honest large progressive photo",
    )
    yield HostileImage(
        "baseline_40mp.jpg",
        _save(_photo_like((8000, 5000)), "JPEG", quality=80),
        "ok",
        "decoded at 1/2 by DCT scaling, then reduced",
    )
    yield HostileImage(
        "exif_orientation_float.jpg",
        jpeg_with_exif(_tiff_ifd([(0x0112, 11, 1, 0x40C00000)])),
        "ok",
        "orientation stored as a float",
    )
    yield HostileImage(
        "exif_orientation_bytes.jpg",
        jpeg_with_exif(_tiff_ifd([(0x0112, 7, 4, 0x06060606)])),
        "ok",
        "orientation of type UNDEFINED",
    )
    yield HostileImage(
        "exif_orientation_99.jpg", jpeg_with_exif(_tiff_ifd([(0x0112, 3, 1, 99)])), "ok", "out of range"
    )
    yield HostileImage(
        "exif_bad_offsets.jpg",
        jpeg_with_exif(
            _tiff_ifd([(0x0112, 3, 1, 6), (0x010F, 2, 0x7FFFFFFF, 0x7FFFFFF0), (0x8769, 4, 1, 8)])
        ),
        "ok",
        "a tag larger than the file, an EXIF IFD pointing at itself",
    )
    yield HostileImage("exif_truncated.jpg", jpeg_with_exif(b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x05"), "ok")
    yield HostileImage("cmyk.jpg", _save(photo.convert("CMYK"), "JPEG", quality=85), "ok")
    yield HostileImage(
        "grey16.png",
        _save(Image.fromarray(rng.integers(0, 65535, (900, 1200), dtype=np.uint16)), "PNG"),
        "ok",
    )
    yield HostileImage("rgb48.png", png_header_only(1600, 1200, bit_depth=16), "ok", "16 bits per channel")
    palette = photo.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    yield HostileImage("palette_transparent.png", _save(palette, "PNG", transparency=0), "ok")
    yield HostileImage("rgba.webp", _save(photo.convert("RGBA"), "WEBP", quality=80), "ok")
    yield from heif_cases()


def _heic(img: Image.Image, **kwargs: object) -> bytes:
    import pillow_heif  # what safe_image reads HEIC with

    pillow_heif.register_heif_opener()
    return _save(img, "HEIF", quality=70, enc_params={"preset": "ultrafast"}, **kwargs)


def heic_with_dimensions(data: bytes, width: int, height: int) -> bytes:
    """The HEIC with its image spatial extents box (`ispe`) claiming another size: the header the
    decoder reads before deciding anything."""
    at = data.index(b"ispe") + 8  # box type, then version and flags
    return data[:at] + struct.pack(">II", width, height) + data[at + 8 :]


def heif_cases() -> Iterator[HostileImage]:
    """HEIC/HEIF, what iPhones send: small frames (HEVC encoding is slow), headers edited."""
    small = _photo_like((640, 480))  # the smallest photo OPEN-1 accepts
    heic = _heic(small)
    turned = Image.Exif()
    turned[0x0112] = 6
    yield HostileImage("photo.heic", heic, "ok")
    yield HostileImage("turned.heic", _heic(small, exif=turned.tobytes()), "ok", "rotation in the container")
    yield HostileImage("truncated.heic", heic[: len(heic) // 2], "image_malformed")
    yield HostileImage(
        "bomb_dimensions.heic",
        heic_with_dimensions(heic, 60000, 60000),
        "image_too_large",
        "3.6 Gpx declared",
    )
    yield HostileImage(
        "decode_cost.heic",
        heic_with_dimensions(heic, 5000, 5000),
        "image_too_large",
        "25 Mpx: under max_pixels, but libheif's RGB and Pillow's copy would exceed max_decode_bytes",
    )
    yield HostileImage(
        "burst.heic", _heic(small, save_all=True, append_images=[small.rotate(90)]), "animated_image"
    )


def _gif_huge_screen() -> bytes:
    data = bytearray(_save(Image.new("P", (16, 16), 1), "GIF"))
    data[6:10] = struct.pack("<HH", 65535, 65535)
    return bytes(data)


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    index = []
    for case in cases():
        (out / case.name).write_bytes(case.data)
        index.append({"name": case.name, "expect": case.expect, "bytes": len(case.data), "note": case.note})
    (out / "index.json").write_text(json.dumps(index, indent=1))
    print(f"{len(index)} hostile images in {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "hostile-images"))
