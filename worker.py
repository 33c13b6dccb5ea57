"""Runs a worker: the account workflows and every activity, on the task queue from settings.

    python worker.py            # TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE / TASK_QUEUE, default: dev server

More load means more worker processes on the same task queue: workflows hold no process state.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.admission import admit_account, policy_in_force, verify_registration
from activities.audit import record_audit, record_audits, send_notice
from activities.consent import withdraw_consent
from activities.credentials import verify_credentials
from activities.email_verification import send_verification_code, verify_email_code
from activities.enforcement import active_links, bar_identity, clear_link, screen_buyer
from activities.exam import draw_exam_paper, grade_exam
from activities.healing import Healing
from activities.identity_photo import check_authentication_photo
from activities.identity_registry import claim_identity, rebind_contact
from activities.known_faces.index import warm_face_index
from activities.login_ip import record_login_ip
from activities.photo_review import enrol_reviewed_photo
from activities.product_index import list_product, unlist_product
from activities.registration_checks import screen_registration
from activities.retention import KEEPER_WORKFLOW_ID, erase_member, sweep_retention
from activities.worker_support.failure_kinds import FailureKinds
from activities.worker_support.metrics import BusinessMetrics
from activities.worker_support.sandbox_context import WorkflowContextRunner
from activities.worker_support.supervision import ActivitySupervision
from activities.worker_support.telemetry import configure_logging, install_metrics
from models.settings import settings
from security.codec import EncryptionCodec
from security.credentials import keyring
from seller_client import connect
from workflows.buyer_screening import BuyerScreeningWorkflow
from workflows.consent import ConsentWithdrawalRequest
from workflows.healing import KEEPER_WORKFLOW_ID as ACCOUNT_KEEPER_ID
from workflows.healing import AccountHealer, AccountKeeper, KeeperState
from workflows.metrics import WorkflowMetrics
from workflows.registration import Registration
from workflows.retention import ErasureRequest, KeeperInput, RetentionKeeper
from workflows.seller_account import SellerAccount

WORKFLOWS: Sequence[type] = (
    SellerAccount,
    Registration,
    BuyerScreeningWorkflow,
    RetentionKeeper,
    ErasureRequest,
    ConsentWithdrawalRequest,
    AccountKeeper,
    AccountHealer,
)
ACTIVITIES: Sequence[Any] = (
    record_audit,
    record_audits,
    send_notice,
    screen_registration,
    claim_identity,
    send_verification_code,
    verify_email_code,
    record_login_ip,
    rebind_contact,
    check_authentication_photo,
    enrol_reviewed_photo,
    draw_exam_paper,
    grade_exam,
    list_product,
    unlist_product,
    bar_identity,
    active_links,
    clear_link,
    screen_buyer,
    verify_credentials,
    sweep_retention,
    erase_member,
    admit_account,
    verify_registration,
    policy_in_force,
    withdraw_consent,
)


# A workflow's next task waits this long on the queue of the worker that ran its last one (whose cache
# holds it) before any worker may take it. The SDK's 10 s was the stall after a worker died (issue 32);
# a live worker polls its sticky queue all the time, and a task moved for nothing costs one replay.
STICKY_TIMEOUT = timedelta(seconds=2)


def build_worker(
    client: Client,
    *,
    task_queue: str | None = None,
    max_concurrent_activities: int = 16,
    sticky_timeout: timedelta = STICKY_TIMEOUT,
) -> Worker:
    workers_client = worker_client(client)
    return Worker(
        workers_client,
        task_queue=task_queue or settings().task_queue,
        sticky_queue_schedule_to_start_timeout=sticky_timeout,
        workflows=list(WORKFLOWS),
        activities=[*ACTIVITIES, *healing_activities(workers_client)],
        # Activities are plain (sync) functions doing database and image work: run them on threads.
        activity_executor=ThreadPoolExecutor(max_workers=max_concurrent_activities),
        max_concurrent_activities=max_concurrent_activities,
        workflow_runner=sandbox_runner(),
        # Outermost first: database failures reported small and without SQL, and heartbeats for a dead
        # worker's tasks; inside it, bad input fails an activity at once, without retries (a DataError
        # is bad input, not an outage).
        # Business metrics outermost: they see what the caller sees (models/metrics.py).
        interceptors=[BusinessMetrics(), ActivitySupervision(), FailureKinds(), WorkflowMetrics()],
    )


def healing_activities(client: Client) -> list[Any]:
    """The account keeper's activities (ENF-4), which talk to Temporal through the worker's client."""
    healing = Healing(client)
    return [healing.heal_account, healing.stranded_accounts]


def worker_client(client: Client) -> Client:
    """The client on the same connection with the workers' codec: a client seals what it sends to an
    account under the account's data key, a worker keeps what workflows answer under the ring key
    (security/codec.py, docs/PRIVACY.md)."""
    converter = client.data_converter
    codec = converter.payload_codec
    if not isinstance(codec, EncryptionCodec) or not codec.client_inputs:
        return client
    config = client.config()
    config["data_converter"] = dataclasses.replace(converter, payload_codec=codec.for_workers())
    return Client(**config)


def sandbox_runner() -> WorkflowContextRunner:
    # Credential keys are read here, outside any workflow: the sandbox forbids reading the environment,
    # and workers and replayers alike build their runner here (security/credentials.py).
    keyring()
    # python-statemachine resolves file paths at import time, which the sandbox forbids. The identity
    # libraries the update validators call (REG-6/REG-11) import their data modules on first use
    # (phonenumbers' region metadata, email-validator's settings): passed through, with their submodules.
    # `models` and `security` (messages, policy and pure checks) are passed through wherever a workflow
    # module imports them, so that every workflow sees the same classes the data converter decodes to.
    # Wrapped so that decoding a message's payloads does not enter the sandbox to learn its codec context
    # (activities/worker_support/sandbox_context.py: a signal flood's cost, issue 24).
    return WorkflowContextRunner(
        SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_modules(
                "statemachine", "phonenumbers", "email_validator", "idna", "stdnum", "opentelemetry", "models", "security"
            )
        )
    )


async def main() -> None:
    configure_logging(settings().log_format)
    # Before the client: a client binds the runtime it is made with (activities/worker_support/telemetry.py).
    if install_metrics(settings().metrics_address):
        logging.info("metrics on http://%s/metrics", settings().metrics_address)
    client = await connect()
    worker = build_worker(client)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # The known-faces index lives in this process: build it from the registry while we start.
    threading.Thread(target=warm_face_index, name="warm-face-index", daemon=True).start()
    logging.info("worker on task queue %s at %s", settings().task_queue, settings().temporal_address)
    async with worker:
        await start_keepers(client)
        await stop.wait()


# The keepers: one workflow each, whatever happens to workers; every worker starts them, the first one wins.
KEEPERS: Sequence[tuple[Any, Any, str, str]] = (
    (RetentionKeeper.run, KeeperInput, KEEPER_WORKFLOW_ID, "DATA-2 retention keeper: deletes personal data whose period has ended"),
    (AccountKeeper.run, KeeperState, ACCOUNT_KEEPER_ID, "ENF-4 account keeper: heals accounts whose run no worker can move"),
)


async def start_keepers(client: Client, task_queue: str | None = None, *, only: str | None = None) -> None:
    """Starts the keepers (or the one whose workflow id is `only`) unless they run already."""
    for run, first_input, workflow_id, summary in KEEPERS:
        if only in (None, workflow_id):
            await client.start_workflow(
                run,
                first_input(),
                id=workflow_id,
                task_queue=task_queue or settings().task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                static_summary=summary,
            )


if __name__ == "__main__":
    asyncio.run(main())
