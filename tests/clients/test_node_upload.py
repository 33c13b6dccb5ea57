"""The README's upload for services in other languages: a pre-signed PUT URL from the Python side, the
Node client sending a photo's bytes to it (plain fetch, no S3 library), and a worker's read of the
reference returning those bytes, sealed from then on; against a real S3 server (SeaweedFS)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import seller_client
from activities.storage.blobs import blobs
from activities.storage.object_store import INCOMING, MAGIC
from devtools import photo_fixtures
from devtools.seaweed import SeaweedS3
from models.settings import settings
from tests.support.draws import hex_id

NODE_BIN = Path(__file__).resolve().parents[2] / "clients" / "node" / "bin" / "seller.js"
pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")


@pytest.fixture
def s3_settings(s3_store: SeaweedS3) -> Iterator[str]:
    """This process's settings pointed at the S3 store (its own prefix), as a worker's would be."""
    prefix = f"node-{hex_id()}"
    with pytest.MonkeyPatch.context() as mp:
        for name, value in s3_store.env(prefix=prefix).items():
            mp.setenv(name, value)
        settings.cache_clear()
        try:
            yield prefix
        finally:
            settings.cache_clear()
    settings.cache_clear()  # the next test reads the settings it started with


async def _node_upload(url: str, file: Path, *extra: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        "node", str(NODE_BIN), "upload-to-url", url, str(file), *extra,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_node_uploads_a_photo_with_a_presigned_url_and_a_worker_reads_it(
    s3_settings: str, s3_store: SeaweedS3, tmp_path: Path
) -> None:
    data = photo_fixtures.jpeg_bytes(photo_fixtures.VARIANTS[0])
    file = tmp_path / "photo.jpg"
    file.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    ticket = seller_client.upload_url(digest)  # what `starter.py upload-url` prints

    # Bytes that are not the declared file are never sent.
    other = tmp_path / "other.jpg"
    other.write_bytes(data + b"\0")
    code, _, err = await _node_upload(ticket.url, other, "--ref", ticket.ref)
    assert code != 0 and "not sha256:" in err
    assert s3_store.client().list_objects_v2(Bucket=s3_store.bucket, Prefix=s3_settings)["KeyCount"] == 0

    code, out, err = await _node_upload(ticket.url, file, "--ref", ticket.ref)
    assert code == 0, err[-2000:]
    assert json.loads(out) == {"ref": ticket.ref}
    # Where the README says: raw bytes under <prefix>/incoming/<hex>, until a worker first reads them.
    key = f"{s3_settings}/{INCOMING}{digest}"
    assert s3_store.client().head_object(Bucket=s3_store.bucket, Key=key)["ContentLength"] == len(data)

    # A worker's read: the same bytes, then sealed under <prefix>/<hex> and the clear upload gone.
    limit = seller_client.current_policy().authentication.max_photo_bytes
    assert blobs().read(ticket.ref, max_bytes=limit) == data
    assert blobs().store.size(INCOMING + digest) is None
    assert blobs().store.get(digest, len(data) + 200).startswith(MAGIC)
