"""Content-addressed blobs: photos, product images and appeal files never travel in history.

A blob's reference is `sha256:<hex>`; storing the same bytes twice writes the same key, so a retried
upload or activity is idempotent. Where they are kept (a local folder or an S3 store) and how they are
sealed: activities/storage/object_store.py. Every read is bounded (the size is asked first) and
checked: the bytes must open under their key and hash to their reference.

A blob of one account (`scope`, its workflow id `seller-<member id>`) is sealed under the account's data
key and kept under its account's name; reading with the scope finds it there first, then a blob of no
account (a product image, or one sealed before this release or while the registry was out of reach).
Erasing the account destroys the key: its blobs then read as missing (BlobShredded), from any copy.
"""

from __future__ import annotations

import hashlib
import io
import threading
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from activities.storage.object_store import (
    ACCOUNTS,
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

if TYPE_CHECKING:
    from security.data_keys import DataKeys

_REF = BLOB_REF
CHUNK = 1 << 20
UPLOAD_URL_LIFETIME = timedelta(minutes=15)

__all__ = [
    "BLOB_REF", "BlobError", "BlobMissing", "BlobShredded", "BlobTooLarge", "Blobs", "UploadTicket", "blobs"
]  # fmt: skip


class BlobShredded(BlobMissing):
    """The blob's account was erased: its data key is gone, and the blob with it (DATA-4)."""


def digest_of(ref: str) -> str:
    m = _REF.match(ref)
    if not m:
        raise BlobError(f"not a blob reference: {ref[:80]!r}")
    return m.group(1)


class Blobs:
    """The blob store every caller uses: sealed objects keyed by content address (and account)."""

    def __init__(self, store: ObjectStore, sealer: Sealer, data_keys: DataKeys | None = None) -> None:
        self.store = store
        self.sealer = sealer
        self.data_keys = data_keys

    def _account(self, scope: str | None, *, encode: bool) -> tuple[str, bytes] | None:
        """(scope, data key) to seal or open an account's blob with; None for the ring key. Encoding, a
        destroyed key or an unreachable registry answers None (the blob goes under the ring key, still
        sealed: only its shredding is lost); decoding, a destroyed key raises BlobShredded."""
        if scope is None or self.data_keys is None:
            return None
        if encode:
            key = self.data_keys.for_encode(scope)
            return None if key is None else (scope, key)
        from security.data_keys import DataKeyDestroyed

        try:
            return scope, self.data_keys.for_decode(scope)
        except DataKeyDestroyed as err:
            raise BlobShredded(f"the blob's account was erased ({scope})") from err

    def put(self, data: bytes, *, scope: str | None = None) -> str:
        digest = hashlib.sha256(data).hexdigest()
        account = self._account(scope, encode=True)
        name = digest if account is None else f"{ACCOUNTS}{account[0]}/{digest}"
        self.store.put(name, self.sealer.seal(digest, data, account=account))
        return f"sha256:{digest}"

    def put_stream(self, stream: BinaryIO, *, max_bytes: int, scope: str | None = None) -> tuple[str, int]:
        """Store a stream; refuses (without keeping anything) past `max_bytes`. Returns (ref, size)."""
        buf = bytearray()
        while chunk := stream.read(CHUNK):
            buf += chunk
            if len(buf) > max_bytes:
                raise BlobTooLarge(f"file is larger than {max_bytes} bytes")
        return self.put(bytes(buf), scope=scope), len(buf)

    def size(self, ref: str, *, scope: str | None = None) -> int | None:
        """The blob's size as stored (within SEAL_OVERHEAD of its content), or None if there is none."""
        digest = digest_of(ref)
        names = ([f"{ACCOUNTS}{scope}/{digest}"] if scope else []) + [digest, INCOMING + digest]
        for name in names:
            size = self.store.size(name)
            if size is not None:
                return size
        return None

    def read(self, ref: str, *, max_bytes: int, scope: str | None = None) -> bytes:
        """The blob's bytes; BlobMissing (BlobShredded: its account was erased), BlobTooLarge (nothing
        past the limit is read) or BlobError (altered bytes). With `scope`, the account's own copy first."""
        digest = digest_of(ref)
        data = None
        if scope is not None:
            try:
                stored = self.store.get(f"{ACCOUNTS}{scope}/{digest}", max_bytes + SEAL_OVERHEAD)
            except BlobMissing:
                pass
            else:
                data = self.sealer.open(digest, stored, account=self._account(scope, encode=False))
        if data is None:
            try:
                stored = self.store.get(digest, max_bytes + SEAL_OVERHEAD)
            except BlobMissing:
                return self._admit_upload(digest, max_bytes, scope)
            data = self.sealer.open(digest, stored)
        if len(data) > max_bytes:
            raise BlobTooLarge(f"blob {ref} is larger than {max_bytes} bytes")
        if hashlib.sha256(data).hexdigest() != digest:
            raise BlobError(f"blob {ref} does not hash to its reference")
        return data

    def _admit_upload(self, digest: str, max_bytes: int, scope: str | None) -> bytes:
        """A pre-signed upload, read for the first time: kept (sealed, under the reading account's key)
        only if it is what it claims."""
        name = INCOMING + digest
        data = self.store.get(name, max_bytes)  # BlobMissing: there is no such blob at all
        if hashlib.sha256(data).hexdigest() != digest:
            self.store.delete(name)  # the uploader can send the right bytes again
            raise BlobError(f"the upload for sha256:{digest} does not hash to it")
        self.put(data, scope=scope)
        self.store.delete(name)
        return data

    def delete(self, ref: str, *, scope: str | None = None) -> bool:
        """With `scope`, remove the account's copy; without, the blob of no account and any pending upload
        of it. True when one was there."""
        digest = digest_of(ref)
        names = [f"{ACCOUNTS}{scope}/{digest}"] if scope else [digest, INCOMING + digest]
        there = False
        for name in names:
            there = self.store.size(name) is not None or there
            self.store.delete(name)
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
                store_from_url(s.blob_store_url, s.blob_dir), Sealer(s.codec_keys, s.codec_key_id), _data_keys()
            )
        return _BLOBS[at]


def _data_keys() -> DataKeys:
    from activities.storage.db import engine
    from security.data_keys import DataKeys

    s = settings()
    return DataKeys(s.codec_keys, s.codec_key_id, engine)


def blob_root() -> Path:
    root = settings().blob_dir
    root.mkdir(parents=True, exist_ok=True)
    return root


def _at(root: Path | None) -> Blobs:
    if root is None:
        return blobs()
    s = settings()
    return Blobs(FolderStore(root), Sealer(s.codec_keys, s.codec_key_id), _data_keys())


def put_stream(
    stream: BinaryIO, *, max_bytes: int, root: Path | None = None, scope: str | None = None
) -> tuple[str, int]:
    return _at(root).put_stream(stream, max_bytes=max_bytes, scope=scope)


def put_bytes(data: bytes, *, root: Path | None = None, scope: str | None = None) -> str:
    return _at(root).put_stream(io.BytesIO(data), max_bytes=len(data), scope=scope)[0]


def read_bytes(ref: str, *, max_bytes: int, root: Path | None = None, scope: str | None = None) -> bytes:
    return _at(root).read(ref, max_bytes=max_bytes, scope=scope)


def delete(ref: str, *, root: Path | None = None, scope: str | None = None) -> bool:
    """Remove a blob: the account's copy with `scope`, else the blob of no account or a pending upload
    (DATA-2 retention, DATA-4 erasure); True when it was there. Idempotent."""
    return _at(root).delete(ref, scope=scope)
