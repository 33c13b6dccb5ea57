"""AES-256-GCM payload codec: no personal data in clear in Temporal history (DESIGN decision 8).

Each payload is serialised whole and encrypted with the current key; the key id travels in the
metadata so that rotated keys keep old histories readable (`CODEC_KEYS=k2:...,k1:...`).

Strict mode (always on with SELLER_ENV=production): a payload that arrives in clear, for instance a
signal typed by hand without the codec, is refused. It is not decoded as it stands: the worker sees a
marker payload instead, which no message type accepts, so the SDK drops the signal or refuses the update
(never a failed workflow task). The refusal is logged and counted, without the payload's content.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Sequence

import temporalio.converter
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload

from models.settings import Settings, settings

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
# What a refused clear payload becomes: an encoding no payload converter knows, so it converts to nothing.
REFUSED_ENCODING = b"binary/refused-plaintext"
log = logging.getLogger("security.codec")


class EncryptionCodec(temporalio.converter.PayloadCodec):
    def __init__(self, keys: dict[str, bytes], current_key_id: str, *, strict: bool = False) -> None:
        if current_key_id not in keys:
            raise ValueError(f"codec key {current_key_id!r} is not among the configured keys")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._current = current_key_id
        self.strict = strict
        self.refused_plaintext = 0  # clear payloads refused by this codec (strict mode)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        cipher = self._ciphers[self._current]
        out = []
        for p in payloads:
            nonce = os.urandom(12)
            out.append(
                Payload(
                    metadata={"encoding": ENCODING, KEY_ID: self._current.encode()},
                    data=nonce + cipher.encrypt(nonce, p.SerializeToString(), None),
                )
            )
        return out

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out = []
        for p in payloads:
            if p.metadata.get("encoding") != ENCODING:
                out.append(self._clear(p))
                continue
            key_id = p.metadata.get(KEY_ID, b"").decode()
            cipher = self._ciphers.get(key_id)
            if cipher is None:
                raise ValueError(f"payload encrypted with unknown key id {key_id!r}")
            plain = cipher.decrypt(p.data[:12], p.data[12:], None)
            out.append(Payload.FromString(plain))
        return out

    def _clear(self, p: Payload) -> Payload:
        if not self.strict or p.metadata.get("encoding") == REFUSED_ENCODING:
            return p
        self.refused_plaintext += 1
        # The encoding and size only: the content may be exactly the personal data the codec protects.
        log.warning(
            "refused a payload in clear (encoding %r, %d bytes): strict codec",
            p.metadata.get("encoding", b"").decode(errors="replace")[:40],
            len(p.data),
        )
        return Payload(metadata={"encoding": REFUSED_ENCODING})


def codec(s: Settings | None = None) -> EncryptionCodec:
    s = s or settings()
    return EncryptionCodec(s.codec_keys, s.codec_key_id, strict=s.codec_strict)


def data_converter(s: Settings | None = None) -> temporalio.converter.DataConverter:
    return dataclasses.replace(
        temporalio.converter.default(),
        payload_codec=codec(s),
        # Error messages and stack traces can quote data too: encode them as well.
        failure_converter_class=temporalio.converter.DefaultFailureConverterWithEncodedAttributes,
    )
