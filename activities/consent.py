"""DATA-1: the seller withdraws a consent. Face: the template (and its index entry) is deleted now and
every later authentication photo goes to an operator (activities/identity_photo.py finds no consent).

Idempotent: a second withdrawal finds nothing consented and no template, and answers withdrawn with
nothing deleted. Audited under the withdrawal's own workflow id (`consent-<member id>`), never in the
account workflow's audit sequence; the audit names the kind of data deleted, never its content.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from sqlmodel import Session, select
from temporalio import activity

from activities.audit import registry_audit
from activities.storage.db import engine
from models.activity_io import ConsentWithdrawal, WithdrawConsentInput
from models.consent import ConsentRecord
from models.refusals import Refusal
from models.tables import Account
from security import credentials
from security.binding import binding


@activity.defn
def withdraw_consent(inp: WithdrawConsentInput) -> ConsentWithdrawal:
    from activities.known_faces.index import forget_template

    at = inp.at or datetime.now(UTC)
    # Bound to the request as the seller signed it (the workflow stamps `at` after): a credential carries
    # no other request (security/binding.py).
    sent = dataclasses.replace(inp, at=None)
    refusal = credentials.check(
        inp.auth, command="withdraw_consent", account=inp.member_id, now=at, bound=binding(sent)
    )
    if refusal is not None:
        return ConsentWithdrawal(inp.member_id, False, refusal)
    if inp.purpose != "face":
        return ConsentWithdrawal(
            inp.member_id,
            False,
            Refusal(
                "DATA-1",
                "identity_consent_ends_with_the_account",
                "Identity processing is what the account is: close the account, then ask for its data to be"
                " erased (DATA-4).",
                retryable=False,
            ),
        )
    with Session(engine()) as session:
        if session.get(Account, inp.member_id) is None:
            return ConsentWithdrawal(
                inp.member_id, False, Refusal("DATA-1", "unknown_member", "No account has this member id.")
            )
        live = session.exec(
            select(ConsentRecord).where(
                ConsentRecord.member_id == inp.member_id,
                ConsentRecord.purpose == "face",
                ConsentRecord.withdrawn_at.is_(None),  # type: ignore[union-attr]
            )
        ).all()
        for row in live:
            row.withdrawn_at = at
            session.add(row)
        deleted = {"face_template": forget_template(session, inp.member_id)}
        deleted = {k: n for k, n in deleted.items() if n}
        if live or deleted:
            _audit(session, inp.member_id, at, credentials_principal(inp), deleted)
        session.commit()
    return ConsentWithdrawal(inp.member_id, True, deleted=deleted)


def credentials_principal(inp: WithdrawConsentInput) -> str:
    return inp.auth.principal if inp.auth is not None else "seller"


def _audit(session: Session, member_id: str, at: datetime, actor: str, deleted: dict[str, int]) -> None:
    registry_audit(
        session,
        f"consent-{member_id}",
        at=at,
        actor=actor,
        event="consent_withdrawn",
        rule="DATA-1",
        reason="face_consent_withdrawn",
        detail={kind: str(n) for kind, n in deleted.items()},
    )
