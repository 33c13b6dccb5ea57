"""Backfills that run once per database, not at every worker start.

An index kept in the database (ASSOC-3 postings, known-faces vectors) is written in the transaction of
each row it indexes; only rows written before the index existed lack it. Finding them is an anti-join
over the whole catalogue (seconds at a million listings, issue 28's cold start), so a completed
backfill leaves a marker row and later starts skip the search. A database restored from before the
index, or rows written by a release older than it, need the marker deleted
(`DELETE FROM index_backfill WHERE name = ...`): the next worker start backfills again.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

DDL = "CREATE TABLE IF NOT EXISTS index_backfill (name text PRIMARY KEY, done_at timestamptz NOT NULL DEFAULT now())"


def prepare(conn: Connection) -> None:
    conn.execute(text(DDL))


def once(eng: Engine, name: str, backfill: Callable[[Engine], int]) -> int:
    """`backfill(eng)` unless a run already completed in this database; the rows it filled in."""
    with eng.begin() as conn:
        prepare(conn)
        if conn.execute(text("SELECT 1 FROM index_backfill WHERE name = :n"), {"n": name}).first():
            return 0
    done = backfill(eng)
    with eng.begin() as conn:
        conn.execute(
            text("INSERT INTO index_backfill (name) VALUES (:n) ON CONFLICT DO NOTHING"), {"n": name}
        )
    return done


def forget(eng: Engine, name: str) -> None:
    """The next start backfills `name` again (a database restored from before its index)."""
    with eng.begin() as conn:
        prepare(conn)
        conn.execute(text("DELETE FROM index_backfill WHERE name = :n"), {"n": name})
