"""The Python facade backend services use: connect, register, report logins, read status.

Every call goes through Temporal with the encrypting payload codec, so personal data never reaches
the server in clear. `starter.py` is the command line over this module.

Every account command is signed (security/credentials.py) with the role it needs, from the keys in
settings: a seller's command as that seller, a report as the named service, a decision as the named
operator. A process holding only a seller key cannot sign anything else.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from temporalio.client import (
    Client,
    RPCTimeoutOrCancelledError,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode, TLSConfig

from models import boundary
from models.auth import Signed
from models.contract import (
    AccountStatus,
    AppealInput,
    BuyerScreening,
    BuyerScreeningResult,
    ClosureReport,
    LoginInput,
    PhotoSubmission,
    RegistrationInput,
    RegistrationResult,
    ViolationInput,
    account_workflow_id,
)
from models.healing import FACT_REFUSED, HealInput
from models.policy import Policy, load_policy
from models.refusals import REFUSAL_ERROR_TYPE, Refusal, RefusedError
from models.settings import Settings, SettingsError, settings
from security import credentials
from workflows.buyer_screening import BuyerScreeningWorkflow
from workflows.healing import AccountHealer, healer_id
from workflows.registration import REGISTRATION_ID_PREFIX, Registration
from workflows.seller_account import SellerAccount

if TYPE_CHECKING:
    from activities.storage.object_store import UploadTicket


async def connect(s: Settings | None = None) -> Client:
    """The one place that makes a Temporal client (workers, the CLI, the demo, services): with mutual
    TLS when the settings name a client certificate (TEMPORAL_TLS_*)."""
    s = s or settings()
    from activities.worker_support.telemetry import tracing_interceptors

    return await Client.connect(
        s.temporal_address,
        namespace=s.temporal_namespace,
        data_converter=data_converter(s),
        tls=tls_config(s),
        interceptors=tracing_interceptors(s.otlp_endpoint),
    )


def tls_config(s: Settings) -> TLSConfig | bool:
    """The client's TLS from TEMPORAL_TLS_CA / _CERT / _KEY / _SERVER_NAME, read now so that a missing
    or unreadable file is a settings error naming the variable, not a handshake failure later.
    None of them set: a plain connection, in development only (the dev server speaks no TLS)."""
    if s.seller_env == "production":
        for name, path in (
            ("TEMPORAL_TLS_CA", s.temporal_tls_ca),
            ("TEMPORAL_TLS_CERT", s.temporal_tls_cert),
            ("TEMPORAL_TLS_KEY", s.temporal_tls_key),
        ):
            if path is None:
                raise SettingsError(f"{name} is unset: production reaches Temporal only with mutual TLS")
    if s.temporal_tls_cert is None and s.temporal_tls_ca is None:
        return False

    def read(name: str, path: Path | None) -> bytes | None:
        if path is None:
            return None
        try:
            data = path.read_bytes()
        except OSError as err:
            raise SettingsError(f"{name}: cannot read {path} ({err.strerror})") from None
        if b"-----BEGIN " not in data:
            raise SettingsError(f"{name}: {path} is not a PEM file")
        return data

    return TLSConfig(
        server_root_ca_cert=read("TEMPORAL_TLS_CA", s.temporal_tls_ca),
        client_cert=read("TEMPORAL_TLS_CERT", s.temporal_tls_cert),
        client_private_key=read("TEMPORAL_TLS_KEY", s.temporal_tls_key),
        domain=s.temporal_tls_server_name,
    )


def data_converter(s: Settings):  # type: ignore[no-untyped-def]
    """The codec with the registry's per-account data keys (crypto-shredding, security/data_keys.py)."""
    from activities.storage.db import engine
    from security.codec import data_converter as encrypted
    from security.data_keys import DataKeys

    return encrypted(s, DataKeys(s.codec_keys, s.codec_key_id, engine))


