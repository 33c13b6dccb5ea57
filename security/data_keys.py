"""Per-account data keys for the payload codec (crypto-shredding, DATA-4; docs/PRIVACY.md).

Each account scope (`seller-<member id>`, `registration-<request id>`: models/data_keys.py) gets a random
AES-256 key the first time a payload of that scope is encrypted. The key is stored in the registry only
wrapped (AES-GCM) by the codec's key ring, with the ring key's id, so that rotating the ring keeps every
data key usable while the old ring key stays configured. Destroying a scope's key makes every payload
encrypted under it undecodable, wherever it is kept: Temporal histories, their exports and backups.

Keys are cached in the process for `CACHE_SECONDS` (a destroyed key is forgotten at once in the process
that destroys it; other processes stop decoding within that time).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import event, insert, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Session, col

from models.data_keys import SCOPE, DataKey

ACCOUNT_SCOPES = ("seller-", "registration-")
log = logging.getLogger("security.data_keys")
CACHE_SECONDS = 30.0
LOCK_WAIT_MS = 250


class DataKeyDestroyed(ValueError):
    """The payload's account was erased: its data key is gone, and the payload with it."""


def scope_of(workflow_id: str | None) -> str | None:
    """The data key scope of a workflow's payloads, or None (no personal data of one account: ring key)."""
    if workflow_id and workflow_id.startswith(ACCOUNT_SCOPES) and len(workflow_id) <= SCOPE:
        return workflow_id
    return None


_CACHE: dict[str, tuple[bytes | None, float]] = {}
_CACHE_LOCK = threading.Lock()


def forget(scopes: list[str]) -> None:
    """Drop destroyed keys from this process's cache."""
    with _CACHE_LOCK:
        for scope in scopes:
            _CACHE.pop(scope, None)


def destroy(session: Session, scopes: list[str], at: datetime) -> int:
    """Destroy the scopes' keys in the caller's transaction; how many were live. Idempotent."""
    result = session.exec(  # type: ignore[call-overload]
        update(DataKey)
        .where(col(DataKey.scope).in_(scopes), col(DataKey.wrapped).is_not(None))
        .values(wrapped=None, destroyed_at=at)
    )
    # Forgotten once the destruction is committed, not before: a payload coded in between would read
    # the still-committed key and cache it again for CACHE_SECONDS.
    event.listen(session, "after_commit", lambda _session: forget(scopes), once=True)
    return int(result.rowcount or 0)


@contextlib.contextmanager
def _short_lock_wait(conn: Connection) -> Iterator[None]:
    """A key is made while a workflow task is being completed: a registry held by another writer makes it
    give up in a moment (the payload then goes under the ring key) rather than stall the task. The
    connection's own wait is put back before it returns to the pool."""
    if conn.dialect.name != "sqlite":
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_WAIT_MS}ms'")
        yield
        return
    before = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
    conn.commit()
    conn.exec_driver_sql(f"PRAGMA busy_timeout={LOCK_WAIT_MS}")
    try:
        yield
    finally:
        with contextlib.suppress(SQLAlchemyError):
            conn.rollback()
            conn.exec_driver_sql(f"PRAGMA busy_timeout={int(before or 0)}")
            conn.commit()


class DataKeys:
    """The registry's data keys, unwrapped with the codec's key ring."""

    def __init__(self, ring: dict[str, bytes], current: str, engine: Callable[[], Engine]) -> None:
        self._ring = {key_id: AESGCM(key) for key_id, key in ring.items()}
        self._current = current
        self._engine = engine

    def cached(self, scope: str) -> tuple[bool, bytes | None]:
        """(found, key) from this process's cache; a destroyed key is (True, None)."""
        with _CACHE_LOCK:
            hit = _CACHE.get(scope)
        if hit is None or time.monotonic() - hit[1] > CACHE_SECONDS:
            return False, None
        return True, hit[0]

    def for_encode(self, scope: str) -> bytes | None:
        """The scope's key, made now if it has none; None when it was destroyed (the account is erased:
        what is still written for it goes under the ring key, as payloads of no account do), or when the
        registry cannot be reached: the payload is then sealed under the ring key, still encrypted, so
        that a registry outage never fails a workflow task; only its shredding is lost."""
        try:
            return self._for_encode(scope)
        except (SQLAlchemyError, OSError) as err:
            log.warning("data key store unreachable (%s): a payload of %s goes under the ring key", type(err).__name__, scope)
            return None

    def _for_encode(self, scope: str) -> bytes | None:
        key = self._load(scope)
        if key is not None or self.cached(scope)[0]:  # a live key, or a row whose key was destroyed
            return key
        new = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(12)
        wrapped = nonce + self._ring[self._current].encrypt(nonce, new, scope.encode())
        row = dict(scope=scope, ring_key_id=self._current, wrapped=wrapped, created_at=datetime.now(UTC))
        with self._engine().connect() as conn, _short_lock_wait(conn):
            try:
                conn.execute(insert(DataKey).values(**row))
                conn.commit()
            except IntegrityError:  # another process made it first: use theirs
                conn.rollback()
                return self._load(scope, fresh=True)
        self._remember(scope, new)
        return new

    def for_decode(self, scope: str) -> bytes:
        key = self._load(scope)
        if key is None:
            raise DataKeyDestroyed(f"the data key of {scope} was destroyed (DATA-4 erasure) or never made")
        return key

    def _load(self, scope: str, *, fresh: bool = False) -> bytes | None:
        found, key = (False, None) if fresh else self.cached(scope)
        if found:
            return key
        try:
            with Session(self._engine()) as session:
                row = session.get(DataKey, scope)
        except (SQLAlchemyError, OSError):
            with _CACHE_LOCK:
                stale = _CACHE.get(scope)
            if stale is not None and stale[0] is not None:  # a registry outage: the key it had still serves
                return stale[0]
            raise
        if row is None:
            return None
        key = None if row.wrapped is None else self._unwrap(row)
        self._remember(scope, key)
        return key

    def _unwrap(self, row: DataKey) -> bytes:
        ring = self._ring.get(row.ring_key_id)
        if ring is None or row.wrapped is None:
            raise ValueError(f"data key of {row.scope} is wrapped by unknown ring key {row.ring_key_id!r}")
        return ring.decrypt(row.wrapped[:12], row.wrapped[12:], row.scope.encode())

    def _remember(self, scope: str, key: bytes | None) -> None:
        with _CACHE_LOCK:
            _CACHE[scope] = (key, time.monotonic())
