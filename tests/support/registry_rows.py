"""Registry rows as registration would leave them, for tests that start an account workflow directly
(without the registration workflow) or call activities, but need the account in the database."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session

from activities.identity.consents import record_consents
from activities.identity_registry import fingerprint
from activities.storage.db import engine
from models.consent import current_notice
from models.contract import Consent
from models.tables import Account, IdentityFingerprint
from tests.support.draws import hex_id


def new_member_id(prefix: str) -> str:
    """A member id of 16 characters: the test's own letter, then 15 hex digits."""
    return prefix + hex_id(15).upper()


def registered_account(
    member_id: str,
    *,
    store_name: str = "X",
    main: str | None = None,
    at: datetime | None = None,
    state: str = "registered",
    face_consent: bool = True,
    **identity: str,
) -> None:
    """An Account row (a sub-account of `main` if given, REG-9), its DATA-1 consents (identity, and face
    unless `face_consent=False`) when the row is new, and the fingerprints of `identity` (kind=value:
    email, mobile, id_card, licence). A row already there (tests/support/accounts.py `start_account`
    writes one) keeps its state and consents and gains the fingerprints."""
    now = at or datetime.now(UTC)
    with Session(engine()) as session:
        if session.get(Account, member_id) is None:
            session.add(
                Account(
                    member_id=member_id,
                    registration_id=hex_id(),
                    store_name=store_name,
                    region="CN",
                    is_main=main is None,
                    main_member_id=main,
                    state=state,
                    created_at=now,
                    updated_at=now,
                )
            )
            session.flush()
            purposes = ("identity", "face") if face_consent else ("identity",)
            record_consents(session, member_id, [Consent(p, current_notice(p), now) for p in purposes])
        elif main is not None:  # made a sub-account after the fact
            row = session.get(Account, member_id)
            assert row is not None
            row.is_main, row.main_member_id = False, main
            session.add(row)
        for kind, value in identity.items():
            session.add(IdentityFingerprint(kind=kind, digest=fingerprint(kind, value), member_id=member_id))
        session.commit()


def new_account(prefix: str, *, store_name: str = "X", **kwargs: str | datetime | None) -> str:
    """`registered_account` under a new member id (`new_member_id(prefix)`), which it returns."""
    member_id = new_member_id(prefix)
    registered_account(member_id, store_name=store_name, **kwargs)  # type: ignore[arg-type]
    return member_id
