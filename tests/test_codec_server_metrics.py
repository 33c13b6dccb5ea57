"""The codec server's own metrics: a real server process with METRICS_ADDRESS set, scraped after real
requests (models/metrics.py: requests by route and status, refusals by code)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from devtools.smtp_sink import free_port
from models import metrics
from tests.support.prometheus import scrape, total

ROOT = Path(__file__).resolve().parent.parent


def _get(url: str, body: bytes | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def test_codec_server_counts_requests_and_refusals_on_its_own_endpoint() -> None:
    port, metrics_address = free_port(), f"127.0.0.1:{free_port()}"
    env = {**os.environ, "METRICS_ADDRESS": metrics_address}
    proc = subprocess.Popen(
        [sys.executable, "codec_server.py", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                assert _get(f"http://127.0.0.1:{port}/health") == 200
                break
            except (OSError, urllib.error.URLError):
                assert time.monotonic() < deadline, "the codec server never answered"
                time.sleep(0.2)
        # Nobody signed in: refused (a refusal with its code), twice.
        refused = [_get(f"http://127.0.0.1:{port}/decode", b"{}") for _ in range(2)]
        assert all(status in (401, 403) for status in refused)
        samples = scrape(metrics_address)
    finally:
        proc.terminate()
        proc.wait(10)
    assert total(samples, metrics.CODEC_REQUESTS.exported, route="/health", status="200") == 1
    assert total(samples, metrics.CODEC_REQUESTS.exported, route="decode") == 2
    assert total(samples, metrics.CODEC_REFUSALS.exported) == 2
