"""Where the evidence page reads from: Temporal (visibility for the queue, the account's `review_items`
and `status` queries, its history for what the seller sent) and the registry (links, listings, the
audit's decisions).

Items: the account's `review_items` query (models/review.py), and the texts they name through its
`review_text` query. An account that answers neither (one whose run began before review items) has its
appeals read from its history instead, one `appeal-<case id>` item per appeal filed, with the letter and
the opening information from the appeal's update input (encrypted in history, decoded by the codec
server's own converter); they are never copied anywhere else.

Identity values are never read: an ASSOC-2 link says which kind of identity is shared (its `reason`),
and that is all the page shows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, or_, select
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError

import seller_client
from activities.storage.db import engine
from models import review
from models.auth import Credential
from models.contract import (
    WORKFLOW_ID_PREFIX,
    AccountStatus,
    AppealDecisionInput,
    AppealInput,
    AssociationCaseInput,
)
from models.products import Product
from models.refusals import Refusal, RefusedError
from models.review import ReviewEvidence, ReviewItem
from models.tables import AccountLink, AuditRecord

log = logging.getLogger("evidence")

# The queue: accounts with something waiting for a person. `ReviewKinds` once the account publishes
# review items (models/review.py), `OpenCase` for accounts from before them.
QUEUE_QUERIES = (
    "ExecutionStatus = 'Running' AND (ReviewKinds IN ({}) OR OpenCase = true)".format(
        ", ".join(f"'{k}'" for k in review.KINDS)
    ),
    "ExecutionStatus = 'Running' AND OpenCase = true",
)
MAX_QUEUE_ACCOUNTS = 200
# Until an account's own items say when an appeal is due (review_items), the page shows this period.
APPEAL_REVIEW_DAYS = 3.0
# ASSOC-2 causes name the kind of identity shared; the page shows the kind, never the value.
IDENTITY_KINDS = {
    "shared_email": "email address",
    "shared_mobile": "mobile number",
    "shared_licence": "business licence",
    "shared_id_card": "ID card",
    "shared_face": "face (biometric match)",
    "licence": "business licence",
    "id_card": "ID card",
    "mobile": "mobile number",
    "email": "email address",
}


@dataclass
class Listing:
    """One side of an ASSOC-3 match: the listing as the marketplace shows it (seller-written title)."""

    product_id: str
    member_id: str
    title: str
    image_ref: str | None


@dataclass
class Link:
    rule: str
    reason: str
    other_member_id: str
    shared_identity: str | None = None  # ASSOC-2: the kind shared (never the value)
    listings: list[Listing] = field(default_factory=list)  # ASSOC-3: the two listings
    matched_by: str = ""  # ASSOC-3: which evidence matched (text, image, ...)


@dataclass
class Appeal:
    case_id: str
    at: datetime
    opening_info: str
    letter: str
    invoice_refs: list[str]


@dataclass
class Account:
    """One account as the page shows it: its state, its items, and what its history and the registry
    hold about them."""

    workflow_id: str
    member_id: str
    status: AccountStatus | None
    items: list[ReviewItem]
    appeals: dict[str, Appeal] = field(default_factory=dict)  # by case id
    cases: dict[str, AssociationCaseInput] = field(default_factory=dict)  # by case id
    decisions: list[AuditRecord] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)  # by text_key: what the items name
    from_account: bool = True  # the items are the account's own (review_items), not read from history

    def item(self, item_id: str) -> ReviewItem | None:
        return next((i for i in self.items if i.item_id == item_id), None)

    def text(self, item: ReviewItem, key: str | None) -> str | None:
        """A text an item names (`text_key`): what the seller wrote."""
        return self.texts.get(key) if key is not None else None


def member_of(workflow_id: str) -> str:
    return workflow_id.removeprefix(WORKFLOW_ID_PREFIX)


def case_of(item: ReviewItem) -> str:
    return item.item_id.removeprefix(f"{item.kind}-")


async def queue(client: Client) -> list[tuple[Account, ReviewItem]]:
    """Open items of every account that has some, soonest due first."""
    ids: list[str] = []
    for query in QUEUE_QUERIES:
        try:
            ids = [w.id async for w in client.list_workflows(query, limit=MAX_QUEUE_ACCOUNTS)]
            break
        except RPCError as err:  # ReviewKinds not registered on this namespace yet
            log.info("queue query refused (%s): trying the next", err.message[:120])
    rows: list[tuple[Account, ReviewItem]] = []
    for workflow_id in dict.fromkeys(ids):
        try:
            account = await read_account(client, workflow_id)
        except RPCError as err:
            log.warning("queue: %s unreadable (%s)", workflow_id, err.status)
            continue
        rows += [(account, i) for i in account.items if i.state != review.DECIDED]
    return sorted(rows, key=lambda r: r[1].due_at)


async def read_account(client: Client, workflow_id: str) -> Account:
    handle = client.get_workflow_handle(workflow_id)
    member = member_of(workflow_id)
    try:
        status: AccountStatus | None = await handle.query("status", result_type=AccountStatus)
    except RPCError:
        status = None  # a closed account answers no query once its worker is gone
    appeals, cases, decided = await _history(client, handle)
    items = await _items(handle)
    account = Account(workflow_id, member, status, items or [], appeals, cases, decisions(workflow_id))
    if items is None:
        account.from_account = False
        account.items = _appeal_items(member, appeals, decided, status)
        for a in appeals.values():
            account.texts[letter_key(a.case_id)] = a.letter
            account.texts[opening_key(a.case_id)] = a.opening_info
    else:
        for key in {e.text_key for i in items for e in i.evidence if e.text_key}:
            try:
                answer = await handle.query("review_text", key, result_type=review.ReviewText)
            except RPCError:
                continue
            if answer.text is not None:
                account.texts[key] = answer.text
    return account


def letter_key(case_id: str) -> str:
    return f"appeal-letter-{case_id}"  # as the account keys it (workflows/reviews.py)


def opening_key(case_id: str) -> str:
    return f"appeal-opening-{case_id}"


async def _items(handle: WorkflowHandle) -> list[ReviewItem] | None:
    try:
        answer = await handle.query("review_items", result_type=review.ReviewItems)
        return list(answer.items)
    except Exception:  # noqa: BLE001  (an account from before review items: unknown query)
        return None


async def _history(
    client: Client, handle: WorkflowHandle
) -> tuple[dict[str, Appeal], dict[str, AssociationCaseInput], set[str]]:
    """Appeals, cases and decided case ids from the current run's history."""
    appeals: dict[str, Appeal] = {}
    cases: dict[str, AssociationCaseInput] = {}
    decided: set[str] = set()
    converter = client.data_converter
    async for e in handle.fetch_history_events():
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            request = e.workflow_execution_update_accepted_event_attributes.accepted_request
            name, payloads = request.input.name, list(request.input.args.payloads)
            at = e.event_time.ToDatetime(tzinfo=UTC)
            if name == "appeal":
                inp = await _decoded(converter, payloads, AppealInput)
                if isinstance(inp, AppealInput):
                    appeals[inp.case_id] = Appeal(
                        inp.case_id, at, inp.store_opening_info, inp.letter, inp.invoice_refs
                    )
            elif name == "decide_appeal":
                d = await _decoded(converter, payloads, AppealDecisionInput)
                if isinstance(d, AppealDecisionInput):
                    decided.add(d.case_id)
        elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            attrs = e.workflow_execution_signaled_event_attributes
            if attrs.signal_name == "open_case":
                c = await _decoded(converter, list(attrs.input.payloads), AssociationCaseInput)
                if isinstance(c, AssociationCaseInput):
                    cases[c.case_id] = c
    return appeals, cases, decided


