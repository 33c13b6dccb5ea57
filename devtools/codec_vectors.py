"""Test vectors of the payload codec (docs/contract/codec.md), computed by the codec itself with fixed
keys and nonces. `python -m devtools.codec_vectors` writes docs/contract/codec-vectors.json;
tests/devtools/test_codec_vectors.py checks the committed file against the code, and the Node client's
tests (clients/node/test/) check their own codec against the same file.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from unittest import mock

from temporalio.api.common.v1 import Payload

import security.codec as codec

PATH = Path(__file__).resolve().parent.parent / "docs" / "contract" / "codec-vectors.json"
K1 = ("k1", bytes(range(32)))
K2 = ("k2", bytes(range(32, 64)))
# name, key, nonce, payload metadata, payload data
CASES: list[tuple[str, tuple[str, bytes], bytes, dict[str, bytes], bytes]] = [
    ("json payload, key k1", K1, bytes(range(12)), {"encoding": b"json/plain"}, b'{"code":"493027"}'),
    (
        "a message, key k2",
        K2,
        bytes.fromhex("cafebabefacedbaddecaf888"),
        {"encoding": b"json/plain"},
        b'{"auth":null,"photo_ref":"sha256:' + b"3f" * 32 + b'"}',
    ),
    ("null payload (an update without a result)", K1, bytes(12), {"encoding": b"binary/null"}, b""),
]


def _encode(key: tuple[str, bytes], nonce: bytes, payload: Payload) -> Payload:
    c = codec.EncryptionCodec(dict([key]), key[0])
    with mock.patch.object(codec.os, "urandom", lambda n: nonce):  # the nonce is the one random input
        return asyncio.run(c.encode([payload]))[0]


def _payload_json(p: Payload) -> dict[str, Any]:
    return {"metadata": {k: v.decode() for k, v in sorted(p.metadata.items())}, "data_hex": p.data.hex()}


def vectors() -> dict[str, Any]:
    good: list[dict[str, Any]] = []
    for name, key, nonce, metadata, data in CASES:
        payload = Payload(metadata=metadata, data=data)
        good.append(
            {
                "name": name,
                "key_id": key[0],
                "key_hex": key[1].hex(),
                "nonce_hex": nonce.hex(),
                "payload": _payload_json(payload),
                "plaintext_hex": payload.SerializeToString().hex(),
                "encoded": _payload_json(_encode(key, nonce, payload)),
            }
        )
    first = good[0]["encoded"]
    tampered = bytearray(bytes.fromhex(first["data_hex"]))
    tampered[-1] ^= 1
    bad = [
        {
            "name": "last tag byte flipped",
            "keys": {K1[0]: K1[1].hex()},
            "encoded": first | {"data_hex": bytes(tampered).hex()},
        },
        {"name": "key id not configured", "keys": {K2[0]: K2[1].hex()}, "encoded": first},
        {
            "name": "right key id, wrong key",
            "keys": {K1[0]: K2[1].hex()},
            "encoded": first,
        },
    ]
    return {"encode_and_decode": good, "decode_must_fail": bad}


def text() -> str:
    return json.dumps(vectors(), indent=2) + "\n"


if __name__ == "__main__":
    PATH.write_text(text())
    print(f"wrote {PATH}")
