"""DATA-2..5 on the time-skipping server: what has outlived its period is gone, what a rule needs stays.

Each test registers real sellers through a real worker, skips the clock past a retention period with
the retention keeper running (workflows/retention.py), and reads the registry and the blob folder.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from google.protobuf.message import Message
from sqlmodel import Session, select
from temporalio.api.common.v1 import Payload
from temporalio.api.history.v1 import History
from temporalio.testing import WorkflowEnvironment

import seller_client
from activities import admission
from activities.retention import KEEPER_WORKFLOW_ID
from activities.storage.blobs import BlobShredded, blobs
from activities.storage.db import engine
from commands.privacy import erase, export_member
from devtools.identity_factory import applicant
from devtools.smtp_sink import SmtpSink
from models.contract import AppealDecisionInput, RegistrationInput, VerifyEmailInput, ViolationInput
from models.data_keys import DataKey
from models.known_faces import AppealEvidenceErasure, AuthenticationPhoto, Erasure, FaceTemplate, RefusedPhoto
from models.policy import LifecyclePolicy, load_policy
from models.refusals import RefusedError
from models.settings import settings
from models.tables import Account, AuditRecord, BarredFingerprint, IdentityFingerprint
from security.codec import DATA_KEY_SCOPE, EncryptionCodec
from security.data_keys import DataKeyDestroyed
from tests.conftest import BIN, new_worker
from tests.support.accounts import appeal_for, audited, finish, linked_pair_with_a_case, photo
from tests.support.draws import hex_id
from tests.support.polling import eventually
from tests.support.signing import update
from worker import start_keepers
from workflows.seller_account import SellerAccount

RETENTION = load_policy().retention
RUN_DAYS = 5
ROOT = Path(__file__).resolve().parents[2]


async def verified_seller(
    env: WorkflowEnvironment, tq: str, mailbox: SmtpSink
) -> tuple[str, RegistrationInput]:
    reg = applicant()
    result = await seller_client.register(env.client, reg, task_queue=tq)
    assert result.member_id
    code = await asyncio.to_thread(mailbox.latest_code, reg.email)
    await seller_client.command(
        env.client, result.member_id, SellerAccount.verify_email, VerifyEmailInput(code)
    )
    return result.member_id, reg


async def submit(env: WorkflowEnvironment, member: str, path: Path) -> bool:
    """True when the photo passed; a refused photo is a refusal (issue 29's one answer shape)."""
    try:
        answer = await seller_client.submit_photo(env.client, member, path)
    except RefusedError:
        return False
    return answer.passed


async def skip(env: WorkflowEnvironment, span: timedelta) -> None:
    """Skip the clock in steps: the keeper sweeps once a day, and one skip call has an RPC deadline."""
    step = timedelta(days=20)
    while span > timedelta(0):
        await env.sleep(min(step, span))
        span -= step


def stored(ref: str, member: str | None = None) -> bool:
    """The blob is in the store: the account's copy (sealed under its data key) with `member`."""
    return blobs().size(ref, scope=f"seller-{member}" if member else None) is not None


def ref_of(path: Path) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def rows(model, **where):  # type: ignore[no-untyped-def]
    with Session(engine()) as session:
        stmt = select(model)
        for name, value in where.items():
            stmt = stmt.where(getattr(model, name) == value)
        return list(session.exec(stmt))


async def closed_for_a_serious_violation(env: WorkflowEnvironment, member: str) -> list[BarredFingerprint]:
    """ENF-1: a serious violation closes the account and bars its identity (REG-5); the bars.

    Read from the registry: a query to a finished workflow holds the time-skipping server's clock."""
    await seller_client.report_violation(
        env.client, member, ViolationInput(f"serious-{hex_id(8)}", "ip", "ENF-1", severity="serious")
    )
    await eventually(lambda: rows(Account, member_id=member, state="closed"), bool, "closed")
    return await eventually(
        lambda: rows(BarredFingerprint, origin_member_id=member), bool, "REG-5 barred the identity"
    )


async def test_a_refused_photo_and_a_refused_registrations_key_go_after_their_periods(
    time_env: WorkflowEnvironment, mailbox: SmtpSink, tmp_path: Path
) -> None:
    assert RETENTION.refused_registration_days == RETENTION.refused_photo_days, "one clock skip serves both"
    codec = time_env.client.data_converter.payload_codec
    assert codec is not None
    async with new_worker(time_env.client) as worker:
        # No time skipped while a result is awaited: the periods count from here, and the data key's
        # time is the registry's clock, which the test server's skips would leave behind.
        with time_env.auto_time_skipping_disabled():
            member, reg = await verified_seller(time_env, worker.task_queue, mailbox)
            refused = photo(tmp_path, "other_portrait", reg.id_card_number)
            assert not await submit(time_env, member, refused)
            ref = ref_of(refused)
            assert stored(ref, member) and rows(RefusedPhoto, member_id=member)
            # A registration refused (no identity consent): no account, but the applicant's numbers are in
            # its history's start input, sealed under its registration's data key by the client.
            applicant_refused = applicant(consents=[])
            answer = await seller_client.register(time_env.client, applicant_refused, task_queue=worker.task_queue)
            assert answer.refusal is not None and answer.refusal.code == "identity_consent_missing"
        refused_start = await started_input(time_env, f"registration-{applicant_refused.request_id}")
        accepted_start = await started_input(time_env, f"registration-{reg.request_id}")

        await start_keepers(time_env.client, worker.task_queue, only=KEEPER_WORKFLOW_ID)
        await time_env.sleep(timedelta(days=RETENTION.refused_photo_days - 1))
        assert stored(ref, member), "kept until its period ends"
        assert applicant_refused.id_card_number.encode() in (await codec.decode(refused_start))[0].data
        await time_env.sleep(timedelta(days=2))
        await eventually(lambda: not stored(ref, member), bool, "the refused photo deleted")
        assert not rows(RefusedPhoto, member_id=member)
        await eventually(
            lambda: rows(DataKey, scope=f"registration-{applicant_refused.request_id}")[0].wrapped,
            lambda wrapped: wrapped is None,
            "the refused registration's key destroyed",
        )
    with pytest.raises(DataKeyDestroyed):
        await codec.decode(refused_start)
    assert reg.id_card_number.encode() in (await codec.decode(accepted_start))[0].data, "an account's key stays"
    # The sweep's audit gives a count only (no scope, no member id); the registry is shared with this
    # worker's other tests, whose keys without an account go in the same sweep.
    swept = rows(AuditRecord, workflow_id="retention-data-keys")
    assert swept and all(set(r.detail) == {"data_key_of_no_account"} for r in swept)
    assert sum(int(r.detail["data_key_of_no_account"]) for r in swept) >= 1


async def test_a_closed_accounts_photos_template_and_contacts_go_after_their_period_its_bar_stays(
    time_env: WorkflowEnvironment, mailbox: SmtpSink, tmp_path: Path
) -> None:
    async with new_worker(time_env.client) as worker:
        member, reg = await verified_seller(time_env, worker.task_queue, mailbox)
        passing = photo(tmp_path, "pass_obama", reg.id_card_number)
        assert await submit(time_env, member, passing)
        assert rows(FaceTemplate, member_id=member) and rows(AuthenticationPhoto, member_id=member)
        bars = await closed_for_a_serious_violation(time_env, member)
        assert rows(IdentityFingerprint, member_id=member)

    # The keeper runs on its own server clock: after an account's workflow has finished, the
    # time-skipping server no longer skips for this environment (seen here), and the keeper needs
    # nothing from the account but the registry, as in production where it runs apart from accounts.
    keeper_env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server"),
        data_converter=time_env.client.data_converter,
    )
    try:
        async with new_worker(keeper_env.client) as keeper_worker:
            await start_keepers(keeper_env.client, keeper_worker.task_queue, only=KEEPER_WORKFLOW_ID)
            await skip(keeper_env, timedelta(days=RETENTION.closed_account_days - 2))
            assert not rows(Erasure, member_id=member), "kept until its period ends"
            await skip(keeper_env, timedelta(days=4))
            await eventually(lambda: rows(Erasure, member_id=member), bool, "the closed account erased")
    finally:
        await keeper_env.shutdown()

    assert not rows(FaceTemplate, member_id=member)
    assert not rows(AuthenticationPhoto, member_id=member)
    assert not rows(IdentityFingerprint, member_id=member)
    assert not stored(ref_of(passing), member)
    assert len(rows(BarredFingerprint, origin_member_id=member)) == len(bars), "REG-5 keeps its bar"
    erased = [
        r for r in rows(AuditRecord, workflow_id=f"seller-{member}") if r.event == "personal_data_erased"
    ]
    assert [(r.rule, r.reason) for r in erased] == [("DATA-2", "retention_ended")]
    assert erased[0].detail["face_template"] == "1" and "@" not in json.dumps(erased[0].detail)


