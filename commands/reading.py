"""Commands that read and change nothing: the account's status (a query) and the registry's records."""

from __future__ import annotations

import dataclasses

import click
from sqlmodel import Session, select
from temporalio.service import RPCError, RPCStatusCode

import seller_client
from activities.identity_registry import linked_accounts
from activities.storage.db import engine
from models.contract import Requirement, Requirements
from models.tables import Account, AccountLink, AuditRecord, Notice

from .common import MEMBER, Answer, Call, Output, facade_command, pass_output, request_id_option, table


def registered(member_id: str) -> Account | None:
    with Session(engine()) as session:
        return session.get(Account, member_id)


@facade_command("status", keyed=False)
async def status(call: Call) -> Answer:
    """The account's state, reasons and what it is waiting for.

    An account whose workflow is no longer retained (after closing) answers from the registry; an
    unknown member id exits with status 4.
    """
    try:
        found = await seller_client.status(await call.client(), call.member_id)
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        account = registered(call.member_id)
        if account is None:
            return call.out.unknown_member(call.member_id)
        # The workflow is gone (retention after closing): the registry keeps the final state.
        return {
            "member_id": account.member_id,
            "state": account.state,
            "closed_reason": account.closed_reason,
            "source": "registry (the account's workflow is no longer retained)",
        }
    if call.out.json:
        return found
    call.out.show({k: v for k, v in dataclasses.asdict(found).items() if k != "requirements"})
    print(requirements_text(found.requirements))
    return 0


def requirements_text(needs: Requirements) -> str:
    """The requirements block of `status`: one line per requirement, error and disabled reason."""

    def when(r: Requirement) -> str:
        return f" by {r.due_at.isoformat(timespec='seconds')}" if r.due_at else ""

    lines = ["requirements:"]
    for title, items in (
        ("currently due", needs.currently_due),
        ("past due", needs.past_due),
        ("eventually due", needs.eventually_due),
        ("pending review", needs.pending_review),
    ):
        lines += [f"  {title}: {r.requirement} ({r.rule}) {r.description}{when(r)}" for r in items]
    for e in needs.errors:
        again = "retryable" if e.retryable else "final"
        lines.append(f"  last refusal: {e.requirement} {e.rule} {e.code} ({again}): {e.message}")
    if needs.disabled_reason is not None:
        d = needs.disabled_reason
        extra = f" until {d.until.isoformat(timespec='seconds')}" if d.until else ""
        cases = f" cases {', '.join(d.case_ids)}" if d.case_ids else ""
        lines.append(
            f"  disabled: {d.state} ({d.reason}{', ' + ', '.join(d.rules) if d.rules else ''}){extra}{cases}"
        )
    if len(lines) == 1:
        lines.append("  nothing")
    return "\n".join(lines)


@click.command("list")
@click.option("--state", help="only accounts in this state")
@request_id_option(used=False)
@pass_output
def list_accounts(out: Output, state: str | None) -> int:
    """Accounts in the registry."""
    with Session(engine()) as session:
        stmt = select(Account).order_by(Account.created_at)  # type: ignore[arg-type]
        if state:
            stmt = stmt.where(Account.state == state)
        accounts = session.exec(stmt).all()
    headers = ("member_id", "store_name", "region", "type", "state", "closed_reason")
    rows = [
        (a.member_id, a.store_name, a.region, "main" if a.is_main else "sub", a.state, a.closed_reason)
        for a in accounts
    ]
    if out.json:
        out.show([dict(zip(headers, r, strict=True)) for r in rows])
    else:
        print(table(rows, ["member id", "store", "region", "type", "state", "closed reason"]))
    return 0


@click.command("audit")
@MEMBER
@request_id_option(used=False)
@pass_output
def audit(out: Output, member_id: str) -> int:
    """An account's audit trail (ENF-4): time, actor, rule, reason, change, detail."""
    with Session(engine()) as session:
        records = session.exec(
            select(AuditRecord)
            .where(AuditRecord.workflow_id == f"seller-{member_id}")
            .order_by(AuditRecord.seq)  # type: ignore[arg-type]
        ).all()
    if not records and registered(member_id) is None:
        return out.unknown_member(member_id)
    rows = [
        (
            r.seq,
            r.at.isoformat(timespec="seconds"),
            r.actor,
            r.event,
            r.rule,
            r.reason,
            f"{r.from_state or ''}→{r.to_state or ''}" if r.to_state else "",
            # The case, the operator's note, the ban's origin...: what the decision was about.
            " ".join(f"{k}={v}" for k, v in sorted(r.detail.items())),
        )
        for r in records
    ]
    if out.json:
        out.show([r.model_dump() for r in records])
    else:
        print(table(rows, ["#", "time", "actor", "event", "rule", "reason", "change", "detail"]))
    return 0


@click.command("notices")
@MEMBER
@request_id_option(used=False)
def notices(member_id: str) -> int:
    """Notices sent to an account (warnings, reminders, advisories)."""
    with Session(engine()) as session:
        found = session.exec(
            select(Notice).where(Notice.member_id == member_id).order_by(Notice.at)  # type: ignore[arg-type]
        ).all()
    rows = [(n.at.isoformat(timespec="seconds"), n.kind, n.rule, n.message) for n in found]
    print(table(rows, ["time", "kind", "rule", "message"]))
    return 0


@click.command("links")
@MEMBER
@request_id_option(used=False)
@pass_output
def links(out: Output, member_id: str) -> int:
    """Accounts linked to this one (ASSOC-2/3), the links ENF-3 follows, active or cleared."""
    found = linked_accounts(member_id)
    rows = [
        (
            link.member_b if link.member_a == member_id else link.member_a,
            link.rule,
            link.reason,
            link.evidence,
            link.created_at.isoformat(timespec="seconds"),
            link_status(link),
        )
        for link in found
    ]
    if out.json:
        out.show([link.model_dump() | {"status": link_status(link)} for link in found])
    else:
        print(table(rows, ["linked account", "rule", "reason", "evidence", "since", "status"]))
    return 0


def link_status(link: AccountLink) -> str:
    """ASSOC-5: an approved appeal clears a link, and ENF-3 no longer follows it."""
    if link.cleared_at is None:
        return "active"
    return f"cleared {link.cleared_at.isoformat(timespec='seconds')} by {link.cleared_by or '?'}"


COMMANDS = [status, list_accounts, audit, notices, links]
