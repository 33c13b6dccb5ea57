"""Operators work in the real Web UI: headless Chromium against the dev server's UI (2.54), its codec
endpoint pointing at the codec server. Signed in, an operator reads an account (inputs, activity
summaries, refusals with rule and reason) and sends it a signal; not signed in, the same page shows
ciphertext only. The signed-in page is saved as docs/operator-account.png for the README.

An operator with the operator role decides an appeal from the UI without pasting a credential: the codec
server signs it in their name, and the audit records them. Not signed in, or signed in without the role,
the same input is refused by the codec server and nothing reaches the account."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from pathlib import Path

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

import codec_server
from devtools import temporal_dev, ui_check
from devtools.smtp_sink import free_port
from models.contract import UnbindInput, ViolationInput
from models.settings import settings
from security.codec_access import DEV_OPERATOR, DEV_OPERATOR_PASSWORD, Operator, hash_password, load_access
from tests.conftest import new_worker
from tests.support.accounts import appeal_for, audit_rows, finish, linked_pair_with_a_case, start_account
from tests.support.draws import hex_id
from tests.support.polling import eventually, until
from tests.support.signing import signal as send_signed
from tests.support.signing import update
from workflows.seller_account import SellerAccount

# What the UI shows for an encrypted payload it could not decode: the base64 of the AES-GCM bytes.
CIPHERTEXT = re.compile(r"[A-Za-z0-9+/]{200,}")
SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "operator-account.png"

pytestmark = pytest.mark.skipif(
    not (Path(ui_check.CHROMIUM).exists() and Path(ui_check.CHROMEDRIVER).exists()),
    reason="Debian's chromium and chromium-driver are not installed (.ci/run installs them)",
)


async def ui_env(ui_port: int, codec_url: str) -> WorkflowEnvironment:
    return await temporal_dev.start_own(ui_port=ui_port, codec_url=codec_url)


async def test_an_account_is_found_by_its_state_in_the_web_ui() -> None:
    ui_port = free_port()
    env = await ui_env(ui_port, f"http://127.0.0.1:{free_port()}")
    try:
        async with new_worker(env.client) as worker:
            passed = await start_account(env, worker.task_queue, state="exam_passed")
            other = await start_account(env, worker.task_queue, state="registered")
            # The server's own list first, so that what the UI is asked to show is known to be there.
            async def exam_passed() -> list[str]:
                return await visible_ids(env, "SellerState = 'exam_passed'")

            listed: list[str] = await eventually(
                exam_passed,
                lambda ids: passed.id in ids,
                "the account in the server's visibility list",
            )
            assert other.id not in listed
            ui = f"http://127.0.0.1:{ui_port}"
            found = await asyncio.to_thread(ui_check.find_accounts, ui, "exam_passed", expect=passed.id)
            assert passed.id in found
            assert other.id not in found, "the state filter must leave other states out"
            await finish(passed, other)
    finally:
        await env.shutdown()


async def visible_ids(env: WorkflowEnvironment, query: str) -> list[str]:
    return [wf.id async for wf in env.client.list_workflows(query)]


def pasted_auth(command: str, workflow_id: str, typed: dict, **who: str) -> dict:  # type: ignore[type-arg]
    """What `starter.py credential COMMAND --input TYPED ...` prints, to paste into the UI's JSON input."""
    from models import boundary
    from security import credentials
    from tests.support.signing import TEST_TTL

    member = workflow_id.removeprefix("seller-")
    message = boundary.from_json(command, typed)
    cred = credentials.for_command(command, member, ttl=TEST_TTL, payload=message, **who)
    return {"auth": credentials.as_dict(cred)}


