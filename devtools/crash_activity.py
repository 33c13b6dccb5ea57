"""Run one activity in this process and `kill -9` the process at a chosen point: the fault suite's
worker crash, as an operator's `kill -9` of a worker mid-activity.

    python -m devtools.crash_activity activities.audit:record_audit INPUT.pickle ANSWER.pickle --at commit

--at commit   SIGKILL right after the activity's first database commit (the write is done, the
              activity's answer never computed)
--at return   SIGKILL right after the activity returns (every effect done, the answer written to
              ANSWER.pickle, then lost before it could reach Temporal)

The activity runs inside temporalio's ActivityEnvironment (a real activity context, attempt 1), with
the same settings (database, SMTP, secrets) as the process that started it. Nothing here is imported
by the worker: the hook exists only in this test process.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pickle
import signal
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session
from temporalio.testing import ActivityEnvironment


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("activity", help="module:function")
    parser.add_argument("input", type=Path)
    parser.add_argument("answer", type=Path)
    parser.add_argument("--at", choices=("commit", "return"), required=True)
    args = parser.parse_args()
    module, _, name = args.activity.partition(":")
    fn: Any = getattr(importlib.import_module(module), name)
    inp = pickle.loads(args.input.read_bytes())
    if args.at == "commit":
        event.listen(Session, "after_commit", lambda _session: die())
    answer = ActivityEnvironment().run(fn, inp)
    args.answer.write_bytes(pickle.dumps(answer))
    die()


if __name__ == "__main__":
    main()
