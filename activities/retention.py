"""DATA-2 retention and DATA-4 erasure: personal data kept no longer than its purpose needs.

The data map (docs/PRIVACY.md) says, per table and blob kind, what is kept, why, and for how long; this
module deletes what the map says goes, and nothing the rules need: REG-5's barred fingerprints (keyed
digests, never values) stay as long as the bar holds, the audit (ENF-4) and links (ENF-3) hold member
ids, rules and codes only and stay. Every deletion is idempotent (a retry finds nothing left to delete)
and recorded: an `Erasure` row per account and an audit row naming the kind of data, never its content.

Periods come from the worker's policy source (`[retention]` in models/policy.toml), read here: the
retention keeper (workflows/retention.py) passes only the time, so no caller chooses a period.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import exists, func, literal
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select
from temporalio import activity

from activities.audit import registry_audit
from activities.known_faces.index import forget_member
from activities.storage import blobs
from activities.storage.db import engine
from models.activity_io import EraseInput, ErasureReport, SweepInput, SweepReport
from models.data_keys import DataKey
from models.email_verification import EmailCode
from models.known_faces import AppealEvidenceErasure, AuthenticationPhoto, Erasure, FaceTemplate, RefusedPhoto
from models.policy import Policy, load_policy
from models.refusals import Refusal
from models.settings import settings
from models.tables import (
    Account,
    AuditRecord,
    BarredFingerprint,
    IdentityFingerprint,
    LoginDevice,
    LoginIp,
    Notice,
)
from security import data_keys

KEEPER_WORKFLOW_ID = "retention-keeper"
DATA_KEYS_AUDIT = "retention-data-keys"  # the audit trail of keys of no account destroyed
REGISTRATION_SCOPE, ACCOUNT_SCOPE = "registration-", "seller-"
APPEAL_DECIDED = ("appeal_approved", "appeal_rejected")
BLOB_REF = re.compile(r"sha256:[0-9a-f]{64}")


def current_policy() -> Policy:
    return load_policy(settings().policy_file)


def note_refused_photo(ref: str, member_id: str, at: datetime) -> None:
    """Remember a refused authentication photo so that it is deleted when its period ends."""
    sha256 = ref.removeprefix("sha256:")
    with Session(engine()) as session:
        if session.get(RefusedPhoto, sha256) is not None:
            return
        session.add(RefusedPhoto(sha256=sha256, member_id=member_id, refused_at=at))
        try:
            session.commit()
        except IntegrityError:  # a retry of the same check raced us: the row stands
            session.rollback()


def _delete_photo_blob(session: Session, sha256: str, member_id: str) -> int:
    """The account's copy goes unless the account authenticated with the same photo; a copy of no account
    (under the ring key: an older photo, or an upload no account read yet) unless any account did."""
    ref = f"sha256:{sha256}"
    holders = set(
        session.exec(select(AuthenticationPhoto.member_id).where(AuthenticationPhoto.sha256 == sha256)).all()
    )
    gone = member_id not in holders and blobs.delete(ref, scope=f"seller-{member_id}")
    return int((not holders and blobs.delete(ref)) or gone)


def _delete_invoice(ref: str, member_id: str) -> int:
    return int(blobs.delete(ref, scope=f"seller-{member_id}") | blobs.delete(ref))


def erase_account_data(session: Session, member_id: str) -> tuple[dict[str, int], list[str]]:
    """Delete a closed account's personal data; (what was deleted by kind, what stays and why)."""
    deleted: dict[str, int] = {}
    photos = [
        p.sha256
        for p in session.exec(select(AuthenticationPhoto).where(AuthenticationPhoto.member_id == member_id))
    ]
    templates = session.exec(
        select(func.count()).select_from(FaceTemplate).where(FaceTemplate.member_id == member_id)
    ).one()
    forget_member(session, member_id)  # the template (and its index entry) and the photos' rows
    deleted["face_template"] = int(templates)
    deleted["authentication_photo"] = len(photos)
    deleted["authentication_photo_blob"] = sum(_delete_photo_blob(session, sha, member_id) for sha in photos)
    deleted["appeal_invoice"] = sum(_delete_invoice(ref, member_id) for ref in appeal_invoice_refs(session, member_id))
    refused = [
        r.sha256 for r in session.exec(select(RefusedPhoto).where(RefusedPhoto.member_id == member_id))
    ]
    session.exec(delete(RefusedPhoto).where(col(RefusedPhoto.member_id) == member_id))  # type: ignore[call-overload]
    deleted["refused_photo"] = len(refused)
    deleted["refused_photo_blob"] = sum(_delete_photo_blob(session, sha, member_id) for sha in refused)
    # Crypto-shredding: what cannot be deleted in place (Temporal histories, their backups) no longer
    # decodes once the account's data keys are gone (security/data_keys.py).
    account = session.get(Account, member_id)
    scopes = [f"seller-{member_id}"] + ([f"registration-{account.registration_id}"] if account else [])
    deleted["data_key"] = data_keys.destroy(session, scopes, datetime.now(UTC))
    for kind, table, column in (
        ("identity_fingerprint", IdentityFingerprint, IdentityFingerprint.member_id),
        ("login_ip", LoginIp, LoginIp.member_id),
        ("login_device", LoginDevice, LoginDevice.member_id),
        ("email_code", EmailCode, EmailCode.member_id),
        ("notice", Notice, Notice.member_id),
    ):
        result = session.exec(delete(table).where(col(column) == member_id))  # type: ignore[call-overload]
        deleted[kind] = int(result.rowcount or 0)
    return deleted, kept_for(session, member_id)


