"""Where blobs live: a local folder (the embedded default) or any S3-compatible store (AWS S3, Ceph,
SeaweedFS), chosen by `BLOB_STORE_URL` (`s3://bucket[/prefix]`, with `S3_ENDPOINT_URL` and the usual
AWS_* credentials; empty for the folder under SELLER_DATA_DIR).

Keys are content addresses (`sha256:<hex>` is stored under `<hex>`), so a retried upload writes the
same key and any worker on any machine finds a blob by its reference. Every object is sealed before
it is stored: AES-256-GCM with the payload codec's key ring (CODEC_KEYS, the key id in the header,
the reference as associated data). Client-side rather than the store's own encryption because it
works the same with any S3 store and with the folder, the store's operators and backups never see an
ID-card photo in clear, and a key rotation is the codec's (old blobs stay readable under their key
id). The store does not know which blobs hold personal data (an ID-card photo, an appeal invoice
with a name on it, a product photo showing a face), so all are sealed; AES-GCM costs ~1 ms per MB.

A blob of one account (an ID-card photo, an invoice) is sealed under that account's data key instead
(security/data_keys.py, the key the codec seals its history payloads with) and kept under a name of its
own, `accounts/<scope>/<hex>`: erasing the account destroys the key, so the blob no longer opens from
any copy of the store, its backups included (crypto-shredding, docs/PRIVACY.md). The name is per
account so that two accounts holding the same bytes (a shared invoice) never share a key.

Uploads from other languages: `upload_url` pre-signs a PUT of a declared sha256 to `incoming/<hex>`.
Nothing there is trusted: the first read of the reference reads it (bounded), checks that its bytes
hash to the reference, seals it under the blob's key and deletes the clear upload.

Sizes are bounded when reading: the stored length is asked first, and no more than the limit (plus
the seal's header) is ever read.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"SLB1"
NONCE = 12
TAG = 16
MAX_KEY_ID = 64
SEAL_OVERHEAD = len(MAGIC) + 1 + MAX_KEY_ID + NONCE + TAG  # the most a seal adds to a blob
INCOMING = "incoming/"
ACCOUNTS = "accounts/"  # + "<scope>/<hex>": a blob sealed under its account's data key
DATA_KEY_ID = "account-data-key"  # the key id a blob under an account's data key carries


class BlobError(ValueError):
    pass


class BlobMissing(BlobError):
    pass


class BlobTooLarge(BlobError):
    pass


@dataclass(frozen=True)
class UploadTicket:
    """A pre-signed PUT: any HTTP client sends the file's bytes to `url` before `expires_at`."""

    ref: str
    url: str
    expires_at: datetime
    method: str = "PUT"


class Sealer:
    """AES-256-GCM with a key ring: the first key seals, every key opens (rotation as for the codec)."""

    def __init__(self, keys: dict[str, bytes], current: str) -> None:
        self.ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.current = current

    def seal(self, digest: str, data: bytes, *, account: tuple[str, bytes] | None = None) -> bytes:
        """Under the ring's current key; or under an account's data key, `account` = (scope, key), the
        scope bound in as associated data (the bytes open under no other account's name)."""
        nonce = os.urandom(NONCE)
        if account is not None:
            kid = DATA_KEY_ID.encode()
            sealed = AESGCM(account[1]).encrypt(nonce, data, f"{account[0]}/{digest}".encode())
        else:
            kid = self.current.encode()
            sealed = self.ciphers[self.current].encrypt(nonce, data, digest.encode())
        return MAGIC + bytes([len(kid)]) + kid + nonce + sealed

    def open(self, digest: str, stored: bytes, *, account: tuple[str, bytes] | None = None) -> bytes:
        if not stored.startswith(MAGIC):
            return stored  # written before blobs were sealed (a folder from an older version)
        n = stored[len(MAGIC)]
        start = len(MAGIC) + 1
        kid = stored[start : start + n].decode(errors="replace")
        if kid == DATA_KEY_ID:
            if account is None:
                raise BlobError("blob sealed under an account's data key: read it as that account's")
            cipher, aad = AESGCM(account[1]), f"{account[0]}/{digest}"
        else:
            cipher, aad = self.ciphers.get(kid), digest  # type: ignore[assignment]
        if cipher is None:
            raise BlobError(f"blob sealed with key {kid!r}, which is not among CODEC_KEYS")
        nonce = stored[start + n : start + n + NONCE]
        try:
            return cipher.decrypt(nonce, stored[start + n + NONCE :], aad.encode())
        except Exception as err:  # InvalidTag: altered bytes, or another blob's under this name
            raise BlobError("blob does not open under its key (altered, or not this blob)") from err


