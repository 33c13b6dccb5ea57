"""The command line for backend services and operators.

    python starter.py register --store-name NAME --email E --mobile M --region CN \\
                               --licence L --id-card I [--sub-of MEMBER] [--pre-approval REF]
    python starter.py login MEMBER --channel marketplace|messenger --ip IP
    python starter.py status MEMBER
    python starter.py list [--state STATE]
    python starter.py audit MEMBER
    python starter.py notices MEMBER
    python starter.py verify-email MEMBER CODE
    python starter.py request-code MEMBER --email E
    python starter.py change-contact MEMBER (--email E | --mobile M)
    python starter.py authenticate MEMBER PHOTO
    python starter.py unbind MEMBER
    python starter.py exam MEMBER                       (interactive)
    python starter.py release MEMBER --title T --price P --category C --image FILE [--description D]
    python starter.py remove-product MEMBER PRODUCT_ID
    python starter.py violation MEMBER --id V --category ip|trade|listing|ip_strike [--points N] [--serious]
    python starter.py close-report --rule REG-9|REG-10 (--member-id M | --licence L) --id R
    python starter.py appeal MEMBER CASE --opening-info TEXT --invoice FILE... --letter TEXT|FILE
    python starter.py decide MEMBER CASE approve|reject --as-operator NAME [--note TEXT]
    python starter.py retry MEMBER --as-operator NAME  (steps that ran out of retries: NeedsAttention)
    python starter.py screen-buyer BUYER --region US [--id-card I] [--mobile M] [--email E] [--device D]
    python starter.py preapprove --region DE --licence L --as-operator NAME
    python starter.py links MEMBER
    python starter.py credential COMMAND --member M (--as-operator NAME | --as-service NAME)
    python starter.py check-photo PHOTO [--id-card NUMBER]     (OPEN-1 offline: no Temporal, no DB)

Settings come from the environment (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TASK_QUEUE, DATABASE_URL,
CREDENTIAL_KEYS, ...), defaulting to the embedded dev server. Each command is signed with the role it
needs (models/credentials.py): seller commands as the account's seller, reports as a service
(`--as-service NAME`), decisions as the operator named by `--as-operator NAME`. Refusals print the
rule, the reason code and the sentence, and exit with status 3; an unknown member exits with status 4;
`--json` prints machine-readable output instead. Every command takes
`--request-id KEY`: the same key again answers the first answer and changes nothing; a command whose
answer was lost exits with status 75 and prints the key to send it again with.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn

from sqlmodel import Session, select
from temporalio.service import RPCError, RPCStatusCode

import check_photo_command
import seller_client
from activities.identity_registry import linked_accounts
from activities.registration_checks import create_pre_approval
from models import credentials
from models.contract import (
    AppealDecisionInput,
    BuyerScreening,
    ChangeContactInput,
    ClosureReport,
    ExamAnswers,
    ExamStartInput,
    ProductInput,
    ProductRemoval,
    RegistrationInput,
    RequestCodeInput,
    Requirement,
    Requirements,
    RetryInput,
    UnbindInput,
    VerifyEmailInput,
    ViolationInput,
)
from models.db import engine
from models.refusals import Refusal, RefusedError
from models.tables import Account, AuditRecord, Notice
from workflows.seller_account import SellerAccount

EXIT_REFUSED = 3
EXIT_UNKNOWN = 4
EXIT_NOT_ANSWERED = 75  # EX_TEMPFAIL: retry with the printed --request-id


def _print(obj: Any, *, as_json: bool) -> None:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        obj = dataclasses.asdict(obj)
    if as_json:
        print(json.dumps(obj, default=str, indent=2))
    elif isinstance(obj, dict):
        width = max((len(k) for k in obj), default=0)
        for key, value in obj.items():
            print(f"{key:<{width}}  {value}")
    else:
        print(obj)


def _refused(refusal: Refusal, *, as_json: bool) -> int:
    if as_json:
        print(json.dumps({"refused": dataclasses.asdict(refusal)}))
    else:
        print(f"refused: {refusal.rule} {refusal.code}: {refusal.message}", file=sys.stderr)
    return EXIT_REFUSED


def _unknown_member(member_id: str, *, as_json: bool) -> int:
    message = f"No seller account has member id {member_id!r}."
    if as_json:
        print(json.dumps({"error": {"code": "unknown_member", "member_id": member_id, "message": message}}))
    else:
        print(f"error: {message}", file=sys.stderr)
    return EXIT_UNKNOWN


def _registered(member_id: str) -> Account | None:
    with Session(engine()) as session:
        return session.get(Account, member_id)


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


async def cmd_register(args: argparse.Namespace) -> int:
    client = await seller_client.connect()
    reg = RegistrationInput(
        request_id=args.request_id or seller_client.new_request_id(),
        store_name=args.store_name,
        email=args.email,
        mobile=args.mobile,
        region=args.region,
        licence_number=args.licence,
        id_card_number=args.id_card,
        account_type="sub" if args.sub_of else "main",
        main_member_id=args.sub_of,
        pre_approval_ref=args.pre_approval,
        owned_brands=args.owned_brand or [],
    )
    result = await seller_client.register(client, reg)
    if result.refusal is not None:
        return _refused(result.refusal, as_json=args.json)
    _print({"member_id": result.member_id, "workflow_id": result.workflow_id}, as_json=args.json)
    return 0


async def cmd_login(args: argparse.Namespace) -> int:
    client = await seller_client.connect()
    await seller_client.login(client, args.member_id, channel=args.channel, ip=args.ip)
    _print({"member_id": args.member_id, "login": "recorded"}, as_json=args.json)
    return 0


async def cmd_status(args: argparse.Namespace) -> int:
    client = await seller_client.connect()
    try:
        status = await seller_client.status(client, args.member_id)
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        account = _registered(args.member_id)
        if account is None:
            return _unknown_member(args.member_id, as_json=args.json)
        # The workflow is gone (retention after closing): the registry keeps the final state.
        _print(
            {
                "member_id": account.member_id,
                "state": account.state,
                "closed_reason": account.closed_reason,
                "source": "registry (the account's workflow is no longer retained)",
            },
            as_json=args.json,
        )
        return 0
    if args.json:
        _print(status, as_json=True)
        return 0
    _print({k: v for k, v in dataclasses.asdict(status).items() if k != "requirements"}, as_json=False)
    print(requirements_text(status.requirements))
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


async def cmd_list(args: argparse.Namespace) -> int:
    with Session(engine()) as session:
        stmt = select(Account).order_by(Account.created_at)  # type: ignore[arg-type]
        if args.state:
            stmt = stmt.where(Account.state == args.state)
        accounts = session.exec(stmt).all()
    rows = [
        (a.member_id, a.store_name, a.region, "main" if a.is_main else "sub", a.state, a.closed_reason)
        for a in accounts
    ]
    if args.json:
        _print(
            [
                dict(
                    zip(
                        ("member_id", "store_name", "region", "type", "state", "closed_reason"),
                        r,
                        strict=True,
                    )
                )
                for r in rows
            ],
            as_json=True,
        )
    else:
        print(table(rows, ["member id", "store", "region", "type", "state", "closed reason"]))
    return 0


async def cmd_audit(args: argparse.Namespace) -> int:
    with Session(engine()) as session:
        records = session.exec(
            select(AuditRecord)
            .where(AuditRecord.workflow_id == f"seller-{args.member_id}")
            .order_by(AuditRecord.seq)  # type: ignore[arg-type]
        ).all()
    if not records and _registered(args.member_id) is None:
        return _unknown_member(args.member_id, as_json=args.json)
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
    if args.json:
        _print([r.model_dump() for r in records], as_json=True)
    else:
        print(table(rows, ["#", "time", "actor", "event", "rule", "reason", "change", "detail"]))
    return 0


async def cmd_notices(args: argparse.Namespace) -> int:
    with Session(engine()) as session:
        found = session.exec(
            select(Notice).where(Notice.member_id == args.member_id).order_by(Notice.at)  # type: ignore[arg-type]
        ).all()
    rows = [(n.at.isoformat(timespec="seconds"), n.kind, n.rule, n.message) for n in found]
    print(table(rows, ["time", "kind", "rule", "message"]))
    return 0


def _key(args: argparse.Namespace, part: str = "") -> str:
    """The command's idempotency key: --request-id, or a new one (printed if the answer is lost)."""
    if not getattr(args, "key", None):
        args.key = args.request_id or seller_client.new_request_id()
    return f"{args.key}{part}"


