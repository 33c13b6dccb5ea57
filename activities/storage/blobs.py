"""Content-addressed blobs: photos, product images and appeal files never travel in history.

A blob's reference is `sha256:<hex>`; storing the same bytes twice writes the same key, so a retried
upload or activity is idempotent. Where they are kept (a local folder or an S3 store) and how they are
sealed: activities/storage/object_store.py. Every read is bounded (the size is asked first) and
checked: the bytes must open under their key and hash to their reference.
"""

from __future__ import annotations

import hashlib
import io
import threading
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

from activities.storage.object_store import (
    INCOMING,
    SEAL_OVERHEAD,
    BlobError,
    BlobMissing,
    BlobTooLarge,
    FolderStore,
    ObjectStore,
    Sealer,
    UploadTicket,
    expiry,
    store_from_url,
)
from models.boundary import BLOB_REF
from models.settings import settings

_REF = BLOB_REF
CHUNK = 1 << 20
UPLOAD_URL_LIFETIME = timedelta(minutes=15)

__all__ = ["BLOB_REF", "BlobError", "BlobMissing", "BlobTooLarge", "Blobs", "UploadTicket", "blobs"]


def digest_of(ref: str) -> str:
    m = _REF.match(ref)
    if not m:
        raise BlobError(f"not a blob reference: {ref[:80]!r}")
    return m.group(1)


class Blobs:
    """The blob store every caller uses: sealed objects keyed by content address."""

    def __init__(self, store: ObjectStore, sealer: Sealer) -> None:
        self.store = store
        self.sealer = sealer

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        self.store.put(digest, self.sealer.seal(digest, data))
        return f"sha256:{digest}"

    def put_stream(self, stream: BinaryIO, *, max_bytes: int) -> tuple[str, int]:
        """Store a stream; refuses (without keeping anything) past `max_bytes`. Returns (ref, size)."""
        buf = bytearray()
        while chunk := stream.read(CHUNK):
            buf += chunk
            if len(buf) > max_bytes:
                raise BlobTooLarge(f"file is larger than {max_bytes} bytes")
        return self.put(bytes(buf)), len(buf)

    def size(self, ref: str) -> int | None:
        """The blob's size as stored (within SEAL_OVERHEAD of its content), or None if there is none."""
        digest = digest_of(ref)
        size = self.store.size(digest)
        return size if size is not None else self.store.size(INCOMING + digest)

    def read(self, ref: str, *, max_bytes: int) -> bytes:
        """The blob's bytes; BlobMissing, BlobTooLarge (nothing past the limit is read) or BlobError
        (altered bytes)."""
        digest = digest_of(ref)
        try:
            stored = self.store.get(digest, max_bytes + SEAL_OVERHEAD)
        except BlobMissing:
            return self._admit_upload(digest, max_bytes)
        data = self.sealer.open(digest, stored)
        if len(data) > max_bytes:
            raise BlobTooLarge(f"blob {ref} is larger than {max_bytes} bytes")
        if hashlib.sha256(data).hexdigest() != digest:
            raise BlobError(f"blob {ref} does not hash to its reference")
        return data

    def _admit_upload(self, digest: str, max_bytes: int) -> bytes:
        """A pre-signed upload, read for the first time: kept (sealed) only if it is what it claims."""
        name = INCOMING + digest
        data = self.store.get(name, max_bytes)  # BlobMissing: there is no such blob at all
        if hashlib.sha256(data).hexdigest() != digest:
            self.store.delete(name)  # the uploader can send the right bytes again
            raise BlobError(f"the upload for sha256:{digest} does not hash to it")
        self.store.put(digest, self.sealer.seal(digest, data))
        self.store.delete(name)
        return data

    def delete(self, ref: str) -> bool:
        """Remove the blob and any pending upload of it; True when either was there."""
        digest = digest_of(ref)
        there = self.store.size(digest) is not None or self.store.size(INCOMING + digest) is not None
        self.store.delete(digest)
        self.store.delete(INCOMING + digest)
        return there

    def upload_ticket(self, sha256_hex: str, lifetime: timedelta = UPLOAD_URL_LIFETIME) -> UploadTicket:
        """A pre-signed PUT for a blob whose sha256 the caller declares (the bytes are checked when read)."""
        digest = digest_of(f"sha256:{sha256_hex.lower().strip()}")
        url = self.store.upload_url(INCOMING + digest, lifetime)
        return UploadTicket(ref=f"sha256:{digest}", url=url, expires_at=expiry(lifetime))


_LOCK = threading.Lock()
_BLOBS: dict[tuple[str, str], Blobs] = {}


def blobs() -> Blobs:
    """The process's blob store, from settings (BLOB_STORE_URL, SELLER_DATA_DIR, CODEC_KEYS)."""
    s = settings()
    at = (s.blob_store_url, str(s.blob_dir))
    with _LOCK:
        if at not in _BLOBS:
            _BLOBS[at] = Blobs(
                store_from_url(s.blob_store_url, s.blob_dir), Sealer(s.codec_keys, s.codec_key_id)
            )
        return _BLOBS[at]


def blob_root() -> Path:
    root = settings().blob_dir
    root.mkdir(parents=True, exist_ok=True)
    return root


def _at(root: Path | None) -> Blobs:
    if root is None:
        return blobs()
    s = settings()
    return Blobs(FolderStore(root), Sealer(s.codec_keys, s.codec_key_id))


def put_stream(stream: BinaryIO, *, max_bytes: int, root: Path | None = None) -> tuple[str, int]:
    return _at(root).put_stream(stream, max_bytes=max_bytes)


def put_bytes(data: bytes, *, root: Path | None = None) -> str:
    return _at(root).put_stream(io.BytesIO(data), max_bytes=len(data))[0]


def read_bytes(ref: str, *, max_bytes: int, root: Path | None = None) -> bytes:
    return _at(root).read(ref, max_bytes=max_bytes)


def delete(ref: str, *, root: Path | None = None) -> bool:
    """Remove a blob, sealed or a pending upload (DATA-2 retention, DATA-4 erasure); True when it was
    there. Idempotent."""
    return _at(root).delete(ref)
