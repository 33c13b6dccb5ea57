"""OPEN-3 / ASSOC-3: listed products and the lookup index for duplicate distribution.

The index is two kinds of band rows: MinHash LSH bands of the listing's text, and 8-bit slices of its
image's 64-bit perceptual hash. A lookup fetches only the products sharing a band with the new one
(an indexed IN query), never the whole catalogue; exact similarity is then computed on those few.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary
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


class ProductBand(SQLModel, table=True):
    band_key: str = Field(primary_key=True, max_length=40)  # "t<band>:<hash>" or "i<slice>:<byte>"
    product_id: str = Field(primary_key=True, max_length=48, index=True)
