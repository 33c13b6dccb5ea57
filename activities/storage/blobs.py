"""Content-addressed blob folder: photos, product images and appeal files never travel in history.

A blob's reference is `sha256:<hex>`; storing the same bytes twice is a no-op, so a retried upload
or activity is idempotent. Writes go to a temporary file first and are renamed into place, so a
reader never sees half a blob.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from models.boundary import BLOB_REF
from models.settings import settings

_REF = BLOB_REF
CHUNK = 1 << 20


class BlobError(ValueError):
    pass


def blob_root() -> Path:
    root = settings().blob_dir
    root.mkdir(parents=True, exist_ok=True)
    return root


def path_for(ref: str, *, root: Path | None = None) -> Path:
    m = _REF.match(ref)
    if not m:
        raise BlobError(f"not a blob reference: {ref[:80]!r}")
    digest = m.group(1)
    return (root or blob_root()) / digest[:2] / digest[2:]


def put_stream(stream: BinaryIO, *, max_bytes: int, root: Path | None = None) -> tuple[str, int]:
    """Store a stream; refuses (without keeping anything) past `max_bytes`. Returns (ref, size)."""
    root = root or blob_root()
    h = hashlib.sha256()
    size = 0
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise BlobError(f"file is larger than {max_bytes} bytes")
                h.update(chunk)
                out.write(chunk)
        ref = f"sha256:{h.hexdigest()}"
        final = path_for(ref, root=root)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)
        return ref, size
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def put_bytes(data: bytes, *, root: Path | None = None) -> str:
    import io

    ref, _ = put_stream(io.BytesIO(data), max_bytes=len(data) + 1, root=root)
    return ref


def read_bytes(ref: str, *, max_bytes: int, root: Path | None = None) -> bytes:
    path = path_for(ref, root=root)
    if not path.exists():
        raise BlobError(f"no blob {ref}")
    if path.stat().st_size > max_bytes:
        raise BlobError(f"blob {ref} is larger than {max_bytes} bytes")
    return path.read_bytes()