def _not_answered(err: seller_client.CommandNotAnswered) -> int:
    print(
        f"not answered ({err}); it was applied at most once: send it again with --request-id "
        f"{err.request_id} to learn its answer",
        file=sys.stderr,
    )
    return EXIT_NOT_ANSWERED


async def _account_command(
    args: argparse.Namespace, update: Any, arg: Any, *, operator: str | None = None
) -> int:
    client = await seller_client.connect()
    try:
        state = await seller_client.command(
            client, args.member_id, update, arg, request_id=_key(args), operator=operator
        )
    except seller_client.CommandNotAnswered as err:
        return _not_answered(err)
    except RefusedError as err:
        return _refused(err.refusal, as_json=args.json)
    _print({"member_id": args.member_id, "state": state}, as_json=args.json)
    return 0


async def cmd_verify_email(args: argparse.Namespace) -> int:
    return await _account_command(args, SellerAccount.verify_email, VerifyEmailInput(code=args.code))


async def cmd_request_code(args: argparse.Namespace) -> int:
    return await _account_command(args, SellerAccount.request_email_code, RequestCodeInput(email=args.email))


async def cmd_change_contact(args: argparse.Namespace) -> int:
    kind, value = ("email", args.email) if args.email else ("mobile", args.mobile)
    return await _account_command(
        args, SellerAccount.change_contact, ChangeContactInput(kind=kind, value=value)
    )


