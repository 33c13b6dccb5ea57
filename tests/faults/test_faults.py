"""The fault suite (issue 18): real faults under a live worker process, each asserting no duplicate
and no false answer, and measuring the seconds from the fault's end to the caller's answer.

- a worker killed with SIGKILL right after an activity's commit (the code check, the identity claim)
- the mail server down, then back
- the SQLite registry unwritable (for the worker's user), then writable again
- PostgreSQL stopped, then started (a private server)
- the Temporal dev server stopped, then started again on the same port and state file

Each figure is printed (`FAULT <name>: <seconds>`) and appended to fault-figures.jsonl in the test
data folder; the README's operations section quotes them.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from sqlmodel import Session, func, select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

import seller_client
from activities.storage.db import create_tables, engine, make_engine
from devtools.identity_factory import applicant
from devtools.smtp_sink import SmtpSink, free_port
from models.contract import ChangeContactInput, RequestCodeInput, VerifyEmailInput
from models.settings import settings
from models.tables import AuditRecord, IdentityFingerprint
from tests.faults.processes import PrivatePostgres, WorkerProcess, pending_failure, pg_bin, timed
from tests.support.accounts import accounts_for
from tests.support.draws import hex_id
from workflows.seller_account import SellerAccount

# Fixed seed: distinct values in one session (a fresh registry), the same in every run.
DRAW = random.Random(20261125)

ON_POSTGRES = bool(os.environ.get("SELLER_TEST_DATABASE_URL"))


def record(name: str, seconds: float) -> None:
    print(f"FAULT {name}: {seconds}s")
    with open(settings().data_dir / "fault-figures.jsonl", "a") as out:
        out.write(json.dumps({"fault": name, "seconds": seconds}) + "\n")


def address(env: WorkflowEnvironment) -> str:
    return env.client.service_client.config.target_host


def audit_events(member_id: str, eng=None) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    with Session(eng or engine()) as session:
        rows = session.exec(
            select(AuditRecord)
            .where(AuditRecord.workflow_id == f"seller-{member_id}")
            .order_by(AuditRecord.seq)  # type: ignore[arg-type]
        ).all()
        return [(r.event, r.reason) for r in rows]




async def wait_for_audit(member_id: str, event: str, timeout: float = 30) -> None:
    """The answer comes before the audit row of the next step may be written; wait for it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(e == event for e, _ in audit_events(member_id)):
            return
        await asyncio.sleep(0.1)


# ---------------------------------------------------------------- worker killed after a commit


async def test_worker_killed_after_the_code_check_commits(
    dev_env: WorkflowEnvironment, mailbox: SmtpSink
) -> None:
    """Issue 18 case 2: the retry on another worker answers success, never `code_used`."""
    tq = f"faults-{hex_id()}"
    reg = applicant()
    async with WorkerProcess(address(dev_env), tq):
        result = await seller_client.register(dev_env.client, reg, task_queue=tq)
    assert result.accepted and result.member_id
    member = result.member_id
    code = mailbox.latest_code(reg.email)

    crashing = await WorkerProcess(address(dev_env), tq, crash_after_commit="verify_email_code").start()
    key = seller_client.new_request_id()
    answer = asyncio.create_task(
        seller_client.command(
            dev_env.client, member, SellerAccount.verify_email, VerifyEmailInput(code), request_id=key
        )
    )
    assert await crashing.died() == -9, crashing.stderr()
    async with timed() as took, WorkerProcess(address(dev_env), tq):
        state = await asyncio.wait_for(answer, 120)
    record("worker kill -9 after verify_email_code commit", took[0])
    assert state == "registered"
    # Sent again with its key: the same answer, nothing more on the record.
    async with WorkerProcess(address(dev_env), tq):
        assert (
            await seller_client.command(
                dev_env.client, member, SellerAccount.verify_email, VerifyEmailInput(code), request_id=key
            )
            == state
        )
    events = audit_events(member)
    assert events.count(("verify_email", "email_verified")) == 1
    assert not [e for e in events if e[1] == "code_used"], events
    await crashing.stop()