def without_registry(client: Client, s: Settings | None = None) -> Client:
    """The client on the same connection, sealing what it sends under the ring key only: for a process
    that does not share the workers' registry (DATABASE_URL). A client that shares it seals what it sends
    to an account under the account's data key, made in its registry; workers with another registry
    could never decode it (docs/PRIVACY.md)."""
    from security.codec import data_converter as ring_only

    config = client.config()
    config["data_converter"] = ring_only(s or settings())
    return Client(**config)


def current_policy(s: Settings | None = None) -> Policy:
    return load_policy((s or settings()).policy_file)


async def register(
    client: Client,
    reg: RegistrationInput,
    *,
    service: str = "registration",
    task_queue: str | None = None,
) -> RegistrationResult:
    """Register a seller; the request id makes a repeated call answer the same result.

    Signed as the registration service `service` (a `register` credential bound to this request: only a
    process holding a service key registers). The policy is the one in force where the workers run
    (POLICY_FILE there), never the caller's.

    An answer (accepted or refused) is final for its request id. A run that failed (it outlived its
    retries through an outage, or was terminated) is not an answer: the same request id starts a fresh
    run, which finds whatever the failed one wrote (claim_identity is keyed by the request id).
    """
    boundary.check(reg)  # refused here (RefusedError) before it names a workflow
    try:
        reg = credentials.sign_message(reg, command="register", account=credentials.ANY, service=service)
    except PermissionError as err:
        raise RefusedError(credentials.refusal("role_not_allowed", str(err))) from err
    workflow_id = f"{REGISTRATION_ID_PREFIX}{reg.request_id}"
    for _ in range(2):  # a run found running may fail under us: then once more, afresh
        try:
            return await client.execute_workflow(
                Registration.run,
                args=[reg, None],  # no policy: the workers' is in force (both arguments, so both are typed)
                id=workflow_id,
                task_queue=task_queue or settings().task_queue,
                # A request id answers once: a repeat reads the first answer instead of re-running it,
                # but a failed run does not bind the request id to its failure.
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
                static_summary="Seller registration",
            )
        except WorkflowAlreadyStartedError:
            try:
                return await client.get_workflow_handle(workflow_id, result_type=RegistrationResult).result()
            except WorkflowFailureError:
                continue
    return await client.get_workflow_handle(workflow_id, result_type=RegistrationResult).result()


def new_request_id() -> str:
    return uuid.uuid4().hex


def account(client: Client, member_id: str) -> WorkflowHandle:
    return client.get_workflow_handle_for(SellerAccount.run, account_workflow_id(member_id))


ACCOUNT_PREFIX = account_workflow_id("")


def sign(
    command: str, member_id: str, message: Signed, *, operator: str | None = None, service: str | None = None
) -> Any:
    """A copy of `message` carrying a credential for `command` on `member_id`, in the role it needs,
    bound to this message (docs/contract/credential.md)."""
    return credentials.sign_message(message, command=command, account=member_id, operator=operator, service=service)


def _name(handler: Any) -> str:
    return handler if isinstance(handler, str) else handler.__name__