async def test_erasure_on_request_refuses_a_live_account_and_keeps_what_reg5_needs(
    time_env: WorkflowEnvironment, mailbox: SmtpSink, tmp_path: Path
) -> None:
    async with new_worker(time_env.client) as worker:
        # Runs of RUN_DAYS (the worker's policy, handed to its registrations): past it, both accounts
        # continue as new, carrying their profile and state into a second run.
        admission.install(dataclasses.replace(load_policy(), lifecycle=LifecyclePolicy(max_run_days=RUN_DAYS)))
        try:
            member, reg = await verified_seller(time_env, worker.task_queue, mailbox)
            other, other_reg = await verified_seller(time_env, worker.task_queue, mailbox)
        finally:
            admission.install(None)
        passing = photo(tmp_path, "pass_obama", reg.id_card_number)
        assert await submit(time_env, member, passing)
        await time_env.sleep(timedelta(days=RUN_DAYS + 1))
        # The store's backup: the photo as kept, sealed under the account's data key.
        backup = blobs().store.get(f"accounts/seller-{member}/{ref_of(passing)[7:]}", 10**8)
        others_invoice = blobs().put(b"%PDF-1.4 the other seller's invoice", scope=f"seller-{other}")
        now = (
            (await time_env.get_current_time())
            if hasattr(time_env, "get_current_time")
            else seller_client.utcnow()
        )
        live = await erase(
            time_env.client,
            member,
            reason="seller_request",
            actor="operator:lin",
            at=now,
            task_queue=worker.task_queue,
        )
        assert not live.erased and live.refusal is not None
        assert (live.refusal.rule, live.refusal.code) == ("DATA-4", "account_live")
        assert rows(FaceTemplate, member_id=member)

        await closed_for_a_serious_violation(time_env, member)
        first = await erase(
            time_env.client,
            member,
            reason="seller_request",
            actor="operator:lin",
            at=now,
            task_queue=worker.task_queue,
        )
        again = await erase(
            time_env.client,
            member,
            reason="seller_request",
            actor="operator:lin",
            at=now,
            task_queue=worker.task_queue,
        )
    assert first.erased and first.deleted["face_template"] == 1 and first.deleted["identity_fingerprint"] >= 4
    assert first.deleted["data_key"] == 2, "the account's and its registration's"
    assert any(k.startswith("barred_fingerprint: REG-5") for k in first.kept)
    assert again.erased and again.deleted == {} and again.kept == first.kept
    assert not rows(FaceTemplate, member_id=member) and rows(BarredFingerprint, origin_member_id=member)

    # Crypto-shredding: the erased account's old history payloads (its identity numbers among them) no
    # longer decode: its steps' and what clients sent it (the registration's start input, the email
    # code's update); another account's still do.
    codec = time_env.client.data_converter.payload_codec
    assert codec is not None
    sent = await client_inputs(time_env, f"registration-{reg.request_id}", f"seller-{member}")
    assert len(sent) >= 2 and all(p.metadata.get(DATA_KEY_SCOPE) for p in sent)
    erased = sent + await history_payloads(time_env, f"registration-{reg.request_id}", f"seller-{member}")
    assert all(p.metadata.get(DATA_KEY_SCOPE) for p in erased)
    for payload in erased:
        with pytest.raises(DataKeyDestroyed):
            await codec.decode([payload])
    kept = await client_inputs(time_env, f"registration-{other_reg.request_id}", f"seller-{other}")
    kept += await history_payloads(time_env, f"registration-{other_reg.request_id}", f"seller-{other}")
    decoded = await codec.decode(kept)
    assert any(other_reg.id_card_number.encode() in p.data for p in decoded)
    # What the workflows wrote themselves: every run's start input (the first written by the
    # registration's worker, the next by continue-as-new) holds the profile and the state; every
    # payload of the account's runs and its registration that still decodes (answers, under the ring
    # key: no registry needed) holds none of the seller's personal data.
    runs = await account_runs(time_env, f"seller-{member}")
    assert len(runs) >= 2, "the account continued as new"
    written = [p for run in runs for p in run_inputs(run)]
    # Under the account's key (a child's start input takes the child's context, not its registration's).
    assert len(written) >= 2 * len(runs) - 1
    assert all(p.metadata.get(DATA_KEY_SCOPE) == f"seller-{member}".encode() for p in written)
    for payload in written:
        with pytest.raises(DataKeyDestroyed):
            await codec.decode([payload])
    registration = (await time_env.client.get_workflow_handle(f"registration-{reg.request_id}").fetch_history()).events
    every = [p for history in [*runs, History(events=registration)] for p in payloads_in(history)]
    ring = EncryptionCodec(settings().codec_keys, settings().codec_key_id)  # the Node client's: ring only
    readable = await ring.decode([p for p in every if not p.metadata.get(DATA_KEY_SCOPE)])
    personal = [reg.store_name, reg.email, reg.mobile, reg.id_card_number, reg.licence_number]
    assert not [v for v in personal for p in readable if v.encode() in p.data]
    assert answers(runs) and await ring.decode(answers(runs)), "answers decode with the ring key alone"
    others = await account_runs(time_env, f"seller-{other}")
    other_state = await codec.decode([p for run in others for p in run_inputs(run)])
    assert len(others) >= 2 and all(other_reg.store_name.encode() in p.data for p in other_state)
    # And the blobs: the photo is gone from the store, and its backup, put back, no longer opens.
    assert not stored(ref_of(passing), member)
    blobs().store.put(f"accounts/seller-{member}/{ref_of(passing)[7:]}", backup)
    with pytest.raises(BlobShredded):
        blobs().read(ref_of(passing), max_bytes=10**8, scope=f"seller-{member}")
    assert blobs().read(others_invoice, max_bytes=100, scope=f"seller-{other}").startswith(b"%PDF")