def operator_reads_and_signals(ui: str, codec_url: str, workflow_id: str) -> str:
    """Signed in: the account's page, decoded; then a signal sent from the UI. Returns the page text."""
    driver = ui_check.browser()
    try:
        ui_check.sign_in(driver, codec_url, DEV_OPERATOR, DEV_OPERATOR_PASSWORD)
        ui_check.use_codec(driver, ui, codec_url)
        driver.get(f"{ui}/namespaces/default/workflows/{workflow_id}")
        # The workflow input, decoded (the seller's store name), and the activity summaries.
        text = ui_check.wait_for(
            driver,
            lambda t: "max_history_events" in t and "audit unbind_identity (REG-8)" in t,
            what="the decoded input and the activity summaries",
        )
        assert "audit violation (ENF-2)" in text
        driver.set_window_size(1600, 1250)
        SCREENSHOT.parent.mkdir(exist_ok=True)
        driver.save_screenshot(str(SCREENSHOT))
        # The refusal with its rule and reason code, in the audit activity's decoded input.
        ui_check.click(driver, "Event History")
        ui_check.click_text(driver, "audit unbind_identity (REG-8)")
        history = ui_check.wait_for(
            driver, lambda t: "unbind_not_allowed" in t, what="the REG-8 refusal's reason code"
        )
        assert "REG-8" in history
        # Current details: the account's state and what it waits for, decoded from the metadata query.
        ui_check.click(driver, "User Metadata")
        details = ui_check.wait_for(
            driver, lambda t: "waiting for" in t, what="the current details"
        )
        assert "REG-4" in details
        driver.get(f"{ui}/namespaces/default/workflows/{workflow_id}")
        ui_check.wait_for(driver, lambda t: "More Actions" in t and "max_history_events" in t)
        ui_check.send_signal(
            driver,
            "report_violation",
            # Commands carry a signed credential (README, Roles: "By hand"), pasted with the input.
            (typed := {"violation_id": "ui-signal-1", "category": "listing", "rule": "ENF-2", "points": 2})
            | pasted_auth("report_violation", workflow_id, typed, service="ui-operator"),
        )
        # An update from the UI: REG-8 refuses it, and the refusal goes on the record like the first.
        driver.get(f"{ui}/namespaces/default/workflows/{workflow_id}")
        ui_check.wait_for(driver, lambda t: "More Actions" in t and "max_history_events" in t)
        ui_check.send_update(
            driver,
            "unbind_identity",
            (reason := {"reason": "asked from the UI"}) | pasted_auth("unbind_identity", workflow_id, reason),
        )
        return text
    finally:
        driver.quit()


def stranger_reads(ui: str, codec_url: str, workflow_id: str) -> str:
    """Not signed in, the same settings: the codec server answers 401 and the UI shows ciphertext."""
    driver = ui_check.browser()
    try:
        ui_check.use_codec(driver, ui, codec_url)
        driver.get(f"{ui}/namespaces/default/workflows/{workflow_id}")
        return ui_check.wait_for(
            driver,
            lambda t: "Codec Server could not connect" in t and CIPHERTEXT.search(t) is not None,
            what="the ciphertext and the codec's refusal",
        )
    finally:
        driver.quit()


async def test_a_signed_in_operator_reads_and_acts_and_a_stranger_sees_ciphertext() -> None:
    ui_port, codec_port = free_port(), free_port()
    ui, codec_url = f"http://127.0.0.1:{ui_port}", f"http://127.0.0.1:{codec_port}"
    access = replace(load_access(settings(), env={}), ui_origins=(ui,))
    runner = await codec_server.start("127.0.0.1", codec_port, codec_server.create_app(settings(), access))
    env = await ui_env(ui_port, codec_url)
    try:
        async with new_worker(env.client) as worker:
            account = await start_account(env, worker.task_queue, state="open")
            await send_signed(
                account,
                SellerAccount.report_violation,
                ViolationInput(f"v-{hex_id(8)}", "trade", "ENF-2", points=2),
            )
            with pytest.raises(WorkflowUpdateFailedError):
                await update(account, SellerAccount.unbind_identity, UnbindInput("please"))

            stranger = await asyncio.to_thread(stranger_reads, ui, codec_url, account.id)
            assert "max_history_events" not in stranger
            assert "audit unbind_identity (REG-8)" not in stranger, "summaries are ciphertext too"

            await asyncio.to_thread(operator_reads_and_signals, ui, codec_url, account.id)
            # The signal typed in the UI was encoded by the codec server and applied by the worker.
            for _ in range(100):
                status = await account.query(SellerAccount.status)
                if status.penalty_points.get("listing"):
                    break
                await asyncio.sleep(0.2)
            assert status.penalty_points.get("listing") == 2, status
            refusals = [r for r in status.reasons if r.startswith("REG-8")]
            assert len(refusals) >= 1, status
            summaries = [
                e.user_metadata.summary
                async for e in account.fetch_history_events()
                if e.HasField("user_metadata") and e.user_metadata.summary.ByteSize()
            ]
            texts = [str(x) for x in await env.client.data_converter.decode(summaries)]
            assert texts.count("audit unbind_identity (REG-8)") == 2, (
                "the update sent from the UI was refused"
            )
            await finish(account)
    finally:
        await env.shutdown()
        await runner.cleanup()


