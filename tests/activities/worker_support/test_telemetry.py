"""A real worker with metrics on, on the dev server: scrape its Prometheus endpoint after real work.

The worker's client is made with a metrics runtime (activities/worker_support/telemetry.py), as
worker.main makes it; a registration, a refused registration, a refused photo, a photo the check sends
to an operator (a review item, approved) and a serious violation go through the facade, and the
endpoint must then show the SDK's own metrics and each business metric (models/metrics.py) with the
counts that work implies, and no label that carries personal data. Overdue items and the outbox are
counted in tests/workflows/test_reviews.py and test_bad_input.py, where simulated time reaches them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import re
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

import seller_client
from activities.worker_support.telemetry import JsonLogFormatter
from devtools import photo_fixtures
from devtools.identity_factory import applicant
from devtools.smtp_sink import SmtpSink, free_port
from models import metrics as m
from models.contract import AccountStatus, UnbindInput, VerifyEmailInput, ViolationInput
from models.refusals import RefusedError
from models.review import PHOTO_REVIEW, DecideReviewInput
from models.settings import settings
from tests.conftest import new_worker
from tests.support.accounts import photo
from tests.support.draws import hex_id
from tests.support.polling import eventually
from tests.support.prometheus import metered_client, scrape, total
from tests.support.signing import update
from workflows.seller_account import SellerAccount


async def test_a_worker_exports_the_sdk_and_business_metrics_without_personal_data(
    dev_env: WorkflowEnvironment, mailbox: SmtpSink, tmp_path: Path
) -> None:
    client, address = await metered_client(dev_env)
    reg = applicant()
    async with new_worker(client) as worker:
        tq = worker.task_queue
        accepted = await seller_client.register(client, reg, task_queue=tq)
        member = accepted.member_id
        assert member
        # Another applicant with the same ID card: refused REG-11 (one identity, one account).
        again = dataclasses.replace(applicant(), id_card_number=reg.id_card_number)
        refused = await seller_client.register(client, again, task_queue=tq)
        assert not refused.accepted and refused.refusal is not None

        code = await asyncio.to_thread(mailbox.latest_code, reg.email)
        await seller_client.command(client, member, SellerAccount.verify_email, VerifyEmailInput(code))
        variant = next(v for v in photo_fixtures.VARIANTS if v.name == "other_portrait")
        wrong_face = tmp_path / "other.jpg"
        wrong_face.write_bytes(photo_fixtures.jpeg_bytes(variant, reg.id_card_number))
        try:
            answer = await seller_client.submit_photo(client, member, wrong_face)
            photo_code = answer.failures[0].code
        except RefusedError as err:
            photo_code = err.refusal.code
        assert photo_code == "face_mismatch"
        # A photo the check is unsure of waits for an operator, who passes it.
        sent = await seller_client.submit_photo(client, member, photo(tmp_path, "soft_card", reg.id_card_number))
        assert sent.review_item_id and sent.review_item_id.startswith(PHOTO_REVIEW)
        decided = await update(
            seller_client.account(client, member),
            SellerAccount.decide_review,
            DecideReviewInput(sent.review_item_id, "approve", "", "the card is sharp enough"),
            operator="lin",
        )
        assert decided.decision == "approve"
        with pytest.raises(RefusedError):  # REG-8: never, whatever the state
            await seller_client.command(client, member, SellerAccount.unbind_identity, UnbindInput("sold"))

        await seller_client.report_violation(
            client, member, ViolationInput(f"serious-{hex_id(8)}", "ip", "ENF-1", severity="serious")
        )
        async def status_of() -> AccountStatus:
            return await seller_client.status(client, member)

        status: AccountStatus = await eventually(status_of, lambda s: s.state == "closed", "closed")
        assert status.state == "closed"

        def complete(samples: list[tuple[str, dict[str, str], float]]) -> bool:
            return total(samples, m.ENFORCEMENT_ACTIONS.exported, action="close") >= 1

        samples = await eventually(
            lambda: asyncio.to_thread(scrape, address), complete, "the closure counted", every=0.5
        )

    names = {name for name, _, _ in samples}
    for sdk_metric in m.SDK_METRICS:
        assert any(n == sdk_metric or n.startswith(sdk_metric + "_") for n in names), sdk_metric

    assert total(samples, m.REGISTRATIONS.exported, outcome="accepted") == 1
    assert total(samples, m.REGISTRATIONS.exported, outcome="refused", rule=refused.refusal.rule) == 1
    assert total(samples, m.PHOTO_CHECKS.exported, verdict="refused", reason="face_mismatch") == 1
    assert total(samples, m.PHOTO_CHECKS.exported, verdict="review") == 1
    assert total(samples, m.PHOTO_CHECK_SECONDS.name + "_count") == 2
    assert total(samples, m.REVIEWS_OPENED.exported) == 1
    assert total(samples, m.REVIEWS_OPENED.exported, kind=PHOTO_REVIEW) == 1
    assert total(samples, m.REVIEWS_DECIDED.exported) == 1
    assert total(samples, m.REVIEWS_DECIDED.exported, kind=PHOTO_REVIEW, decision="approve", overdue="false") == 1
    assert total(samples, m.REVIEW_WAIT_SECONDS.name + "_count", kind=PHOTO_REVIEW, decision="approve") == 1
    waited = total(samples, m.REVIEW_WAIT_SECONDS.name + "_sum", kind=PHOTO_REVIEW)
    assert 0 < waited < 600, waited
    # Its own buckets: hours and days (a review waits longer than the SDK's defaults reach).
    buckets = {labels["le"] for name, labels, _ in samples if name == m.REVIEW_WAIT_SECONDS.name + "_bucket"}
    assert {"3600", "86400"} <= buckets, buckets
    assert total(samples, m.REVIEWS_OVERDUE.exported) == 0
    assert total(samples, m.ENFORCEMENT_ACTIONS.exported, action="violation", rule="ENF-1") == 1
    assert total(samples, m.ENFORCEMENT_ACTIONS.exported, action="close") == 1
    assert total(samples, m.TRANSITIONS.exported, to_state="closed") == 1
    assert total(samples, m.REFUSALS.exported, command="unbind_identity", rule="REG-8") == 1

    # No label value is a member id, an email, a phone number or an ID number.
    personal = {member, reg.email, reg.mobile, reg.id_card_number, reg.licence_number}
    for name, labels, _ in samples:
        for value in labels.values():
            assert value not in personal, (name, value)
            assert not re.fullmatch(r"M[0-9A-Z]{16}", value), (name, value)
            assert "@" not in value, (name, value)


def test_json_log_lines_carry_the_workflow_rule_and_code_and_no_traceback() -> None:
    record = logging.LogRecord("seller.activities", logging.INFO, __file__, 1, "audit %s", ("close",), None)
    record.workflow_id = "seller-M0000000000000000"
    record.rule, record.code = "ENF-1", "serious_violation"
    try:
        raise ValueError("/srv/secret/path")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    line = json.loads(JsonLogFormatter().format(record))
    assert line["message"] == "audit close"
    assert (line["workflow_id"], line["rule"], line["code"]) == (
        "seller-M0000000000000000",
        "ENF-1",
        "serious_violation",
    )
    assert line["error"] == "ValueError" and "/srv" not in json.dumps(line)


def test_metrics_settings_are_checked() -> None:
    from models.settings import SettingsError, load_settings

    assert settings().metrics_address is None  # off unless asked for
    import os

    os.environ["METRICS_ADDRESS"] = "nonsense"
    try:
        with pytest.raises(SettingsError, match="METRICS_ADDRESS"):
            load_settings()
    finally:
        del os.environ["METRICS_ADDRESS"]


async def test_one_callers_onboarding_is_one_trace_exported_by_otlp(
    dev_env: WorkflowEnvironment, mailbox: SmtpSink
) -> None:
    """Spans leave by OTLP/HTTP to a real receiver; the caller's span is the root of the workflows'
    and activities' spans, across the client, the Registration workflow, the account and activities."""
    from aiohttp import web
    from opentelemetry import trace
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    from activities.worker_support.telemetry import tracing_interceptors

    received: list[ExportTraceServiceRequest] = []

    async def collect(request: web.Request) -> web.Response:
        message = ExportTraceServiceRequest()
        message.ParseFromString(await request.read())
        received.append(message)
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/v1/traces", collect)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        client = await Client.connect(
            dev_env.client.service_client.config.target_host,
            namespace=dev_env.client.namespace,
            data_converter=dev_env.client.data_converter,
            interceptors=tracing_interceptors(f"http://127.0.0.1:{port}"),
        )
        reg = applicant()
        async with new_worker(client) as worker:
            with trace.get_tracer("tests").start_as_current_span("onboard seller") as root:
                result = await seller_client.register(client, reg, task_queue=worker.task_queue)
                assert result.member_id
                code = await asyncio.to_thread(mailbox.latest_code, reg.email)
                await seller_client.command(
                    client, result.member_id, SellerAccount.verify_email, VerifyEmailInput(code)
                )
            trace_id = root.get_span_context().trace_id
        provider = trace.get_tracer_provider()
        await asyncio.to_thread(provider.force_flush)  # type: ignore[attr-defined]
    finally:
        await runner.cleanup()

    spans = [
        (int.from_bytes(span.trace_id, "big"), span.name)
        for message in received
        for resource in message.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]
    in_trace = {name for tid, name in spans if tid == trace_id}
    for expected in (
        "onboard seller",
        "StartWorkflow:Registration",
        "RunWorkflow:Registration",
        "RunActivity:screen_registration",
        "RunActivity:claim_identity",
    ):
        assert expected in in_trace, (expected, sorted(in_trace))
    assert any(name.startswith("StartWorkflowUpdate:verify_email") for name in in_trace), sorted(in_trace)
    assert any(name.startswith("HandleUpdate:verify_email") or "verify_email" in name for name in in_trace)


def test_a_metric_recorded_with_other_labels_than_declared_is_a_mistake_caught_here() -> None:
    from temporalio.common import MetricMeter

    from activities.worker_support.metrics import count

    count(MetricMeter.noop, m.PHOTO_CHECKS, verdict="pass", reason="")
    with pytest.raises(ValueError, match="seller_photo_checks takes labels"):
        count(MetricMeter.noop, m.PHOTO_CHECKS, verdict="pass", member_id="M1")