async def test_export_answers_every_kind_of_data_in_the_data_map(
    time_env: WorkflowEnvironment, mailbox: SmtpSink, tmp_path: Path
) -> None:
    async with new_worker(time_env.client) as worker:
        member, reg = await verified_seller(time_env, worker.task_queue, mailbox)
        assert not await submit(time_env, member, photo(tmp_path, "other_portrait", reg.id_card_number))
        assert await submit(time_env, member, photo(tmp_path, "pass_obama", reg.id_card_number))
        data = await export_member(time_env.client, member, tmp_path / "export")

    kinds = data_map_kinds()
    assert kinds <= set(data), sorted(kinds - set(data))
    written = json.loads((tmp_path / "export" / "export.json").read_text())
    assert written["account_state"]["state"] == "authenticated"
    assert written["facetemplate"] and "template" not in written["facetemplate"][0], "never the template"
    assert all(
        (tmp_path / "export" / f).is_file()
        for f in written["authentication_photo"] + written["refused_photo"]
    )
    assert reg.id_card_number not in (tmp_path / "export" / "export.json").read_text()


async def test_an_appeals_invoices_go_their_period_after_the_case_is_decided(time_env: WorkflowEnvironment) -> None:
    async with new_worker(time_env.client) as worker:
        h, other, case_id = await linked_pair_with_a_case(time_env, worker.task_queue, state="open")
        appeal = appeal_for(case_id)
        await update(h, SellerAccount.appeal, appeal)
        invoice = appeal.invoice_refs[0]
        await update(h, SellerAccount.decide_appeal, AppealDecisionInput(case_id, True, "lin"), operator="lin")
        await audited(h.id, "appeal_approved")
        await start_keepers(time_env.client, worker.task_queue, only=KEEPER_WORKFLOW_ID)
        await skip(time_env, timedelta(days=RETENTION.appeal_evidence_days - 2))
        assert stored(invoice), "kept until its period after the decision ends"
        await skip(time_env, timedelta(days=4))
        await eventually(lambda: not stored(invoice), bool, "the invoice deleted")
        await finish(h, other)
    member = h.id.removeprefix("seller-")
    assert [(r.case_id, r.invoices) for r in rows(AppealEvidenceErasure, member_id=member)] == [(case_id, 1)]
    erased = rows(AuditRecord, workflow_id=f"appeal-evidence-{member}")
    assert [(r.event, r.rule, r.detail) for r in erased] == [
        ("appeal_evidence_erased", "DATA-2", {"appeal_invoice": "1"})
    ], "audited by kind and count only"


