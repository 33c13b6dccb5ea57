"""Every activity idempotent against its own success (issue 18, case 2).

For each activity that writes, a real process runs it and is killed with SIGKILL (devtools/
crash_activity.py) at a chosen point: right after its first commit, or right after it returned (its
answer computed, then lost before reaching Temporal). The retry (the same input, as Temporal sends it
again) must leave one row, and answer what the first attempt answered or would have answered.
Read-only activities are checked at the return point only: their retry must answer the same.
"""

from __future__ import annotations

import os
import pickle
import random
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, func, select

from activities.audit import record_audit, send_notice
from activities.email_verification import send_verification_code, verify_email_code
from activities.enforcement import bar_identity, clear_link, screen_buyer
from activities.exam import draw, grade_exam
from activities.identity_registry import claim_identity, fingerprint, link_accounts, rebind_contact
from activities.login_ip import record_login_ip
from activities.product_index import list_product, unlist_product
from activities.registration_checks import screen_registration
from activities.storage.db import engine
from devtools.identity_factory import applicant
from devtools.smtp_sink import SmtpSink
from models.activity_io import (
    AuditInput,
    BarIdentityInput,
    ClaimIdentityInput,
    ClearLinkInput,
    GradeExamInput,
    ListProductInput,
    LoginIpInput,
    NoticeInput,
    RebindContactInput,
    SendCodeInput,
    UnlistProductInput,
    VerifyCodeInput,
)
from models.contract import BuyerScreening
from models.email_verification import EmailCode
from models.products import Product
from models.tables import (
    Account,
    AccountLink,
    AuditRecord,
    BarredFingerprint,
    BuyerAccount,
    IdentityFingerprint,
    LoginIp,
    Notice,
)
from tests.support.draws import hex_id

# Fixed seed: distinct values in one session (a fresh registry), the same in every run.
DRAW = random.Random(20261125)

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def crash(fn: Callable[..., Any], inp: Any, at: str, tmp: Path) -> Any:
    """Run the activity in a child process that SIGKILLs itself at `at`; the lost answer, if any."""
    src, answer = tmp / f"{fn.__name__}-{at}.in", tmp / f"{fn.__name__}-{at}.out"
    src.write_bytes(pickle.dumps(inp))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "devtools.crash_activity",
            f"{fn.__module__}:{fn.__name__}",
            str(src),
            str(answer),
            "--at",
            at,
        ],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    return pickle.loads(answer.read_bytes()) if answer.exists() else None


def count(stmt: Any) -> int:
    with Session(engine()) as session:
        return int(session.exec(stmt).one())


def new_member() -> tuple[str, str]:
    """A registered main account (through the real claim); (member id, email)."""
    reg = applicant()
    member_id = "F" + hex_id(16).upper()
    assert claim_identity(ClaimIdentityInput(member_id=member_id, registration=reg, at=T0)).member_id
    return member_id, reg.email


@dataclass
class Case:
    """An activity run: its input, the rows it may leave (must be one set, however often it runs),
    and the answer a successful run gives."""

    fn: Callable[..., Any]
    inp: Any
    rows: Callable[[], Any]
    answer: Any


def claim_case(_mail: SmtpSink) -> Case:
    reg = applicant()
    member_id = "F" + hex_id(16).upper()
    return Case(
        claim_identity,
        ClaimIdentityInput(member_id=member_id, registration=reg, at=T0),
        lambda: (
            count(select(func.count()).select_from(Account).where(Account.registration_id == reg.request_id)),
            count(
                select(func.count())
                .select_from(IdentityFingerprint)
                .where(IdentityFingerprint.member_id == member_id)
            ),
        ),
        None,  # checked below: the same member id
    )


def send_code_case(mail: SmtpSink) -> Case:
    member_id, email = new_member()
    inp = SendCodeInput(member_id=member_id, email=email, ttl_minutes=15, issued_at=T0)

    def rows() -> Any:
        # One code row, and every mail sent for this issue carries the same code.
        codes = {m.get_body(("plain",)).get_content().split("code is ")[1][:6] for m in mail.messages(email)}  # type: ignore[union-attr]
        return count(
            select(func.count()).select_from(EmailCode).where(EmailCode.member_id == member_id)
        ), codes

    return Case(send_verification_code, inp, rows, None)


