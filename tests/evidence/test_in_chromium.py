"""An operator's review in a real Chromium from a fresh profile, against the dev server's Web UI served on
the codec server's origin (security/ui_front.py): nothing is set in the browser by hand. The operator
signs in, reads the account's decoded input in the Web UI, opens the review queue, opens the appeal's
page, sees the letter and the invoice (checked by its pixels), and approves it with a note in one click;
the account is reinstated and the audit names them. A stranger gets 401 and an operator without the
role 403, and neither sees the letter; the access log holds the operator's view and decision."""

from __future__ import annotations

import asyncio
import io
import urllib.parse
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

import codec_server
from activities.storage import access_log
from devtools import temporal_dev, ui_check
from devtools.smtp_sink import free_port
from evidence.page import item_url
from models.settings import settings
from security.codec_access import Operator, hash_password, load_access
from tests.conftest import new_worker
from tests.evidence.test_page import (
    BLUE,
    HOSTILE_LETTER,
    LIN,
    LIN_PASSWORD,
    READER,
    READER_PASSWORD,
    RED,
    appeal_with_photo,
)
from tests.support.accounts import audit_rows, finish, linked_pair_with_a_case
from tests.support.polling import until
from tests.support.signing import update
from workflows.seller_account import SellerAccount

pytestmark = pytest.mark.skipif(
    not (Path(ui_check.CHROMIUM).exists() and Path(ui_check.CHROMEDRIVER).exists()),
    reason="Debian's chromium and chromium-driver are not installed (.ci/run installs them)",
)


def close(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    return all(abs(x - y) < 40 for x, y in zip(a[:3], b[:3], strict=True))


def refused(codec_url: str, page: str, who: tuple[str, str] | None) -> str:
    driver = ui_check.browser()
    try:
        if who is not None:
            ui_check.sign_in(driver, codec_url, *who)
        driver.get(codec_url + page)
        return ui_check.wait_for(driver, lambda t: "Refused" in t, what="the refusal")
    finally:
        driver.quit()


def detail_links(driver) -> list[str]:  # type: ignore[no-untyped-def]
    """The links of the UI's current details (rendered in a sandboxed frame), as written."""
    from selenium.webdriver.common.by import By

    found = []
    for frame in driver.find_elements(By.TAG_NAME, "iframe"):
        driver.switch_to.frame(frame)
        try:
            found += [a.get_attribute("href") or "" for a in driver.find_elements(By.TAG_NAME, "a")]
        finally:
            driver.switch_to.default_content()
    found += [a.get_attribute("href") or "" for a in driver.find_elements(By.TAG_NAME, "a")]
    return [urllib.parse.unquote(h) for h in found]


def review_in_chromium(codec_url: str, workflow_id: str, item_id: str) -> tuple[str, Image.Image]:
    """Signed in from a fresh profile: the Web UI decodes, the queue lists the item, its page shows the
    evidence; Approve with a note. Returns the decided page's text and the invoice as rendered."""
    from selenium.webdriver.common.by import By

    driver = ui_check.browser()
    try:
        ui_check.sign_in(driver, codec_url, LIN, LIN_PASSWORD)
        # The Web UI on this origin: its codec calls carry the session cookie, nothing set by hand.
        driver.get(f"{codec_url}/namespaces/default/workflows/{workflow_id}")
        ui_check.wait_for(driver, lambda t: "max_history_events" in t, what="the decoded workflow input")
        # The account's current details link to the item's page.
        ui_check.click(driver, "User Metadata")
        ui_check.wait_for(driver, lambda t: f"review: {item_id}" in t, what="the item in the current details")
        assert codec_url + urllib.parse.unquote(item_url(workflow_id, item_id)) in detail_links(driver)
        driver.get(f"{codec_url}/review")
        ui_check.wait_for(driver, lambda t: item_id in t, what="the appeal in the queue")
        ui_check.click(driver, item_id)
        text = ui_check.wait_for(driver, lambda t: "the seller's letter" in t and "Approve" in t, what="the item's page")
        assert HOSTILE_LETTER in text, "the letter shows as the seller wrote it, as text"
        invoice = driver.find_element(By.ID, "evidence-3")
        deadline = 30.0
        while not driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", invoice):
            deadline -= 0.2
            assert deadline > 0, "the invoice never loaded"
            driver.implicitly_wait(0.2)
        shot = Image.open(io.BytesIO(invoice.screenshot_as_png)).convert("RGB")
        driver.find_element(By.ID, "note").send_keys("invoices match the listing")
        driver.find_element(By.ID, "approve").click()
        done = ui_check.wait_for(
            driver, lambda t: "decide_approve" in t and "Approve" not in t, what="the decided item's page"
        )
        return done, shot
    finally:
        driver.quit()


async def test_an_operator_reviews_an_appeal_in_chromium_from_a_fresh_profile() -> None:
    ui_port, codec_port = free_port(), free_port()
    codec_url = f"http://127.0.0.1:{codec_port}"
    # What devtools/temporal_dev.py passes: the codec endpoint is the origin the UI is served on.
    env = await temporal_dev.start_own(ui_port=ui_port, codec_url=codec_url)
    lin = Operator(LIN, hash_password(LIN_PASSWORD), frozenset({"default"}), frozenset({"operator"}))
    reader = Operator(READER, hash_password(READER_PASSWORD), frozenset({"default"}))
    access = replace(
        load_access(settings(), env={}),
        operators={LIN: lin, READER: reader},
        ui_upstream=f"http://127.0.0.1:{ui_port}",
    )
    runner = await codec_server.start(
        "127.0.0.1", codec_port, codec_server.create_app(settings(), access, temporal=env.client)
    )
    try:
        async with new_worker(env.client) as worker:
            account, other, case_id = await linked_pair_with_a_case(env, worker.task_queue, state="open")
            await update(account, SellerAccount.appeal, appeal_with_photo(case_id))
            item_id = f"appeal-{case_id}"
            page = item_url(account.id, item_id)

            stranger = await asyncio.to_thread(refused, codec_url, page, None)
            assert "not_signed_in" in stranger and "We bought" not in stranger
            no_role = await asyncio.to_thread(refused, codec_url, page, (READER, READER_PASSWORD))
            assert "role_not_allowed" in no_role and "We bought" not in no_role

            text, invoice = await asyncio.to_thread(review_in_chromium, codec_url, account.id, item_id)
            w, h = invoice.size
            assert close(invoice.getpixel((w // 4, h // 2)), RED) and close(invoice.getpixel((3 * w // 4, h // 2)), BLUE)
            assert "invoices match the listing" in text

            await until(account, lambda s: s.state == "open" and not s.open_cases, "the appeal approved")
            rows = [r for r in audit_rows(account.id) if r.event == "appeal_approved"]
            assert [r.actor for r in rows] == ["operator:lin"]
            logged = {(r.operator, r.what) for r in access_log.entries(account.id, item_id)}
            assert {(LIN, "view_item"), (LIN, "view_invoice"), (LIN, "decide_approve")} <= logged
            assert not {r.operator for r in access_log.entries(account.id)} - {LIN}, "refused, nothing logged"
            await finish(account, other)
    finally:
        await runner.cleanup()
        await env.shutdown()
