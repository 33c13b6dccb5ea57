"""The blob store on its two backends, a folder and a real S3 store (SeaweedFS): content addresses,
sealed at rest, bounded reads, altered bytes refused, pre-signed uploads from any HTTP client."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session

from activities.storage.blobs import BlobError, BlobMissing, Blobs, BlobShredded, BlobTooLarge
from activities.storage.db import engine
from activities.storage.object_store import ACCOUNTS, INCOMING, MAGIC, FolderStore, S3Store, Sealer
from devtools.seaweed import SeaweedS3
from security import data_keys
from security.data_keys import DataKeys
from tests.support.draws import hex_id

K1, K2 = bytes(range(32)), bytes(range(32, 64))
PHOTO = b"\xff\xd8\xff\xe0 an ID-card photo: 110101199003074258 " + os.urandom(2000)


@pytest.fixture(params=["folder", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Blobs:
    sealer = Sealer({"k1": K1}, "k1")
    if request.param == "folder":
        return Blobs(FolderStore(tmp_path / "blobs"), sealer)
    s3: SeaweedS3 = request.getfixturevalue("s3_store")
    return Blobs(S3Store(s3.client(), s3.bucket, prefix=f"t-{hex_id()}"), sealer)


def test_content_address_round_trip_and_sealed_at_rest(store: Blobs) -> None:
    ref = store.put(PHOTO)
    assert ref == "sha256:" + hashlib.sha256(PHOTO).hexdigest()
    assert store.put(PHOTO) == ref  # the same bytes, the same key: a retried upload changes nothing
    assert store.read(ref, max_bytes=len(PHOTO)) == PHOTO
    raw = store.store.get(ref.removeprefix("sha256:"), 10**6)
    assert raw.startswith(MAGIC) and b"110101199003074258" not in raw  # never in clear in the store


def test_size_limit_enforced_when_reading(store: Blobs) -> None:
    ref = store.put(PHOTO)
    with pytest.raises(BlobTooLarge):
        store.read(ref, max_bytes=len(PHOTO) - 1)
    with pytest.raises(BlobMissing):
        store.read("sha256:" + "0" * 64, max_bytes=100)
    with pytest.raises(BlobError):
        store.read("../etc/passwd", max_bytes=100)


def test_altered_or_swapped_object_refused(store: Blobs) -> None:
    a, b = store.put(PHOTO), store.put(b"another blob entirely")
    swapped = store.store.get(b.removeprefix("sha256:"), 10**6)
    store.store.put(a.removeprefix("sha256:"), swapped)  # another blob's sealed bytes under a's name
    with pytest.raises(BlobError):
        store.read(a, max_bytes=10**6)


def test_key_rotation_keeps_old_blobs_readable(store: Blobs) -> None:
    ref = store.put(PHOTO)
    rotated = Blobs(store.store, Sealer({"k2": K2, "k1": K1}, "k2"))
    assert rotated.read(ref, max_bytes=10**6) == PHOTO
    without_k1 = Blobs(store.store, Sealer({"k2": K2}, "k2"))
    with pytest.raises(BlobError):
        without_k1.read(ref, max_bytes=10**6)


def test_an_accounts_blobs_are_sealed_under_its_data_key_and_shredded_with_it(
    store: Blobs, data_dir: Path
) -> None:
    """An account's blob opens only with its data key: destroyed (erasure), a copy of the store (a
    backup) no longer opens; another account holding the same bytes keeps its own copy. A pre-signed
    upload is sealed under the key of the account that reads it first."""
    accounts = Blobs(store.store, store.sealer, DataKeys({"k1": K1}, "k1", engine))
    erased, kept = f"seller-B{hex_id(15)}", f"seller-C{hex_id(15)}"
    ref = accounts.put(PHOTO, scope=erased)
    assert accounts.put(PHOTO, scope=kept) == ref
    digest = ref.removeprefix("sha256:")
    backup = accounts.store.get(f"{ACCOUNTS}{erased}/{digest}", 10**6)
    assert accounts.store.size(digest) is None, "no copy under the ring key"
    with pytest.raises(BlobError):  # the ring alone cannot open it
        accounts.sealer.open(digest, backup)
    assert accounts.read(ref, max_bytes=10**6, scope=erased) == PHOTO

    with Session(engine()) as session:
        data_keys.destroy(session, [erased], datetime.now(UTC))
        session.commit()
    with pytest.raises(BlobShredded):
        accounts.read(ref, max_bytes=10**6, scope=erased)
    assert accounts.delete(ref, scope=erased) and not accounts.delete(ref, scope=erased)
    accounts.store.put(f"{ACCOUNTS}{erased}/{digest}", backup)  # the backup put back
    with pytest.raises(BlobShredded):
        accounts.read(ref, max_bytes=10**6, scope=erased)
    assert accounts.read(ref, max_bytes=10**6, scope=kept) == PHOTO

    if isinstance(accounts.store, S3Store):
        upload = b"\xff\xd8 a photo uploaded by a service in another language " + os.urandom(64)
        ticket = accounts.upload_ticket(hashlib.sha256(upload).hexdigest())
        assert put_url(ticket.url, upload) == 200
        assert accounts.read(ticket.ref, max_bytes=10**6, scope=kept) == upload
        admitted = ticket.ref.removeprefix("sha256:")
        assert accounts.store.size(INCOMING + admitted) is None and accounts.store.size(admitted) is None
        assert accounts.store.get(f"{ACCOUNTS}{kept}/{admitted}", 10**6).startswith(MAGIC)


def test_folder_has_no_upload_urls(tmp_path: Path) -> None:
    with pytest.raises(BlobError):
        Blobs(FolderStore(tmp_path), Sealer({"k1": K1}, "k1")).upload_ticket("a" * 64)


def put_url(url: str, data: bytes) -> int:
    """A plain HTTP PUT, as curl or any language's HTTP client sends it (no S3 library)."""
    req = urllib.request.Request(url, data=data, method="PUT")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return int(resp.status)


