"""The workflows call activities by reference (workflows/activity_refs.py) so that they never import the
modules that implement them: each reference must name an activity the worker registers, with the same
input and result types, or a workflow would schedule what no worker runs (or decode its answer wrongly)."""

from __future__ import annotations

import inspect
import typing

from temporalio.activity import _Definition
from temporalio.client import Client

from worker import ACTIVITIES, healing_activities
from workflows import activity_refs
from workflows.activity_refs import ActivityRef

REFS = [ref for ref in vars(activity_refs).values() if isinstance(ref, ActivityRef)]
REGISTERED = {
    _Definition.must_from_callable(fn).name: fn for fn in [*ACTIVITIES, *healing_activities(typing.cast(Client, None))]
}


def test_every_reference_is_a_registered_activity_with_its_types() -> None:
    assert len(REFS) >= 18
    for ref in REFS:
        fn = REGISTERED.get(ref.name)
        assert fn is not None, f"{ref.name}: no worker registers it"
        hints = typing.get_type_hints(fn)
        (param,) = inspect.signature(fn).parameters
        assert hints[param] == ref.input, f"{ref.name} takes {hints[param]}, the reference says {ref.input}"
        assert hints["return"] == ref.output, f"{ref.name} returns {hints['return']}, the reference says {ref.output}"


def test_an_activity_named_twice_or_misspelt_is_caught() -> None:
    wrong = ActivityRef[str, int]("record_audit_rows", str, int)
    assert wrong.name not in REGISTERED
    assert len({ref.name for ref in REFS}) == len(REFS)