def decide_from_the_ui(
    ui: str, codec_url: str, workflow_id: str, decision: dict, who: tuple[str, str] | None
) -> str:  # type: ignore[type-arg]
    """`who` signs in (or no one), opens the account and sends `decide_appeal` typed as an operator
    types it: no credential, only which command for which account. Returns what the dialog showed."""
    driver = ui_check.browser()
    try:
        if who is not None:
            ui_check.sign_in(driver, codec_url, *who)
        ui_check.use_codec(driver, ui, codec_url)
        driver.get(f"{ui}/namespaces/default/workflows/{workflow_id}")
        ui_check.wait_for(driver, lambda t: "More Actions" in t, what="the account's page")
        return ui_check.send_update(driver, "decide_appeal", decision)
    finally:
        driver.quit()


async def test_an_operator_decides_an_appeal_from_the_ui_in_their_own_name_and_no_one_else_can() -> None:
    ui_port, codec_port = free_port(), free_port()
    ui, codec_url = f"http://127.0.0.1:{ui_port}", f"http://127.0.0.1:{codec_port}"
    lin = Operator("lin", hash_password("lin-password-123"), frozenset({"default"}), frozenset({"operator"}))
    reader = Operator("reader", hash_password("reader-password-1"), frozenset({"default"}))
    access = replace(
        load_access(settings(), env={}), ui_origins=(ui,), operators={"lin": lin, "reader": reader}
    )
    runner = await codec_server.start("127.0.0.1", codec_port, codec_server.create_app(settings(), access))
    env = await ui_env(ui_port, codec_url)
    try:
        async with new_worker(env.client) as worker:
            account, other, case_id = await linked_pair_with_a_case(env, worker.task_queue, state="open")
            await update(account, SellerAccount.appeal, appeal_for(case_id))
            member = account.id.removeprefix("seller-")
            # What the operator types: the decision, and which command for which account to sign. The
            # `actor` typed beside it is ignored: the signed-in name signs.
            decision = {
                "case_id": case_id,
                "approved": True,
                "note": "invoices check out",
                "auth": {"command": "decide_appeal", "account": member, "actor": "mallory"},
            }

            stranger = await asyncio.to_thread(decide_from_the_ui, ui, codec_url, account.id, decision, None)
            assert stranger == ui_check.ENCODING_REFUSED
            no_role = ("reader", "reader-password-1")
            refused = await asyncio.to_thread(
                decide_from_the_ui, ui, codec_url, account.id, decision, no_role
            )
            assert refused == ui_check.ENCODING_REFUSED
            status = await account.query(SellerAccount.status)
            assert status.state == "suspended" and case_id in status.open_cases, "nothing reached the account"
            assert not [
                r for r in audit_rows(account.id) if r.event in ("appeal_approved", "appeal_rejected")
            ]

            signed_in = ("lin", "lin-password-123")
            sent = await asyncio.to_thread(decide_from_the_ui, ui, codec_url, account.id, decision, signed_in)
            assert sent == ui_check.SENT
            await until(account, lambda s: s.state == "open" and not s.open_cases, "the appeal approved")
            rows = [r for r in audit_rows(account.id) if r.event == "appeal_approved"]
            assert [(r.actor, r.rule) for r in rows] == [("operator:lin", "ASSOC-5")]
            await finish(account, other)
    finally:
        await env.shutdown()
        await runner.cleanup()