def test_presigned_upload_is_admitted_sealed_when_its_bytes_match(s3_store: SeaweedS3) -> None:
    store = Blobs(
        S3Store(s3_store.client(), s3_store.bucket, prefix=f"t-{hex_id()}"), Sealer({"k1": K1}, "k1")
    )
    digest = hashlib.sha256(PHOTO).hexdigest()
    ticket = store.upload_ticket(digest)
    assert ticket.ref == f"sha256:{digest}"
    assert put_url(ticket.url, PHOTO) == 200
    assert store.size(ticket.ref) == len(PHOTO)
    assert store.read(ticket.ref, max_bytes=len(PHOTO)) == PHOTO
    assert store.store.size(INCOMING + digest) is None  # the clear upload is gone, sealed in its place
    assert store.store.get(digest, 10**6).startswith(MAGIC)
    # bytes that are not what the reference names are refused and dropped
    liar = store.upload_ticket(hashlib.sha256(b"the declared file").hexdigest())
    put_url(liar.url, b"something else")
    with pytest.raises(BlobError):
        store.read(liar.ref, max_bytes=10**6)
    with pytest.raises(BlobMissing):
        store.read(liar.ref, max_bytes=10**6)


def test_cli_issues_an_upload_url(s3_store: SeaweedS3, tmp_path: Path) -> None:
    """`starter.py upload-url SHA256` (the facade's upload_url) from another process's settings."""
    data = b"an appeal invoice " + os.urandom(64)
    digest = hashlib.sha256(data).hexdigest()
    env = {**os.environ, **s3_store.env(prefix=f"cli-{hex_id()}"), "SELLER_DATA_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "starter.py", "--json", "upload-url", digest],
        env=env, capture_output=True, text=True, timeout=600, check=True,
    )  # fmt: skip
    import json

    ticket = json.loads(out.stdout)
    assert ticket["ref"] == f"sha256:{digest}" and ticket["method"] == "PUT"
    assert put_url(ticket["url"], data) == 200
    prefix = env["BLOB_STORE_URL"].split("/", 3)[3]
    head = s3_store.client().head_object(Bucket=s3_store.bucket, Key=f"{prefix}/{INCOMING}{digest}")
    assert head["ContentLength"] == len(data)
