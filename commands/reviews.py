"""The operators' review queue (issue 25): `review list|show|claim|decide`.

`list` asks Temporal's visibility for the accounts with open items (`ReviewKinds`), reads each one's
items (`review_items`) and prints them by due time, earliest first; `show` prints one item with its
evidence and history; `claim` and `decide` send the signed operator's command, which the account
refuses (exit 3, and an audit row naming the operator) if the item is gone, decided, claimed by someone
else, or the decision lacks a note or uses a code outside the rule's vocabulary.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import click
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

import seller_client
from models.contract import WORKFLOW_ID_PREFIX
from models.refusals import Refusal, RefusedError
from models.review import DECIDED, DECISIONS, KINDS, ClaimReviewInput, DecideReviewInput, ReviewItem
from workflows import search_attributes as sa
from workflows.seller_account import SellerAccount

from .common import Call, facade_command, operator_option, table

# The queue as a Web UI query: accounts with an item of any kind waiting.
QUEUE = "ReviewKinds IN ({})".format(", ".join(f"'{k}'" for k in KINDS))


async def account_items(client: Client, member_id: str) -> list[ReviewItem]:
    handle = seller_client.account(client, member_id)
    try:
        answer = await handle.query(SellerAccount.review_items)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise seller_client.UnknownMember(member_id) from None
        raise
    return list(answer.items)


async def queue(client: Client, *, kind: str | None, limit: int) -> list[ReviewItem]:
    """Open items of every account the visibility store lists, by due time (earliest first)."""
    query = f"ReviewKinds = '{kind}'" if kind else QUEUE
    members: list[tuple[datetime, str]] = []
    async for execution in client.list_workflows(f"{query} AND ExecutionStatus = 'Running'"):
        due = execution.typed_search_attributes.get(sa.REVIEW_DUE_AT) or datetime.max.replace(tzinfo=UTC)
        members.append((due, execution.id.removeprefix(WORKFLOW_ID_PREFIX)))
        if len(members) >= limit:
            break
    found: list[ReviewItem] = []
    for _, member_id in sorted(members):
        found += [
            i
            for i in await account_items(client, member_id)
            if i.state != DECIDED and (not kind or i.kind == kind)
        ]
    return sorted(found, key=lambda i: i.due_at)[:limit]


@click.group("review")
def review() -> None:
    """The review queue: list, show, claim and decide what waits for an operator."""


@facade_command("list", member=False, keyed=False)
@click.option("--kind", type=click.Choice(KINDS), help="only items of this kind")
@click.option("--limit", type=int, default=100, show_default=True)
async def list_items(call: Call, kind: str | None, limit: int) -> Any:
    """List open items by due time, earliest first (overdue ones are marked)."""
    items = await queue(await call.client(), kind=kind, limit=limit)
    if call.out.json:
        return {"items": [dataclasses.asdict(i) for i in items]}
    rows = [
        (
            i.item_id,
            i.kind,
            i.rule,
            i.member_id,
            i.due_at.isoformat(timespec="minutes"),
            "OVERDUE" if i.escalated else "",
            i.claimed_by or "",
        )
        for i in items
    ]
    print(
        table(rows, ["item", "kind", "rule", "member", "due", "", "claimed by"]) if rows else "nothing waits"
    )
    return 0


@facade_command("show", keyed=False)
@click.argument("item_id", metavar="ITEM")
async def show(call: Call, item_id: str) -> Any:
    """Show one item: its evidence (by reference), its state and its decision history."""
    items = await account_items(await call.client(), call.member_id)
    item = next((i for i in reversed(items) if i.item_id == item_id), None)
    if item is None:
        raise RefusedError(
            Refusal("ENF-4", "no_such_item", f"Account {call.member_id} has no review item {item_id}.")
        )
    shown = dataclasses.asdict(item)
    if not call.out.json:
        shown["evidence"] = [
            f"{e.kind}: {e.label}"
            + (f" {e.ref}" if e.ref else "")
            + (f" (text {e.text_key})" if e.text_key else "")
            for e in item.evidence
        ]
        shown["history"] = [
            f"{h.at.isoformat(timespec='seconds')} {h.event} by {h.actor}" + (f": {h.note}" if h.note else "")
            for h in item.history
        ]
    return shown


@facade_command("claim")
@click.argument("item_id", metavar="ITEM")
@operator_option("claim as this operator (an operator key is needed; recorded)")
@click.option("--release", is_flag=True, help="give the item back instead")
async def claim(call: Call, item_id: str, as_operator: str, release: bool) -> Any:
    """Claim an item, so that no one else decides it (or --release it)."""
    item = await call.update(
        SellerAccount.claim_review, ClaimReviewInput(item_id, as_operator, release), operator=as_operator
    )
    return _summary(item)


@facade_command("decide")
@click.argument("item_id", metavar="ITEM")
@click.argument("decision", type=click.Choice(DECISIONS))
@operator_option("decide as this operator (an operator key is needed; recorded)")
@click.option("--note", required=True, help="why (kept with the decision; required)")
@click.option("--code", help="for refuse: the reason code, from the rule's vocabulary")
async def decide(
    call: Call, item_id: str, decision: str, as_operator: str, note: str, code: str | None
) -> Any:
    """Decide an item: approve, or refuse with a reason code; the account carries the decision out."""
    inp = DecideReviewInput(item_id, decision, as_operator, note, code)
    item = await call.update(SellerAccount.decide_review, inp, operator=as_operator)
    return _summary(item)


def _summary(item: ReviewItem) -> dict[str, Any]:
    return {
        "item_id": item.item_id,
        "member_id": item.member_id,
        "kind": item.kind,
        "state": item.state,
        "claimed_by": item.claimed_by,
        "decision": item.decision,
        "decision_code": item.decision_code,
        "decided_by": item.decided_by,
    }


for _command in (list_items, show, claim, decide):
    review.add_command(_command)
COMMANDS: list[click.Command] = [review]
