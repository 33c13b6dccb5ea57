"""Business metrics recorded where the work is done: in the worker, around each activity.

An interceptor reads what an activity was asked and what it answered, and counts it with the
activity's metric meter (the SDK's runtime: same endpoint as the SDK's metrics). Activities themselves
stay free of metric calls, and a metric can never fail an activity: recording errors are logged and
dropped. Activities run again only after a failure, so a completed answer is counted once (an answer
lost on its way back to the server and recomputed is the rare double count; Prometheus counters are
rates, not ledgers).

What is counted where (models/metrics.py declares the names):
- check_authentication_photo: OPEN-1 verdicts by verdict and reason, the check's duration, known-faces
  matches (accounts sharing the face; a photo another account used);
- list_product: the ASSOC-3 decision's duration, copies refused by the kind of evidence that matched;
- record_audit, record_audits: every audit row (ENF-4) is one event of the account's life: state changes,
  enforcement actions, steps that ran out of retries. One JSON log line per audit row, with its rule
  and code. (Review items and the outbox are counted by the account workflow itself, which sees the
  items it resolves without an audit row: workflows/metrics.py.)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from temporalio import activity
from temporalio.common import MetricMeter
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from models import metrics as m

log = logging.getLogger("seller.activities")


def count(meter: MetricMeter, metric: m.Metric, value: int = 1, **labels: str) -> None:
    meter.create_counter(metric.name, metric.description).add(value, metric.attributes(labels))


def observe_seconds(meter: MetricMeter, metric: m.Metric, seconds: float) -> None:
    meter.create_histogram_float(metric.name, metric.description, "s").record(seconds)


def _photo_check(meter: MetricMeter, args: tuple[Any, ...], result: Any, seconds: float) -> None:
    refusal = getattr(result, "refusal", None)
    verdict = getattr(result, "verdict", None) or ("pass" if getattr(result, "passed", False) else "refused")
    count(meter, m.PHOTO_CHECKS, verdict=str(verdict), reason=refusal.code if refusal else "")
    observe_seconds(meter, m.PHOTO_CHECK_SECONDS, seconds)
    if shared := len(getattr(result, "linked_member_ids", None) or ()):
        count(meter, m.KNOWN_FACE_MATCHES, shared, kind="shared_face")
    if refusal is not None and refusal.code == "photo_reused":
        count(meter, m.KNOWN_FACE_MATCHES, kind="photo_reused")


def _listing(meter: MetricMeter, args: tuple[Any, ...], result: Any, seconds: float) -> None:
    observe_seconds(meter, m.DUPLICATE_DECISION_SECONDS, seconds)
    refusal = getattr(result, "refusal", None)
    if refusal is None or refusal.rule != "ASSOC-3":
        return
    evidence = getattr(result, "evidence", None)
    if not evidence:  # rows decided before evidence was named: text when the texts matched
        evidence = "text" if getattr(result, "text_similarity", 0.0) >= 1.0 else "image"
    count(meter, m.COPY_LINKS, evidence=str(evidence))


def _audit(meter: MetricMeter, args: tuple[Any, ...], result: Any, seconds: float) -> None:
    _audit_row(meter, args[0])


def _audits(meter: MetricMeter, args: tuple[Any, ...], result: Any, seconds: float) -> None:
    for row in args[0].records:
        _audit_row(meter, row)


def _audit_row(meter: MetricMeter, row: Any) -> None:
    event, rule, code = row.event, row.rule, row.reason
    log.info(
        "audit %s %s %s",
        event,
        rule,
        code,
        extra={"workflow_id": row.workflow_id, "event": event, "rule": rule, "code": code},
    )
    if row.to_state and row.to_state != row.from_state:
        count(meter, m.TRANSITIONS, from_state=row.from_state or "", to_state=row.to_state)
    if event in m.ENFORCEMENT_EVENTS:
        count(meter, m.ENFORCEMENT_ACTIONS, action=event, rule=rule)
    if event in ("signal_refused", "signal_dropped"):
        count(meter, m.REFUSALS, command=event, rule=rule, code=code)
    if event == "needs_attention":
        count(meter, m.STEPS_NEEDING_ATTENTION, rule=rule)


RECORDERS: dict[str, Callable[[MetricMeter, tuple[Any, ...], Any, float], None]] = {
    "check_authentication_photo": _photo_check,
    "list_product": _listing,
    "record_audit": _audit,
    "record_audits": _audits,
}


class _Inbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        recorder = RECORDERS.get(activity.info().activity_type)
        started = time.monotonic()
        result = await super().execute_activity(input)
        if recorder is not None:
            try:
                recorder(activity.metric_meter(), tuple(input.args), result, time.monotonic() - started)
            except Exception as err:  # a metric never fails the work it measures
                log.warning("metric not recorded: %s", type(err).__name__)
        return result


class BusinessMetrics(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Inbound(next)