def verify_case(mail: SmtpSink) -> Case:
    member_id, email = new_member()
    send_verification_code(SendCodeInput(member_id=member_id, email=email, ttl_minutes=15, issued_at=T0))
    code = mail.latest_code(email)
    return Case(
        verify_email_code,
        VerifyCodeInput(member_id=member_id, code=code, now=T0 + timedelta(minutes=1), max_attempts=5),
        lambda: count(
            select(func.count())
            .select_from(EmailCode)
            .where(EmailCode.member_id == member_id, EmailCode.used_at.is_not(None))  # type: ignore[union-attr]
        ),
        None,
    )


def audit_case(_mail: SmtpSink) -> Case:
    wid = f"seller-F{hex_id(12).upper()}"
    inp = AuditInput(wid, 1, T0, "system", "register", "REG-7", "registered", "v1", None, "registered")
    return Case(
        record_audit,
        inp,
        lambda: count(select(func.count()).select_from(AuditRecord).where(AuditRecord.workflow_id == wid)),
        True,
    )


def notice_case(_mail: SmtpSink) -> Case:
    member_id = "F" + hex_id(16).upper()
    inp = NoticeInput(member_id, "reg4-warning-30", "warning", "REG-4", "Log in within 30 days.", T0)
    return Case(
        send_notice,
        inp,
        lambda: count(select(func.count()).select_from(Notice).where(Notice.member_id == member_id)),
        True,
    )


def login_case(_mail: SmtpSink) -> Case:
    # Three accounts on one address with a threshold of two: the third login advises all three.
    ip = f"10.{DRAW.randrange(250)}.{DRAW.randrange(250)}.{DRAW.randrange(250)}"
    members = sorted(new_member()[0] for _ in range(3))
    for m in members[:2]:
        record_login_ip(LoginIpInput(member_id=m, ips=[ip], at=T0, threshold=2))
    inp = LoginIpInput(member_id=members[2], ips=[ip], at=T0 + timedelta(minutes=5), threshold=2)
    from activities.login_ip import ip_digest

    return Case(
        record_login_ip,
        inp,
        lambda: (
            count(select(func.count()).select_from(LoginIp).where(LoginIp.ip_digest == ip_digest(ip))),
            count(select(func.count()).select_from(Notice).where(Notice.member_id.in_(members))),  # type: ignore[attr-defined]
        ),
        None,
    )


def rebind_case(_mail: SmtpSink) -> Case:
    member_id, _ = new_member()
    new_email = f"moved-{hex_id(10)}@example.com"
    return Case(
        rebind_contact,
        RebindContactInput(member_id=member_id, kind="email", value=new_email, at=T0),
        lambda: count(
            select(func.count())
            .select_from(IdentityFingerprint)
            .where(
                IdentityFingerprint.member_id == member_id,
                IdentityFingerprint.kind == "email",
                IdentityFingerprint.digest == fingerprint("email", new_email),
            )
        ),
        None,
    )


def bar_case(_mail: SmtpSink) -> Case:
    member_id, _ = new_member()
    return Case(
        bar_identity,
        BarIdentityInput(member_id=member_id, at=T0),
        lambda: count(
            select(func.count())
            .select_from(BarredFingerprint)
            .where(BarredFingerprint.origin_member_id == member_id)
        ),
        4,
    )


def clear_link_case(_mail: SmtpSink) -> Case:
    a, b = new_member()[0], new_member()[0]
    with Session(engine()) as session:
        link_accounts(session, a, b, rule="ASSOC-3", reason="duplicate_product", evidence="x", at=T0)
    first, second = sorted((a, b))
    return Case(
        clear_link,
        ClearLinkInput(a, b, "operator:ann", T0 + timedelta(days=1)),
        lambda: count(
            select(func.count())
            .select_from(AccountLink)
            .where(
                AccountLink.member_a == first,
                AccountLink.member_b == second,
                AccountLink.cleared_at.is_not(None),  # type: ignore[union-attr]
            )
        ),
        1,
    )


def buyer_case(_mail: SmtpSink) -> Case:
    _, email = new_member()
    buyer_id = "B" + hex_id(12)
    return Case(
        screen_buyer,
        BuyerScreening(buyer_id=buyer_id, region="US", email=email, at=T0),
        lambda: count(
            select(func.count()).select_from(BuyerAccount).where(BuyerAccount.buyer_id == buyer_id)
        ),
        None,
    )