async def signal(
    client: Client,
    member_id: str,
    handler: Any,
    message: Signed,
    *,
    operator: str | None = None,
    service: str | None = None,
) -> None:
    """Send an account signal, signed. Signals are not answered: one with a bad credential is audited
    and dropped by the account (ENF-4)."""
    # Signals cannot be refused by the workflow (it records and drops an invalid one): refuse here first.
    signed = sign(_name(handler), member_id, boundary.check(message), operator=operator, service=service)
    # A run at one of Temporal's caps refuses signals until it has continued as new, within seconds
    # (workflows/traffic.py): a report waits that out, within SIGNAL_PATIENCE_SECONDS. It is signed once:
    # it is judged as of its sending however late it lands (security/credentials.py).
    loop = asyncio.get_running_loop()
    give_up = loop.time() + SIGNAL_PATIENCE_SECONDS
    delay = 0.5
    healer_asked: float | None = None  # when this sender last asked the account keeper
    while True:
        try:
            await account(client, member_id).signal(handler, signed)
            return
        except RPCError as err:
            out_of_reach = _ended(err) and _open_in_registry(member_id)
            if _ended(err) and not out_of_reach:
                closed_answer(member_id)  # raises AccountClosed or UnknownMember
            at_cap = "limit" in str(err)
            if not (answer_may_come(err) or at_cap or out_of_reach) or loop.time() + delay > give_up:
                raise
            # A run gone while the registry holds the account open, or still at its cap after a few
            # seconds (a healthy run continues as new within them): the keeper looks now, and heals a
            # run no worker can move (workflows/healing.py). It is asked again while the wait lasts.
            due = healer_asked is None or loop.time() - healer_asked >= HEAL_ASK_EVERY
            if (out_of_reach or (at_cap and delay >= 2.0)) and due:
                if healer_asked is None:  # the first ask: the keeper's look (a stall is confirmed over ~80 s) is waited out
                    give_up = max(give_up, loop.time() + HEAL_PATIENCE_SECONDS)
                healer_asked = loop.time()
                await ask_keeper(client, member_id, FACT_REFUSED)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


# How often a waiting sender asks the keeper to look again at a run that still refuses it, and how long
# it then waits at least: the keeper confirms a stall over STALL_AFTER + STALL_CONFIRM (activities/healing.py).
HEAL_ASK_EVERY = 30.0
HEAL_PATIENCE_SECONDS = 180.0


def _open_in_registry(member_id: str) -> bool:
    from activities.storage.closed_accounts import open_in_registry

    return open_in_registry(member_id)


async def ask_keeper(client: Client, member_id: str, why: str) -> WorkflowHandle | None:
    """Start the account's healer (one at a time per account; a healthy run is left as it is): its
    handle, whose result is the keeper's HealReport, or None if it could not be started."""
    try:
        # The account's own task queue: its workers are the ones that can heal it.
        task_queue = (await account(client, member_id).describe()).task_queue
    except RPCError:
        task_queue = settings().task_queue
    try:
        return await client.start_workflow(
            AccountHealer.run,
            HealInput(member_id, why),
            id=healer_id(member_id),
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            static_summary="ENF-4 heal an account whose run refused a fact",
        )
    except RPCError as err:  # the sender goes on waiting; the sweep finds what this could not start
        logging.getLogger(__name__).warning("the account keeper could not be asked: %s", err.status)
        return None


# How long the facade keeps a signal it could not deliver yet (a run at a cap, a server restarting).
SIGNAL_PATIENCE_SECONDS = 120.0


async def login(client: Client, member_id: str, *, channel: str, ip: str) -> None:
    """Report a login: the account's `login` command (a signal until release v3; workflows/traffic.py
    says why it changed). A run on a worker that predates v3 (during a rolling deploy) has no such
    command and takes the login as the signal it was."""
    inp = LoginInput(channel=channel, ip=ip)
    try:
        await command(client, member_id, SellerAccount.login, inp)
    except WorkflowUpdateFailedError as err:
        if not unknown_command(err):
            raise
        await signal(client, member_id, "login", inp)


def unknown_command(err: BaseException) -> bool:
    """The run's code has no handler for the command sent (the SDK's answer to an unknown update)."""
    cause = getattr(err, "cause", None)
    return isinstance(cause, ApplicationError) and "expected but not found" in str(cause.message)


async def status(client: Client, member_id: str) -> AccountStatus:
    """The account's status. A closed account's workflow has ended: its status is the run's result,
    read from the server's history without a worker (a query would replay it on one), and, once the
    history is no longer retained, the registry's record. An unknown member id raises UnknownMember."""
    handle = account(client, member_id)
    try:
        desc = await handle.describe()
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        return _status_from_registry(member_id)
    if desc.status == WorkflowExecutionStatus.RUNNING:
        return await handle.query(SellerAccount.status)
    if desc.status == WorkflowExecutionStatus.COMPLETED:
        result: AccountStatus = await client.get_workflow_handle(
            account_workflow_id(member_id), run_id=desc.run_id, result_type=AccountStatus
        ).result()
        return result
    return _status_from_registry(member_id)  # failed or terminated: the registry knows what stands


