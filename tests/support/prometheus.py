"""Reading a Prometheus endpoint as a scraper does: samples by name and labels, summed."""

from __future__ import annotations

import re
import urllib.request

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

Sample = tuple[str, dict[str, str], float]


def scrape(address: str) -> list[Sample]:
    """Every sample the endpoint at `address` (host:port) exposes; a line it cannot parse fails."""
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as response:
        text = response.read().decode()
    samples = []
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        match = SAMPLE.match(line)
        assert match, line
        labels = dict(LABEL.findall(match.group(3) or ""))
        samples.append((match.group(1), labels, float(match.group(4))))
    return samples


def total(samples: list[Sample], name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    return sum(
        value
        for sample, have, value in samples
        if sample == name and all(have.get(k) == v for k, v in labels.items())
    )


async def metered_client(env: WorkflowEnvironment) -> tuple[Client, str]:
    """Another client of `env`'s server whose runtime serves Prometheus on a free loopback port, as
    worker.main makes it: a worker made from it exports what it does there. (address: host:port)"""
    from activities.worker_support.telemetry import metrics_runtime
    from devtools.smtp_sink import free_port

    address = f"127.0.0.1:{free_port()}"
    client = await Client.connect(
        env.client.service_client.config.target_host,
        namespace=env.client.namespace,
        data_converter=env.client.data_converter,
        runtime=metrics_runtime(address),
    )
    return client, address
