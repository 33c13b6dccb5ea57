"""The seller's own copy and erasure on request (DATA-3, DATA-4; the data map is docs/PRIVACY.md)."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from sqlmodel import Session, or_, select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

import seller_client
from activities.storage import blobs
from activities.storage.db import engine
from models.activity_io import ConsentWithdrawal, EraseInput, ErasureReport, WithdrawConsentInput
from models.consent import ConsentRecord
from models.data_keys import DataKey
from models.email_verification import EmailCode
from models.known_faces import AppealEvidenceErasure, AuthenticationPhoto, Erasure, FaceTemplate, RefusedPhoto
from models.products import Product
from models.refusals import RefusedError
from models.settings import settings
from models.tables import (
    Account,
    AccountLink,
    AuditRecord,
    BarredFingerprint,
    BuyerAccount,
    EvidenceAccess,
    IdentityFingerprint,
    LoginDevice,
    LoginIp,
    Notice,
)
from security import credentials
from workflows.consent import ConsentWithdrawalRequest, withdrawal_workflow_id
from workflows.retention import ErasureRequest

from .common import Call, facade_command, operator_option

MAX_BLOB = 64_000_000
BLOB_REF = re.compile(r"sha256:[0-9a-f]{64}")


def _rows(session: Session, model: Any, *where: Any, drop: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The rows as plain values; binary columns (hashes, signatures, templates) are never exported."""
    rows = session.exec(select(model).where(*where)).all()
    return [
        {k: v for k, v in row.model_dump().items() if k not in drop and not isinstance(v, bytes)} for row in rows
    ]


def _copy(ref: str, folder: Path, scope: str) -> str | None:
    """The blob as a file in the export; None when it is gone (retention, erasure) or not there."""
    try:
        data = blobs.read_bytes(ref, max_bytes=MAX_BLOB, scope=scope)
    except blobs.BlobError:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (ref.removeprefix("sha256:")[:16] + ".bin")
    path.write_bytes(data)
    return str(path.relative_to(folder.parent))


async def export_member(client: Client | None, member_id: str, out: Path) -> dict[str, Any]:
    """Everything held about the account, by the data map's kinds; blobs written beside it as files."""
    with Session(engine()) as session:
        account = session.get(Account, member_id)
        if account is None:
            raise LookupError(member_id)
        workflow_id = f"seller-{member_id}"
        data: dict[str, Any] = {
            "member_id": member_id,
            "exported_at": seller_client.utcnow().isoformat(),
            "account": account.model_dump(),
            # Keyed digests, never values: the export says which kinds are held, not the digests.
            "identityfingerprint": [
                r["kind"]
                for r in _rows(session, IdentityFingerprint, IdentityFingerprint.member_id == member_id)
            ],
            "barredfingerprint": [
                r["kind"]
                for r in _rows(session, BarredFingerprint, BarredFingerprint.origin_member_id == member_id)
            ],
            "accountlink": _rows(
                session,
                AccountLink,
                or_(AccountLink.member_a == member_id, AccountLink.member_b == member_id),
            ),
            "auditrecord": _rows(session, AuditRecord, AuditRecord.workflow_id == workflow_id, drop=("id",)),
            "loginip": _rows(session, LoginIp, LoginIp.member_id == member_id, drop=("ip_digest",)),
            "logindevice": _rows(
                session, LoginDevice, LoginDevice.member_id == member_id, drop=("device_digest",)
            ),
            "notice": _rows(session, Notice, Notice.member_id == member_id, drop=("id",)),
            "emailcode": _rows(
                session, EmailCode, EmailCode.member_id == member_id, drop=("id", "code_digest")
            ),
            # Biometric templates never leave the registry: only that one is held, and since when.
            "facetemplate": _rows(
                session, FaceTemplate, FaceTemplate.member_id == member_id, drop=("id", "template")
            ),
            "authenticationphoto": _rows(
                session, AuthenticationPhoto, AuthenticationPhoto.member_id == member_id, drop=("id",)
            ),
            "refusedphoto": _rows(session, RefusedPhoto, RefusedPhoto.member_id == member_id),
            "product": _rows(session, Product, Product.member_id == member_id),
            "erasure": _rows(session, Erasure, Erasure.member_id == member_id),
            # Who looked at this account's evidence, and who decided on it (issue 25).
            "evidenceaccess": _rows(
                session, EvidenceAccess, EvidenceAccess.workflow_id == workflow_id, drop=("id",)
            ),
            "appealevidenceerasure": _rows(
                session, AppealEvidenceErasure, AppealEvidenceErasure.member_id == member_id
            ),
            # Which data keys exist for the account and whether they were destroyed; never the key.
            "datakey": _rows(
                session,
                DataKey,
                or_(DataKey.scope == workflow_id, DataKey.scope == f"registration-{account.registration_id}"),
            ),
            # DATA-1: which notices were accepted, when, and any withdrawal.
            "consentrecord": _rows(
                session, ConsentRecord, ConsentRecord.member_id == member_id, drop=("id",)
            ),
            # Kinds of the data map that hold nothing about one seller, named so the copy is complete.
            "productsignature": "derived from the listings above (normalised text, image features); not personal",
            "product_key": "integer candidate keys of the listings above (PostgreSQL); not personal",
            "face_vector": "the face template's index entry (PostgreSQL); never leaves the registry",
            "decisionlock": "a lock row per kind of decision; holds nothing about anyone",
            "preapproval": "REG-2 approvals are kept by a keyed licence digest, not by member",
            "buyeraccount": _rows(session, BuyerAccount, BuyerAccount.matched_member_id == member_id),
        }
    state: dict[str, Any] = {}
    if client is not None:
        try:
            state = dataclasses.asdict(await seller_client.status(client, member_id))
        except RPCError as err:  # the workflow is no longer retained: the registry holds what is left
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
    data["account_state"] = json.loads(json.dumps(state, default=str))
    # The registration input is not kept outside Temporal's encrypted history: its fields are the profile.
    data["registration_input"] = {k: state.get(k) for k in ("member_id", "state")} if state else {}
    files = out / "files"
    data["authentication_photo"] = [
        _copy(f"sha256:{r['sha256']}", files, workflow_id) for r in data["authenticationphoto"]
    ]
    data["refused_photo"] = [_copy(f"sha256:{r['sha256']}", files, workflow_id) for r in data["refusedphoto"]]
    data["product_image"] = [_copy(r["image_ref"], files, workflow_id) for r in data["product"]]
    found = set(BLOB_REF.findall(json.dumps(state, default=str)))  # invoices an appeal carried
    data["appeal_invoice"] = [_copy(ref, files, workflow_id) for ref in sorted(found)]
    out.mkdir(parents=True, exist_ok=True)
    (out / "export.json").write_text(json.dumps(data, indent=2, default=str))
    return data