async def _decoded(converter: Any, payloads: list[Any], kind: type) -> Any:
    try:
        values = await converter.decode(payloads, [kind])
        return values[0] if values else None
    except Exception:  # noqa: BLE001  (a payload this key set cannot read, or malformed: not evidence)
        return None


def _appeal_items(
    member: str, appeals: dict[str, Appeal], decided: set[str], status: AccountStatus | None
) -> list[ReviewItem]:
    items = []
    open_cases = set(status.open_cases) if status is not None else set()
    for appeal in appeals.values():
        done = appeal.case_id in decided or appeal.case_id not in open_cases
        evidence = [
            ReviewEvidence("letter", "the seller's letter", text_key=letter_key(appeal.case_id)),
            ReviewEvidence("opening_info", "store-opening information", text_key=opening_key(appeal.case_id)),
            *(
                ReviewEvidence("invoice", f"Invoice {n}", ref=ref)
                for n, ref in enumerate(appeal.invoice_refs, 1)
            ),
        ]
        items.append(
            ReviewItem(
                item_id=f"{review.APPEAL}-{appeal.case_id}",
                kind=review.APPEAL,
                rule="ASSOC-5",
                member_id=member,
                opened_at=appeal.at,
                due_at=appeal.at + timedelta(days=APPEAL_REVIEW_DAYS),
                state=review.DECIDED if done else review.OPEN,
                evidence=evidence,
            )
        )
    return items