async def history_payloads(env: WorkflowEnvironment, *workflow_ids: str) -> list[Payload]:
    """The payloads as Temporal keeps them (encrypted): the workflows' steps' inputs (the registration's
    hold the applicant's identity numbers)."""
    found: list[Payload] = []
    for workflow_id in workflow_ids:
        history = await env.client.get_workflow_handle(workflow_id).fetch_history()
        for event in history.events:
            if event.HasField("activity_task_scheduled_event_attributes"):
                found += event.activity_task_scheduled_event_attributes.input.payloads
    return found


async def client_inputs(env: WorkflowEnvironment, *workflow_ids: str) -> list[Payload]:
    """What clients sent the workflows, as Temporal keeps it: start inputs, signal and update arguments."""
    found: list[Payload] = []
    for workflow_id in workflow_ids:
        history = await env.client.get_workflow_handle(workflow_id).fetch_history()
        for event in history.events:
            if event.HasField("workflow_execution_started_event_attributes") and workflow_id.startswith(
                "registration-"
            ):  # an account is started by its registration's worker, not by a client
                found += event.workflow_execution_started_event_attributes.input.payloads
            elif event.HasField("workflow_execution_signaled_event_attributes"):
                found += event.workflow_execution_signaled_event_attributes.input.payloads
            elif event.HasField("workflow_execution_update_accepted_event_attributes"):
                found += event.workflow_execution_update_accepted_event_attributes.accepted_request.input.args.payloads
    return found


