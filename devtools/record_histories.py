"""Record workflow histories for the replay test (tests/workflows/test_replay.py).

    .venv/bin/python -m devtools.record_histories [NAME ...]

Runs each scenario on the time-skipping test server with a real worker and a throw-away data folder,
and writes the history (payloads still encrypted with the development codec key) to
tests/workflows/histories/<release>/<name>-<n>.json, <release> being workflows.releases.CURRENT.
Record the scenarios once per release (docs/DEPLOYING.md); never re-record an older release's histories
to make a replay pass: a failing replay means the change breaks running workflows.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from workflows.releases import CURRENT  # noqa: E402

HISTORIES = Path(__file__).resolve().parent.parent / "tests" / "workflows" / "histories" / CURRENT
os.environ.setdefault("SELLER_DATA_DIR", tempfile.mkdtemp(prefix="seller-record-"))
os.environ.pop("CODEC_KEYS", None)  # histories are kept encrypted with the stable development key

from temporalio.api.enums.v1 import IndexedValueType  # noqa: E402
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest  # noqa: E402
from temporalio.api.testservice.v1 import LockTimeSkippingRequest, UnlockTimeSkippingRequest  # noqa: E402
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402

from activities.storage.blobs import put_bytes  # noqa: E402
from devtools.identity_factory import applicant  # noqa: E402
from devtools.smtp_sink import SmtpSink, free_port  # noqa: E402
from models.contract import LoginInput, RegistrationInput  # noqa: E402
from models.settings import settings  # noqa: E402
from security import credentials  # noqa: E402
from security.codec import data_converter  # noqa: E402  (the ring key only: no registry to replay with)
from tests.support.signing import TEST_TTL, signal, update  # noqa: E402
from workflows import search_attributes as sa  # noqa: E402
from workflows.registration import Registration  # noqa: E402
from workflows.seller_account import SellerAccount  # noqa: E402

Scenario = Callable[[WorkflowEnvironment, str, SmtpSink], Awaitable[list[WorkflowHandle]]]
SCENARIOS: dict[str, Scenario] = {}


def scenario(fn: Scenario) -> Scenario:
    SCENARIOS[fn.__name__] = fn
    return fn


async def register(env: WorkflowEnvironment, tq: str, reg: RegistrationInput) -> WorkflowHandle:
    signed = credentials.sign_message(reg, command="register", account=credentials.ANY, service="registration")
    result = await env.client.execute_workflow(
        Registration.run, args=[signed, None], id=f"registration-{reg.request_id}", task_queue=tq
    )
    assert result.accepted, result.refusal
    assert result.workflow_id is not None
    return env.client.get_workflow_handle(result.workflow_id)


@scenario
async def reclaim_after_a_year(env: WorkflowEnvironment, tq: str, mail: SmtpSink) -> list[WorkflowHandle]:
    """Registration, logins, REG-4 warnings and the reclaim of an account that never authenticated."""
    reg = applicant(request_id=f"record-{uuid.uuid4().hex[:8]}")
    account = await register(env, tq, reg)
    await signal(account, SellerAccount.login, LoginInput(channel="marketplace", ip="192.0.2.10"))
    await env.sleep(timedelta(days=30))
    await signal(account, SellerAccount.login, LoginInput(channel="messenger", ip="192.0.2.11"))
    await skip_until_closed(env, account)
    return [env.client.get_workflow_handle(f"registration-{reg.request_id}"), account]


@scenario
async def email_verified(env: WorkflowEnvironment, tq: str, mail: SmtpSink) -> list[WorkflowHandle]:
    """REG-6: a wrong code refused, then the mailed code accepted."""
    from models.contract import VerifyEmailInput

    reg = applicant(request_id=f"record-{uuid.uuid4().hex[:8]}")
    account = await register(env, tq, reg)
    try:
        await update(account, SellerAccount.verify_email, VerifyEmailInput(code="000000"))
        raise AssertionError("a wrong code must be refused")
    except WorkflowUpdateFailedError:
        pass
    code = await asyncio.to_thread(mail.latest_code, reg.email)
    await update(account, SellerAccount.verify_email, VerifyEmailInput(code=code))
    await account.terminate("recorded")
    return [account]


@scenario
async def store_opened_then_frozen(env: WorkflowEnvironment, tq: str, mail: SmtpSink) -> list[WorkflowHandle]:
    """OPEN-1..3 to an open store, then ENF-2 listing points, a freeze that lifts itself, and a case
    appealed and approved (ASSOC-4/5), then a REG-9 closure."""
    from activities.exam import answer_key, draw
    from activities.storage.blobs import put_bytes
    from devtools import photo_fixtures, product_fixtures
    from models.contract import (
        AppealDecisionInput,
        AppealInput,
        AssociationCaseInput,
        ClosureReport,
        ExamAnswers,
        ExamStartInput,
        PhotoSubmission,
        VerifyEmailInput,
        ViolationInput,
    )

    reg = applicant(request_id=f"record-{uuid.uuid4().hex[:8]}")
    account = await register(env, tq, reg)
    code = await asyncio.to_thread(mail.latest_code, reg.email)
    await update(account, SellerAccount.verify_email, VerifyEmailInput(code=code))
    photo = put_bytes(photo_fixtures.jpeg_bytes(photo_fixtures.VARIANTS[0], reg.id_card_number))
    assert (await update(account, SellerAccount.submit_authentication_photo, PhotoSubmission(photo))).passed
    paper = await update(account, SellerAccount.start_exam, ExamStartInput())
    member = account.id.removeprefix("seller-")
    key = answer_key(draw(f"{member}:1", len(paper.questions), 1).paper)
    await update(account, SellerAccount.submit_exam, ExamAnswers(paper.paper_id, key))
    base = uuid.uuid4().int % 10**6 * 100
    for k in range(10):
        ref = put_bytes(product_fixtures.encode(product_fixtures.image(base + k)))
        await update(account, SellerAccount.release_product, product_fixtures.product(base + k, ref))
    await signal(account, SellerAccount.report_violation, ViolationInput("rec-l1", "listing", "ENF-2", 12))
    await env.sleep(timedelta(days=8))
    case_id = f"ASSOC-3:duplicate_product:{member}:MRECORDED"
    await signal(
        account,
        SellerAccount.open_case,
        AssociationCaseInput(case_id, "duplicate_product", "MRECORDED"),
        operator="recorder",
    )
    await asyncio.sleep(1)
    invoice = put_bytes(b"%PDF-1.4 recorded invoice")
    letter = "We make this product ourselves; invoices attached."
    await update(account, SellerAccount.appeal, AppealInput(case_id, "Opened 2026", [invoice], letter))
    await update(
        account, SellerAccount.decide_appeal, AppealDecisionInput(case_id, True, ""), operator="recorder"
    )
    await signal(account, SellerAccount.report_closure, ClosureReport("rec-end", "REG-9", "account_rental"))
    await account.result()
    return [account]


@scenario
async def roles_and_an_association(env: WorkflowEnvironment, tq: str, mail: SmtpSink) -> list[WorkflowHandle]:
    """Signed commands (DESIGN 13): an unsigned violation dropped, a seller taking another's mobile
    (ASSOC-2: an opaque case opened on both by a system-signed signal), a seller's attempt to decide
    refused, the appeal approved by an operator, then the other store closed by a service report with
    its case settled."""
    from models.contract import (
        AppealDecisionInput,
        AppealInput,
        ChangeContactInput,
        ClosureReport,
        ViolationInput,
    )

    regs = [applicant(request_id=f"record-{uuid.uuid4().hex[:8]}") for _ in range(2)]
    seller, other = [await register(env, tq, reg) for reg in regs]
    await seller.signal(SellerAccount.report_violation, ViolationInput("rec-unsigned", "trade", "ENF-2", 48))
    await signal(seller, SellerAccount.login, LoginInput(channel="marketplace", ip="192.0.2.12"))
    try:
        await update(seller, SellerAccount.change_contact, ChangeContactInput("mobile", regs[1].mobile))
        raise AssertionError("a mobile held by another seller must be refused (ASSOC-2)")
    except WorkflowUpdateFailedError:
        pass
    for _ in range(100):
        status = await seller.query(SellerAccount.status)
        if status.open_cases and (await other.query(SellerAccount.status)).open_cases:
            break
        await asyncio.sleep(0.1)
    case_id = status.open_cases[0]
    invoice = put_bytes(b"%PDF-1.4 recorded invoice, roles")
    letter = "The number was mistyped; it is not ours. Invoices attached."
    await update(seller, SellerAccount.appeal, AppealInput(case_id, "Opened 2026", [invoice], letter))
    try:
        me = seller.id.removeprefix("seller-")
        mine = credentials.sign(role="seller", actor=me, account=me, command="decide_appeal", ttl=TEST_TTL)
        own = credentials.signed(AppealDecisionInput(case_id, True, ""), mine)
        await seller.execute_update(
            SellerAccount.decide_appeal, own, id="record-appeal-decided-by-its-seller"
        )
        raise AssertionError("a seller's credential must not decide an appeal")
    except WorkflowUpdateFailedError:
        pass
    await update(seller, SellerAccount.decide_appeal, AppealDecisionInput(case_id, True, ""), operator="lin")
    await signal(other, SellerAccount.report_closure, ClosureReport("rec-roles", "REG-9", "account_rental"))
    await signal(
        seller, SellerAccount.report_closure, ClosureReport("rec-roles-2", "REG-9", "account_rental")
    )
    await seller.result()
    await other.result()
    return [seller, other]


async def skip_until_closed(env: WorkflowEnvironment, handle: WorkflowHandle) -> None:
    # A handle from get_workflow_handle does not unlock time skipping by itself while awaiting.
    await env.client.test_service.unlock_time_skipping(UnlockTimeSkippingRequest())
    try:
        await handle.result()
    finally:
        await env.client.test_service.lock_time_skipping(LockTimeSkippingRequest())


async def main(names: list[str]) -> None:
    from tests.conftest import new_worker  # the same worker set-up the tests use

    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(Path(sys.prefix) / "bin" / "temporal-test-server"),
        data_converter=data_converter(settings()),
    )
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={k.name: IndexedValueType.ValueType(k.indexed_value_type) for k in sa.ALL},
        )
    )
    HISTORIES.mkdir(parents=True, exist_ok=True)
    try:
        with SmtpSink(port=settings().smtp_port) as mail:
            async with new_worker(env.client) as worker:
                for name in names or list(SCENARIOS):
                    handles = await SCENARIOS[name](env, worker.task_queue, mail)
                    for i, handle in enumerate(handles):
                        await write(env.client, handle, HISTORIES / f"{name}-{i}.json")
    finally:
        await env.shutdown()


async def write(client: Client, handle: WorkflowHandle, path: Path) -> None:
    # The first run only: continue-as-new chains are replayed run by run.
    history = await client.get_workflow_handle(
        handle.id, run_id=handle.first_execution_run_id or handle.run_id
    ).fetch_history()
    path.write_text(history.to_json())
    print(f"{path.relative_to(HISTORIES.parents[3])}: {len(history.events)} events")


if __name__ == "__main__":
    os.environ.setdefault("SMTP_PORT", str(free_port()))
    asyncio.run(main(sys.argv[1:]))
