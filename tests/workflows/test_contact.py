"""Issue 13 case 1: a malformed email or mobile is refused where it enters the account, with a rule and
a reason code, so it never reaches an activity or a mail header; the account keeps answering and
enforcement still applies. On the real time-skipping test server."""

from __future__ import annotations

import pytest
from temporalio.testing import WorkflowEnvironment

from models.contract import ChangeContactInput, RequestCodeInput
from tests.conftest import new_worker
from tests.support.accounts import audit_rows, closes, finish, refused, registered_identity, start_account
from tests.support.accounts import report_violation as violation
from tests.support.polling import until
from tests.support.signing import update
from workflows.seller_account import SellerAccount

HOSTILE_EMAILS = [
    "\n{email}",
    "\u2028{email}",
    "{email}\r\nBcc: everyone@example.com",
    "{email}\u2029",
    "{email}\x85",
    "Victim <{email}>",
    "{email}, other@example.com",
]


@pytest.mark.parametrize("template", HOSTILE_EMAILS)
async def test_hostile_code_request_is_refused_and_the_account_stays_enforceable(
    time_env: WorkflowEnvironment, template: str
) -> None:
    async with new_worker(time_env.client) as worker:
        h = await start_account(time_env, worker.task_queue)
        member = (await h.query(SellerAccount.status)).member_id
        who = registered_identity(member)
        rule, code = await refused(update(
            h, SellerAccount.request_email_code, RequestCodeInput(template.format(email=who.email))
        ))
        assert rule == "REG-6" and code in {"control_characters", "bad_email"}
        # Nothing was queued behind a stuck mail: the account answers and a serious violation closes it.
        assert (await h.query(SellerAccount.status)).state == "registered"
        await violation(h, "serious-after-mail", "ip", severity="serious", rule="ENF-1")
        status = await until(h, lambda s: s.state == "closed", "closed by the serious violation")
        assert status.closed_reason == "serious_violation"
        assert [(r.rule, r.reason) for r in await closes(h.id)] == [("ENF-1", "serious_violation")]
        await finish(h)


@pytest.mark.parametrize(
    ("kind", "value", "code"),
    [
        ("email", "\u2028new.owner@example.com", "control_characters"),
        ("email", "new.owner@example.com\nBcc: x@example.com", "control_characters"),
        ("email", "new owner@example.com", "bad_email"),
        ("mobile", "\u2028+86 139 1234 5670", "control_characters"),
        ("mobile", "+86 139\u00b71234\u00b75670", "non_ascii_characters"),
        ("mobile", "1-800-FLOWERS", "bad_mobile"),
    ],
)
async def test_hostile_contact_change_on_an_open_store_is_refused_and_enforcement_still_applies(
    time_env: WorkflowEnvironment, kind: str, value: str, code: str
) -> None:
    async with new_worker(time_env.client) as worker:
        h = await start_account(time_env, worker.task_queue, state="open")
        member = (await h.query(SellerAccount.status)).member_id
        registered_identity(member)
        rule, got = await refused(update(h, SellerAccount.change_contact, ChangeContactInput(kind, value)))
        assert (rule, got) == ("REG-6" if kind == "email" else "REG-11", code)
        # Refused by the validator: no activity ran and nothing was written for it.
        assert not [r for r in audit_rows(h.id) if r.event == "change_contact"]
        assert (await h.query(SellerAccount.status)).state == "open"
        await violation(h, "serious-after-contact", "ip", severity="serious", rule="ENF-1")
        await until(h, lambda s: s.state == "closed", "closed by the serious violation")
        await finish(h)


async def test_a_contact_change_to_another_sellers_mobile_spelt_differently_links_the_two(
    time_env: WorkflowEnvironment,
) -> None:
    async with new_worker(time_env.client) as worker:
        first = await start_account(time_env, worker.task_queue, state="open")
        second = await start_account(time_env, worker.task_queue, state="open")
        a = (await first.query(SellerAccount.status)).member_id
        b = (await second.query(SellerAccount.status)).member_id
        holder = registered_identity(a)
        registered_identity(b)
        national = holder.mobile.removeprefix("+86")
        alias = f"0086 {national[:3]} {national[3:7]} {national[7:]}"
        assert await refused(update(second, SellerAccount.change_contact, ChangeContactInput("mobile", alias))) == (
            "ASSOC-2",
            "identity_in_use",
        )
        links = [r for r in audit_rows(second.id) if r.event == "identity_link"]
        assert [(r.rule, r.reason, r.detail["linked_member_id"]) for r in links] == [
            ("ASSOC-2", "shared_mobile", a)
        ]
        await finish(first, second)