async def cmd_authenticate(args: argparse.Namespace) -> int:
    client = await seller_client.connect()
    try:
        result = await seller_client.submit_photo(
            client, args.member_id, Path(args.photo), request_id=_key(args)
        )
    except seller_client.CommandNotAnswered as err:
        return _not_answered(err)
    except RefusedError as err:
        return _refused(err.refusal, as_json=args.json)
    if not result.passed:
        return _refused(result.failures[0], as_json=args.json)
    _print({"member_id": args.member_id, "state": result.state}, as_json=args.json)
    return 0


async def cmd_unbind(args: argparse.Namespace) -> int:
    return await _account_command(args, SellerAccount.unbind_identity, UnbindInput(reason=args.reason))


async def cmd_exam(args: argparse.Namespace) -> int:
    """OPEN-2 in the terminal: one question at a time, answered a-d."""
    client = await seller_client.connect()
    try:
        paper = await seller_client.command(
            client,
            args.member_id,
            SellerAccount.start_exam,
            ExamStartInput(),
            request_id=_key(args, ":paper"),
        )
    except seller_client.CommandNotAnswered as err:
        return _not_answered(err)
    except RefusedError as err:
        return _refused(err.refusal, as_json=args.json)
    print(
        f"Rules exam, attempt {paper.attempt}: {len(paper.questions)} questions, pass mark {paper.pass_mark}/100\n"
    )
    answers = []
    for q in paper.questions:
        print(f"{q.number}. [{q.rule}] {q.text}")
        for letter, option in zip("abcd", q.options, strict=False):
            print(f"   {letter}) {option}")
        while True:
            reply = input("   your answer (a-d): ").strip().lower()
            if len(reply) == 1 and reply in "abcd"[: len(q.options)]:
                answers.append("abcd".index(reply))
                break
            print("   please type one letter, a to d")
        print()
    try:
        result = await seller_client.command(
            client,
            args.member_id,
            SellerAccount.submit_exam,
            ExamAnswers(paper.paper_id, answers),
            request_id=_key(args, ":answers"),
        )
    except RefusedError as err:
        return _refused(err.refusal, as_json=args.json)
    verdict = "passed" if result.passed else "not passed"
    print(f"score {result.score}/100: {verdict}; the account is {result.state}")
    if result.retake_at:
        print(f"you can retake the exam from {result.retake_at.isoformat(timespec='minutes')}")
    return 0 if result.passed else EXIT_REFUSED


