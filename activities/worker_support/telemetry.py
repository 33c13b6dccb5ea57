"""How a process reports on itself: Prometheus metrics, OpenTelemetry traces, one JSON line a log event.

Metrics: the Temporal SDK's runtime exports its own metrics (task latencies, slots, polls, sticky cache)
and the business metrics (models/metrics.py) on one Prometheus endpoint, when METRICS_ADDRESS is set.
The runtime must be the process default before any client exists, since a client binds the runtime it
was made with (worker.main does this first). Counters get `_total` and durations are in seconds, as
Prometheus' conventions ask.

Traces: with OTEL_EXPORTER_OTLP_ENDPOINT set, the SDK's OpenTelemetry interceptor is registered on the
client (its README: client-side, so the worker made from that client inherits it), and spans leave by
OTLP over HTTP. A caller's span (starter.py, the demo, a service) is then the parent of the workflow's
and its activities' spans: one seller's onboarding from one caller is one trace.

Logs: LOG_FORMAT=json writes one JSON object a line with the workflow id, the activity, the rule and
the code where the event has them. Messages never carry personal data (the codes and rule ids are
vocabularies); the audit's detail is never logged.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from temporalio.client import Interceptor as ClientInterceptor
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from models import metrics as m

# Fields a log call may pass with `extra=`; anything else in a record is dropped from the line.
LOG_FIELDS = ("workflow_id", "run_id", "activity_type", "workflow_type", "event", "rule", "code", "kind")


def metrics_runtime(bind_address: str) -> Runtime:
    """A runtime that serves Prometheus on `bind_address` (host:port; loopback unless you mean it)."""
    return Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(
                bind_address=bind_address,
                counters_total_suffix=True,
                durations_as_seconds=True,
                # Items wait hours and days: buckets of their own, not the SDK's (milliseconds to minutes).
                histogram_bucket_overrides={m.REVIEW_WAIT_SECONDS.name: list(m.REVIEW_WAIT_BUCKETS)},
            )
        )
    )


def install_metrics(bind_address: str | None) -> Runtime | None:
    """Make the metrics runtime the process default (before any client is made); None when off."""
    if not bind_address:
        return None
    runtime = metrics_runtime(bind_address)
    Runtime.set_default(runtime, error_if_already_set=False)
    return runtime


_tracing: list[ClientInterceptor] | None = None


def tracing_interceptors(otlp_endpoint: str | None) -> list[ClientInterceptor]:
    """The client interceptors that trace calls, workflows and activities; [] when no endpoint is set.

    The tracer provider is process-wide (OpenTelemetry allows one): set once, then reused."""
    global _tracing
    if not otlp_endpoint:
        return []
    if _tracing is None:
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from temporalio.contrib.opentelemetry import TracingInterceptor

        provider = TracerProvider(resource=Resource.create({"service.name": "seller-platform"}))
        endpoint = otlp_endpoint.rstrip("/") + "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
        trace.set_tracer_provider(provider)
        _tracing = [TracingInterceptor()]
    return list(_tracing)


class JsonLogFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, and the Temporal context of the event."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        # The SDK's workflow and activity loggers attach their context as these two dicts.
        for context in ("temporal_workflow", "temporal_activity"):
            info = getattr(record, context, None)
            if isinstance(info, dict):
                for key in ("workflow_id", "run_id", "workflow_type", "activity_type"):
                    if info.get(key):
                        line.setdefault(key, info[key])
        for key in LOG_FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                line[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            # The kind only: a traceback's frames carry file paths and sometimes values.
            line["error"] = record.exc_info[0].__name__
        return json.dumps(line, ensure_ascii=False)


def configure_logging(log_format: str = "text", level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonLogFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
