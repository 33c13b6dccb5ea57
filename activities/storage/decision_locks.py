"""Decisions that see each other: a cross-account decision that searches for a match and then
inserts (ASSOC-3 duplicate listings, OPEN-1 photo reuse, ASSOC-2 shared faces) takes its named lock
for the search of what arrived since it last looked and for the insert, in one transaction. Two such
decisions on any workers, on any machines, then run one after the other, and the second sees the
first's row: two listings of the same product cannot both pass.

PostgreSQL: a transaction-scoped advisory lock (released by commit or rollback, held by nothing
else, no row written). SQLite: a write to the lock's row, which takes the database's write lock
until commit (the effect of BEGIN IMMEDIATE, without changing how the engine begins transactions).

The lock is held only for the short part of the decision: the expensive search and comparison run
before it, against everything committed until then, and under it only the rows committed since are
compared (`newer than` a watermark read before the search).
"""

from __future__ import annotations

import zlib

from sqlalchemy import text
from sqlmodel import Session

from models.decision_locks import DecisionLock  # noqa: F401  (the table the SQLite lock writes)

ASSOC3_LISTING = "assoc3-listing"
KNOWN_FACES = "known-faces"


def advisory_key(name: str) -> int:
    return 0x5E11_0000_0000 + zlib.crc32(name.encode())


def hold(session: Session, name: str) -> None:
    """Take the named lock until the session's transaction ends (commit or rollback)."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": advisory_key(name)})
        return
    # Either statement takes SQLite's write lock, held until the transaction ends; the first makes the
    # row on first use.
    session.execute(
        text("INSERT OR IGNORE INTO decisionlock (name, taken) VALUES (:name, 0)"), {"name": name}
    )
    session.execute(text("UPDATE decisionlock SET taken = taken + 1 WHERE name = :name"), {"name": name})