def _status_from_registry(member_id: str) -> AccountStatus:
    from activities.storage.closed_accounts import closed_account

    found = closed_account(member_id)
    if found is None:
        raise UnknownMember(member_id)
    return AccountStatus(
        member_id=member_id,
        state=found.state,
        resume_state=None,
        closed_reason=found.closed_reason,
        reasons=[r for r in (found.closed_by_rule, found.closed_reason) if r],
        waiting_for=[],
        last_login_at=datetime.fromtimestamp(0, UTC),  # not kept by the registry
        login_count=0,
        products_released=0,
        policy_version="",
    )


class UnknownMember(Exception):
    """No seller account has this member id (the CLI exits 4)."""

    def __init__(self, member_id: str) -> None:
        super().__init__(f"No seller account has member id {member_id!r}.")
        self.member_id = member_id


class AccountClosed(RefusedError):
    """The account is closed and applies nothing more: the refusal is `<rule that closed it>
    account_closed`, final (`retryable` False). A report whose id the account counted before it closed
    is not refused: it answers COUNTED, as it did the first time."""

    def __init__(self, member_id: str, rule: str | None, reason: str | None) -> None:
        why = f" ({reason})" if reason else ""
        super().__init__(
            Refusal(
                rule or "ENF-4",
                "account_closed",
                f"The account is closed{why}; it applies nothing more.",
                retryable=False,
            )
        )
        self.member_id = member_id
        self.closed_reason = reason


# A report's answer: the account counts it once per id (a repeat answers the same).
COUNTED = "counted"


def closed_answer(member_id: str, *, violation_id: str | None = None, report_id: str | None = None) -> str:
    """The answer for a message to an account whose workflow has ended: COUNTED for a report it already
    counted, else AccountClosed (or UnknownMember)."""
    from activities.storage.closed_accounts import closed_account

    found = closed_account(member_id)
    if found is None:
        raise UnknownMember(member_id)
    if violation_id is not None and violation_id in found.violation_ids:
        return COUNTED
    if report_id is not None and report_id in found.report_ids:
        return COUNTED
    raise AccountClosed(member_id, found.closed_by_rule, found.closed_reason)


def _ended(err: RPCError) -> bool:
    """The account's workflow has ended (closed) or never existed."""
    return err.status == RPCStatusCode.NOT_FOUND


async def command(
    client: Client,
    member_id: str,
    update: Any,
    arg: Any,
    *,
    request_id: str | None = None,
    operator: str | None = None,
) -> Any:
    """Send an account command (a workflow update); a refusal raises RefusedError with its rule and code.

    Exactly once as the caller sees it: the request id (the caller's, or a new one) is the update id,
    so the same id sent again answers the first answer and changes nothing. A lost answer (server
    restart, network) is retried here with the same id; if it stays lost, `CommandNotAnswered`
    carries the id for the caller to retry with later (see workflows/command_memo.py for how long the
    account remembers it).
    """
    try:  # signed as the seller, or as `operator` for an operator's decision (README, Roles)
        signed = sign(_name(update), member_id, arg, operator=operator)
    except PermissionError as err:
        raise RefusedError(credentials.refusal("credential_missing", str(err))) from err
    key = request_id or new_request_id()
    return await keyed_update(account(client, member_id), update, signed, key)


class CommandNotAnswered(Exception):
    """The command's answer was not received; it may or may not have been applied. Send it again
    with the same `request_id` to learn its answer (it is applied at most once)."""

    def __init__(self, request_id: str, cause: BaseException) -> None:
        super().__init__(f"no answer for request {request_id}: {type(cause).__name__}: {cause}")
        self.request_id = request_id


