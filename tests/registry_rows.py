"""Registry rows as registration would leave them, for tests that start an account workflow directly
(without the registration workflow) but need its identity in the database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlmodel import Session

from activities.identity_registry import fingerprint
from models.db import engine
from models.tables import Account, IdentityFingerprint


def registered_account(member_id: str, *, store_name: str = "X", **identity: str) -> None:
    """An Account row and the fingerprints of `identity` (kind=value: email, mobile, id_card, licence)."""
    now = datetime.now(UTC)
    with Session(engine()) as session:
        session.add(
            Account(
                member_id=member_id,
                registration_id=uuid.uuid4().hex,
                store_name=store_name,
                region="CN",
                created_at=now,
                updated_at=now,
            )
        )
        session.flush()
        for kind, value in identity.items():
            session.add(IdentityFingerprint(kind=kind, digest=fingerprint(kind, value), member_id=member_id))
        session.commit()
