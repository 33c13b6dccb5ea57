"""Registration end to end on the dev server: REG-11 races, REG-2, REG-5, REG-9 and bad input."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

import seller_client
from activities.identity_registry import fingerprint
from activities.storage.db import engine
from devtools.identity_factory import applicant
from models.contract import RegistrationInput, RegistrationResult
from models.tables import Account, BarredFingerprint, IdentityFingerprint, PreApproval
from tests.conftest import new_worker
from tests.support.draws import hex_id


async def register(client: Client, tq: str, reg: RegistrationInput) -> RegistrationResult:
    return await seller_client.register(client, reg, task_queue=tq)


def accounts_for(request_ids: list[str]) -> list[Account]:
    with Session(engine()) as session:
        return list(session.exec(select(Account).where(Account.registration_id.in_(request_ids))))  # type: ignore[attr-defined]


@pytest.mark.parametrize("shared", ["id_card_number", "email", "mobile"])
async def test_fifty_concurrent_registrations_with_one_identity_make_one_account(
    dev_env: WorkflowEnvironment, shared: str
) -> None:
    base = applicant()
    regs = [dataclasses.replace(applicant(), **{shared: getattr(base, shared)}) for _ in range(50)]
    async with new_worker(dev_env.client, max_concurrent_activities=16) as worker:
        results = await asyncio.gather(*(register(dev_env.client, worker.task_queue, r) for r in regs))

    accepted = [r for r in results if r.accepted]
    refused = [r.refusal for r in results if not r.accepted]
    assert len(accepted) == 1
    assert len(refused) == 49
    assert {(r.rule, r.code) for r in refused if r} == {("REG-11", "duplicate_identity")}
    assert all(r and r.message for r in refused)
    # No orphans: one account row, and the fingerprints of that account only.
    rows = accounts_for([r.request_id for r in regs])
    assert [a.member_id for a in rows] == [accepted[0].member_id]
    with Session(engine()) as session:
        owners = session.exec(
            select(IdentityFingerprint.member_id).where(
                IdentityFingerprint.digest.in_(  # type: ignore[attr-defined]
                    [
                        fingerprint(k, getattr(r, f))
                        for r in regs
                        for k, f in (
                            ("licence", "licence_number"),
                            ("id_card", "id_card_number"),
                            ("mobile", "mobile"),
                            ("email", "email"),
                        )
                    ]
                )
            )
        ).all()
    assert sorted(set(owners)) == [accepted[0].member_id] and len(owners) == 4


async def test_repeated_request_answers_the_same_member(dev_env: WorkflowEnvironment) -> None:
    reg = applicant()
    async with new_worker(dev_env.client) as worker:
        first = await register(dev_env.client, worker.task_queue, reg)
        again = await register(dev_env.client, worker.task_queue, reg)
    assert first.accepted and again.member_id == first.member_id
    assert len(accounts_for([reg.request_id])) == 1
    assert first.member_id and first.member_id.startswith("M") and len(first.member_id) == 17


BAD_INPUT = {
    "missing store name": (dict(store_name=""), "REG-1", "missing_field"),
    "over-long store name": (dict(store_name="x" * 65), "REG-1", "too_long"),
    "invalid email": (dict(email="not-an-email"), "REG-6", "bad_email"),
    "over-long email": (dict(email="a" * 250 + "@example.com"), "REG-6", "too_long"),
    "control characters": (dict(store_name="Tea\x00House"), "REG-1", "control_characters"),
    "bidi override": (dict(store_name="Tea\u202eHouse"), "REG-1", "control_characters"),
    "bad licence check character": (
        dict(licence_number="91440300MA5FXXXXX1"),
        "REG-11",
        "bad_licence_number",
    ),
    "bad ID check character": (dict(id_card_number="440305199001010001"), "REG-11", "bad_id_card_number"),
    "bad mobile": (dict(mobile="call me"), "REG-11", "bad_mobile"),
    "bad region": (dict(region="China"), "REG-2", "bad_region"),
    "sub-account without main": (dict(account_type="sub"), "REG-9", "main_account_required"),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
async def test_bad_input_is_refused_with_a_reason_and_nothing_written(
    dev_env: WorkflowEnvironment, case: str
) -> None:
    overrides, rule, code = BAD_INPUT[case]
    reg = applicant(**overrides)
    async with new_worker(dev_env.client) as worker:
        result = await register(dev_env.client, worker.task_queue, reg)
    assert not result.accepted and result.refusal is not None
    assert (result.refusal.rule, result.refusal.code) == (rule, code)
    assert accounts_for([reg.request_id]) == []


async def test_region_needs_a_matching_pre_approval(dev_env: WorkflowEnvironment) -> None:
    foreign = applicant(region="DE", licence_number="DEHRB123456", id_card_number="L01X00T47")
    async with new_worker(dev_env.client) as worker:
        refused = await register(dev_env.client, worker.task_queue, foreign)
        assert refused.refusal and (refused.refusal.rule, refused.refusal.code) == (
            "REG-2",
            "region_not_allowed",
        )

        ref = f"PA-{hex_id(8)}"
        with Session(engine()) as session:
            session.add(
                PreApproval(
                    ref=ref,
                    region="DE",
                    licence_digest=fingerprint("licence", "DEHRB123456", region="DE"),
                    approved_by="operator:lin",
                    created_at=datetime.now(UTC),
                )
            )
            session.commit()
        other_licence = dataclasses.replace(
            foreign, request_id=hex_id(), licence_number="DEHRB999999", pre_approval_ref=ref
        )
        assert (
            await register(dev_env.client, worker.task_queue, other_licence)
        ).refusal.code == "region_not_allowed"  # type: ignore[union-attr]
        approved = dataclasses.replace(foreign, request_id=hex_id(), pre_approval_ref=ref)
        assert (await register(dev_env.client, worker.task_queue, approved)).accepted


async def test_barred_identity_cannot_register_again(dev_env: WorkflowEnvironment) -> None:
    reg = applicant()
    with Session(engine()) as session:
        session.add(
            BarredFingerprint(
                kind="mobile",
                digest=fingerprint("mobile", reg.mobile),
                origin_member_id="MCLOSED",
                barred_at=datetime.now(UTC),
            )
        )
        session.commit()
    async with new_worker(dev_env.client) as worker:
        result = await register(dev_env.client, worker.task_queue, reg)
    assert result.refusal and (result.refusal.rule, result.refusal.code) == ("REG-5", "identity_barred")
    assert "MCLOSED" not in result.refusal.message
    assert accounts_for([reg.request_id]) == []


async def test_no_identity_in_clear_in_history_or_database(dev_env: WorkflowEnvironment, data_dir) -> None:
    reg = applicant()
    async with new_worker(dev_env.client) as worker:
        result = await register(dev_env.client, worker.task_queue, reg)
    assert result.accepted and result.member_id
    secrets = [reg.email, reg.mobile, reg.id_card_number, reg.licence_number]
    for workflow_id in (f"registration-{reg.request_id}", f"seller-{result.member_id}"):
        history = await dev_env.client.get_workflow_handle(workflow_id).fetch_history()
        raw = history.to_json()
        for secret in secrets:
            assert secret not in raw
    db_bytes = b"".join(p.read_bytes() for p in data_dir.glob("seller.db*"))
    for secret in secrets:
        assert secret.encode() not in db_bytes


async def test_sub_account_must_share_its_main_accounts_identity(dev_env: WorkflowEnvironment) -> None:
    main = applicant()
    async with new_worker(dev_env.client) as worker:
        main_result = await register(dev_env.client, worker.task_queue, main)
        assert main_result.accepted
        stranger = applicant(account_type="sub", main_member_id=main_result.member_id)
        refused = await register(dev_env.client, worker.task_queue, stranger)
        assert refused.refusal and (refused.refusal.rule, refused.refusal.code) == (
            "REG-9",
            "sub_identity_mismatch",
        )
        unknown = applicant(
            account_type="sub",
            main_member_id="MNOSUCHMEMBER0000",
            licence_number=main.licence_number,
            id_card_number=main.id_card_number,
        )
        refused = await register(dev_env.client, worker.task_queue, unknown)
        assert refused.refusal and refused.refusal.code == "main_account_unknown"
        # Same legal entity, its own email and mobile: accepted, and the main's identity stays the main's.
        sub = applicant(
            account_type="sub",
            main_member_id=main_result.member_id,
            licence_number=main.licence_number,
            id_card_number=main.id_card_number,
        )
        accepted = await register(dev_env.client, worker.task_queue, sub)
        assert accepted.accepted
        [row] = accounts_for([sub.request_id])
        assert (row.is_main, row.main_member_id) == (False, main_result.member_id)
        # A sub-account cannot be the main account of another sub-account.
        nested = applicant(
            account_type="sub",
            main_member_id=accepted.member_id,
            licence_number=main.licence_number,
            id_card_number=main.id_card_number,
        )
        refused = await register(dev_env.client, worker.task_queue, nested)
        assert refused.refusal and refused.refusal.code == "main_account_unknown"
