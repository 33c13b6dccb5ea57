"""A local SMTP server that keeps what it receives: the demo's and the tests' mailbox.

python -m devtools.smtp_sink --port 8025 [--mbox .data/mail.mbox]
"""

from __future__ import annotations

import argparse
import email
import email.policy
import mailbox
import re
import socket
import threading
import time
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller

CODE = re.compile(r"\b(\d{6})\b")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpSink:
    def __init__(self, *, port: int = 0, mbox: Path | None = None) -> None:
        self.port = port or free_port()
        self._messages: list[EmailMessage] = []
        self._lock = threading.Lock()
        self._mbox = mailbox.mbox(str(mbox)) if mbox else None
        self._controller: Controller | None = None

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self._messages.append(msg)  # type: ignore[arg-type]
            if self._mbox is not None:
                self._mbox.add(msg)
                self._mbox.flush()
        return "250 Message accepted for delivery"

    def start(self) -> SmtpSink:
        # A controller runs once: a fresh one lets tests stop the sink (SMTP down) and start it again.
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def messages(self, to: str | None = None) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self._messages if to is None or m["To"] == to]

    def wait_for(self, to: str, *, timeout: float = 10, after: int = 0) -> EmailMessage:
        """The first message to `to` beyond the first `after` ones."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.messages(to)
            if len(found) > after:
                return found[after]
            time.sleep(0.05)
        raise TimeoutError(f"no mail for the address within {timeout}s")

    def latest_code(self, to: str, *, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        while not self.messages(to) and time.monotonic() < deadline:
            time.sleep(0.05)
        found = self.messages(to)
        if not found:
            raise TimeoutError(f"no mail for the address within {timeout}s")
        body = found[-1].get_body(("plain",))
        match = CODE.search(body.get_content() if body else "")
        if match is None:
            raise ValueError("the last message holds no code")
        return match.group(1)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--mbox", type=Path)
    args = parser.parse_args()
    sink = SmtpSink(port=args.port, mbox=args.mbox).start()
    print(f"SMTP sink on 127.0.0.1:{sink.port}" + (f", mailbox {args.mbox}" if args.mbox else ""))
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sink.stop()


if __name__ == "__main__":
    main()
