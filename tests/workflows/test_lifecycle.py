"""The state chart: every allowed transition, and the refusal of every other event (OPEN-4)."""

from __future__ import annotations

import pytest

from models.account_state import ChartModel
from models.refusals import RefusedError
from workflows.lifecycle import LifecycleChart, SellerLifecycle

EVENTS = sorted({e.id for e in SellerLifecycle.events})

# (state, resume_state, products_released) -> {event: expected target}; everything else must refuse.
ALLOWED: dict[tuple[str, str | None, int], dict[str, str]] = {
    ("registered", None, 0): {
        "authenticate": "authenticated",
        "reclaim": "closed",
        "suspend": "suspended",
        "close": "closed",
    },
    ("authenticated", None, 0): {
        "pass_exam": "exam_passed",
        "go_dormant": "dormant",
        "suspend": "suspended",
        "close": "closed",
    },
    ("exam_passed", None, 3): {
        "release_product": "exam_passed",
        "go_dormant": "dormant",
        "suspend": "suspended",
        "close": "closed",
    },
    ("exam_passed", None, 9): {
        "release_product": "ten_products",
        "go_dormant": "dormant",
        "suspend": "suspended",
        "close": "closed",
    },
    ("ten_products", None, 10): {
        "open_store": "open",
        "go_dormant": "dormant",
        "suspend": "suspended",
        "close": "closed",
    },
    ("open", None, 10): {
        "release_product": "open",
        "go_dormant": "dormant",
        "suspend": "suspended",
        "close": "closed",
    },
    ("dormant", "exam_passed", 4): {"wake": "exam_passed", "suspend": "suspended", "close": "closed"},
    ("dormant", "open", 10): {"wake": "open", "suspend": "suspended", "close": "closed"},
    ("suspended", "registered", 0): {"reinstate": "registered", "close": "closed"},
    ("suspended", "open", 10): {"reinstate": "open", "close": "closed"},
    ("suspended", "dormant:authenticated", 0): {"reinstate": "dormant", "close": "closed"},
    ("closed", None, 0): {},
}


def chart_at(state: str, resume: str | None, products: int) -> LifecycleChart:
    return LifecycleChart(ChartModel(state=state, resume_state=resume, products_released=products))


@pytest.mark.parametrize("case", list(ALLOWED), ids=lambda c: f"{c[0]}-{c[1]}-{c[2]}")
def test_allowed_transitions_reach_their_target(case: tuple[str, str | None, int]) -> None:
    for event, target in ALLOWED[case].items():
        chart = chart_at(*case)
        assert chart.allows(event)
        assert chart.fire(event) == (case[0], target)
        assert chart.model.state == target


@pytest.mark.parametrize("case", list(ALLOWED), ids=lambda c: f"{c[0]}-{c[1]}-{c[2]}")
def test_every_other_event_is_refused_naming_state_and_rule(case: tuple[str, str | None, int]) -> None:
    for event in set(EVENTS) - set(ALLOWED[case]):
        chart = chart_at(*case)
        assert not chart.allows(event)
        with pytest.raises(RefusedError) as err:
            chart.fire(event)
        assert err.value.refusal.rule == "OPEN-4"
        assert err.value.refusal.code == "not_allowed_in_state"
        assert case[0] in err.value.refusal.message
        assert chart.model.state == case[0], "a refused event must not move the chart"


def test_dormant_and_suspended_return_to_the_state_they_interrupted() -> None:
    chart = chart_at("open", None, 10)
    chart.fire("go_dormant")
    chart.fire("suspend")  # a hold on a dormant store
    assert chart.model.resume_state == "dormant:open"
    chart.fire("reinstate")
    assert chart.model.state == "dormant"
    chart.fire("wake")
    assert (chart.model.state, chart.model.resume_state) == ("open", None)


def test_chart_rebuilt_from_its_stored_value_runs_no_initial_callbacks() -> None:
    model = ChartModel(state="exam_passed", products_released=9)
    chart = LifecycleChart(model)
    assert chart.state == "exam_passed" and model.products_released == 9
    chart.fire("release_product")
    assert (model.state, model.products_released) == ("ten_products", 10)


def test_the_tenth_product_reaches_ten_products_counting_from_zero() -> None:
    chart = chart_at("exam_passed", None, 0)
    states = [chart.fire("release_product")[1] for _ in range(10)]
    assert states == ["exam_passed"] * 9 + ["ten_products"]
