"""Worker processes and a private PostgreSQL for the fault suite: real processes, killed for real."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


class WorkerProcess:
    """`python -m devtools.fault_worker TASK_QUEUE` in a child process (optionally as nobody)."""

    def __init__(
        self,
        address: str,
        task_queue: str,
        *,
        crash_after_commit: str | None = None,
        env: dict[str, str] | None = None,
        unset: tuple[str, ...] = (),
        as_nobody: bool = False,
    ) -> None:
        self.environ = {**os.environ, "TEMPORAL_ADDRESS": address, **(env or {})}
        for name in unset:
            self.environ.pop(name, None)
        if crash_after_commit:
            self.environ["SELLER_CRASH_AFTER_COMMIT"] = crash_after_commit
        self.argv = [sys.executable, "-m", "devtools.fault_worker", task_queue]
        if as_nobody:
            self.argv = NOBODY + self.argv
        self.proc: asyncio.subprocess.Process | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="fault-worker-", suffix=".log", delete=False)  # noqa: SIM115

    async def start(self) -> WorkerProcess:
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv, cwd=ROOT, env=self.environ, stdout=asyncio.subprocess.PIPE, stderr=self.log
        )
        assert self.proc.stdout is not None
        # Importing the worker takes seconds, and much longer on a shared, loaded machine.
        line = await asyncio.wait_for(self.proc.stdout.readline(), 240)
        assert line.strip() == b"ready", f"worker did not start: {self.stderr()}"
        return self

    def stderr(self) -> str:
        return Path(self.log.name).read_text(errors="replace")[-3000:]

    async def died(self, timeout: float = 60) -> int:
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), timeout)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        Path(self.log.name).unlink(missing_ok=True)

    async def __aenter__(self) -> WorkerProcess:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


class PrivatePostgres:
    """A throw-away PostgreSQL server (its own directory and port), which the test stops and starts.
    Never the shared test server: stopping that would fail every other test."""

    def __init__(self, port: int) -> None:
        self.bin = pg_bin()
        assert self.bin is not None
        self.port = port
        self.dir = Path(tempfile.mkdtemp(prefix="seller-fault-pg-"))
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/seller_faults"

    def _run(self, *argv: str) -> None:
        cmd = " ".join(f"'{a}'" for a in argv)
        if os.getuid() == 0:  # PostgreSQL refuses to run as root
            subprocess.run(["su", "postgres", "-s", "/bin/sh", "-c", cmd], check=True, capture_output=True)
        else:
            subprocess.run(["sh", "-c", cmd], check=True, capture_output=True)

    def init(self) -> PrivatePostgres:
        if os.getuid() == 0:
            shutil.chown(self.dir, "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres")
        self.start()
        self._run(
            str(self.bin / "createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "seller_faults",
        )
        return self

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.dir / "data"),
            "-w",
            "-l",
            str(self.dir / "log"),
            "-o",
            opts,
            "start",
        )

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-w", "-m", "fast", "stop")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


async def pending_failure(client, workflow_id: str, activity_type: str, timeout: float = 60) -> str:  # type: ignore[no-untyped-def]
    """Wait until the workflow's pending activity of that type has failed at least once; the failure's
    message as the server holds it (decrypted with the client's codec, as the Web UI shows it)."""
    from temporalio.service import RPCError, RPCStatusCode

    handle = client.get_workflow_handle(workflow_id)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            desc = await handle.describe()
        except RPCError as err:  # not started yet
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            desc = None
        for pending in desc.raw_description.pending_activities if desc else []:
            if pending.activity_type.name == activity_type and pending.HasField("last_failure"):
                err = await client.data_converter.decode_failure(pending.last_failure)
                return str(getattr(err, "message", err))
        await asyncio.sleep(0.2)
    raise AssertionError(f"{activity_type} never failed")


@contextlib.asynccontextmanager
async def timed() -> AsyncIterator[list[float]]:
    """Seconds the block took, in the yielded list once it is done."""
    took: list[float] = []
    start = time.monotonic()
    yield took
    took.append(round(time.monotonic() - start, 1))