async def cmd_release(args: argparse.Namespace) -> int:
    from activities.blobs import BlobError, put_stream
    from activities.product_index import MAX_IMAGE_BYTES

    try:
        with open(args.image, "rb") as fh:
            ref, _ = put_stream(fh, max_bytes=MAX_IMAGE_BYTES)
    except BlobError:
        return _refused(
            Refusal("OPEN-3", "image_too_large", "The product image is too large."), as_json=args.json
        )
    product = ProductInput(args.title, args.description, args.price, args.category, ref)
    client = await seller_client.connect()
    try:
        result = await seller_client.command(
            client, args.member_id, SellerAccount.release_product, product, request_id=_key(args)
        )
    except seller_client.CommandNotAnswered as err:
        return _not_answered(err)
    except RefusedError as err:
        return _refused(err.refusal, as_json=args.json)
    if not result.accepted:
        return _refused(result.refusal, as_json=args.json)
    _print(result, as_json=args.json)
    return 0


async def cmd_remove_product(args: argparse.Namespace) -> int:
    return await _account_command(args, SellerAccount.remove_product, ProductRemoval(args.product_id))


async def cmd_violation(args: argparse.Namespace) -> int:
    client = await seller_client.connect()
    v = ViolationInput(
        violation_id=args.violation_id,
        category=args.category,
        rule=args.rule,
        points=args.points,
        severity="serious" if args.serious else "normal",
        evidence_ref=args.evidence,
    )
    await seller_client.report_violation(client, args.member_id, v, service=args.as_service)
    _print({"member_id": args.member_id, "violation": args.violation_id, "reported": True}, as_json=args.json)
    return 0


async def cmd_close_report(args: argparse.Namespace) -> int:
    member = args.member_id or (seller_client.member_by_licence(args.licence) if args.licence else None)
    if member is None:
        refusal = Refusal(
            args.rule, "no_matching_account", "No seller account matches that licence or member id."
        )
        return _refused(refusal, as_json=args.json)
    reason = {"REG-9": "account_rental", "REG-10": "alibaba_closure"}[args.rule]
    client = await seller_client.connect()
    report = ClosureReport(
        args.report_id, args.rule, reason, evidence_ref=args.evidence, reported_by=args.reported_by
    )
    await seller_client.report_closure(client, member, report)
    _print({"member_id": member, "report": args.report_id, "rule": args.rule}, as_json=args.json)
    return 0


async def cmd_appeal(args: argparse.Namespace) -> int:
    client = await seller_client.connect()
    letter = Path(args.letter).read_text() if Path(args.letter).is_file() else args.letter
    try:
        state = await seller_client.appeal(
            client,
            args.member_id,
            args.case_id,
            opening_info=args.opening_info,
            invoices=[Path(p) for p in args.invoice],
            letter=letter,
            request_id=_key(args),
        )
    except seller_client.CommandNotAnswered as err:
        return _not_answered(err)
    except RefusedError as err:
        return _refused(err.refusal, as_json=args.json)
    _print({"member_id": args.member_id, "case_id": args.case_id, "state": state}, as_json=args.json)
    return 0


async def cmd_decide(args: argparse.Namespace) -> int:
    decision = AppealDecisionInput(args.case_id, args.decision == "approve", args.as_operator, args.note)
    return await _account_command(args, SellerAccount.decide_appeal, decision, operator=args.as_operator)


async def cmd_retry(args: argparse.Namespace) -> int:
    """Operator: write again what ran out of retries (NeedsAttention); prints what still fails."""
    return await _account_command(
        args, SellerAccount.retry, RetryInput(args.as_operator), operator=args.as_operator
    )


async def cmd_screen_buyer(args: argparse.Namespace) -> int:
    client = await seller_client.connect()
    buyer = BuyerScreening(
        buyer_id=args.buyer_id,
        region=args.region,
        id_card_number=args.id_card or "",
        mobile=args.mobile or "",
        email=args.email or "",
        device_id=args.device or "",
    )
    result = await seller_client.screen_buyer(client, buyer, service=args.as_service)
    if result.refusal is not None:
        return _refused(result.refusal, as_json=args.json)
    _print(
        {"buyer_id": args.buyer_id, "closed": result.closed, "seller_member_id": result.seller_member_id},
        as_json=args.json,
    )
    return 0


