"""One engine per process, built from settings (SQLite file by default, DATABASE_URL for another).

Connections recover: an error that says the connection itself is bad (SQLite opened read-only while
the file was unwritable, a disk I/O error, PostgreSQL gone or in recovery, a read-only transaction
after a failover) marks it a disconnect, so the pool throws away every connection opened before it
and the next checkout opens a fresh one. Writes resume as soon as the database does, without a
worker restart (issue 18, case 3).
"""

from __future__ import annotations

import threading
from functools import lru_cache

from sqlalchemy import event
from sqlalchemy.engine import Engine, ExceptionContext
from sqlmodel import SQLModel, create_engine

from models.settings import settings


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            # Wait for a writer rather than fail; FKs are off by default in SQLite.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        # WAL (readers do not block the writer) is a property of the file: set it once, not on every
        # connect, where two threads connecting at once would race for the lock it needs.
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")
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


def engine() -> Engine:
    # Activity threads ask for the engine at once on a fresh worker: create it (and the tables) once.
    with _ENGINE_LOCK:
        return _engine()


@lru_cache(maxsize=1)
def _engine() -> Engine:
    s = settings()
    if s.database_url.startswith("sqlite:///"):
        s.data_dir.mkdir(parents=True, exist_ok=True)
    eng = make_engine(s.database_url)
    create_tables(eng)
    return eng
