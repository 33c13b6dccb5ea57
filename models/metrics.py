"""The business metrics, declared once: name, kind, labels and what each counts.

Workers record them through the Temporal SDK's runtime meter (activities/worker_support/metrics.py and
workflows/metrics.py), so they leave the worker on the same Prometheus endpoint as the SDK's own
metrics; the codec server records its own with prometheus_client. The dashboard
(deploy/grafana/dashboards/seller-platform.json) may only name metrics declared here or listed in
SDK_METRICS, which tests/test_deployment.py checks.

Labels carry vocabularies, never values: rule ids, reason codes, verdicts, command names, states.
A member id, an email, a phone or an ID number is never a label (tests/activities/worker_support/test_telemetry.py scrapes
a real worker and checks). Counter names omit `_total`: the exporter appends it (Prometheus
convention, PrometheusConfig(counters_total_suffix=True)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Metric:
    name: str
    kind: Literal["counter", "histogram", "gauge"]
    labels: tuple[str, ...]
    description: str

    @property
    def exported(self) -> str:
        """The name Prometheus sees."""
        return f"{self.name}_total" if self.kind == "counter" else self.name

    def attributes(self, labels: dict[str, str]) -> dict[str, str]:
        """The labels of one sample: exactly those declared (anything else is a mistake in the caller)."""
        if set(labels) != set(self.labels):
            raise ValueError(f"{self.name} takes labels {self.labels}, got {sorted(labels)}")
        return {k: str(v)[:64] for k, v in labels.items()}


REGISTRATIONS = Metric(
    "seller_registrations", "counter", ("outcome", "rule", "code"), "Registrations answered, by outcome"
)
REFUSALS = Metric(
    "seller_refusals", "counter", ("command", "rule", "code"), "Commands refused, by rule and reason code"
)
PHOTO_CHECKS = Metric(
    "seller_photo_checks", "counter", ("verdict", "reason"), "OPEN-1 photo checks, by verdict and reason"
)
PHOTO_CHECK_SECONDS = Metric(
    "seller_photo_check_duration_seconds", "histogram", (), "Time to check one OPEN-1 photo"
)
DUPLICATE_DECISION_SECONDS = Metric(
    "seller_duplicate_decision_duration_seconds", "histogram", (), "Time to decide one ASSOC-3 listing"
)
COPY_LINKS = Metric(
    "seller_copy_links", "counter", ("evidence",), "ASSOC-3 listings refused as copies, by evidence kind"
)
KNOWN_FACE_MATCHES = Metric(
    "seller_known_face_matches",
    "counter",
    ("kind",),
    "Known-faces matches (ASSOC-2 shared_face, photo reuse)",
)
# Review items (models/review.py), every kind, counted by the account workflow's own meter
# (workflows/reviews.py). Waiting = opened - decided; overdue and still waiting = overdue -
# decided{overdue="true"}. `decision` is approve, refuse, or resolved (closed by the account itself).
REVIEWS_OPENED = Metric("seller_reviews_opened", "counter", ("kind",), "Items put before an operator, by kind")
REVIEWS_DECIDED = Metric(
    "seller_reviews_decided",
    "counter",
    ("kind", "decision", "overdue"),
    "Items decided or resolved, by kind, decision and whether they had gone overdue",
)
REVIEWS_OVERDUE = Metric(
    "seller_reviews_overdue", "counter", ("kind",), "Items past their due time undecided (escalated), by kind"
)
REVIEW_WAIT_SECONDS = Metric(
    "seller_review_wait_seconds",
    "histogram",
    ("kind", "decision"),
    "Time an item waited, from its opening to its decision",
)
# Review waits are hours and days, not the SDK's milliseconds (telemetry.metrics_runtime uses these).
REVIEW_WAIT_BUCKETS = (60.0, 600.0, 3600.0, 4 * 3600.0, 8 * 3600.0, 86400.0, 3 * 86400.0, 7 * 86400.0)
# The outbox (workflows/effects.py): system effects that could not be written wait in the account's
# state until an operator's retry. Waiting = queued - retried (a retried effect that fails again is
# queued again), counted by the account workflow's own meter.
OUTBOX_QUEUED = Metric(
    "seller_outbox_queued", "counter", ("effect",), "Effects put in an account's outbox (audit, notice, bar, cascade)"
)
OUTBOX_RETRIED = Metric(
    "seller_outbox_retried", "counter", ("effect",), "Effects taken out of an outbox by a retry"
)
ENFORCEMENT_ACTIONS = Metric(
    "seller_enforcement_actions", "counter", ("action", "rule"), "Violations, freezes, closures, cascades"
)
TRANSITIONS = Metric(
    "seller_account_transitions", "counter", ("from_state", "to_state"), "Account state changes"
)
STEPS_NEEDING_ATTENTION = Metric(
    "seller_steps_needing_attention", "counter", ("rule",), "Steps that ran out of retries (NeedsAttention)"
)
CODEC_REQUESTS = Metric(
    "seller_codec_requests", "counter", ("route", "status"), "Codec server requests, by route and status"
)
FACE_TEMPLATES = Metric(
    "seller_face_templates", "gauge", (), "DATA-5: face templates held (the regulator's filing threshold)"
)
CODEC_REFUSALS = Metric("seller_codec_refusals", "counter", ("code",), "Codec server refusals, by code")

ALL: tuple[Metric, ...] = (
    REGISTRATIONS,
    REFUSALS,
    PHOTO_CHECKS,
    PHOTO_CHECK_SECONDS,
    DUPLICATE_DECISION_SECONDS,
    COPY_LINKS,
    KNOWN_FACE_MATCHES,
    REVIEWS_OPENED,
    REVIEWS_DECIDED,
    REVIEWS_OVERDUE,
    REVIEW_WAIT_SECONDS,
    OUTBOX_QUEUED,
    OUTBOX_RETRIED,
    ENFORCEMENT_ACTIONS,
    TRANSITIONS,
    STEPS_NEEDING_ATTENTION,
    FACE_TEMPLATES,
    CODEC_REQUESTS,
    CODEC_REFUSALS,
)

# Audit events (ENF-4) that are enforcement actions.
ENFORCEMENT_EVENTS = frozenset({"violation", "hold_added", "suspend", "close", "cascade", "reclaim"})

# The SDK's own metrics the dashboard uses (the exporter's names with the settings in
# activities/worker_support/telemetry.py); the observability test finds each on a real worker.
SDK_METRICS = (
    "temporal_workflow_task_schedule_to_start_latency",
    "temporal_workflow_task_execution_latency",
    "temporal_activity_schedule_to_start_latency",
    "temporal_activity_execution_latency",
    "temporal_worker_task_slots_available",
    "temporal_worker_task_slots_used",
    "temporal_sticky_cache_size",
    "temporal_workflow_completed_total",
)