def appeal_invoice_refs(session: Session, member_id: str, case_id: str | None = None) -> list[str]:
    """The invoices the account's appeals carried (all, or one case's), from the appeal_filed audit rows:
    blob refs only, the registry never holds an invoice's content."""
    filed = session.exec(
        select(AuditRecord).where(
            AuditRecord.workflow_id == f"seller-{member_id}", AuditRecord.event == "appeal_filed"
        )
    ).all()
    return [
        ref
        for row in filed
        if case_id is None or row.detail.get("case_id") == case_id
        for ref in BLOB_REF.findall(str(row.detail.get("invoice_refs", "")))
    ]


def _sweep_appeal_evidence(session: Session, at: datetime, days: float, batch: int) -> int:
    """DATA-2: a decided case's invoices go `days` after the decision; audited by kind and count only."""
    done = select(AppealEvidenceErasure.decision_id)
    decided = session.exec(
        select(AuditRecord)
        .where(
            col(AuditRecord.event).in_(APPEAL_DECIDED),
            AuditRecord.at <= at - timedelta(days=days),
            col(AuditRecord.id).not_in(done),
        )
        .order_by(col(AuditRecord.id))
        .limit(batch)
    ).all()
    for decision in decided:
        member_id = decision.workflow_id.removeprefix("seller-")
        case_id = str(decision.detail.get("case_id", ""))[:64]
        removed = sum(_delete_invoice(ref, member_id) for ref in appeal_invoice_refs(session, member_id, case_id))
        assert decision.id is not None
        session.add(
            AppealEvidenceErasure(
                decision_id=decision.id, member_id=member_id, case_id=case_id, erased_at=at, invoices=removed
            )
        )
        registry_audit(
            session,
            f"appeal-evidence-{member_id}",
            seq=decision.id,
            at=at,
            event="appeal_evidence_erased",
            rule="DATA-2",
            reason="retention_ended",
            detail={"appeal_invoice": str(removed)},
        )
        session.commit()
    return len(decided)


def _sweep_keys_of_no_account(session: Session, at: datetime, days: float, batch: int) -> int:
    """DATA-2: a data key no account took up, `days` after it was made, is destroyed: a refused
    registration's (its history holds the applicant's numbers, under that key), or one a client made
    sending to a member id that has no account. An accepted registration's key goes with its account."""
    registration = literal(REGISTRATION_SCOPE).concat(col(Account.registration_id))
    account = literal(ACCOUNT_SCOPE).concat(col(Account.member_id))
    scopes = session.exec(
        select(DataKey.scope)
        .where(
            col(DataKey.wrapped).is_not(None),
            col(DataKey.created_at) <= at - timedelta(days=days),
            ~exists().where(registration == DataKey.scope),
            ~exists().where(account == DataKey.scope),
        )
        .order_by(col(DataKey.created_at))
        .limit(batch)
    ).all()
    if not scopes:
        return 0
    destroyed = data_keys.destroy(session, list(scopes), at)
    registry_audit(
        session,
        DATA_KEYS_AUDIT,
        at=at,
        event="personal_data_erased",
        rule="DATA-2",
        reason="retention_ended",
        detail={"data_key_of_no_account": str(destroyed)},  # a count: never a scope or its request id
    )
    session.commit()
    return len(scopes)


def kept_for(session: Session, member_id: str) -> list[str]:
    """What a rule requires to keep of an erased account, each with its rule."""
    kept = ["audit: ENF-4 (rule, reason and actor; no personal data)", "account_link: ENF-3 (member ids)"]
    bars = session.exec(
        select(func.count())
        .select_from(BarredFingerprint)
        .where(BarredFingerprint.origin_member_id == member_id)
    ).one()
    if bars:
        kept.insert(
            0, f"barred_fingerprint: REG-5 ({bars} keyed digests, never values, for as long as the bar holds)"
        )
    return kept