async def cmd_preapprove(args: argparse.Namespace) -> int:
    try:
        # Only a process holding an operator key can sign one: that is what makes the name verified.
        cred = credentials.for_command("preapprove", credentials.ANY, operator=args.as_operator)
        refusal = credentials.check(cred, command="preapprove", account="*", now=seller_client.utcnow())
        if refusal is not None:
            return _refused(refusal, as_json=args.json)
        ref = create_pre_approval(
            args.region, args.licence, operator=cred.principal, at=seller_client.utcnow()
        )
    except PermissionError as err:
        return _refused(credentials.refusal("role_not_allowed", str(err)), as_json=args.json)
    except RefusedError as err:
        return _refused(err.refusal, as_json=args.json)
    _print({"pre_approval_ref": ref, "region": args.region.upper()}, as_json=args.json)
    return 0


async def cmd_credential(args: argparse.Namespace) -> int:
    """Print a signed credential as the `auth` field to paste into a command sent from the Web UI."""
    try:
        cred = credentials.for_command(
            args.command_name,
            args.member or credentials.ANY,
            operator=args.as_operator,
            service=args.as_service,
            ttl=timedelta(minutes=args.ttl_minutes),
        )
    except PermissionError as err:
        return _refused(credentials.refusal("role_not_allowed", str(err)), as_json=args.json)
    print(json.dumps({"auth": credentials.as_dict(cred)}, indent=2))
    return 0


def _link_status(link: Any) -> str:
    """ASSOC-5: an approved appeal clears a link, and ENF-3 no longer follows it."""
    if link.cleared_at is None:
        return "active"
    return f"cleared {link.cleared_at.isoformat(timespec='seconds')} by {link.cleared_by or '?'}"


