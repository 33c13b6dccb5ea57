"""The review queue and the evidence page, served by the real codec server (aiohttp test client) against
the dev server and a real worker: an appeal's letter (escaped), its invoice re-encoded without EXIF or
GPS, the association's evidence (which kind of identity is shared, never its value; the two listings),
a decision with a required note in the signed-in operator's name, the account's refusal with its rule
and reason, the access log, and nothing at all for a stranger or an operator without the role; an
OPEN-1 photo the check was unsure of, shown re-encoded beside the check's measures and passed; a link
policy asks a person to confirm, shown by kind and confirmed."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, select
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

import codec_server
import seller_client
from activities.identity_registry import link_accounts
from activities.storage import access_log
from activities.storage.blobs import put_bytes
from activities.storage.db import engine
from devtools import photo_fixtures
from devtools.identity_factory import applicant
from devtools.smtp_sink import SmtpSink
from evidence.page import item_url
from models.contract import AppealInput, ChangeContactInput, VerifyEmailInput
from models.products import Product
from models.review import PHOTO_REVIEW
from models.settings import settings
from models.tables import AccountLink, EvidenceAccess
from security.codec_access import AccessSettings, Operator, hash_password, load_access
from tests.conftest import new_worker
from tests.support.accounts import (
    POLICY,
    audit_rows,
    finish,
    linked_pair_with_a_case,
    registered_identity,
    start_account,
)
from tests.support.draws import hex_id
from tests.support.polling import eventually, until
from tests.support.signing import member_of, update
from workflows.seller_account import SellerAccount

LIN, LIN_PASSWORD = "lin", "lin-password-123"  # the operator role: opens items, decides
READER, READER_PASSWORD = "reader", "reader-password-1"  # reads payloads, no operator role
HOSTILE_LETTER = '<script>alert("x")</script> We bought these goods from the maker & kept the invoices.'
RED, BLUE, GREEN = (210, 20, 20), (20, 20, 210), (20, 180, 20)


def invoice_photo() -> bytes:
    """A photographed invoice as phones send it: EXIF with the camera and a GPS position."""
    img = Image.new("RGB", (120, 80), RED)
    img.paste(BLUE, (60, 0, 120, 80))
    exif = Image.Exif()
    exif[0x010F] = "CameraMakerXYZ"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (22.0, 32.0, 1.0)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=95, exif=exif.tobytes())
    return out.getvalue()


def listing_photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 40), GREEN).save(out, "PNG")
    return out.getvalue()


def appeal_with_photo(case_id: str) -> AppealInput:
    return AppealInput(
        case_id,
        "Opened 2024 in Shenzhen, own factory",
        [put_bytes(b"%PDF-1.4 invoice " + hex_id(16).encode()), put_bytes(invoice_photo())],
        HOSTILE_LETTER,
    )


def access_for_test() -> AccessSettings:
    lin = Operator(LIN, hash_password(LIN_PASSWORD), frozenset({"default"}), frozenset({"operator"}))
    reader = Operator(READER, hash_password(READER_PASSWORD), frozenset({"default"}))
    return replace(load_access(settings(), env={}), operators={LIN: lin, READER: reader})


@pytest_asyncio.fixture
async def appeal(dev_env: WorkflowEnvironment) -> AsyncIterator[tuple[WorkflowEnvironment, WorkflowHandle, str]]:
    """An account suspended by an ASSOC-3 case, also linked by a shared email (ASSOC-2), that appealed."""
    async with new_worker(dev_env.client) as worker:
        account, other, case_id = await linked_pair_with_a_case(dev_env, worker.task_queue, state="open")
        me, them = account.id.removeprefix("seller-"), other.id.removeprefix("seller-")
        with Session(engine()) as session:
            link_accounts(session, me, them, rule="ASSOC-2", reason="shared_email", evidence="email", at=datetime.now(UTC))
            # The ASSOC-3 link as the product index writes it: the refused listing, the one it copied, and how.
            listed = Product(
                product_id=f"{them}-P1",
                member_id=them,
                title="Brass <b>desk</b> lamp",
                category="home",
                price_cents=1990,
                image_ref=put_bytes(listing_photo()),
                minhash=b"\0" * 8,
                phash="0" * 16,
                created_at=datetime.now(UTC),
            )
            session.add(listed)
            link = session.exec(select(AccountLink).where(AccountLink.rule == "ASSOC-3", AccountLink.member_a == min(me, them), AccountLink.member_b == max(me, them))).one()
            link.evidence = f"{me}-P1~{them}-P1 by image"
            session.add(link)
            session.commit()
        await update(account, SellerAccount.appeal, appeal_with_photo(case_id))
        yield dev_env, account, case_id
        await finish(account, other)


async def client_for(env: WorkflowEnvironment, who: tuple[str, str] | None) -> TestClient:
    app = codec_server.create_app(settings(), access_for_test(), temporal=env.client)
    client = TestClient(TestServer(app))
    await client.start_server()
    if who is not None:
        signed_in = await client.post("/login", data={"operator": who[0], "password": who[1]})
        assert signed_in.status == 200, await signed_in.text()
    return client


async def test_an_operator_reads_the_appeal_and_approves_it_in_their_name(appeal) -> None:  # type: ignore[no-untyped-def]
    env, account, case_id = appeal
    item_id = f"appeal-{case_id}"
    page_url = item_url(account.id, item_id)
    client = await client_for(env, (LIN, LIN_PASSWORD))
    try:
        # The queue lists it (visibility is eventually consistent).
        async def queue() -> str:
            return await (await client.get("/review")).text()

        listed: str = await eventually(queue, lambda t: item_id in t, "the appeal in the queue")
        assert page_url.replace(":", "%3A") in listed or page_url in listed

        response = await client.get(page_url)
        page = await response.text()
        assert response.status == 200
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "script-src" not in csp and "frame-ancestors 'none'" in csp
        assert "<script>" not in page and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
        assert "Opened 2024 in Shenzhen" in page
        assert "Shared identity: <b>email address</b>" in page, "ASSOC-2: the kind of identity shared"
        assert "duplicate_product" in page and "suspended" in page
        assert "/evidence/2" in page and "<img" in page and "Download (not a picture)" in page
        # ASSOC-3: both listings side by side (the copied one's title escaped), and what matched.
        assert "Matched by: <b>image</b>" in page and "Brass &lt;b&gt;desk&lt;/b&gt; lamp" in page
        assert "(refused listing: not kept)" in page
        them = other_member(page)
        listing = await client.get(f"{page_url}/listing/{them}-P1")
        assert listing.content_type == "image/png"
        assert Image.open(io.BytesIO(await listing.read())).convert("RGB").getpixel((20, 20)) == GREEN

        picture = await client.get(f"{page_url}/evidence/3")
        assert picture.status == 200 and picture.content_type == "image/png"
        png = await picture.read()
        assert b"CameraMakerXYZ" not in png and b"eXIf" not in png and b"Exif" not in png
        img = Image.open(io.BytesIO(png))
        assert not img.getexif() and not img.getexif().get_ifd(0x8825)
        for x, colour in ((30, RED), (90, BLUE)):
            assert all(abs(a - b) < 25 for a, b in zip(img.convert("RGB").getpixel((x, 40)), colour, strict=True))
        pdf = await client.get(f"{page_url}/evidence/2")
        assert pdf.content_type == "application/octet-stream" and "attachment" in pdf.headers["Content-Disposition"]

        form = {"csrf": _csrf(page), "request_id": f"t-{hex_id(8)}", "decision": "approve"}
        no_note = await client.post(f"{page_url}/decide", data=form | {"note": "  "}, allow_redirects=False)
        assert no_note.status == 400
        cross = await client.post(
            f"{page_url}/decide",
            data=form | {"note": "ok"},
            headers={"Origin": "http://evil.example"},
            allow_redirects=False,
        )
        assert cross.status == 403
        forged = await client.post(
            f"{page_url}/decide", data=form | {"csrf": "0" * 64, "note": "ok"}, allow_redirects=False
        )
        assert forged.status == 403
        status = await account.query(SellerAccount.status)
        assert status.state == "suspended", "nothing refused reached the account"

        # Claimed first, so no one else decides it meanwhile.
        claimed = await client.post(
            f"{page_url}/claim", data={"csrf": form["csrf"], "request_id": f"c-{hex_id(8)}"}, allow_redirects=False
        )
        assert claimed.status == 303, await claimed.text()
        claimed_page = await (await client.get(page_url)).text()
        assert "claimed by lin" in claimed_page and 'id="release"' in claimed_page
        decided = await client.post(
            f"{page_url}/decide", data=form | {"note": "invoices check out"}, allow_redirects=False
        )
        assert decided.status == 303, await decided.text()
        await until(account, lambda s: s.state == "open" and not s.open_cases, "the appeal approved")
        rows = [r for r in audit_rows(account.id) if r.event == "appeal_approved"]
        assert [(r.actor, r.detail["note"]) for r in rows] == [("operator:lin", "invoices check out")]

        # A second decision on the same item (a stale page): the account refuses, the page says why.
        again = await client.post(
            f"{page_url}/decide",
            data=form
            | {"request_id": f"t-{hex_id(8)}", "decision": "refuse", "code": "appeal_rejected", "note": "again"},
            allow_redirects=False,
        )
        text = await again.text()
        assert again.status == 409 and 'id="refusal"' in text and "<code>already_decided</code>" in text

        logged = [(r.operator, r.what, r.note) for r in access_log.entries(account.id, item_id)]
        assert (LIN, "view_item", "") in logged and (LIN, "view_letter", "") in logged
        assert (LIN, "view_invoice", "") in logged
        assert (LIN, "claim", "") in logged and (LIN, "decide_approve", "invoices check out") in logged
        assert (LIN, "refused_already_decided", "") in logged
        shown = await (await client.get(page_url)).text()
        assert "decide_approve" in shown and "invoices check out" in shown, "the page shows its access log"
        assert 'id="approve"' not in shown, "a decided item offers no decision"
    finally:
        await client.close()


async def test_a_stranger_and_an_operator_without_the_role_see_nothing(appeal) -> None:  # type: ignore[no-untyped-def]
    env, account, case_id = appeal
    page_url = item_url(account.id, f"appeal-{case_id}")
    before = len(access_log.entries(account.id))
    for who, status in ((None, 401), ((READER, READER_PASSWORD), 403)):
        client = await client_for(env, who)
        try:
            for url in ("/review", page_url, f"{page_url}/evidence/3"):
                response = await client.get(url)
                body = await response.text()
                assert response.status == status, (who, url)
                assert "We bought" not in body and "Shenzhen" not in body
            post = await client.post(f"{page_url}/decide", data={"decision": "approve", "note": "x"})
            assert post.status == status
        finally:
            await client.close()
    assert len(access_log.entries(account.id)) == before, "nothing was shown, so nothing was logged"
    assert (await account.query(SellerAccount.status)).state == "suspended"


def other_member(page: str) -> str:
    marker = "Linked account "
    start = page.index(marker) + len(marker)
    return page[start : page.index(":", start)]


def _csrf(page: str) -> str:
    marker = 'name="csrf" value="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


def test_the_access_log_is_append_only() -> None:
    row = access_log.record("lin", "seller-TX", "appeal-x", "view_item")
    with Session(engine()) as session:
        stored = session.exec(select(EvidenceAccess).where(EvidenceAccess.id == row.id)).one()
        stored.what = "nothing"
        session.add(stored)
        with pytest.raises(DBAPIError):
            session.commit()
        session.rollback()
        with pytest.raises(DBAPIError):
            session.delete(session.exec(select(EvidenceAccess).where(EvidenceAccess.id == row.id)).one())
            session.commit()


async def test_a_photo_items_page_shows_the_photo_re_encoded_and_the_checks_measures(
    dev_env: WorkflowEnvironment, mailbox: SmtpSink, tmp_path: Path
) -> None:
    """OPEN-1's review verdict as an operator meets it: the seller's photo (sent from a phone: EXIF with
    the camera and a GPS position) shown as a clean PNG of the same pixels, the check's measures and why
    it was unsure beside it, and one click that authenticates the seller in the operator's name."""
    reg = applicant()
    variant = next(v for v in photo_fixtures.VARIANTS if v.name == "soft_card")
    scene = photo_fixtures.compose(variant, reg.id_card_number).convert("RGB")
    exif = Image.Exif()
    exif[0x010F] = "CameraMakerXYZ"
    exif.get_ifd(0x8825).update({1: "N", 2: (22.0, 32.0, 1.0)})
    sent_photo = tmp_path / "soft_card.jpg"
    scene.save(sent_photo, "JPEG", quality=90, exif=exif.tobytes())  # the fixture's encoding, plus EXIF
    async with new_worker(dev_env.client) as worker:
        registered = await seller_client.register(dev_env.client, reg, task_queue=worker.task_queue)
        member = registered.member_id
        assert member
        code = await asyncio.to_thread(mailbox.latest_code, reg.email)
        await seller_client.command(dev_env.client, member, SellerAccount.verify_email, VerifyEmailInput(code))
        sent = await seller_client.submit_photo(dev_env.client, member, sent_photo)
        item_id = sent.review_item_id
        assert item_id and item_id.startswith(PHOTO_REVIEW), sent
        account = seller_client.account(dev_env.client, member)
        page_url = item_url(account.id, item_id)
        client = await client_for(dev_env, (LIN, LIN_PASSWORD))
        try:
            response = await client.get(page_url)
            page = await response.text()
            assert response.status == 200, page
            assert f'<img src="{page_url}/evidence/0" id="evidence-0"' in page
            assert "the check was unsure of" in page and '<table id="evidence-1">' in page
            assert "<th>card_sharpness</th>" in page, "the check's measures beside the photo"
            assert '<option value="too_blurry">' in page, "refusing offers OPEN-1's own reasons"

            picture = await client.get(f"{page_url}/evidence/0")
            assert picture.status == 200 and picture.content_type == "image/png"
            png = await picture.read()
            assert b"CameraMakerXYZ" not in png and b"eXIf" not in png and b"Exif" not in png
            shown = Image.open(io.BytesIO(png))
            assert not shown.getexif() and shown.size == scene.size
            # The same pixels, but for the JPEG's own loss (q90): the operator sees what the check saw.
            diff = np.abs(np.asarray(shown.convert("RGB"), np.int16) - np.asarray(scene, np.int16))
            assert diff.mean() < 3, diff.mean()

            form = {"csrf": _csrf(page), "request_id": f"t-{hex_id(8)}", "decision": "approve"}
            decided = await client.post(
                f"{page_url}/decide", data=form | {"note": "card legible at full size"}, allow_redirects=False
            )
            assert decided.status == 303, await decided.text()
            status = await until(account, lambda s: s.state == "authenticated", "passed on review")
            assert status.requirements.pending_review == []
            rows = [(r.event, r.reason, r.actor) for r in audit_rows(account.id)]
            assert ("authenticate", "photo_passed_on_review", "operator:lin") in rows
            logged = [(r.operator, r.what) for r in access_log.entries(account.id, item_id)]
            assert (LIN, "view_authentication_photo") in logged and (LIN, "decide_approve") in logged
        finally:
            await client.close()
        await finish(account)


