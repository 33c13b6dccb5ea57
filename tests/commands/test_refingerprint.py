"""The re-fingerprinting command on a registry written under the landed canonical form: every claim,
bar and pre-approval moves to canonical form, identities that now collide are reported and linked
(ASSOC-2), and a second run changes nothing. Real SQLite file, or PostgreSQL with
SELLER_TEST_DATABASE_URL."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, select
from temporalio.testing import WorkflowEnvironment

import seller_client
from activities.identity_registry import claim_identity, digest_of, fingerprint
from activities.storage.db import engine
from commands import refingerprint as cmd
from devtools.identity_factory import applicant
from models.activity_io import ClaimIdentityInput
from models.tables import AccountLink, BarredFingerprint, IdentityFingerprint, PreApproval
from security import data_keys
from tests.conftest import new_worker
from tests.support.draws import hex_id
from tests.support.registry_rows import new_account

# Fixed seed: distinct values in one session (a fresh registry), the same in every run.
DRAW = random.Random(20261125)

NOW = datetime(2026, 11, 25, tzinfo=UTC)


def arabic(number: str) -> str:
    return "".join(chr(0x660 + int(c)) if c.isdigit() else c for c in number)


def devanagari(number: str) -> str:
    return "".join(chr(0x966 + int(c)) if c.isdigit() else c for c in number)


def legacy(kind: str, value: str) -> str:
    return digest_of(kind, cmd.legacy_canonical(kind, value))


def new_member(prefix: str) -> str:
    return new_account(prefix, store_name="Legacy Store", at=NOW)


def claim_legacy(member_id: str, values: dict[str, str]) -> None:
    """Claims as the landed registry wrote them: fingerprints of the legacy canonical form."""
    with Session(engine()) as session:
        for kind, value in values.items():
            session.add(IdentityFingerprint(kind=kind, digest=legacy(kind, value), member_id=member_id))
        session.commit()


def legacy_pre_approval(ref: str, licence: str) -> PreApproval:
    """A REG-2 pre-approval of a German applicant as the landed registry wrote it."""
    return PreApproval(
        ref=ref,
        region="DE",
        licence_digest=legacy("licence", licence),
        approved_by="operator:lin",
        created_at=NOW,
    )


@dataclasses.dataclass
class LegacyRegistry:
    a: str
    b: str
    c: str
    typed: list[dict[str, str]]
    first: object
    barred_id: str
    foreign_licence: str
    approval_ref: str


def legacy_registry() -> LegacyRegistry:
    """Three sellers who dodged REG-11 by spelling, one barred identity typed in Devanagari, one
    pre-approval: the state issue 14 found."""
    first, second, third, closed = applicant(), applicant(), applicant(), applicant()
    local = f"ab.alias.{hex_id(8)}"
    national = first.mobile.removeprefix("+86")
    a, b, c = new_member("A"), new_member("B"), new_member("C")
    a_values = {
        "mobile": f"+86 {national[:3]}-{national[3:7]}-{national[7:]}",
        "email": f"{local}@gmail.com",
        "id_card": arabic(first.id_card_number),
        "licence": first.licence_number,
    }
    b_values = {  # the same person's second store
        "mobile": national,
        "email": local.replace(".", "").upper() + "+shop2@Gmail.com",
        "id_card": second.id_card_number,
        "licence": second.licence_number,
    }
    c_values = {  # the same ID card as A, typed in ASCII digits: already canonical
        "mobile": third.mobile,
        "email": third.email,
        "id_card": first.id_card_number,
        "licence": third.licence_number,
    }
    claim_legacy(a, a_values)
    claim_legacy(b, b_values)
    claim_legacy(c, c_values)
    barred_id = devanagari(closed.id_card_number)
    foreign_licence = f"DEHRB{DRAW.randrange(10**6):06d}"
    ref = f"PA-{hex_id(10)}"
    with Session(engine()) as session:
        session.add(
            BarredFingerprint(
                kind="id_card", digest=legacy("id_card", barred_id), origin_member_id="MCLOSED", barred_at=NOW
            )
        )
        session.add(legacy_pre_approval(ref, foreign_licence))
        session.commit()
    typed = [{"kind": k, "value": v} for values in (a_values, b_values, c_values) for k, v in values.items()]
    typed += [
        {"kind": "id_card", "value": barred_id},
        {"kind": "licence", "value": foreign_licence, "region": "DE"},
    ]
    return LegacyRegistry(a, b, c, typed, first, closed.id_card_number, foreign_licence, ref)


def run(tmp_path: Path, reg: LegacyRegistry, capsys: pytest.CaptureFixture[str], *extra: str) -> dict:
    values = tmp_path / f"values-{hex_id(6)}.jsonl"
    values.write_text(
        "\n".join(json.dumps(v, ensure_ascii=False) for v in reg.typed) + "\n", encoding="utf-8"
    )
    capsys.readouterr()
    assert cmd.main(["--values", str(values), *extra]) == 0
    out = capsys.readouterr().out
    for v in reg.typed:  # the report never shows a value
        assert v["value"] not in out
    return json.loads(out)


def snapshot(*members: str) -> list[tuple[str, str, str]]:
    with Session(engine()) as session:
        rows = session.exec(select(IdentityFingerprint).where(IdentityFingerprint.member_id.in_(members)))  # type: ignore[attr-defined]
        return sorted((r.member_id, r.kind, r.digest) for r in rows)


def links(*members: str) -> list[tuple[str, str, str, str]]:
    with Session(engine()) as session:
        rows = session.exec(select(AccountLink).where(AccountLink.member_a.in_(members)))  # type: ignore[attr-defined]
        return sorted((r.member_a, r.member_b, r.rule, r.reason) for r in rows if r.member_b in members)


def test_refingerprinting_moves_claims_to_canonical_form_and_links_the_collisions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reg = legacy_registry()
    report = run(tmp_path, reg, capsys)
    pairs = {(c["kind"], tuple(c["member_ids"])) for c in report["collisions"]}
    ab, ac = tuple(sorted((reg.a, reg.b))), tuple(sorted((reg.a, reg.c)))
    assert pairs == {("mobile", ab), ("email", ab), ("id_card", ac)}
    assert all(c["newly_linked"] for c in report["collisions"])
    # Foreign licences were ASCII-only before and their canonical form is unchanged: the pre-approval
    # stays valid as it is.
    assert (report["barred_rewritten"], report["pre_approvals_rewritten"], report["values_refused"]) == (
        1,
        0,
        0,
    )
    assert links(reg.a, reg.b, reg.c) == sorted(
        [
            (*ab, "ASSOC-2", "shared_mobile"),
            (*ab, "ASSOC-2", "shared_email"),
            (*ac, "ASSOC-2", "shared_id_card"),
        ]
    )

    # The registry now refuses every spelling: REG-11 for A's identity, REG-5 for the barred one.
    def claim(**overrides: str):  # type: ignore[no-untyped-def]
        return claim_identity(
            ClaimIdentityInput(
                member_id="N" + hex_id(15).upper(), registration=applicant(**overrides), at=NOW
            )
        ).refusal

    assert claim(mobile=reg.first.mobile).code == "duplicate_identity"  # type: ignore[attr-defined]
    assert claim(id_card_number=reg.first.id_card_number).code == "duplicate_identity"  # type: ignore[attr-defined]
    assert claim(id_card_number=reg.barred_id).code == "identity_barred"  # type: ignore[attr-defined]
    with Session(engine()) as session:
        approval = session.exec(select(PreApproval).where(PreApproval.ref == reg.approval_ref)).one()
    assert approval.licence_digest == fingerprint("licence", reg.foreign_licence, region="DE")

    # Safe to re-run: nothing moves, the same collisions are reported, no link is added.
    before, linked = snapshot(reg.a, reg.b, reg.c), links(reg.a, reg.b, reg.c)
    again = run(tmp_path, reg, capsys)
    assert (again["rewritten"], again["barred_rewritten"], again["pre_approvals_rewritten"]) == (0, 0, 0)
    assert {(c["kind"], tuple(c["member_ids"])) for c in again["collisions"]} == pairs
    assert not any(c["newly_linked"] for c in again["collisions"])
    assert snapshot(reg.a, reg.b, reg.c) == before and links(reg.a, reg.b, reg.c) == linked


def test_a_dry_run_reports_the_same_collisions_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reg = legacy_registry()
    before = snapshot(reg.a, reg.b, reg.c)
    dry = run(tmp_path, reg, capsys, "--dry-run")
    assert dry["dry_run"] and len(dry["collisions"]) == 3
    assert snapshot(reg.a, reg.b, reg.c) == before and links(reg.a, reg.b, reg.c) == []
    real = run(tmp_path, reg, capsys)
    keys = ("rewritten", "merged", "barred_rewritten", "pre_approvals_rewritten", "values_refused")
    assert [dry[k] for k in keys] == [real[k] for k in keys] and real["rewritten"] == 1  # A's Gmail address
    assert [(c["kind"], c["member_ids"]) for c in dry["collisions"]] == [
        (c["kind"], c["member_ids"]) for c in real["collisions"]
    ]


def test_every_kind_of_row_moves_and_a_row_held_in_both_forms_merges() -> None:
    """Claims, bars and pre-approvals move alike: a row whose canonical fingerprint its holder holds
    already is merged into it (a claim of the same member, a bar), and pre-approvals, which may share
    a licence, all move."""
    person, closed = applicant(), applicant()
    national = person.mobile.removeprefix("+86")
    spaced = f"{national[:3]} {national[3:7]} {national[7:]}"
    foreign = "DEHRB" + arabic(f"{DRAW.randrange(10**6):06d}")
    member = new_member("M")
    refs = [f"PA-{hex_id(10)}" for _ in range(2)]
    with Session(engine()) as session:
        for kind, digest in (
            ("id_card", legacy("id_card", arabic(person.id_card_number))),  # one ID card, both forms
            ("id_card", fingerprint("id_card", person.id_card_number)),
            ("mobile", legacy("mobile", spaced)),
        ):
            session.add(IdentityFingerprint(kind=kind, digest=digest, member_id=member))
        for digest in (
            legacy("id_card", devanagari(closed.id_card_number)),
            fingerprint("id_card", closed.id_card_number),
        ):
            session.add(
                BarredFingerprint(kind="id_card", digest=digest, origin_member_id="MCLOSED", barred_at=NOW)
            )
        for ref in refs:
            session.add(legacy_pre_approval(ref, foreign))
        session.commit()
    values = [
        cmd.SourceValue("id_card", arabic(person.id_card_number)),
        cmd.SourceValue("mobile", spaced),
        cmd.SourceValue("id_card", devanagari(closed.id_card_number)),
        cmd.SourceValue("licence", foreign, "DE"),
    ]

    def counts(report: cmd.Report) -> tuple[int, ...]:
        return (
            report.rewritten,
            report.merged,
            report.barred_rewritten,
            report.barred_merged,
            report.pre_approvals_rewritten,
        )

    dry, _ = cmd.refingerprint(values, dry_run=True)
    report, collisions = cmd.refingerprint(values)
    assert counts(report) == counts(dry) == (1, 1, 0, 1, 2) and collisions == []
    assert snapshot(member) == sorted(
        [
            (member, "id_card", fingerprint("id_card", person.id_card_number)),
            (member, "mobile", fingerprint("mobile", spaced)),
        ]
    )
    with Session(engine()) as session:
        bars = session.exec(
            select(BarredFingerprint.digest).where(
                BarredFingerprint.digest.in_(
                    [
                        legacy("id_card", devanagari(closed.id_card_number)),
                        fingerprint("id_card", closed.id_card_number),
                    ]
                )  # type: ignore[attr-defined]
            )
        ).all()
        approvals = session.exec(select(PreApproval.licence_digest).where(PreApproval.ref.in_(refs))).all()  # type: ignore[attr-defined]
    assert bars == [fingerprint("id_card", closed.id_card_number)]
    assert approvals == [fingerprint("licence", foreign, region="DE")] * 2
    again, _ = cmd.refingerprint(values)
    assert counts(again) == (0, 0, 0, 0, 0)


def test_malformed_value_lines_stop_the_command_and_unusable_values_are_counted(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"kind": "mobile"}\n', encoding="utf-8")
    with pytest.raises(SystemExit, match="bad.jsonl:1"):
        cmd.main(["--values", str(bad)])
    report, _ = cmd.refingerprint([cmd.SourceValue("id_card", "44030519900101001\u0425")])
    assert report.values_refused == 1 and report.rewritten == 0


async def test_values_are_read_back_from_the_registration_history(dev_env: WorkflowEnvironment) -> None:
    """--from-temporal: the registration command's encrypted input is the source of the typed values."""
    typed = applicant()
    national = typed.mobile.removeprefix("+86")
    typed = dataclasses.replace(typed, mobile=f"{national[:3]} {national[3:7]} {national[7:]}")
    async with new_worker(dev_env.client) as worker:
        result = await seller_client.register(dev_env.client, typed, task_queue=worker.task_queue)
    assert result.accepted and result.member_id
    # As the landed registry would have stored it.
    with Session(engine()) as session:
        row = session.exec(
            select(IdentityFingerprint).where(
                IdentityFingerprint.member_id == result.member_id, IdentityFingerprint.kind == "mobile"
            )
        ).one()
        row.digest = legacy("mobile", typed.mobile)
        session.add(row)
        session.commit()
    assert legacy("mobile", typed.mobile) != fingerprint("mobile", typed.mobile)
    queries = dict(
        registrations=f"WorkflowId = 'registration-{typed.request_id}'",
        accounts=f"WorkflowId = 'seller-{result.member_id}'",
    )
    values = await cmd.values_from_temporal(dev_env.client, **queries)
    assert sorted(v.kind for v in values) == ["email", "id_card", "licence", "mobile"]
    report, collisions = cmd.refingerprint(values)
    assert report.rewritten == 1 and collisions == []
    assert snapshot(result.member_id) == sorted(
        (result.member_id, k, fingerprint(k, v))
        for k, v in (
            ("licence", typed.licence_number),
            ("id_card", typed.id_card_number),
            ("mobile", typed.mobile),
            ("email", typed.email),
        )
    )
    # Erased (DATA-4): its registration's and its account's histories are shredded, the account's start
    # input too; nothing is read back from them, and nothing fails.
    with Session(engine()) as session:
        scopes = [f"registration-{typed.request_id}", f"seller-{result.member_id}"]
        assert data_keys.destroy(session, scopes, datetime.now(UTC)) == 2
        session.commit()
    assert await cmd.values_from_temporal(dev_env.client, **queries) == []
    await dev_env.client.get_workflow_handle(f"seller-{result.member_id}").terminate("test over")


