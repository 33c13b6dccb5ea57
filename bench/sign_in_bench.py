"""Codec server sign-in: does a wrong password for a name that exists take as long as one for a name
that does not? (issue 24: 93 ms against 1 ms before the dummy check.) The real server over HTTP,
attempts alternating between the two kinds; throttling is set to never delay, so that every attempt
reaches the password check. Prints the median and 90th percentile of each and their ratio."""

from __future__ import annotations

import asyncio
import http.client
import logging
import statistics
import sys
import threading
import time
import urllib.parse
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import codec_server  # noqa: E402
from devtools.smtp_sink import free_port  # noqa: E402
from models.settings import settings  # noqa: E402
from security.codec_access import Operator, hash_password, load_access  # noqa: E402
from security.sign_in import SignInThrottle  # noqa: E402

ROUNDS = 25


def attempt(port: int, name: str) -> float:
    form = urllib.parse.urlencode({"operator": name, "password": "wrong password"}).encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    start = time.perf_counter()
    conn.request("POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded"})
    resp = conn.getresponse()
    resp.read()
    elapsed = time.perf_counter() - start
    conn.close()
    assert resp.status == 401, resp.status
    return elapsed


def main() -> None:
    logging.disable(logging.WARNING)  # every attempt fails on purpose: no line each
    access = load_access(settings(), env={})
    lin = Operator("lin", hash_password("lin-password-123"), frozenset({"default"}))
    access = replace(access, operators={**access.operators, "lin": lin})
    app = codec_server.create_app(settings(), access)
    app[codec_server.THROTTLE] = SignInThrottle(access.operators, free=10**9)  # measure the check only
    port = free_port()
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    runner = asyncio.run_coroutine_threadsafe(codec_server.start("127.0.0.1", port, app), loop).result(10)
    try:
        attempt(port, "lin")  # warm up
        known, unknown = [], []
        for _ in range(ROUNDS):
            known.append(attempt(port, "lin"))
            unknown.append(attempt(port, "nobody-by-this-name"))
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)

    def ms(xs: list[float], q: float) -> float:
        return 1000 * statistics.quantiles(xs, n=10)[8] if q == 0.9 else 1000 * statistics.median(xs)

    print(f"wrong password, {ROUNDS} attempts each (ms)   median    p90")
    print(f"  operator that exists                 {ms(known, 0.5):7.1f} {ms(known, 0.9):7.1f}")
    print(f"  name that does not exist             {ms(unknown, 0.5):7.1f} {ms(unknown, 0.9):7.1f}")
    print(f"  ratio unknown / known (median)       {statistics.median(unknown) / statistics.median(known):7.2f}")


if __name__ == "__main__":
    main()
