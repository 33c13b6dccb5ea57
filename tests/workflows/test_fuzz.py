"""Random and malformed payloads to every signal and update of a live account, on the real
time-skipping test server (issue 13). The payloads go raw (plain JSON through the client), past the
dataclasses, as a hostile or careless caller would send them. After each barrage: the account still
answers its status query, a following serious violation still closes it, and no workflow task ever
failed.

Payloads are drawn by hypothesis with `derandomize=True`: the same payloads on every run.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from models import boundary, limits
from models.contract import BanInput, ClosureReport
from models.policy import StepsPolicy
from models.refusals import RefusedError
from tests.conftest import new_worker
from tests.support import signing
from tests.support.accounts import POLICY, finish, serious_violation_closes, start_account, task_failures
from tests.support.draws import hex_id
from tests.support.polling import until

# A short retry budget: a payload that sends a step after a missing file fails in seconds, not minutes.
FUZZ_POLICY = dataclasses.replace(POLICY, steps=StepsPolicy(retry_budget_seconds=3, max_attempts=3))
BLOB = "sha256:" + "ab" * 32

# ---------------------------------------------------------------- values, hostile and plausible

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**63, 2**63 - 1, -(2**63), 2**64, limits.POINTS_MAX, limits.POINTS_MAX + 1]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.text(min_size=60, max_size=300),
    st.sampled_from(
        [
            "",
            " ",
            "\n",
            "\u2028x@example.com",
            "x\x00y",
            "2026-11-01T00:00:00",
            "2026-11-01T00:00:00+00:00",
            "2026-13-45T99:00:00Z",
            "9999-12-31T23:59:59+14:00",
            "0001-01-01T00:00:00-12:00",
            "operator:" + "o" * 58,
            "ENF-" + "9" * 20,
            BLOB,
            "sha256:zz",
        ]
    ),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=12,
)

# Hypothesis leans towards the first of several choices: the hostile ones come first.
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "violation_id": st.text("abc123-", min_size=1, max_size=8).map(lambda t: "v" + t),
    "report_id": st.text("abc123-", min_size=1, max_size=8),
    "case_id": st.sampled_from(["c-1", "c-2", "c" * limits.CASE_ID, "ASSOC-3:dup:M1:M2"]),
    # No strikes and few points: the barrage must not close the account before it is over.
    "category": st.sampled_from(["ip", "trade", "listing", "false_buyer", "other"]),
    "rule": st.sampled_from(["ENF-2", "ENF-1", "REG-3", "REG-9", "REG-10", "ASSOC-3", "ASSOC-4", "X-1"]),
    "points": st.one_of(st.sampled_from([2**63, 2**64 + 1]), st.integers(min_value=-1, max_value=3)),
    "severity": st.sampled_from(["normal", "normal", "fatal"]),
    "evidence_ref": st.text(max_size=20),
    "given_at": st.sampled_from(
        ["2026-11-01T00:00:00", "2026-11-01T00:00:00+00:00", "2031-01-01T00:00:00Z", None]
    ),
    "reason": st.sampled_from(["account_rental", "alibaba_closure", ""]),
    "reported_by": st.text(max_size=10),
    "cause": st.sampled_from(["duplicate_product", "shared_email", "Bad Cause", "c" * 40]),
    "linked_member_id": st.sampled_from(["MAAAAAAAAAAAAAAAA", "M" + "B" * 16, "", "x y"]),
    "origin_member_id": st.sampled_from(["MAAAAAAAAAAAAAAAA", "M" * 40]),
    "via_member_id": st.sampled_from(["MAAAAAAAAAAAAAAAA", "MCCCCCCCCCCCCCCCC"]),
    "origin_reason": st.sampled_from(["serious_violation", "linked_ban"]),
    "chain": st.lists(st.sampled_from(["MAAAAAAAAAAAAAAAA", "MDDDDDDDDDDDDDDDD"]), max_size=3),
    "channel": st.sampled_from(["marketplace", "messenger", "fax"]),
    "ip": st.sampled_from(["203.0.113.7", "2001:db8::1", "999.1.1.1", ""]),
    "device_id": st.text(max_size=12),
    "code": st.sampled_from(["123456", "000000", "12345", "abcdef", " 123456 "]),
    "email": st.sampled_from(["someone@example.com", "\nsomeone@example.com", "not-an-email"]),
    "kind": st.sampled_from(["email", "mobile", "fax"]),
    "value": st.sampled_from(["new@example.com", "+8613800000000", "\u2028new@example.com", "x"]),
    "photo_ref": st.sampled_from([BLOB, "sha256:00", "../../etc/passwd"]),
    "paper_id": st.text(max_size=10),
    "answers": st.lists(st.integers(min_value=-2, max_value=5), max_size=25),
    "title": st.text(max_size=30),
    "description": st.text(max_size=30),
    "price": st.sampled_from(["19.90", "0", "-1", "1e9", "NaN", "abc"]),
    "image_ref": st.sampled_from([BLOB, "sha256:1"]),
    "product_id": st.sampled_from(["P1", "x" * 60]),
    "store_opening_info": st.text(max_size=30),
    "invoice_refs": st.lists(st.sampled_from([BLOB, "nope"]), max_size=3),
    "letter": st.text(max_size=40),
    "approved": st.booleans(),
    "operator": st.sampled_from(["lin", "", "o" * 56, "o" * limits.OPERATOR_NAME]),
    "note": st.text(max_size=20),
}

FIELDS: dict[str, list[str]] = {
    # signals
    "report_violation": [
        "violation_id",
        "category",
        "rule",
        "points",
        "severity",
        "evidence_ref",
        "given_at",
    ],
    "report_closure": ["report_id", "rule", "reason", "evidence_ref", "reported_by"],
    "open_case": ["case_id", "cause", "linked_member_id", "rule"],
    "ban": ["origin_member_id", "via_member_id", "origin_reason", "chain"],
    "login": ["channel", "ip", "device_id"],
    # updates
    "verify_email": ["code"],
    "request_email_code": ["email"],
    "change_contact": ["kind", "value"],
    "submit_authentication_photo": ["photo_ref"],
    "unbind_identity": ["reason"],
    "start_exam": [],
    "submit_exam": ["paper_id", "answers"],
    "release_product": ["title", "description", "price", "category", "image_ref"],
    "remove_product": ["product_id"],
    "appeal": ["case_id", "store_opening_info", "invoice_refs", "letter"],
    "decide_appeal": ["case_id", "approved", "operator", "note"],
    "retry": ["operator"],
}
SIGNALS = ["report_violation", "report_closure", "open_case", "ban", "login"]
UPDATES = [name for name in FIELDS if name not in SIGNALS]
# Signals that close the account on a valid payload would end the barrage at the first one: they are
# sent only in shapes their declaration refuses (their valid shapes closing is tested below).
CLOSING = {"report_closure", "ban"}


def field_value(name: str) -> st.SearchStrategy[Any]:
    plausible = PLAUSIBLE.get(name, st.text(max_size=20))
    return st.one_of(plausible, plausible, json_values)


# A well-formed payload per message (one that does not close the account): the barrage changes one
# field at a time, so that every hostile value reaches the code behind the boundary too.
VALID: dict[str, dict[str, Any]] = {
    "report_violation": {"violation_id": "v", "category": "listing", "rule": "ENF-2", "points": 1},
    "report_closure": {"report_id": "r", "rule": "REG-9", "reason": "account_rental"},
    "open_case": {"case_id": "c-1", "cause": "duplicate_product", "linked_member_id": "MAAAAAAAAAAAAAAAA"},
    "ban": {
        "origin_member_id": "MAAAAAAAAAAAAAAAA",
        "via_member_id": "MAAAAAAAAAAAAAAAA",
        "origin_reason": "x",
    },
    "login": {"channel": "marketplace", "ip": "203.0.113.7"},
    "verify_email": {"code": "123456"},
    "request_email_code": {"email": "someone@example.com"},
    "change_contact": {"kind": "mobile", "value": "+8613800000000"},
    "submit_authentication_photo": {"photo_ref": BLOB},
    "unbind_identity": {"reason": "moving"},
    "start_exam": {},
    "submit_exam": {"paper_id": "p", "answers": [0] * 20},
    "release_product": {
        "title": "Tea pot",
        "description": "Clay",
        "price": "19.90",
        "category": "home",
        "image_ref": BLOB,
    },
    "remove_product": {"product_id": "P1"},
    "appeal": {
        "case_id": "c-1",
        "store_opening_info": "Opened 2024",
        "invoice_refs": [BLOB],
        "letter": "x" * 30,
    },
    "decide_appeal": {"case_id": "c-1", "approved": True, "operator": "lin"},
    "retry": {"operator": "ops"},
}
HOSTILE_VALUES: list[Any] = [
    "2026-11-01T00:00:00",  # no time zone
    2**63,
    2**64 + 1,
    -1,
    "x" * 300,
    "o" * 58,
    "",
    None,
    [],
    {},
    "\u2028x",
    "\nx",
    1.5,
    True,
]
HOSTILE = st.sampled_from(HOSTILE_VALUES)


def every_field_off(message: str) -> list[list[Any]]:
    """Systematically: each field of the valid payload replaced by each hostile value, and dropped."""
    base = VALID[message]
    calls = [
        [_one_field_off(base, name, value, False)] for name in FIELDS[message] for value in HOSTILE_VALUES
    ]
    calls += [[_one_field_off(base, name, None, True)] for name in FIELDS[message]]
    return calls + [[base]]


def _one_field_off(base: dict[str, Any], name: str, value: Any, drop: bool) -> dict[str, Any]:
    if drop:
        return {k: v for k, v in base.items() if k != name}
    return base | {name: value}


def payload(message: str) -> st.SearchStrategy[Any]:
    """Mostly the valid payload with one field made hostile or dropped, else a random subset of
    fields with extra keys, or any JSON at all."""
    base = VALID[message]
    names = list(FIELDS[message]) + ["unexpected"]
    mutated = st.tuples(
        st.sampled_from(names), st.one_of(HOSTILE, json_values), st.sampled_from([False, False, True])
    ).map(lambda t: _one_field_off(base, *t))
    subset = st.fixed_dictionaries(
        {}, optional={n: field_value(n) for n in FIELDS[message]} | {"unexpected": json_values}
    )
    return st.one_of(mutated, mutated, mutated, subset, json_values)


def args(message: str) -> st.SearchStrategy[list[Any]]:
    """The call's arguments: usually one payload, sometimes none or two."""
    return st.one_of(
        payload(message).map(lambda p: [p]),
        st.just([]),
        st.tuples(payload(message), json_values).map(list),
    )