def _listing(member_id: str, product_id: str) -> ListProductInput:
    from activities.storage.blobs import put_bytes
    from devtools.product_fixtures import encode, image, product

    n = int(product_id.rsplit("-P", 1)[1], 16) % 10**6
    ref = put_bytes(encode(image(n)))
    return ListProductInput(
        member_id=member_id,
        product_id=product_id,
        product=product(n, ref),
        at=T0,
        text_threshold=0.8,
        image_max_distance=6,
    )


def list_case(_mail: SmtpSink) -> Case:
    member_id, _ = new_member()
    product_id = f"{member_id}-P{hex_id(8)}"
    return Case(
        list_product,
        _listing(member_id, product_id),
        lambda: count(select(func.count()).select_from(Product).where(Product.product_id == product_id)),
        None,
    )


def unlist_case(_mail: SmtpSink) -> Case:
    member_id, _ = new_member()
    product_id = f"{member_id}-P{hex_id(8)}"
    assert list_product(_listing(member_id, product_id)).accepted
    return Case(
        unlist_product,
        UnlistProductInput(member_id=member_id, product_id=product_id),
        lambda: count(
            select(func.count())
            .select_from(Product)
            .where(Product.product_id == product_id, Product.listed == True)  # noqa: E712
        ),
        True,
    )


WRITERS = {
    "claim_identity": claim_case,
    "send_verification_code": send_code_case,
    "verify_email_code": verify_case,
    "record_audit": audit_case,
    "send_notice": notice_case,
    "record_login_ip": login_case,
    "rebind_contact": rebind_case,
    "bar_identity": bar_case,
    "clear_link": clear_link_case,
    "screen_buyer": buyer_case,
    "list_product": list_case,
    "unlist_product": unlist_case,
}


@pytest.mark.parametrize("at", ["commit", "return"])
@pytest.mark.parametrize("name", sorted(WRITERS))
def test_a_retry_after_a_kill_leaves_one_row_and_the_same_answer(
    name: str, at: str, mailbox: SmtpSink, tmp_path: Path
) -> None:
    case = WRITERS[name](mailbox)
    lost = crash(case.fn, case.inp, at, tmp_path)
    rows_after_crash = case.rows()
    retried = case.fn(case.inp)
    again = case.fn(case.inp)
    rows = case.rows()

    # The retry answers success, as the first attempt did (or would have), and stays put.
    assert retried == again
    if at == "return":
        assert retried == lost
    if case.answer is not None:
        assert retried == case.answer
    if name == "claim_identity":
        assert retried.member_id == case.inp.member_id and retried.refusal is None
        assert rows == (1, 4)
    elif name == "send_verification_code":
        assert retried.sent and rows[0] == 1 and len(rows[1]) == 1
        code = next(iter(rows[1]))
        verified = verify_email_code(
            VerifyCodeInput(case.inp.member_id, code, T0 + timedelta(minutes=1), max_attempts=5)
        )
        assert verified.verified, verified.refusal  # the first mail's code is still good
    elif name == "verify_email_code":
        assert retried.verified and retried.refusal is None and rows == 1
    elif name == "record_login_ip":
        assert retried.accounts_on_ip == 3 and len(retried.advised) == 3 and rows == (3, 3)
    elif name == "rebind_contact":
        assert retried.changed and retried.refusal is None and rows == 1
    elif name == "screen_buyer":
        assert retried.closed and rows == 1
    elif name == "list_product":
        assert retried.accepted and rows == 1
    else:
        assert rows in (1, 4, 0) and rows == case.rows()
    if at == "commit":
        assert rows_after_crash is not None  # the first commit happened before the kill


def test_read_only_activities_answer_the_same_after_a_kill(tmp_path: Path) -> None:
    reg = applicant()
    assert crash(screen_registration, reg, "return", tmp_path) == screen_registration(reg)
    drawn = draw("F-exam-seed", 10, 1)
    graded = GradeExamInput(paper=drawn.paper, answers=[0] * 10)
    assert crash(grade_exam, graded, "return", tmp_path) == grade_exam(graded)
