"""The payload codec's test vectors (docs/contract/codec-vectors.json) are what the codec does."""

from __future__ import annotations

import json
from typing import Any

import pytest
from temporalio.api.common.v1 import Payload

from devtools.codec_vectors import PATH, text
from security.codec import EncryptionCodec

VECTORS = json.loads(PATH.read_text())


def _payload(j: dict[str, Any]) -> Payload:
    return Payload(
        metadata={k: v.encode() for k, v in j["metadata"].items()}, data=bytes.fromhex(j["data_hex"])
    )


def test_the_committed_vectors_are_what_the_codec_computes() -> None:
    assert PATH.read_text() == text(), "run `python -m devtools.codec_vectors` and commit the file"


@pytest.mark.parametrize("v", VECTORS["encode_and_decode"], ids=lambda v: v["name"])
async def test_each_vector_decodes_to_its_payload(v: dict[str, Any]) -> None:
    codec = EncryptionCodec({v["key_id"]: bytes.fromhex(v["key_hex"])}, v["key_id"], strict=True)
    [decoded] = await codec.decode([_payload(v["encoded"])])
    assert decoded == _payload(v["payload"])
    assert decoded.SerializeToString().hex() == v["plaintext_hex"]
    assert set(v["encoded"]["metadata"]) == {"encoding", "encryption-key-id"}  # nothing else in clear


@pytest.mark.parametrize("v", VECTORS["decode_must_fail"], ids=lambda v: v["name"])
async def test_a_bad_ciphertext_or_key_never_decodes(v: dict[str, Any]) -> None:
    keys = {k: bytes.fromhex(h) for k, h in v["keys"].items()}
    codec = EncryptionCodec(keys, next(iter(keys)), strict=True)
    with pytest.raises(Exception):  # noqa: B017  InvalidTag or an unknown key id: never a payload
        await codec.decode([_payload(v["encoded"])])