def _refused(message: str, call: list[Any]) -> bool:
    cls = {"report_closure": ClosureReport, "ban": BanInput}[message]
    try:
        boundary.parse(cls, call[0] if len(call) == 1 else None)
    except RefusedError:
        return True
    return False


def drawn(message: str, count: int) -> list[list[Any]]:
    """`count` argument lists for `message`, drawn by hypothesis deterministically."""
    calls: list[list[Any]] = []

    @settings(
        derandomize=True,
        max_examples=count,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        deadline=None,
    )
    @given(args(message))
    def collect(call: list[Any]) -> None:
        calls.append(call)

    collect()
    return calls[:count]


async def send(handle: WorkflowHandle, message: str, call: list[Any], n: int) -> str:
    for key in ("violation_id", "report_id"):  # a repeated id counts once: keep each one applied
        if call and isinstance(call[0], dict) and isinstance(call[0].get(key), str) and len(call[0][key]) < 8:
            call[0][key] += f"-{n}"
    call = [signing.raw(handle, message, a) for a in call]  # a valid credential: the payload is fuzzed
    if message in SIGNALS:
        await handle.signal(message, args=call)
        return "signalled"
    try:
        await asyncio.wait_for(
            handle.execute_update(message, args=call, id=signing.update_id(message)), timeout=60
        )
        return "accepted"
    except WorkflowUpdateFailedError:
        return "refused"
    except RPCError as err:  # e.g. a payload the server itself turns down
        return f"rpc:{err.status.name}"


