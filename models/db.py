"""One engine per process, built from settings (SQLite file by default, DATABASE_URL for another)."""

from __future__ import annotations

import threading
from functools import lru_cache

from sqlalchemy import event
from sqlalchemy.engine import Engine
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
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


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