async def test_open_cases_suspends_both_accounts_of_a_collision_once(time_env: WorkflowEnvironment) -> None:
    """--open-cases: each account of a collision gets the ASSOC-2 case a live contact change would open;
    sending twice opens nothing more."""
    from tests.support.accounts import finish, start_account
    from tests.support.polling import until
    from tests.support.signing import TEST_TTL
    from workflows.seller_account import SellerAccount

    async with new_worker(time_env.client) as worker:
        first = await start_account(time_env, worker.task_queue, state="open")
        second = await start_account(time_env, worker.task_queue, state="open")
        a = (await first.query(SellerAccount.status)).member_id
        b = (await second.query(SellerAccount.status)).member_id
        collision = cmd.Collision("mobile", (min(a, b), max(a, b)), True)
        # Signed for the time-skipping server's clock, which runs ahead of the wall clock.
        assert await cmd.open_cases([collision], client=time_env.client, ttl=TEST_TTL) == 2
        sa = await until(first, lambda s: s.state == "suspended" and bool(s.open_cases), "first suspended")
        sb = await until(second, lambda s: s.state == "suspended" and bool(s.open_cases), "second suspended")
        assert sa.open_cases == sb.open_cases and len(sa.open_cases) == 1
        assert a not in sa.open_cases[0] and b not in sa.open_cases[0], "case ids name no member"
        await cmd.open_cases([collision], client=time_env.client, ttl=TEST_TTL)
        await asyncio.sleep(0.5)  # real time for the signals' workflow task
        assert (await first.query(SellerAccount.status)).open_cases == sa.open_cases
        await finish(first, second)