# How long the facade itself keeps asking for an answer before handing the id back to the caller.
ANSWER_PATIENCE_SECONDS = 60.0
# Refusals that say "in a moment": the run is continuing as new, or the seller's commands fill their slots.
BUSY_CODES = ("account_busy", "too_many_commands")


async def keyed_update(handle: WorkflowHandle, update: Any, arg: Any, key: str) -> Any:
    loop = asyncio.get_running_loop()
    give_up = loop.time() + ANSWER_PATIENCE_SECONDS
    delay = 0.5
    while True:
        try:
            return await handle.execute_update(update, arg, id=key)
        except WorkflowUpdateFailedError as err:
            refusal = as_refusal(err)
            if refusal is None:
                raise
            if refusal.code in BUSY_CODES and loop.time() + delay <= give_up:
                await asyncio.sleep(delay)  # the account is moving onto a new run (workflows/traffic.py)
                delay = min(delay * 2, 5.0)
                continue
            raise RefusedError(refusal) from err
        except (RPCError, RPCTimeoutOrCancelledError) as err:
            if isinstance(err, RPCError) and _ended(err):
                closed_answer(handle.id.removeprefix(ACCOUNT_PREFIX))  # AccountClosed / UnknownMember
            if not answer_may_come(err) or loop.time() + delay > give_up:
                raise CommandNotAnswered(key, err) from err
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


def answer_may_come(err: BaseException) -> bool:
    """Transport trouble (server restarting, network, deadline): asking again with the same id is safe."""
    if isinstance(err, RPCTimeoutOrCancelledError):
        return True
    return isinstance(err, RPCError) and err.status in (
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.CANCELLED,
        RPCStatusCode.UNKNOWN,
        RPCStatusCode.RESOURCE_EXHAUSTED,
        RPCStatusCode.ABORTED,
        RPCStatusCode.INTERNAL,
    )


def as_refusal(err: BaseException) -> Refusal | None:
    app = refusal_of(err)
    if app is None or app.type != REFUSAL_ERROR_TYPE:
        return None
    detail = app.details[0] if app.details else None
    if isinstance(detail, Refusal):
        return detail
    if isinstance(detail, dict):
        return Refusal(detail["rule"], detail["code"], detail["message"], bool(detail.get("retryable", True)))
    return Refusal("?", "refused", app.message)


def upload_url(sha256_hex: str) -> UploadTicket:
    """A pre-signed PUT URL for a blob whose sha256 the caller declares: services in any language upload
    the bytes with it (or with the S3 API) and send the reference `sha256:<hex>`. The bytes are checked
    against the reference when a worker first reads them. Needs BLOB_STORE_URL (an S3 store)."""
    from activities.storage.blobs import blobs

    return blobs().upload_ticket(sha256_hex)


async def submit_photo(
    client: Client,
    member_id: str,
    path: Path,
    *,
    policy: Policy | None = None,
    request_id: str | None = None,
) -> Any:
    """OPEN-1: put the photo in the blob store (never in history) and send its reference."""
    from activities.storage.blobs import BlobError, put_stream

    limit = (policy or current_policy()).authentication.max_photo_bytes
    try:
        with open(path, "rb") as fh:
            # Under the account's data key: erasing the account shreds it (docs/PRIVACY.md).
            ref, _ = put_stream(fh, max_bytes=limit, scope=account_workflow_id(member_id))
    except BlobError as err:
        raise RefusedError(
            Refusal("OPEN-1", "file_too_large", f"The file is larger than {limit // 1_000_000} MB.")
        ) from err
    return await command(
        client,
        member_id,
        SellerAccount.submit_authentication_photo,
        PhotoSubmission(ref),
        request_id=request_id,
    )


