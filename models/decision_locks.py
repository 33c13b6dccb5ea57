"""One row per cross-account decision that is a similarity search followed by an insert (ASSOC-3
listings, known faces and photos): writing the row is how SQLite serialises them (activities/storage/
decision_locks.py); PostgreSQL uses an advisory lock instead and never touches it."""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class DecisionLock(SQLModel, table=True):
    name: str = Field(primary_key=True, max_length=32)
    taken: int = 0  # how many times it was taken: the write itself is what matters
