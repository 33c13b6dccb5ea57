"""The face registry's tables (OPEN-1, ASSOC-2 shared_face): biometric data, so it stays here.

A face template is the 128-d encoding of the live face of an account that passed OPEN-1, stored as
float32 bytes. It never leaves activities/known_faces/index.py: not in activity results, workflow
history, search attributes or logs. Both tables hang off the account (foreign key) and are deleted
with the account's data (`activities.known_faces.index.forget_member`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel


class FaceTemplate(SQLModel, table=True):
    """One template per authenticated account; `id` is the key in the in-process ANN index, never
    reused (AUTOINCREMENT), so that an index synced up to an id has seen every row below it."""

    __table_args__ = ({"sqlite_autoincrement": True},)

    id: int | None = Field(default=None, primary_key=True)
    member_id: str = Field(foreign_key="account.member_id", unique=True, index=True, max_length=32)
    template: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # 128 x float32, little-endian
    enrolled_at: datetime


class AuthenticationPhoto(SQLModel, table=True):
    """A photo that authenticated an account: its content hash (the blob ref, unique: one photo, one
    account) and its 64-bit perceptual hash cut in four 16-bit slices, each indexed. Two hashes
    within 3 bits agree exactly on at least one slice, so four indexed lookups find every near
    duplicate (multi-index hashing) without a scan."""

    __table_args__ = (UniqueConstraint("sha256", name="uq_authentication_photo_sha256"),)

    id: int | None = Field(default=None, primary_key=True)
    member_id: str = Field(foreign_key="account.member_id", index=True, max_length=32)
    sha256: str = Field(max_length=64)
    phash: str = Field(max_length=16)
    slice0: int = Field(index=True)
    slice1: int = Field(index=True)
    slice2: int = Field(index=True)
    slice3: int = Field(index=True)
    enrolled_at: datetime


class RefusedPhoto(SQLModel, table=True):
    """An authentication photo that did not pass, kept until DATA-2's period ends (then its blob and this
    row go: activities/retention.py). `sha256` is its content hash, as in AuthenticationPhoto."""

    sha256: str = Field(primary_key=True, max_length=64)
    member_id: str = Field(index=True, max_length=32)
    refused_at: datetime = Field(index=True)


class Erasure(SQLModel, table=True):
    """DATA-2/DATA-4: an account whose personal data was erased, when, why and by whom (the reason is a
    code, never personal data). The retention keeper skips accounts listed here."""

    member_id: str = Field(primary_key=True, max_length=32)
    erased_at: datetime
    reason: str = Field(max_length=64)
    actor: str = Field(max_length=64)


class AppealEvidenceErasure(SQLModel, table=True):
    """DATA-2: an appeal whose evidence (its purchase invoices) was deleted when its period after the
    case's decision ended. Keyed by the decision's audit row, so the keeper deletes each case's once."""

    decision_id: int = Field(primary_key=True)  # AuditRecord.id of appeal_approved / appeal_rejected
    member_id: str = Field(index=True, max_length=32)
    case_id: str = Field(max_length=64)
    erased_at: datetime
    invoices: int = 0  # blobs deleted
