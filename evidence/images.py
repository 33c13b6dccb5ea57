"""Pictures on the way out of the evidence page: decoded by the one bounded decoder
(activities/images/safe_image.py) and written afresh as PNG from the pixels alone, so nothing the
seller's file carried (EXIF, GPS position, camera serials, ICC tricks, trailing bytes) reaches a browser.
Anything that does not decode as a picture is handed out as a download, never rendered."""

from __future__ import annotations

import io

from PIL import Image

from activities.images.safe_image import DecodedImage, ImageLimits, decode_image

# Evidence is looked at, not analysed: a screen-sized copy is enough.
LIMITS = ImageLimits(max_bytes=25_000_000, max_pixels=60_000_000, max_side=2000)


def reencoded(data: bytes) -> bytes | None:
    """The picture as a clean PNG, or None when the bytes are not a picture we read."""
    decoded = decode_image(data, LIMITS)
    if not isinstance(decoded, DecodedImage):
        return None
    # A new image from the pixels: no `info` (EXIF, text chunks, ICC) is carried over.
    clean = Image.frombytes("RGB", decoded.image.size, decoded.image.convert("RGB").tobytes())
    out = io.BytesIO()
    clean.save(out, "PNG")
    return out.getvalue()