def test_a_change_to_the_provider_rules_is_followed_and_ambiguous_rows_are_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Operators add `+tag` stripping for one domain and drop it for another: rows move where the old
    fingerprint names one mailbox, and are left (reported) where it could be either of two."""
    from activities.identity.canonical import load_providers

    tag = hex_id(8)
    adds, drops = f"corp-{tag}.example", f"old-{tag}.example"
    before = tmp_path / "before.toml"
    before.write_text(f'[providers."{drops}"]\ntag_separators = ["+"]\n', encoding="utf-8")
    after = tmp_path / "after.toml"
    after.write_text(f'[providers."{adds}"]\ntag_separators = ["+"]\n', encoding="utf-8")
    p, q, r, t = new_member("P"), new_member("Q"), new_member("R"), new_member("T")
    monkeypatch.setenv("EMAIL_PROVIDERS_FILE", str(before))
    load_providers.cache_clear()
    with Session(engine()) as session:  # claims as registered under the rules of before
        for member, email in (
            (p, f"sales+eu@{adds}"),
            (q, f"sales@{adds}"),
            (r, f"team+r@{drops}"),  # held as team@old: was it team+r's or team's?
            (t, f"solo+x@{drops}"),  # held as solo@old, and nobody typed solo@old: solo+x's
        ):
            session.add(
                IdentityFingerprint(kind="email", digest=fingerprint("email", email), member_id=member)
            )
        session.commit()
    monkeypatch.setenv("EMAIL_PROVIDERS_FILE", str(after))
    load_providers.cache_clear()
    try:
        values = [
            cmd.SourceValue("email", v)
            for v in (
                f"sales+eu@{adds}",
                f"sales@{adds}",
                f"team+r@{drops}",
                f"team@{drops}",
                f"solo+x@{drops}",
            )
        ]
        report, collisions = cmd.refingerprint(values, previous_providers=before)
        assert [(c.kind, c.member_ids) for c in collisions] == [("email", tuple(sorted((p, q))))]
        assert report.ambiguous == 1 and report.rewritten == 1
        rows = dict((m, d) for m, _, d in snapshot(r, t))
        assert rows[t] == fingerprint("email", f"solo+x@{drops}")  # moved: it could only be solo+x's
        assert rows[r] == fingerprint("email", f"team@{drops}")  # left: team@ or team+r@, unknown
    finally:
        monkeypatch.delenv("EMAIL_PROVIDERS_FILE")
        load_providers.cache_clear()
