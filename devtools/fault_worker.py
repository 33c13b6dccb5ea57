"""A worker process for the fault suite: the real worker (worker.build_worker), optionally killed
with SIGKILL right after a chosen activity's first database commit.

    SELLER_CRASH_AFTER_COMMIT=verify_email_code python -m devtools.fault_worker TASK_QUEUE

Settings come from the environment as for worker.py (TEMPORAL_ADDRESS, DATABASE_URL, SMTP_PORT...).
The crash hook lives here, never in worker.py: production workers have no way to trigger it. It
fires on the activity's first attempt only, so the retry (on this or another worker) runs clean.
Prints "ready" once polling, so a test knows when to go on.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import timedelta

from sqlalchemy import event
from sqlalchemy.orm import Session
from temporalio import activity


def install_crash_hook(activity_type: str) -> None:
    def after_commit(_session: Session) -> None:
        if not activity.in_activity():
            return
        info = activity.info()
        if info.activity_type == activity_type and info.attempt == 1:
            os.kill(os.getpid(), signal.SIGKILL)

    event.listen(Session, "after_commit", after_commit)


async def main(task_queue: str) -> None:
    from seller_client import connect
    from worker import build_worker

    target = os.environ.get("SELLER_CRASH_AFTER_COMMIT")
    if target:
        install_crash_hook(target)
    client = await connect()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    # SELLER_STICKY_TIMEOUT_SECONDS: measure the stall after a kill with another sticky timeout.
    sticky = os.environ.get("SELLER_STICKY_TIMEOUT_SECONDS")
    extra = {"sticky_timeout": timedelta(seconds=float(sticky))} if sticky else {}
    async with build_worker(client, task_queue=task_queue, max_concurrent_activities=4, **extra):
        print("ready", flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