async def report_violation(
    client: Client, member_id: str, violation: ViolationInput, *, service: str = "risk-engine"
) -> str:
    """ENF-1/2: another service reports a violation; the same violation id twice counts once. Answers
    COUNTED; to a closed account, COUNTED if it counted this id, else raises AccountClosed.

    A `given_at` without a time zone is taken as UTC here, explicitly (the workflow refuses one: it
    cannot know what was meant). Other bad values raise RefusedError before anything is sent."""
    if violation.given_at is not None and violation.given_at.tzinfo is None:
        violation = dataclasses.replace(violation, given_at=violation.given_at.replace(tzinfo=UTC))
    try:
        await signal(client, member_id, SellerAccount.report_violation, violation, service=service)
    except AccountClosed:
        # A retry whose first send closed the account (a lost acknowledgement) is the same answer.
        return closed_answer(member_id, violation_id=violation.violation_id)
    return COUNTED


async def report_closure(client: Client, member_id: str, report: ClosureReport) -> str:
    """REG-9 (rental, lending, transfer) or REG-10 (Alibaba.com closure): the account is closed.
    Answers COUNTED; to a closed account, COUNTED if it counted this report id, else AccountClosed."""
    try:
        await signal(client, member_id, SellerAccount.report_closure, report, service=report.reported_by)
    except AccountClosed:
        return closed_answer(member_id, report_id=report.report_id)
    return COUNTED


def member_by_licence(licence_number: str) -> str | None:
    """REG-10: Alibaba.com names the supplier by its business licence; find the seller it belongs to."""
    from sqlmodel import Session, select

    from activities.identity_registry import candidate_fingerprints
    from activities.storage.db import engine
    from models.tables import IdentityFingerprint

    digests = candidate_fingerprints("licence", licence_number)  # mainland or any region; none if malformed
    with Session(engine()) as session:
        row = session.exec(
            select(IdentityFingerprint).where(
                IdentityFingerprint.kind == "licence",
                IdentityFingerprint.digest.in_(digests),  # type: ignore[attr-defined]
            )
        ).first()
        return row.member_id if row else None


async def appeal(
    client: Client,
    member_id: str,
    case_id: str,
    *,
    opening_info: str,
    invoices: list[Path],
    letter: str,
    request_id: str | None = None,
) -> Any:
    """ASSOC-5: invoices go to the blob store; the appeal carries their references."""
    from activities.storage.blobs import BlobError, put_stream

    refs = []
    for path in invoices:
        try:
            with open(path, "rb") as fh:
                refs.append(put_stream(fh, max_bytes=20_000_000, scope=account_workflow_id(member_id))[0])
        except BlobError as err:
            raise RefusedError(
                Refusal("ASSOC-5", "invoice_too_large", f"{path.name} is larger than 20 MB.")
            ) from err
    return await command(
        client,
        member_id,
        SellerAccount.appeal,
        AppealInput(case_id, opening_info, refs, letter),
        request_id=request_id,
    )


async def screen_buyer(
    client: Client, buyer: BuyerScreening, *, task_queue: str | None = None, service: str = "buyer-signup"
) -> Any:
    """REG-3: screen a new buyer account; an overseas buyer matching a seller is closed."""
    buyer = sign("screen_buyer", credentials.ANY, buyer, service=service)
    try:
        return await client.execute_workflow(
            BuyerScreeningWorkflow.run,
            args=[buyer, None],  # no policy: the worker's applies (workflows/buyer_screening.py)
            id=f"buyer-{buyer.buyer_id}",
            task_queue=task_queue or settings().task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        return await client.get_workflow_handle(
            f"buyer-{buyer.buyer_id}", result_type=BuyerScreeningResult
        ).result()


def refusal_of(err: BaseException) -> ApplicationError | None:
    """The ApplicationError carrying a refusal inside an update/workflow failure, if there is one."""
    while err is not None:
        if isinstance(err, ApplicationError):
            return err
        err = err.__cause__  # type: ignore[assignment]
    return None


def utcnow() -> datetime:
    return datetime.now(UTC)