async def test_worker_killed_after_the_identity_claim_commits(dev_env: WorkflowEnvironment) -> None:
    tq = f"faults-{hex_id()}"
    reg = applicant()
    crashing = await WorkerProcess(address(dev_env), tq, crash_after_commit="claim_identity").start()
    answer = asyncio.create_task(seller_client.register(dev_env.client, reg, task_queue=tq))
    assert await crashing.died() == -9, crashing.stderr()
    async with timed() as took, WorkerProcess(address(dev_env), tq):
        result = await asyncio.wait_for(answer, 120)
        again = await seller_client.register(dev_env.client, reg, task_queue=tq)
    record("worker kill -9 after claim_identity commit", took[0])
    assert result.accepted and again.member_id == result.member_id
    assert accounts_for(reg.request_id) == 1
    with Session(engine()) as session:
        prints = session.exec(
            select(func.count())
            .select_from(IdentityFingerprint)
            .where(IdentityFingerprint.member_id == result.member_id)
        ).one()
    assert prints == 4
    await crashing.stop()


# ---------------------------------------------------------------- mail server down and back


async def test_mail_server_down_then_back(dev_env: WorkflowEnvironment) -> None:
    """A code requested while SMTP is down is mailed once SMTP is back: one mail, and it verifies."""
    tq = f"faults-{hex_id()}"
    port = free_port()
    reg = applicant()
    async with WorkerProcess(address(dev_env), tq, env={"SMTP_PORT": str(port)}):
        # Registration does not wait for the mail (REG-6: the seller can ask again).
        result = await seller_client.register(dev_env.client, reg, task_queue=tq)
        assert result.accepted and result.member_id
        member = result.member_id
        asked = asyncio.create_task(
            seller_client.command(
                dev_env.client, member, SellerAccount.request_email_code, RequestCodeInput(reg.email)
            )
        )
        message = await pending_failure(dev_env.client, f"seller-{member}", "send_verification_code")
        # Small and readable: the error's kind and the first line of its message, nothing else.
        assert message.startswith(("ConnectionRefusedError", "OSError", "SMTP")) and len(message) <= 200, (
            message
        )
        await asyncio.sleep(3)
        with SmtpSink(port=port) as sink:
            async with timed() as took:
                assert await asyncio.wait_for(asked, 120) == "registered"
            record("SMTP down, then back (code request answered)", took[0])
            code = sink.latest_code(reg.email)
            await asyncio.sleep(1)
            assert len(sink.messages(reg.email)) == 1
            state = await seller_client.command(
                dev_env.client, member, SellerAccount.verify_email, VerifyEmailInput(code)
            )
            assert state == "registered"


# ---------------------------------------------------------------- registry unwritable and back


def _set_writable(folder: Path, writable: bool) -> None:
    for path in [folder, *folder.iterdir()]:
        if path.is_dir():
            path.chmod(0o755 if writable else 0o555)
        else:
            path.chmod(0o644 if writable else 0o444)


async def _register_through_outage(env: WorkflowEnvironment, tq: str, folder: Path, name: str) -> str:
    """Register while the registry is read-only, make it writable, and time the answer."""
    reg = applicant()
    # The worker has a registry of its own: what this client sends goes under the ring key only.
    client = seller_client.without_registry(env.client)
    answer = asyncio.create_task(seller_client.register(client, reg, task_queue=tq))
    message = await pending_failure(env.client, f"registration-{reg.request_id}", "claim_identity")
    # Small and readable: the error's kind and the first line of the driver's message, no SQL.
    assert message.startswith("OperationalError:") and "INSERT" not in message, message
    assert len(message) <= 200
    await asyncio.sleep(2)  # a few more failed attempts on read-only connections
    _set_writable(folder, True)
    async with timed() as took:
        result = await asyncio.wait_for(answer, 150)
    record(name, took[0])
    assert result.accepted
    return reg.request_id


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite file permissions; PostgreSQL has its own test")
@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv to run the worker unprivileged")
async def test_registry_unwritable_then_writable_again(dev_env: WorkflowEnvironment) -> None:
    """Issue 18 case 3. The worker runs as `nobody` (root ignores file modes) on its own SQLite file.
    SQLite opens a file it may not write read-only without a word. First the worker starts while the
    file is read-only (every connection it opens is read-only: the case that never recovered), then
    the file becomes read-only again under the running worker. Each time, once the file is writable,
    the worker's next attempt must write."""
    tq = f"faults-{hex_id()}"
    folder = Path(tempfile.mkdtemp(prefix="seller-ro-"))
    try:
        url = f"sqlite:///{folder / 'seller.db'}"
        registry = make_engine(url)
        create_tables(registry)
        with registry.connect() as held:  # another process has the file open, as in production
            held.exec_driver_sql("SELECT 1")
            for path in [folder, *folder.iterdir()]:
                shutil.chown(path, 65534, 65534)
            _set_writable(folder, False)
            env = {"SELLER_DATA_DIR": str(folder), "DATABASE_URL": url}
            async with WorkerProcess(address(dev_env), tq, env=env, as_nobody=True) as worker:
                try:
                    cold = await _register_through_outage(
                        dev_env, tq, folder, "SQLite registry unwritable at worker start, then writable"
                    )
                    _set_writable(folder, False)
                    warm = await _register_through_outage(
                        dev_env,
                        tq,
                        folder,
                        "SQLite registry unwritable under a running worker, then writable",
                    )
                except BaseException:
                    print(worker.stderr())
                    raise
        assert accounts_for(cold, registry) == 1 and accounts_for(warm, registry) == 1
    finally:
        _set_writable(folder, True)
        shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------- PostgreSQL stopped and started


