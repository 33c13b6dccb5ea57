"""Crypto-shredding (DATA-4): one data key per account scope, wrapped by the payload codec's key ring.

A scope is the id of a workflow whose history holds an account's personal data: `seller-<member id>`
(the account) and `registration-<request id>` (its registration). Erasure destroys the scope's key
(`wrapped` set to null, the row kept as proof and so that no new key is made for it): every payload
encrypted under it, in histories and their backups, no longer decodes (security/data_keys.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary
from sqlmodel import Field, SQLModel

SCOPE = 96  # "registration-" + a 64-character request id


class DataKey(SQLModel, table=True):
    scope: str = Field(primary_key=True, max_length=SCOPE)
    ring_key_id: str = Field(max_length=32)  # the codec key that wraps it (rotation keeps old ones)
    wrapped: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    created_at: datetime
    destroyed_at: datetime | None = None