async def cmd_links(args: argparse.Namespace) -> int:
    links = linked_accounts(args.member_id)
    rows = [
        (
            link.member_b if link.member_a == args.member_id else link.member_a,
            link.rule,
            link.reason,
            link.evidence,
            link.created_at.isoformat(timespec="seconds"),
            _link_status(link),
        )
        for link in links
    ]
    if args.json:
        _print([link.model_dump() | {"status": _link_status(link)} for link in links], as_json=True)
    else:
        print(table(rows, ["linked account", "rule", "reason", "evidence", "since", "status"]))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="starter.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("register", help="register a seller account (REG-1, 2, 5, 6, 7, 9, 11)")
    r.add_argument("--store-name", required=True)
    r.add_argument("--email", required=True)
    r.add_argument("--mobile", required=True)
    r.add_argument("--region", required=True, help="two-letter country code; CN is mainland China")
    r.add_argument("--licence", required=True, help="business licence number")
    r.add_argument("--id-card", required=True, help="legal person's ID card number")
    r.add_argument("--sub-of", metavar="MEMBER", help="register a sub-account of this main account (REG-9)")
    r.add_argument(
        "--pre-approval", metavar="REF", help="operator pre-approval for non-mainland applicants (REG-2)"
    )
    r.add_argument("--owned-brand", action="append", help="a brand the applicant owns (REG-1), repeatable")
    r.add_argument("--request-id", help="idempotency key; a repeated request answers the same result")
    r.set_defaults(run=cmd_register)

    lg = sub.add_parser("login", help="report a login (restarts the REG-4 year; wakes a dormant account)")
    lg.add_argument("member_id")
    lg.add_argument("--channel", choices=["marketplace", "messenger"], default="marketplace")
    lg.add_argument("--ip", required=True)
    lg.set_defaults(run=cmd_login)

    st = sub.add_parser("status", help="the account's state, reasons and what it is waiting for")
    st.add_argument("member_id")
    st.set_defaults(run=cmd_status)

    ls = sub.add_parser("list", help="accounts in the registry")
    ls.add_argument("--state")
    ls.set_defaults(run=cmd_list)

    au = sub.add_parser("audit", help="an account's audit trail (ENF-4)")
    au.add_argument("member_id")
    au.set_defaults(run=cmd_audit)

    ve = sub.add_parser("verify-email", help="prove the email with the 6-digit code it received (REG-6)")
    ve.add_argument("member_id")
    ve.add_argument("code")
    ve.set_defaults(run=cmd_verify_email)

    rc = sub.add_parser("request-code", help="mail a new REG-6 code to the registered email")
    rc.add_argument("member_id")
    rc.add_argument("--email", required=True, help="the registered address (codes go nowhere else)")
    rc.set_defaults(run=cmd_request_code)

    cc = sub.add_parser("change-contact", help="change the email or mobile (REG-11; ASSOC-2 links a clash)")
    cc.add_argument("member_id")
    which = cc.add_mutually_exclusive_group(required=True)
    which.add_argument("--email")
    which.add_argument("--mobile")
    cc.set_defaults(run=cmd_change_contact)

    an = sub.add_parser(
        "authenticate", help="submit the photo holding the ID card (OPEN-1; needs REG-6 first)"
    )
    an.add_argument("member_id")
    an.add_argument("photo", help="JPEG, PNG or WebP file")
    an.set_defaults(run=cmd_authenticate)

    ub = sub.add_parser("unbind", help="ask to unbind the authenticated identity (always refused, REG-8)")
    ub.add_argument("member_id")
    ub.add_argument("--reason", default="")
    ub.set_defaults(run=cmd_unbind)

    ex = sub.add_parser("exam", help="take the rules exam in the terminal (OPEN-2)")
    ex.add_argument("member_id")
    ex.set_defaults(run=cmd_exam)

    rp = sub.add_parser("release", help="release a product (OPEN-3; ASSOC-3 duplicate check)")
    rp.add_argument("member_id")
    rp.add_argument("--title", required=True)
    rp.add_argument("--description", default="")
    rp.add_argument("--price", required=True, help="e.g. 19.90")
    rp.add_argument("--category", required=True)
    rp.add_argument("--image", required=True, help="JPEG, PNG or WebP file")
    rp.set_defaults(run=cmd_release)

    rm = sub.add_parser("remove-product", help="take a product down (an open store stays open)")
    rm.add_argument("member_id")
    rm.add_argument("product_id")
    rm.set_defaults(run=cmd_remove_product)

    vi = sub.add_parser("violation", help="service: report a violation (ENF-1/2); an id counts once")
    vi.add_argument("member_id")
    vi.add_argument("--id", dest="violation_id", required=True, help="the reporting service's violation id")
    vi.add_argument(
        "--category", required=True, choices=["ip", "trade", "listing", "ip_strike", "false_buyer"]
    )
    vi.add_argument("--points", type=int, default=0)
    vi.add_argument("--rule", default="ENF-2")
    vi.add_argument(
        "--serious", action="store_true", help="a serious violation: closes and bars (ENF-1, REG-5)"
    )
    vi.add_argument("--evidence", default="", help="evidence reference")
    vi.add_argument("--as-service", default="risk-engine", metavar="NAME", help="the reporting service")
    vi.set_defaults(run=cmd_violation)

    cr = sub.add_parser("close-report", help="service: REG-9 rental/transfer or REG-10 Alibaba.com closure")
    cr.add_argument("--rule", required=True, choices=["REG-9", "REG-10"])
    target = cr.add_mutually_exclusive_group(required=True)
    target.add_argument("--member-id")
    target.add_argument("--licence", help="REG-10: the supplier's business licence number")
    cr.add_argument("--id", dest="report_id", required=True)
    cr.add_argument("--evidence", default="")
    cr.add_argument("--reported-by", "--as-service", default="risk-engine", help="the reporting service")
    cr.set_defaults(run=cmd_close_report)

    ap = sub.add_parser("appeal", help="seller: appeal an association case once (ASSOC-5)")
    ap.add_argument("member_id")
    ap.add_argument("case_id")
    ap.add_argument("--opening-info", required=True, help="store-opening information")
    ap.add_argument("--invoice", action="append", required=True, help="purchase invoice file, repeatable")
    ap.add_argument("--letter", required=True, help="the letter, or a file holding it")
    ap.set_defaults(run=cmd_appeal)

    de = sub.add_parser("decide", help="operator: approve or reject an appeal (ASSOC-5)")
    de.add_argument("member_id")
    de.add_argument("case_id")
    de.add_argument("decision", choices=["approve", "reject"])
    de.add_argument(
        "--as-operator",
        "--operator",
        dest="as_operator",
        required=True,
        metavar="NAME",
        help="sign the decision as this operator (an operator key is needed; recorded, ENF-4)",
    )
    de.add_argument("--note", default="")
    de.set_defaults(run=cmd_decide)

    rt = sub.add_parser(
        "retry", help="operator: try again the steps an account could not finish (NeedsAttention)"
    )
    rt.add_argument("member_id")
    rt.add_argument("--as-operator", required=True, help="your operator name: signs the command (ENF-4)")
    rt.set_defaults(run=cmd_retry)

    sb = sub.add_parser("screen-buyer", help="service: screen a new buyer account against sellers (REG-3)")
    sb.add_argument("buyer_id")
    sb.add_argument("--region", required=True)
    sb.add_argument("--id-card")
    sb.add_argument("--mobile")
    sb.add_argument("--email")
    sb.add_argument("--device")
    sb.add_argument("--as-service", default="buyer-signup", metavar="NAME", help="the screening service")
    sb.set_defaults(run=cmd_screen_buyer)

    pa = sub.add_parser("preapprove", help="operator: approve a non-mainland applicant in advance (REG-2)")
    pa.add_argument("--region", required=True, help="two-letter country code")
    pa.add_argument("--licence", required=True, help="the applicant's business licence number")
    pa.add_argument(
        "--as-operator", "--operator", dest="as_operator", required=True, metavar="NAME", help="who approves"
    )
    pa.set_defaults(run=cmd_preapprove)

    lk = sub.add_parser("links", help="operator: accounts linked to this one (ASSOC-2/3), for ENF-3")
    lk.add_argument("member_id")
    lk.set_defaults(run=cmd_links)

    cd = sub.add_parser("credential", help="print a signed credential (`auth`) for a command sent by hand")
    cd.add_argument("command_name", metavar="COMMAND", choices=sorted(credentials.COMMAND_ROLES))
    cd.add_argument("--member", help="the account it is for (default: any, for operators and services)")
    who = cd.add_mutually_exclusive_group()
    who.add_argument("--as-operator", metavar="NAME")
    who.add_argument("--as-service", metavar="NAME")
    cd.add_argument("--ttl-minutes", type=float, default=10)
    cd.set_defaults(run=cmd_credential)

    no = sub.add_parser("notices", help="notices sent to an account (warnings, reminders, advisories)")
    no.add_argument("member_id")
    no.set_defaults(run=cmd_notices)

    check_photo_command.add_parser(sub)

    # Every command takes an idempotency key, so that scripts can send any of them the same way. It is
    # the update id of an account command (the same key answers the first answer); reports and
    # screenings are keyed by their own ids (--id, BUYER), and reads change nothing.
    for name, command in sub.choices.items():
        if name != "register":
            command.add_argument(
                "--request-id", help="idempotency key: the same key again answers the first answer"
            )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return asyncio.run(args.run(args))
    except RefusedError as err:  # refused at the boundary before anything was sent (models/boundary.py)
        return _refused(err.refusal, as_json=args.json)
    except RuntimeError as err:
        if "Failed client connect" in str(err) or "connection" in str(err).lower():
            print(f"cannot reach Temporal: {err}. Start it with ./run devserver start", file=sys.stderr)
            return 2
        raise


def exit_now(code: int) -> NoReturn:
    """End the process once the command's work is done and its output flushed.

    The Temporal client's Rust threads may still hand a last callback to Python while the interpreter
    finalizes, which aborts the process ("Fatal Python error: PyGILState_Release", exit 134) after a
    command that succeeded. `os._exit` skips that finalization: nothing is left to clean up here."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more to say
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    try:
        status = main()
    except SystemExit as stop:  # argparse --help and usage errors
        status = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 2)
        if stop.code is not None and not isinstance(stop.code, int):
            print(stop.code, file=sys.stderr)
    except KeyboardInterrupt:
        status = 130
    except BaseException:
        traceback.print_exc()
        status = 1
    exit_now(status)