async def test_an_association_items_page_shows_the_kind_shared_and_confirming_opens_the_cases(
    dev_env: WorkflowEnvironment,
) -> None:
    """A link policy asks a person to confirm (ASSOC-2, shared mobile): the page names the kind of
    identity shared, never its value, and the other account; refusing with `link_confirmed` opens the
    ASSOC-4 case on both stores."""
    policy = replace(POLICY, association=replace(POLICY.association, confirm_causes=["shared_mobile"]))
    async with new_worker(dev_env.client) as worker:
        first = await start_account(dev_env, worker.task_queue, state="open", policy=policy)
        second = await start_account(dev_env, worker.task_queue, state="open", policy=policy)
        holder = registered_identity(member_of(first))
        registered_identity(member_of(second))
        with pytest.raises(WorkflowUpdateFailedError):  # ASSOC-2 identity_in_use
            await update(second, SellerAccount.change_contact, ChangeContactInput("mobile", holder.mobile))
        item_id = f"association-{member_of(first)}"
        page_url = item_url(second.id, item_id)
        client = await client_for(dev_env, (LIN, LIN_PASSWORD))
        try:
            response = await client.get(page_url)
            page = await response.text()
            assert response.status == 200, page
            assert 'id="shared-identity">Shared identity: <b>mobile number</b>' in page
            assert holder.mobile not in page and holder.mobile.removeprefix("+86") not in page
            assert f"Linked account {member_of(first)}" in page and '<option value="link_confirmed">' in page
            form = {"csrf": _csrf(page), "request_id": f"t-{hex_id(8)}", "decision": "refuse"}
            decided = await client.post(
                f"{page_url}/decide",
                data=form | {"code": "link_confirmed", "note": "same phone, same warehouse"},
                allow_redirects=False,
            )
            assert decided.status == 303, await decided.text()
        finally:
            await client.close()
        for h in (second, first):
            await until(h, lambda s: s.state == "suspended" and len(s.open_cases) == 1, "a case on each store")
        await finish(first, second)
