"""AES-256-GCM payload codec: no personal data in clear in Temporal history (DESIGN decision 8).

Each payload is serialised whole and encrypted with the current key; the key id travels in the
metadata so that rotated keys keep old histories readable (`CODEC_KEYS=k2:...,k1:...`). An account's
payloads go under its own data key instead (crypto-shredding, security/data_keys.py, docs/PRIVACY.md):
all of a client's to an account, all of an account's activities', and of what a workflow writes, the
payloads the converter marks as personal (security/personal_payloads.py).

Strict mode (always on with SELLER_ENV=production): a payload that arrives in clear, for instance a
signal typed by hand without the codec, is refused. It is not decoded as it stands: the worker sees a
marker payload instead, which no message type accepts, so the SDK drops the signal or refuses the update
(never a failed workflow task). The refusal is logged and counted, without the payload's content.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import logging
import os
from collections.abc import Sequence

import temporalio.converter
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    ActivitySerializationContext,
    SerializationContext,
    WithSerializationContext,
    WorkflowSerializationContext,
)

from models.settings import Settings, settings
from security.data_keys import DataKeys, scope_of
from security.failure_converter import ContractFailureConverter
from security.personal_payloads import PersonalDataPayloadConverter, is_personal

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
DATA_KEY_SCOPE = "data-key-scope"  # an account's data key encrypted it (security/data_keys.py)
DATA_KEY_ID = b"account-data-key"
# What a refused clear payload becomes: an encoding no payload converter knows, so it converts to nothing.
REFUSED_ENCODING = b"binary/refused-plaintext"
log = logging.getLogger("security.codec")
# What no retry can open: a key the ring or the registry does not hold (or destroyed: DataKeyDestroyed is
# a ValueError), a tampered or truncated ciphertext, content that is no payload. A registry that cannot be
# reached (SQLAlchemyError, OSError) is none of these: the task fails and is tried again once it is back.
UNOPENABLE = (ValueError, InvalidTag, DecodeError)


class EncryptionCodec(temporalio.converter.PayloadCodec, WithSerializationContext):
    """With `data_keys`, the payloads of an account's activities (the steps that carry identity numbers,
    contacts, IPs, codes: their inputs, results and failures) are encrypted under the account's own data
    key (crypto-shredding: security/data_keys.py), its scope in the envelope (`data-key-scope`) so that
    any holder of the key store decodes them without context.

    A client's codec (`client_inputs`, the default) also seals what it sends to an account's workflow
    under that key: the registration's start input, update and signal arguments (a contact change, an
    appeal letter). The client and the worker see the same workflow context, one encoding what it sends,
    the other what the workflow answers; a worker's codec (`for_workers`, worker.build_worker) keeps what
    workflows answer (results, query and update answers, refusals) under the ring key, so that answers
    decode anywhere, without the registry (the Node client), and seals under the account's key only the
    payloads the payload converter marked as personal data (security/personal_payloads.py): the
    account's start input its registration writes, its continue-as-new state."""

    def __init__(
        self,
        keys: dict[str, bytes],
        current_key_id: str,
        *,
        strict: bool = False,
        data_keys: DataKeys | None = None,
        client_inputs: bool = True,
    ) -> None:
        if current_key_id not in keys:
            raise ValueError(f"codec key {current_key_id!r} is not among the configured keys")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._current = current_key_id
        self.strict = strict
        self.refused_plaintext = 0  # clear payloads refused by this codec (strict mode)
        self.refuse_unopenable = False  # a worker's (for_workers); a client's or the codec server's raises
        self.data_keys = data_keys
        self.client_inputs = client_inputs
        self._scope: str | None = None  # the account scope of the payloads at hand (with_context)
        self._whole = False  # every payload under the scope's key, or only those marked personal

    def for_workers(self) -> EncryptionCodec:
        """This codec as a worker's: what workflows answer stays under the ring key."""
        worker = copy.copy(self)
        worker.client_inputs = False
        worker.refuse_unopenable = True
        worker._scope = None
        worker._whole = False
        return worker

    def with_context(self, context: SerializationContext) -> EncryptionCodec:
        if self.data_keys is None:
            return self
        scope, whole = None, False
        if isinstance(context, ActivitySerializationContext):
            scope, whole = scope_of(context.workflow_id), True
        elif isinstance(context, WorkflowSerializationContext):
            # A client's: all it sends. A worker's: what the workflow writes, answers among it, so only
            # the payloads marked as personal data (its start and continue-as-new input).
            scope, whole = scope_of(context.workflow_id), self.client_inputs
        if (scope, whole) == (self._scope, self._whole):
            return self
        bound = copy.copy(self)
        bound._scope, bound._whole = scope, whole
        return bound

    async def _data_key(self, scope: str, *, encode: bool) -> bytes | None:
        assert self.data_keys is not None
        found, key = self.data_keys.cached(scope)
        if found and (key is not None or encode):
            return key
        # The registry is a blocking call: off the event loop (the worker's workflows share it).
        if encode:
            return await asyncio.to_thread(self.data_keys.for_encode, scope)
        return await asyncio.to_thread(self.data_keys.for_decode, scope)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        mine = [self._scope is not None and (self._whole or is_personal(p)) for p in payloads]
        data_key = await self._data_key(self._scope, encode=True) if self._scope and any(mine) else None
        ring = {"encoding": ENCODING, KEY_ID: self._current.encode()}
        if data_key is None or self._scope is None:
            return [self._seal(self._ciphers[self._current], p, ring, None) for p in payloads]
        scope = self._scope.encode()
        cipher, metadata = AESGCM(data_key), {"encoding": ENCODING, KEY_ID: DATA_KEY_ID, DATA_KEY_SCOPE: scope}
        ring_cipher = self._ciphers[self._current]
        return [
            self._seal(cipher, p, metadata, scope) if under else self._seal(ring_cipher, p, ring, None)
            for p, under in zip(payloads, mine, strict=True)
        ]

    @staticmethod
    def _seal(cipher: AESGCM, p: Payload, metadata: dict[str, bytes], aad: bytes | None) -> Payload:
        nonce = os.urandom(12)
        return Payload(metadata=metadata, data=nonce + cipher.encrypt(nonce, p.SerializeToString(), aad))

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out = []
        for p in payloads:
            if p.metadata.get("encoding") != ENCODING:
                out.append(self._clear(p))
                continue
            try:
                out.append(await self._open(p))
            except UNOPENABLE as err:
                if not self.refuse_unopenable:
                    raise
                out.append(self._unopenable(p, err))
        return out

    async def _open(self, p: Payload) -> Payload:
        if DATA_KEY_SCOPE in p.metadata:
            scope = p.metadata[DATA_KEY_SCOPE]
            if self.data_keys is None:
                raise ValueError("payload under an account's data key: this codec has no data key store")
            key = await self._data_key(scope.decode(errors="replace"), encode=False)
            assert key is not None
            return Payload.FromString(AESGCM(key).decrypt(p.data[:12], p.data[12:], scope))
        key_id = p.metadata.get(KEY_ID, b"").decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise ValueError(f"payload encrypted with unknown key id {key_id[:40]!r}")
        return Payload.FromString(cipher.decrypt(p.data[:12], p.data[12:], None))

    def _unopenable(self, p: Payload, err: Exception) -> Payload:
        """A worker's answer to a payload no key it holds opens: refused as a clear payload is. No retry
        can ever open it, and failing the workflow task instead would fail every retry of it too: one
        such signal, from anyone who reaches the frontend, would put the account out of enforcement's
        reach for good."""
        # The key's id and the error's kind only: never the content, nor the account a scope names.
        log.warning(
            "refused a payload no key opens (%s, key %r, %d bytes)",
            type(err).__name__,
            p.metadata.get(KEY_ID, b"").decode(errors="replace")[:40],
            len(p.data),
        )
        return Payload(metadata={"encoding": REFUSED_ENCODING})

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


def codec(s: Settings | None = None, data_keys: DataKeys | None = None) -> EncryptionCodec:
    s = s or settings()
    return EncryptionCodec(s.codec_keys, s.codec_key_id, strict=s.codec_strict, data_keys=data_keys)


def data_converter(s: Settings | None = None, data_keys: DataKeys | None = None) -> temporalio.converter.DataConverter:
    return dataclasses.replace(
        temporalio.converter.default(),
        # Marks the payloads of messages that carry personal data, for a worker's codec (above).
        payload_converter_class=PersonalDataPayloadConverter,
        payload_codec=codec(s, data_keys),
        # Error messages can quote data too: encoded as well; no stack trace or cause behind a refusal
        # reaches a caller (security/failure_converter.py).
        failure_converter_class=ContractFailureConverter,
    )