@pytest.mark.skipif(pg_bin() is None, reason="PostgreSQL server binaries not installed")
async def test_postgres_stopped_then_started(dev_env: WorkflowEnvironment) -> None:
    tq = f"faults-{hex_id()}"
    pg = PrivatePostgres(free_port()).init()
    try:
        registry = make_engine(pg.url)
        env = {"DATABASE_URL": pg.url}
        client = seller_client.without_registry(dev_env.client)  # the worker has a registry of its own
        async with WorkerProcess(address(dev_env), tq, env=env) as worker:
            first = applicant()
            assert (await seller_client.register(client, first, task_queue=tq)).accepted
            pg.stop()  # the worker's pool holds connections to the server that is gone
            reg = applicant()
            answer = asyncio.create_task(seller_client.register(client, reg, task_queue=tq))
            message = await pending_failure(
                dev_env.client, f"registration-{reg.request_id}", "claim_identity"
            )
            assert message.startswith("OperationalError:") and "SELECT" not in message, message
            assert "INSERT" not in message and len(message) <= 200, message
            await asyncio.sleep(2)
            pg.start()
            async with timed() as took:
                result = await asyncio.wait_for(answer, 150)
            record("PostgreSQL stopped, then started (registration answered)", took[0])
            assert result.accepted, worker.stderr()
        assert accounts_for(reg.request_id, registry) == 1
        assert accounts_for(first.request_id, registry) == 1
        registry.dispose()
    finally:
        pg.remove()


# ---------------------------------------------------------------- Temporal server restarted


async def start_server(port: int, state: Path) -> WorkflowEnvironment:
    from devtools import temporal_dev

    return await temporal_dev.start_own(port=port, database=state)


async def test_dev_server_restarted_under_commands(tmp_path: Path) -> None:
    """Issue 18 case 1, both ways a server restart loses an answer:
    - a command answered just before the restart, whose answer the caller never got: sent again with
      its request id after the restart, it answers the same and is not applied again;
    - a command in flight (sent, not yet run: the worker was down) when the server went: the facade
      asks again with the same request id once the server is back, and it is applied once."""
    port = free_port()
    state = tmp_path / "temporal.db"
    server = await start_server(port, state)
    tq = f"faults-{hex_id()}"
    target = f"127.0.0.1:{port}"
    try:
        client = await Client.connect(target, data_converter=seller_client.data_converter(settings()))
        async with WorkerProcess(target, tq):
            reg = applicant()
            result = await seller_client.register(client, reg, task_queue=tq)
            assert result.accepted and result.member_id
            member = result.member_id
            await wait_for_audit(member, "register")
            done = ChangeContactInput(kind="mobile", value=f"+86137{DRAW.randrange(10**8):08d}")
            done_key = seller_client.new_request_id()
            first = await seller_client.command(
                client, member, SellerAccount.change_contact, done, request_id=done_key
            )
        # The worker is down: the next command reaches the server and waits there.
        pending = ChangeContactInput(kind="mobile", value=f"+86136{DRAW.randrange(10**8):08d}")
        pending_key = seller_client.new_request_id()
        in_flight = asyncio.create_task(
            seller_client.command(
                client, member, SellerAccount.change_contact, pending, request_id=pending_key
            )
        )
        await asyncio.sleep(1)
        await server.shutdown()
        assert not in_flight.done()
        server = await start_server(port, state)
        async with timed() as took, WorkerProcess(target, tq) as worker:
            assert await asyncio.wait_for(in_flight, 120) == "registered", worker.stderr()
            again = await seller_client.command(
                client, member, SellerAccount.change_contact, done, request_id=done_key
            )
        record("Temporal dev server restarted (in-flight command answered)", took[0])
        assert again == first
        kinds = [reason for event, reason in audit_events(member) if event == "change_contact"]
        assert kinds == ["mobile_changed", "mobile_changed"], kinds  # one each, neither twice
    finally:
        await server.shutdown()