@pytest.mark.parametrize(
    ("message", "state"),
    [(m, "open") for m in SIGNALS]
    + [(m, "registered") for m in ("verify_email", "request_email_code", "change_contact", "unbind_identity")]
    + [(m, "authenticated") for m in ("start_exam", "submit_exam")]
    + [(m, "exam_passed") for m in ("release_product", "remove_product", "submit_authentication_photo")]
    + [(m, "suspended") for m in ("appeal", "decide_appeal", "retry")],
)
async def test_random_payloads_never_wedge_the_account(
    time_env: WorkflowEnvironment, message: str, state: str
) -> None:
    calls = every_field_off(message) + drawn(message, 60 if message in SIGNALS else 25)
    if message in CLOSING:
        calls = [c for c in calls if _refused(message, c)]
    async with new_worker(time_env.client) as worker:
        h = await start_account(time_env, worker.task_queue, state=state, policy=FUZZ_POLICY)
        outcomes = [await send(h, message, call, n) for n, call in enumerate(calls)]
        # Still answers (until() waits out a query that queues behind the barrage; a wedged account never answers).
        status = await until(h, lambda s: True, "answers its status query")
        assert status.state != "closed", "the barrage reached a live account to the end"
        if message in UPDATES:
            assert "refused" in outcomes, "the malformed ones are refused"
        await serious_violation_closes(h)
        failures = await task_failures(h)
        assert failures == [], f"{message}: workflow task failed: {failures[:3]}"
        await finish(h)


async def test_plausible_closing_signals_still_close(time_env: WorkflowEnvironment) -> None:
    async with new_worker(time_env.client) as worker:
        h = await start_account(time_env, worker.task_queue, state="open", policy=FUZZ_POLICY)
        await h.signal(
            "report_closure",
            signing.raw(h, "report_closure", {"report_id": hex_id(8), "rule": "REG-9", "reason": "x"}),
        )
        status = await until(h, lambda s: s.state == "closed", "closed by the report")
        assert (status.state, status.closed_reason) == ("closed", "account_rental")
        assert await task_failures(h) == []
        await finish(h)