async def account_runs(env: WorkflowEnvironment, workflow_id: str) -> list[History]:
    """Every run's history of a workflow, latest first (each run names the run it continues)."""
    runs = [await env.client.get_workflow_handle(workflow_id).fetch_history()]
    while previous := runs[-1].events[0].workflow_execution_started_event_attributes.continued_execution_run_id:
        runs.append(await env.client.get_workflow_handle(workflow_id, run_id=previous).fetch_history())
    return [History(events=run.events) for run in runs]


def run_inputs(run: History) -> list[Payload]:
    """What a run was started with, and what it continued as new with."""
    found = list(run.events[0].workflow_execution_started_event_attributes.input.payloads)
    for event in run.events:
        if event.HasField("workflow_execution_continued_as_new_event_attributes"):
            found += event.workflow_execution_continued_as_new_event_attributes.input.payloads
    return found


def answers(runs: list[History]) -> list[Payload]:
    """The workflow's answers to updates."""
    return [
        p
        for run in runs
        for event in run.events
        if event.HasField("workflow_execution_update_completed_event_attributes")
        for p in event.workflow_execution_update_completed_event_attributes.outcome.success.payloads
    ]


def payloads_in(message: Message) -> list[Payload]:
    """Every payload anywhere in a history: inputs, results, failures' details, memos, headers."""
    if isinstance(message, Payload):
        return [message]
    found: list[Payload] = []
    for _field, value in message.ListFields():
        items = value.values() if hasattr(value, "values") else value if hasattr(value, "__iter__") else [value]
        for item in items:
            if isinstance(item, Message):
                found += payloads_in(item)
    return found


async def started_input(env: WorkflowEnvironment, workflow_id: str) -> list[Payload]:
    history = await env.client.get_workflow_handle(workflow_id).fetch_history()
    return list(history.events[0].workflow_execution_started_event_attributes.input.payloads)


def data_map_kinds() -> set[str]:
    text = (ROOT / "docs" / "PRIVACY.md").read_text()
    return set(re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.M))


def test_the_data_map_lists_every_table_of_the_registry() -> None:
    from sqlmodel import SQLModel

    import models.email_verification  # noqa: F401  (tables register on import)
    import models.known_faces  # noqa: F401
    import models.products  # noqa: F401
    import models.tables  # noqa: F401

    tables = set(SQLModel.metadata.tables)
    assert tables <= data_map_kinds(), sorted(tables - data_map_kinds())
