"""One engine per process, built from settings (SQLite file by default, DATABASE_URL for another).

Connections recover: an error that says the connection itself is bad (SQLite opened read-only while
the file was unwritable, a disk I/O error, PostgreSQL gone or in recovery, a read-only transaction
after a failover) marks it a disconnect, so the pool throws away every connection opened before it
and the next checkout opens a fresh one. Writes resume as soon as the database does, without a
worker restart (issue 18, case 3).
"""

from __future__ import annotations

import threading

from sqlalchemy import event
from sqlalchemy.engine import Engine, ExceptionContext
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel, create_engine

from models.settings import settings


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # No pool: a connection per use, closed after it. SQLite opens a file it may not write (or whose
        # -shm it may not write) read-only without a word, and every connection of the process to that
        # file shares that state while any of them stays open: an idle pooled connection would keep the
        # registry read-only for the worker after the file is writable again (issue 18, case 3).
        # Opening a SQLite file costs tens of microseconds.
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, poolclass=NullPool
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            # Wait for a writer rather than fail; FKs are off by default in SQLite.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        # WAL (readers do not block the writer) is a property of the file: set it once, not on every
        # connect, where two threads connecting at once would race for the lock it needs.
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        except OperationalError as err:
            if not connection_is_broken(err.orig):
                raise  # a read-only file gets WAL when engine() next finds it writable
        event.listen(engine, "handle_error", drop_broken_connection)
        return engine
    engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    event.listen(engine, "handle_error", drop_broken_connection)
    return engine


# SQLite opens a file it may not write read-only without a word, and keeps it so: these messages mean
# the connection, not the statement, is what failed.
SQLITE_BROKEN = (
    "readonly database",
    "disk i/o error",
    "unable to open database file",
    "database disk image is malformed",
    "disk is full",
)
# PostgreSQL SQLSTATEs that a new connection can cure: read-only transaction (a standby after a
# failover), admin/crash shutdown, cannot connect now (starting up or in recovery).
POSTGRES_BROKEN = {"25006", "57P01", "57P02", "57P03", "08000", "08003", "08006"}


def connection_is_broken(err: BaseException | None) -> bool:
    if err is None:
        return False
    sqlstate = getattr(err, "sqlstate", None) or getattr(err, "pgcode", None)
    if sqlstate in POSTGRES_BROKEN:
        return True
    if type(err).__module__.startswith("sqlite3"):
        text = str(err).lower()
        return any(part in text for part in SQLITE_BROKEN)
    return False


def drop_broken_connection(context: ExceptionContext) -> None:
    """`handle_error` hook: a broken connection invalidates the pool (every connection of its age)."""
    if not context.is_disconnect and connection_is_broken(context.original_exception):
        context.is_disconnect = True
        context.invalidate_pool_on_disconnect = True


def create_tables(engine: Engine) -> None:
    import models.tables  # noqa: F401  (registers every table on SQLModel.metadata)

    SQLModel.metadata.create_all(engine)
    models.tables.install_guards(engine)


_ENGINE_LOCK = threading.Lock()
_ENGINE: Engine | None = None


def engine() -> Engine:
    """The process's engine. Activity threads ask for it at once on a fresh worker: it (and the
    tables) is created once. A registry that cannot be written at that moment still gets an engine,
    for reads; the tables are checked again on the next call, until that succeeds."""
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is not None:
            return _ENGINE
        s = settings()
        if s.database_url.startswith("sqlite:///"):
            s.data_dir.mkdir(parents=True, exist_ok=True)
        eng = make_engine(s.database_url)
        try:
            create_tables(eng)
        except OperationalError as err:
            if not connection_is_broken(err.orig):
                raise
            return eng
        _ENGINE = eng
        return eng