async def erase(
    client: Client, member_id: str, *, reason: str, actor: str, at: datetime, task_queue: str | None = None
) -> ErasureReport:
    """DATA-4 through Temporal: one ErasureRequest per account at a time; asked twice, answered the same."""
    return await client.execute_workflow(
        ErasureRequest.run,
        EraseInput(member_id=member_id, reason=reason, actor=actor, at=at),
        id=f"erase-{member_id}",
        task_queue=task_queue or settings().task_queue,
    )


@facade_command("export", keyed=False)
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True, help="folder to write into")
async def export(call: Call, out_dir: Path) -> Any:
    """DATA-3: write everything held about the account to OUT/export.json, its photos and invoices to
    OUT/files/ (the face template itself never leaves the registry: the export says one is held)."""
    try:
        data = await export_member(await call.client(), call.member_id, out_dir)
    except LookupError:
        return call.out.unknown_member(call.member_id)
    return {"member_id": call.member_id, "written": str(out_dir / "export.json"), "kinds": len(data) - 2}


@facade_command("erase", keyed=False)
@click.option("--reason", required=True, help="why, as a code (seller_request, ...); never personal data")
@operator_option("the operator who carries out the request (an operator key is needed; recorded)")
async def erase_command(call: Call, reason: str, as_operator: str) -> Any:
    """DATA-4: erase a closed account's personal data now, except what a rule requires to keep (the
    answer names each with its rule). A live account is refused: close it first."""
    try:
        cred = credentials.for_command("erase", call.member_id, operator=as_operator)
    except PermissionError as err:
        return call.out.refused(credentials.refusal("role_not_allowed", str(err)))
    if not re.fullmatch(r"[a-z0-9_]{1,64}", reason):
        raise click.UsageError("--reason is a code: lower-case letters, digits and _ (at most 64)")
    report = await erase(
        await call.client(), call.member_id, reason=reason, actor=cred.principal, at=seller_client.utcnow()
    )
    if report.refusal is not None:
        raise RefusedError(report.refusal)
    return report


async def withdraw_consent(
    client: Client, member_id: str, *, purpose: str = "face", task_queue: str | None = None
) -> ConsentWithdrawal:
    """DATA-1 through Temporal, signed as the account's seller (the activity checks the credential)."""
    request = WithdrawConsentInput(member_id=member_id, purpose=purpose)
    return await client.execute_workflow(
        ConsentWithdrawalRequest.run,
        credentials.sign_message(request, command="withdraw_consent", account=member_id),
        id=withdrawal_workflow_id(member_id, purpose),
        task_queue=task_queue or settings().task_queue,
    )


@facade_command("withdraw-consent", keyed=False)
@click.option("--purpose", type=click.Choice(["face"]), default="face", show_default=True)
async def withdraw_consent_command(call: Call, purpose: str) -> Any:
    """DATA-1: withdraw the face consent. The face template is deleted now; later authentication photos
    go to an operator's review, with no template made and no face comparison."""
    answer = await withdraw_consent(await call.client(), call.member_id, purpose=purpose)
    if answer.refusal is not None:
        raise RefusedError(answer.refusal)
    return answer


COMMANDS = [export, erase_command, withdraw_consent_command]
