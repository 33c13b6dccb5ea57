"""Heartbeats for long synchronous activities, so that a dead worker's task moves on in seconds."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from temporalio import activity


@contextmanager
def heartbeating(every: float = 3.0) -> Iterator[None]:
    """Heartbeat from a background thread while the block runs (a photo check spends seconds inside
    dlib and waiting for DLIB_LOCK, where it cannot heartbeat itself). The thread runs in a copy of
    the activity's context, which is how `activity.heartbeat` finds its activity; outside an
    activity this does nothing. A worker that dies stops beating with it, which is the point: the
    server sees the heartbeat timeout and retries elsewhere."""
    if not activity.in_activity():
        yield
        return
    ctx = contextvars.copy_context()
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every):
            try:
                ctx.run(activity.heartbeat)
            except Exception:  # the activity is finishing or was cancelled: nothing left to keep alive
                return

    thread = threading.Thread(target=beat, name="activity-heartbeat", daemon=True)
    thread.start()
    try:
        activity.heartbeat()  # at once: the server knows the attempt started on a live worker
        yield
    finally:
        stop.set()
        thread.join()
