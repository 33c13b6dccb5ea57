"""The review queue from the command line (issues 25, 26), on the dev server with its search attributes:
a photo the check is unsure of waits for an operator (pending_review), who finds it in `review list`,
claims it and passes it; the account is authenticated and the audit names the operator."""

from __future__ import annotations

import asyncio
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

import seller_client
from devtools.smtp_sink import SmtpSink
from models.contract import VerifyEmailInput
from tests.conftest import new_worker
from tests.support.accounts import audit_rows, photo
from tests.support.polling import eventually
from tests.test_starter import registered
from workflows import search_attributes as sa
from workflows.seller_account import SellerAccount


async def test_a_photo_sent_to_review_is_passed_by_an_operator_from_the_queue(
    dev_env: WorkflowEnvironment, cli, mailbox: SmtpSink, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    async with new_worker(dev_env.client) as worker:
        member, reg = await registered(dev_env, worker.task_queue)
        code = await asyncio.to_thread(mailbox.latest_code, reg.email)  # type: ignore[attr-defined]
        await seller_client.command(dev_env.client, member, SellerAccount.verify_email, VerifyEmailInput(code))
        soft = photo(tmp_path, "soft_card", reg.id_card_number)  # type: ignore[attr-defined]

        # The check is unsure: not refused, pending an operator, with the item's id and due time.
        code, out = await cli("authenticate", member, str(soft))
        assert (code, out["state"]) == (6, "registered"), out
        item_id = out["review_item_id"]
        assert item_id.startswith("photo_review-")
        status = await seller_client.status(dev_env.client, member)
        (pending,) = status.requirements.pending_review
        assert (pending.requirement, pending.item_id) == ("authentication_photo", item_id)
        assert pending.due_at is not None and status.requirements.errors == []
        assert all(r.requirement != "authentication_photo" for r in status.requirements.currently_due)

        # The queue is a visibility query: the item shows up by due time.
        async def listed() -> list[str]:
            _, answer = await cli("review", "list", "--kind", "photo_review")
            return [i["item_id"] for i in answer["items"]]

        await eventually(listed, lambda ids: item_id in ids, "the item in the queue")
        code, shown = await cli("review", "show", member, item_id)
        assert code == 0 and shown["kind"] == "photo_review" and shown["rule"] == "OPEN-1"
        kinds = [e["kind"] for e in shown["evidence"]]
        assert kinds == ["authentication_photo", "photo_measures"]
        assert "card_sharpness" in shown["evidence"][1]["measures"]

        code, out = await cli("review", "decide", member, item_id, "approve", "--as-operator", "lin")
        assert code == 2  # --note is required
        code, out = await cli("review", "claim", member, item_id, "--as-operator", "lin")
        assert (code, out["state"], out["claimed_by"]) == (0, "claimed", "lin")
        code, out = await cli(
            "review", "decide", member, item_id, "refuse", "--as-operator", "lin", "--note", "x", "--code", "nope"
        )
        assert (code, out["refused"]["rule"], out["refused"]["code"]) == (3, "OPEN-1", "code_not_in_vocabulary")
        code, out = await cli(
            "review", "decide", member, item_id, "approve", "--as-operator", "lin", "--note", "card is sharp enough"
        )
        assert (code, out["decision"], out["decided_by"]) == (0, "approve", "lin"), out

        status = await seller_client.status(dev_env.client, member)
        assert status.state == "authenticated" and status.requirements.pending_review == []
        rows = [(r.event, r.reason, r.actor) for r in audit_rows(f"seller-{member}")]
        assert ("photo_sent_to_review", "photo_needs_review", "seller") in [(e, r, a.split(":")[0]) for e, r, a in rows]
        assert ("authenticate", "photo_passed_on_review", "operator:lin") in rows
        assert ("decide_review", "code_not_in_vocabulary", "operator:lin") in rows
        handle = seller_client.account(dev_env.client, member)
        described = await handle.describe()
        assert described.typed_search_attributes.get(sa.REVIEW_KINDS) in (None, [])
        _, answer = await cli("review", "list", "--kind", "photo_review")
        assert item_id not in [i["item_id"] for i in answer["items"]]
