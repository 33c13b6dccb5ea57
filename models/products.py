"""OPEN-3 / ASSOC-3: listed products and the lookup index for duplicate distribution.

Each product has one signature row (text band keys, image visual words, stored local features); each
worker holds the candidate index built from those rows in memory (activities/copy_detection/duplicate_index.py), and
the exact comparison runs on the few candidates' rows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary, Text
from sqlmodel import Field, SQLModel


class Product(SQLModel, table=True):
    product_id: str = Field(primary_key=True, max_length=48)
    member_id: str = Field(index=True, max_length=32)
    title: str = Field(max_length=200)
    category: str = Field(max_length=32)
    price_cents: int
    image_ref: str = Field(max_length=80)
    minhash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # uint64[num_perm], little endian
    phash: str = Field(max_length=16)  # 64-bit perceptual hash, hex
    listed: bool = True  # no index: a boolean index misleads the planner into scanning all listed rows
    created_at: datetime


class ProductSignature(SQLModel, table=True):
    """One row per product (was 29 band rows): what the in-memory ASSOC-3 index is rebuilt from.
    `seq` increases with every insert, so a worker catches up with others' listings by a range scan."""

    seq: int | None = Field(default=None, primary_key=True)
    product_id: str = Field(unique=True, max_length=48)
    text: str = Field(sa_column=Column(Text, nullable=False))  # normalised title and description
    bands: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # uint32[25] text LSH band keys
    words: bytes = Field(
        sa_column=Column(LargeBinary, nullable=False)
    )  # uint32[<=48] image visual words (20-bit)
    features: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # packed SIFT, for confirmation
    thumb: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # colour JPEG of the feature frame (older rows: a half-size PNG, some grayscale), for confirmation