def decisions(workflow_id: str) -> list[AuditRecord]:
    """The account's decisions and what led to them: its ASSOC audit rows (cases, appeals, decisions)."""
    with Session(engine()) as session:
        rows = session.exec(
            select(AuditRecord)
            .where(AuditRecord.workflow_id == workflow_id)
            .where(or_(col(AuditRecord.rule).startswith("ASSOC"), col(AuditRecord.rule) == "OPEN-1"))
            .order_by(col(AuditRecord.seq))
        )
        return list(rows)


def links(member_id: str, other_member_id: str | None) -> list[Link]:
    """The registry's links of this account (to `other_member_id`, when given), with the kind of identity
    shared (ASSOC-2) or the two listings that matched (ASSOC-3)."""
    found: list[Link] = []
    with Session(engine()) as session:
        rows = session.exec(
            select(AccountLink).where(
                or_(AccountLink.member_a == member_id, AccountLink.member_b == member_id)
            )
        ).all()
        for row in rows:
            other = row.member_b if row.member_a == member_id else row.member_a
            if other_member_id is not None and other != other_member_id:
                continue
            link = Link(row.rule, row.reason, other)
            if row.rule == "ASSOC-2":
                link.shared_identity = IDENTITY_KINDS.get(row.reason) or IDENTITY_KINDS.get(
                    row.evidence, "identity"
                )
            elif row.rule == "ASSOC-3":
                pair, _, by = row.evidence.partition(" by ")
                link.matched_by = by
                for product_id in filter(None, pair.split("~")):
                    product = session.get(Product, product_id)
                    if product is not None:
                        link.listings.append(
                            Listing(product_id, product.member_id, product.title, product.image_ref)
                        )
                    else:  # the refused listing was never stored: its id is all there is
                        link.listings.append(Listing(product_id, "", "", None))
            found.append(link)
    return found


async def decide(
    client: Client,
    account: Account,
    item: ReviewItem,
    *,
    approve: bool,
    note: str,
    operator: str,
    sign: Callable[[Any], Credential],
    request_id: str,
    code: str | None = None,
) -> Refusal | None:
    """The operator's decision, sent as the account's update under the operator's signed credential;
    the refusal when the account refuses it. The request id keys it: a form sent twice decides once."""
    handle = client.get_workflow_handle(account.workflow_id)
    name = decision_command(account)
    arg: Any
    if name == "decide_appeal":
        arg = AppealDecisionInput(case_of(item), approve, operator, note)
    else:
        arg = review.DecideReviewInput(
            item.item_id,
            review.APPROVE if approve else review.REFUSE,
            operator,
            note,
            code=None if approve else code,
        )
    arg = replace(arg, auth=sign(arg))  # the credential names this very message (security/binding.py)
    try:
        await seller_client.keyed_update(handle, name, arg, request_id)
    except RefusedError as err:
        return err.refusal
    except WorkflowUpdateFailedError as err:
        return seller_client.as_refusal(err) or Refusal(
            item.rule, "refused", "The account refused the decision."
        )
    return None


async def claim(
    client: Client,
    account: Account,
    item: ReviewItem,
    *,
    operator: str,
    sign: Callable[[Any], Credential],
    release: bool,
    request_id: str,
) -> Refusal | None:
    """Take the item (or give it back), so two operators do not decide it twice; the refusal if any."""
    arg = review.ClaimReviewInput(item.item_id, operator, release)
    arg = replace(arg, auth=sign(arg))
    try:
        await seller_client.keyed_update(client.get_workflow_handle(account.workflow_id), "claim_review", arg, request_id)
    except RefusedError as err:
        return err.refusal
    except WorkflowUpdateFailedError as err:
        return seller_client.as_refusal(err) or Refusal("ENF-4", "refused", "The account refused the claim.")
    return None


def decision_command(account: Account) -> str:
    """The update a decision goes by: `decide_review` for the account's own items; `decide_appeal` for
    an appeal read from the history of an account from before review items."""
    return "decide_review" if account.from_account else "decide_appeal"
