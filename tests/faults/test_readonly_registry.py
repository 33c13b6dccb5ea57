"""Issue 32, fault 1: a SQLite registry that was read-only heals for a running worker in every journal
state: no WAL files, WAL and -shm present (another process has the file open), a checkpoint pending
(the WAL holds committed pages not yet in the file). The worker runs as `nobody` (root ignores file
modes) and is busy with several registrations at once while the file is read-only, so its
connections overlap, as under production load (where a read-only `-shm` mapping used to outlive the
outage). The engine-level tests below pin the two mechanisms (activities/storage/db.py `SqliteGate`).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from temporalio.testing import WorkflowEnvironment

import seller_client
from activities.storage.db import create_tables, make_engine, sqlite_gate
from devtools.identity_factory import applicant
from tests.faults.processes import WorkerProcess, pending_failure, timed
from tests.faults.test_faults import ON_POSTGRES, _set_writable, accounts_for, address, record
from tests.support.draws import hex_id

STATES = ["no WAL files", "WAL and -shm present", "checkpoint pending"]
AT_ONCE = 3  # registrations in flight during the outage: the worker's connections overlap


def _open_handles(name: str) -> list[str]:
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if name in target:
            found.append(target)
    return found


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite file permissions; PostgreSQL has its own test")
@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv to run the worker unprivileged")
@pytest.mark.parametrize("state", STATES)
async def test_registry_read_only_then_writable_in_every_journal_state(
    dev_env: WorkflowEnvironment, state: str
) -> None:
    tq = f"faults-{hex_id()}"
    # The worker has a registry of its own: what this client sends goes under the ring key only.
    client = seller_client.without_registry(dev_env.client)
    folder = Path(tempfile.mkdtemp(prefix="seller-ro-"))
    db = folder / "seller.db"
    url = f"sqlite:///{db}"
    registry = make_engine(url)
    create_tables(registry)
    held: sqlite3.Connection | None = None
    try:
        if state != "no WAL files":  # another process keeps the file open: -wal and -shm stay
            held = sqlite3.connect(db)
            held.execute("SELECT count(*) FROM sqlite_master").fetchall()
        for path in [folder, *folder.iterdir()]:
            shutil.chown(path, 65534, 65534)
        env = {"SELLER_DATA_DIR": str(folder), "DATABASE_URL": url}
        async with WorkerProcess(address(dev_env), tq, env=env, as_nobody=True) as worker:
            try:
                # A warm worker: it has written before the outage.
                first = await seller_client.register(client, applicant(), task_queue=tq)
                assert first.accepted
                if held is not None and state == "checkpoint pending":
                    # Committed pages that only the WAL holds: a checkpoint is owed when writes resume.
                    held.execute("PRAGMA wal_autocheckpoint=0")
                    held.execute("CREATE TABLE IF NOT EXISTS fault_marker (n INTEGER)")
                    held.executemany("INSERT INTO fault_marker VALUES (?)", [(n,) for n in range(500)])
                    held.commit()
                    assert (folder / "seller.db-wal").stat().st_size > 0
                await asyncio.sleep(0.5)  # the worker's connections from that registration have closed
                names = sorted(p.name for p in folder.iterdir())
                if state == "no WAL files":
                    assert names == ["seller.db"], names
                else:
                    assert "seller.db-shm" in names and "seller.db-wal" in names, names
                _set_writable(folder, False)
                regs = [applicant() for _ in range(AT_ONCE)]
                answers = [
                    asyncio.create_task(seller_client.register(client, r, task_queue=tq))
                    for r in regs
                ]
                for r in regs:
                    message = await pending_failure(
                        dev_env.client, f"registration-{r.request_id}", "claim_identity"
                    )
                    assert message.startswith("OperationalError:") and "INSERT" not in message, message
                await asyncio.sleep(2)  # more failed attempts on read-only connections, overlapping
                _set_writable(folder, True)
                async with timed() as took:
                    results = await asyncio.wait_for(asyncio.gather(*answers), 150)
                record(f"SQLite registry read-only under load, then writable ({state})", took[0])
                assert all(r.accepted for r in results)
                # Still writing afterwards (nothing read-only left in the worker).
                assert (await seller_client.register(client, applicant(), task_queue=tq)).accepted
            except BaseException:
                print(worker.stderr())
                raise
        for r in regs:
            assert accounts_for(r.request_id, registry) == 1
    finally:
        if held is not None:
            held.close()
        _set_writable(folder, True)
        registry.dispose()
        shutil.rmtree(folder, ignore_errors=True)


def test_a_closed_connection_lets_go_of_the_file_while_its_failed_statement_lives(
    tmp_path: Path,
) -> None:
    """A write refused half-way leaves its statement prepared while its cursor lives (here, held by a
    kept exception); SQLite then keeps the closed connection's files open, and the file's shared
    state with them. The engine closes a connection's cursors before the connection."""
    db = tmp_path / "ro.db"
    with sqlite3.connect(db) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE t (x INTEGER)")
    setup.close()
    # mode=ro: the same read-only connection SQLite opens, without a word, on a file it may not write.
    eng = make_engine(f"sqlite:///file:{db}?mode=ro&uri=true")
    kept: list[BaseException] = []
    raw = eng.raw_connection()
    cur = raw.cursor()
    try:
        cur.execute("INSERT INTO t VALUES (1)")
    except sqlite3.OperationalError as err:
        kept.append(err)
    assert kept and "readonly" in str(kept[0])
    raw.close()
    assert _open_handles(str(db)) == []
    assert cur is not None  # the cursor still lives


def test_after_a_broken_connection_new_ones_wait_for_the_open_ones(tmp_path: Path) -> None:
    """SQLite maps a file's -shm once per process, for as long as any connection to it is open: after
    a read-only error, a new connection waits until the open ones have closed, so the file is mapped
    afresh; the wait is bounded."""
    eng = make_engine(f"sqlite:///{tmp_path / 'gate.db'}")
    gate = sqlite_gate(eng)
    assert gate is not None
    opened_at: list[float] = []
    with eng.connect() as first:
        first.execute(text("SELECT 1"))
        assert gate.open_connections == 1
        gate.reopen_all()

        def second() -> None:
            with eng.connect() as conn:
                opened_at.append(time.monotonic())
                conn.execute(text("SELECT 1"))

        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.3)
        assert opened_at == []  # waiting for `first` to close
        closed_at = time.monotonic()
    thread.join(5)
    assert opened_at and opened_at[0] >= closed_at
    assert gate.open_connections == 0
    # Bounded: a thread that holds a connection and opens another does not wait for itself for long.
    gate.reopen_all()
    with eng.connect() as outer:
        outer.execute(text("SELECT 1"))
        start = time.monotonic()
        with eng.connect() as inner:
            inner.execute(text("SELECT 1"))
        assert time.monotonic() - start < gate.DRAIN_SECONDS + 1