def _record(
    session: Session, member_id: str, inp_at: datetime, reason: str, actor: str, deleted: dict[str, int]
) -> None:
    session.add(Erasure(member_id=member_id, erased_at=inp_at, reason=reason, actor=actor))
    registry_audit(
        session,
        f"seller-{member_id}",
        at=inp_at,
        actor=actor,
        event="personal_data_erased",
        rule="DATA-4" if reason != "retention_ended" else "DATA-2",
        reason=reason,
        detail={kind: str(n) for kind, n in deleted.items() if n},
    )


@activity.defn
def erase_member(inp: EraseInput) -> ErasureReport:
    """DATA-4: erase a closed account's personal data now. A live account is refused (close it first); an
    account already erased answers what was erased the first time: nothing more to delete."""
    with Session(engine()) as session:
        account = session.get(Account, inp.member_id)
        if account is None:
            return ErasureReport(
                inp.member_id, False, Refusal("DATA-4", "unknown_member", "No account has this member id.")
            )
        if account.state != "closed":
            return ErasureReport(
                inp.member_id,
                False,
                Refusal(
                    "DATA-4",
                    "account_live",
                    "The account is live: its data serves its rules while it sells. Close the account first;"
                    " its personal data can then be erased.",
                ),
            )
        if session.get(Erasure, inp.member_id) is not None:  # erased before: nothing left to delete
            return ErasureReport(inp.member_id, True, kept=kept_for(session, inp.member_id))
        deleted, kept = erase_account_data(session, inp.member_id)
        _record(session, inp.member_id, inp.at, inp.reason, inp.actor, deleted)
        session.commit()
    return ErasureReport(inp.member_id, True, deleted=deleted, kept=kept)


@activity.defn
def sweep_retention(inp: SweepInput) -> SweepReport:
    """One pass of DATA-2: refused photos, closed accounts, email codes and decided appeals' invoices past
    their periods, a batch of each; `more` when a batch was full. Also counts the face templates held (DATA-5)."""
    policy = current_policy().retention
    report = SweepReport(sweep_every_hours=policy.sweep_every_hours)
    with Session(engine()) as session:
        cutoff = inp.at - timedelta(days=policy.refused_photo_days)
        old = session.exec(
            select(RefusedPhoto).where(RefusedPhoto.refused_at <= cutoff).limit(inp.batch)
        ).all()
        for row in old:
            _delete_photo_blob(session, row.sha256, row.member_id)
            session.delete(row)
            report.refused_photos += 1
        session.commit()

        cutoff = inp.at - timedelta(days=policy.closed_account_days)
        erased = select(Erasure.member_id)
        closed = session.exec(
            select(Account.member_id)
            .where(
                Account.state == "closed", Account.updated_at <= cutoff, col(Account.member_id).not_in(erased)
            )
            .limit(inp.batch)
        ).all()
        for member_id in closed:
            deleted, _ = erase_account_data(session, member_id)
            _record(session, member_id, inp.at, "retention_ended", "system", deleted)
            session.commit()
            report.closed_accounts += 1

        cutoff = inp.at - timedelta(days=policy.email_code_days)
        codes = session.exec(select(EmailCode.id).where(EmailCode.issued_at <= cutoff).limit(inp.batch)).all()
        if codes:
            session.exec(delete(EmailCode).where(col(EmailCode.id).in_(codes)))  # type: ignore[call-overload]
            session.commit()
        report.email_codes = len(codes)
        report.appeal_evidence = _sweep_appeal_evidence(session, inp.at, policy.appeal_evidence_days, inp.batch)
        report.data_keys = _sweep_keys_of_no_account(session, inp.at, policy.refused_registration_days, inp.batch)
        report.more = max(len(old), len(closed), len(codes), report.appeal_evidence, report.data_keys) >= inp.batch
        report.face_templates = int(session.exec(select(func.count()).select_from(FaceTemplate)).one())
        if report.face_templates >= policy.face_filing_threshold:
            _face_filing_notice(session, inp.at, policy.face_filing_threshold, report.face_templates)
    _face_gauge(report.face_templates)
    return report


def _face_filing_notice(session: Session, at: datetime, threshold: int, held: int) -> None:
    """DATA-5: one audit row, once per threshold, for operators (the row's key makes it once)."""
    key = dict(workflow_id=KEEPER_WORKFLOW_ID, seq=threshold)
    if session.exec(
        select(AuditRecord).where(AuditRecord.workflow_id == key["workflow_id"], AuditRecord.seq == threshold)
    ).first():
        return
    registry_audit(
        session,
        KEEPER_WORKFLOW_ID,
        seq=threshold,
        at=at,
        event="face_filing_threshold",
        rule="DATA-5",
        reason="face_filing_threshold_reached",
        detail={"threshold": str(threshold), "held": str(held)},
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()


def _face_gauge(held: int) -> None:
    from models import metrics

    if activity.in_activity():
        meter = activity.metric_meter()
        meter.create_gauge(metrics.FACE_TEMPLATES.name, metrics.FACE_TEMPLATES.description).set(held)