class ObjectStore(Protocol):
    """Raw objects by name; the Blobs facade (activities/storage/blobs.py) seals, checks and bounds them."""

    def put(self, name: str, data: bytes) -> None: ...

    def size(self, name: str) -> int | None: ...

    def get(self, name: str, max_bytes: int) -> bytes: ...

    def delete(self, name: str) -> None: ...

    def upload_url(self, name: str, expires: timedelta) -> str: ...


class FolderStore:
    """Objects as files under a folder, `ab/cdef...` by name; written to a temporary file and renamed,
    so a reader never sees half an object."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, name: str) -> Path:
        return self.root / name[:2] / name[2:]

    def put(self, name: str, data: bytes) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            final = self.path(name)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def size(self, name: str) -> int | None:
        try:
            return self.path(name).stat().st_size
        except FileNotFoundError:
            return None

    def get(self, name: str, max_bytes: int) -> bytes:
        try:
            with open(self.path(name), "rb") as fh:
                data = fh.read(max_bytes + 1)
        except FileNotFoundError:
            raise BlobMissing(name) from None
        if len(data) > max_bytes:
            raise BlobTooLarge(name)
        return data

    def delete(self, name: str) -> None:
        self.path(name).unlink(missing_ok=True)

    def upload_url(self, name: str, expires: timedelta) -> str:
        raise BlobError(
            "the local blob folder takes no uploads from outside: set BLOB_STORE_URL to an S3 store"
        )


class S3Store:
    """Objects in an S3 bucket under a prefix, through boto3 (any S3-compatible endpoint)."""

    def __init__(self, client: Any, bucket: str, prefix: str = "", public_client: Any = None) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        # Pre-signed URLs name the endpoint callers reach (S3_PUBLIC_ENDPOINT_URL), which behind a
        # proxy or in docker-compose is not the one the workers use.
        self.public_client = public_client or client

    def key(self, name: str) -> str:
        return self.prefix + name

    def put(self, name: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.key(name), Body=data)

    def size(self, name: str) -> int | None:
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.key(name))
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return int(head["ContentLength"])

    def get(self, name: str, max_bytes: int) -> bytes:
        from botocore.exceptions import ClientError

        try:
            # The range bounds what is read even if the object changed since it was measured.
            obj = self.client.get_object(Bucket=self.bucket, Key=self.key(name), Range=f"bytes=0-{max_bytes}")
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise BlobMissing(name) from None
            raise
        data = obj["Body"].read(max_bytes + 1)
        if len(data) > max_bytes:
            raise BlobTooLarge(name)
        return bytes(data)

    def delete(self, name: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.key(name))

    def upload_url(self, name: str, expires: timedelta) -> str:
        return str(
            self.public_client.generate_presigned_url(
                "put_object",
                Params={"Bucket": self.bucket, "Key": self.key(name)},
                ExpiresIn=int(expires.total_seconds()),
                HttpMethod="PUT",
            )
        )


def s3_client(endpoint_url: str | None, region: str | None = None) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url or None,
        region_name=region or os.environ.get("AWS_REGION") or "us-east-1",
        # Path-style addressing: S3-compatible stores on a plain host name (SeaweedFS, Ceph) need it.
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
    )


def store_from_url(url: str, folder: Path) -> ObjectStore:
    """`s3://bucket[/prefix]` (S3_ENDPOINT_URL for a store other than AWS), or the folder when empty."""
    if not url.strip():
        return FolderStore(folder)
    if not url.startswith("s3://"):
        raise BlobError(f"BLOB_STORE_URL must be s3://bucket[/prefix] or empty, not {url[:40]!r}")
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    endpoint = os.environ.get("S3_ENDPOINT_URL") or None
    public = os.environ.get("S3_PUBLIC_ENDPOINT_URL") or None
    client = s3_client(endpoint)
    return S3Store(client, bucket, prefix, s3_client(public) if public else None)


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def expiry(expires: timedelta) -> datetime:
    return datetime.now(UTC) + expires
