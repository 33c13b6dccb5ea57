"""The demo: real seller accounts going through their lifecycle on the embedded defaults.

    ./run demo            # starts the dev server (with the Web UI) and a worker if needed

It registers a few sellers on the real Temporal dev server and the SQLite registry, shows the
refusals the rulebook demands, lets one unauthenticated account be reclaimed after its "year" (a
shortened policy: the same workflow code, with the REG-4 year set to seconds), and prints a table of
the accounts' states and where to watch them in the Web UI.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from temporalio.client import Client

import seller_client
from activities.storage.blobs import put_bytes
from devtools import temporal_dev
from devtools.smtp_sink import SmtpSink
from models.consent import current_notice
from models.contract import AccountStatus, Consent, RegistrationInput, RegistrationResult
from models.policy import Policy
from models.refusals import RefusedError
from models.settings import settings
from starter import table

# A demo year: the REG-4 period and its warnings shrunk to seconds, so a reclaim happens while you watch.
DEMO_YEAR_SECONDS = 20


def short_year(policy: Policy) -> Policy:
    day = 1 / 86_400
    dormancy = dataclasses.replace(
        policy.dormancy,
        inactivity_days=DEMO_YEAR_SECONDS * day,
        warning_days_before=[10 * day, 5 * day, 2 * day],
    )
    return dataclasses.replace(policy, version=f"{policy.version}+demo-short-year", dormancy=dormancy)


class Sellers:
    """Synthetic but well-formed applicants: valid licence and ID check characters, unique per run."""

    def __init__(self) -> None:
        self.run = uuid.uuid4().hex[:6]
        self.n = 0

    def applicant(self, store_name: str, **overrides: str) -> RegistrationInput:
        from devtools.identity_factory import id_card_number, licence_number

        self.n += 1
        tag = f"{self.run}{self.n:02d}"
        fields = dict(
            request_id=f"demo-{tag}",
            store_name=store_name,
            email=f"seller{tag}@example.com",
            mobile=f"+86138{int(tag, 16) % 10**8:08d}",
            region="CN",
            licence_number=licence_number(int(tag, 16)),
            id_card_number=id_card_number(int(tag, 16)),
        )
        fields.update(overrides)
        # DATA-1: the demo's applicants accept today's identity and face notices.
        consents = [Consent(p, current_notice(p), datetime.now(UTC)) for p in ("identity", "face")]
        return RegistrationInput(**fields, consents=consents)  # type: ignore[arg-type]


def say(text: str) -> None:
    print(f"\n== {text}")


def show(result: RegistrationResult, label: str) -> str | None:
    if result.refusal is not None:
        r = result.refusal
        print(f"  {label}: REFUSED {r.rule} {r.code}: {r.message}")
        return None
    print(f"  {label}: registered as member {result.member_id}")
    return result.member_id


async def wait_for(check: Callable[[], Awaitable[bool]], *, seconds: float, label: str) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        if await check():
            return
        remaining = deadline - asyncio.get_running_loop().time()
        print(f"\r  waiting for {label}... {remaining:4.0f}s left", end="", flush=True)
        await asyncio.sleep(1)
    print()
    raise SystemExit(f"timed out waiting for {label}")


async def demo(client: Client, mail: SmtpSink) -> list[AccountStatus]:
    people = Sellers()
    policy = seller_client.current_policy()
    members: list[str] = []

    say("REG-11 / REG-7: registration assigns a member id; one identity registers one account")
    first = people.applicant("Lotus Tea House")
    member = show(await seller_client.register(client, first), "Lotus Tea House")
    members.append(member or "")
    duplicate = dataclasses.replace(
        people.applicant("Second Lotus Shop"), id_card_number=first.id_card_number
    )
    show(await seller_client.register(client, duplicate), "same ID card, another store")

    say("REG-1: store names that pose as the platform or use others' brands are refused, however spelt")
    for name in ("AIiExpress 0fficial Store", "N.i.k.e Outlet", "Аdmin Support"):
        show(await seller_client.register(client, people.applicant(name)), repr(name))

    say("REG-2: only mainland-China sellers, unless pre-approved")
    show(
        await seller_client.register(
            client,
            people.applicant(
                "Berlin Bikes", region="DE", licence_number="DE12345678", id_card_number="L01X00T47"
            ),
        ),
        "region DE",
    )

    say(f"REG-4: an account that never authenticates is reclaimed after its year ({DEMO_YEAR_SECONDS}s here)")
    idle = people.applicant("Sleepy Socks")
    idle_member = show(await register_under(client, idle, short_year(policy)), "Sleepy Socks")
    active = people.applicant("Busy Bees Crafts")
    active_member = show(await register_under(client, active, short_year(policy)), "Busy Bees Crafts")
    assert idle_member and active_member
    members += [idle_member, active_member]

    async def reclaimed() -> bool:
        # The active seller keeps logging in, so its year keeps restarting.
        await seller_client.login(client, active_member, channel="messenger", ip="203.0.113.10")
        return (await seller_client.status(client, idle_member)).state == "closed"

    await wait_for(reclaimed, seconds=DEMO_YEAR_SECONDS * 3, label="the idle account's year to run out")
    print()
    print(f"  Busy Bees Crafts kept logging in: {(await seller_client.status(client, active_member)).state}")
    print("  (in the table at the end it has stopped logging in for a demo year, and is reclaimed too)")
    members += await enforcement(client, mail, people, demo_policy(policy))
    return [await seller_client.status(client, m) for m in members if m]


async def register_under(client: Client, reg: RegistrationInput, policy: Policy) -> RegistrationResult:
    """Register with `policy` in force on the demo's own worker (in this process): a registration takes
    the policy of the worker it runs on, never the caller's (activities/admission.py)."""
    from activities import admission

    admission.install(policy)
    try:
        return await seller_client.register(client, reg)
    finally:
        admission.install(None)


def demo_policy(policy: Policy) -> Policy:
    """Enforcement clocks shrunk so they run out while you watch: a listing freeze of 15 s."""
    penalties = dataclasses.replace(policy.penalties, listing_freeze_days=15 / 86_400)
    return dataclasses.replace(policy, version=f"{policy.version}+demo-short-freeze", penalties=penalties)


def without_known_faces(policy: Policy) -> Policy:
    auth = dataclasses.replace(policy.authentication, known_faces=False)
    return dataclasses.replace(policy, version=f"{policy.version}+demo-no-known-faces", authentication=auth)


def forget_earlier_demo_faces() -> int:
    """Earlier demo runs on this data folder enrolled their sellers' faces and photos (known faces,
    photo reuse); this run's sellers are the same portrait, so they would be refused `photo_reused`
    or linked `shared_face` to last run's. The demo's own synthetic accounts (request ids `demo-...`)
    have their biometric data deleted, as the retention policy deletes a closed account's: their
    accounts, identities and histories stay. Nobody else's data is touched."""
    from sqlmodel import Session, col, or_, select

    from activities.known_faces.index import forget_member
    from activities.storage.db import engine
    from models.known_faces import AuthenticationPhoto, FaceTemplate
    from models.tables import Account

    with Session(engine()) as session:
        members = session.exec(
            select(Account.member_id)
            .where(col(Account.registration_id).startswith("demo-"))
            .where(
                or_(
                    col(Account.member_id).in_(select(FaceTemplate.member_id)),
                    col(Account.member_id).in_(select(AuthenticationPhoto.member_id)),
                )
            )
        ).all()
        for member in members:
            forget_member(session, member)
    return len(members)


async def open_a_store(client: Client, mail: SmtpSink, reg: RegistrationInput, policy: Policy, n: int) -> str:
    """Register -> REG-6 email code -> OPEN-1 photo (a failed one first) -> OPEN-2 exam -> OPEN-3 ten products."""
    from activities.exam import answer_key, draw
    from devtools import photo_fixtures, product_fixtures
    from models.contract import ExamAnswers, ExamStartInput, VerifyEmailInput
    from workflows.seller_account import SellerAccount

    result = await register_under(client, reg, policy)
    member = show(result, reg.store_name)
    assert member
    code = await asyncio.to_thread(mail.latest_code, reg.email)
    await seller_client.command(client, member, SellerAccount.verify_email, VerifyEmailInput(code))
    print(f"  REG-6: email verified with the code mailed over SMTP ({code})")
    tmp = settings().data_dir / "demo"
    tmp.mkdir(parents=True, exist_ok=True)
    # The public-domain portrait (NASA, Eileen Collins) holding a card with her portrait and the ID
    # number this seller registered (OPEN-1 reads it): first with a thumb over a corner, then a good one.
    covered = photo_fixtures.Variant(
        "corner_covered", "astronaut.png", "astronaut.png", "card_corner_missing"
    )
    good = photo_fixtures.Variant("pass_astronaut", "astronaut.png", "astronaut.png", "pass")
    for variant in (covered, good):
        path = tmp / f"{member}-{variant.name}.jpg"
        path.write_bytes(photo_fixtures.jpeg_bytes(variant, reg.id_card_number))
        try:
            await seller_client.submit_photo(client, member, path, policy=policy)
            verdict = "passed"
        except RefusedError as err:
            verdict = f"failed {err.refusal.code}: {err.refusal.message}"
        print(f"  OPEN-1 photo {path.name}: {verdict}")
    paper = await seller_client.command(client, member, SellerAccount.start_exam, ExamStartInput())
    key = answer_key(draw(f"{member}:{paper.attempt}", len(paper.questions), paper.attempt).paper)
    graded = await seller_client.command(
        client, member, SellerAccount.submit_exam, ExamAnswers(paper.paper_id, key)
    )
    print(f"  OPEN-2 exam: {graded.score}/100 (pass mark {graded.pass_mark}) -> {graded.state}")
    for k in range(10):
        ref = put_bytes(product_fixtures.encode(product_fixtures.image(n + k)))
        released = await seller_client.command(
            client, member, SellerAccount.release_product, product_fixtures.product(n + k, ref)
        )
    print(f"  OPEN-3: ten products released -> {released.state}")
    return member


async def enforcement(client: Client, mail: SmtpSink, people: Sellers, policy: Policy) -> list[str]:
    from devtools import product_fixtures
    from models.contract import AppealDecisionInput, ChangeContactInput, ViolationInput
    from workflows.seller_account import SellerAccount

    base = uuid.uuid4().int % 10**7 * 100
    say("OPEN-1..3: a seller goes from registration to an open store")
    lotus = await open_a_store(client, mail, people.applicant("Jade Garden Ceramics"), policy, base)
    say("ASSOC-3: another store lists a copy of one of its products")
    copycat_reg = people.applicant("Copycat Corner")
    # The demo has one public-domain portrait, so Copycat Corner is played by the same person; with
    # the known-faces check its photo would link it to Jade Garden at once (ASSOC-2 shared_face) and
    # this scene would be about that instead. Its policy leaves that check out: a demo stand-in only.
    copycat = await open_a_store(client, mail, copycat_reg, without_known_faces(policy), base + 50)
    shadow_reg = people.applicant("Shadow Shop")
    shadow = show(await register_under(client, shadow_reg, policy), "Shadow Shop")
    assert shadow
    ref = put_bytes(product_fixtures.encode(product_fixtures.image(base)))
    try:
        await seller_client.command(
            client, copycat, SellerAccount.release_product, product_fixtures.product(base, ref, price="9.99")
        )
    except RefusedError as copy:
        print(f"  Copycat Corner lists Jade Garden's product: REFUSED {copy.refusal.rule} {copy.refusal.code}")
    print("  ASSOC-4: both stores suspended, each with an appeal window")
    try:
        await seller_client.command(
            client, shadow, SellerAccount.change_contact, ChangeContactInput("email", copycat_reg.email)
        )
    except RefusedError as err:
        print(
            f"  Shadow Shop takes Copycat Corner's email: REFUSED {err.refusal.rule} {err.refusal.code} (linked)"
        )
    await asyncio.sleep(1)
    case = (await seller_client.status(client, lotus)).open_cases[0]
    invoice = settings().data_dir / "demo" / "invoice.pdf"
    invoice.write_bytes(b"%PDF-1.4 purchase invoice, demo")
    letter = "We designed and make this product ourselves; the factory invoices are attached."
    for member in (lotus, copycat):
        await seller_client.appeal(
            client, member, case, opening_info="Opened in 2026", invoices=[invoice], letter=letter
        )
    print("  ASSOC-5: both stores appeal once, with opening information, invoices and a letter")
    state = await seller_client.command(
        client,
        lotus,
        SellerAccount.decide_appeal,
        AppealDecisionInput(case, True, "demo-operator-lin"),
        operator="demo-operator-lin",
    )
    print(f"  operator lin APPROVES Jade Garden's appeal -> {state} (the link is cleared)")
    state = await seller_client.command(
        client,
        copycat,
        SellerAccount.decide_appeal,
        AppealDecisionInput(case, False, "demo-operator-wang"),
        operator="demo-operator-wang",
    )
    print(f"  operator wang REJECTS Copycat Corner's appeal -> {state}")

    async def shadow_banned() -> bool:
        return (await seller_client.status(client, shadow)).state == "closed"

    await wait_for(shadow_banned, seconds=30, label="the ENF-3 cascade")
    print("\n  ENF-3: Shadow Shop, linked to Copycat Corner, is banned too, naming its origin")

    say("ENF-2: 12 listing-quality points freeze the store; the freeze lifts by itself (15 s here)")
    await seller_client.report_violation(
        client,
        lotus,
        ViolationInput(f"demo-{base}", "listing", "ENF-2", points=12, evidence_ref="listing:demo"),
    )

    async def frozen() -> bool:
        return (await seller_client.status(client, lotus)).state == "suspended"

    await wait_for(frozen, seconds=15, label="the freeze")
    print("\n  Jade Garden Ceramics: suspended (listing freeze)")

    async def lifted() -> bool:
        return (await seller_client.status(client, lotus)).state == "open"

    await wait_for(lifted, seconds=60, label="the freeze to lift")
    print("\n  Jade Garden Ceramics: open again, no one touched it")
    return [lotus, copycat, shadow]


def print_states(statuses: list[AccountStatus]) -> None:
    rows = [
        # Whole: a deadline cut off mid-date tells an operator nothing.
        (s.member_id, s.state, s.closed_reason or "", s.products_released, "; ".join(s.waiting_for))
        for s in statuses
    ]
    say("Accounts")
    print(table(rows, ["member id", "state", "closed reason", "products", "waiting for"]))


async def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.parse_args()
    started = (
        temporal_dev.start() if settings().temporal_address.startswith(("localhost", "127.0.0.1")) else False
    )
    print(f"Temporal at {settings().temporal_address} ({'started' if started else 'already running'})")
    client = await seller_client.connect()

    from worker import build_worker

    forgotten = forget_earlier_demo_faces()
    if forgotten:
        print(f"Earlier demo runs: the faces and photos of {forgotten} demo sellers forgotten (see demo.py)")

    # A local mail server for the REG-6 codes (the production SMTP host comes from SMTP_HOST/SMTP_PORT).
    with SmtpSink(port=settings().smtp_port) as mail:
        async with build_worker(client):
            statuses = await demo(client, mail)
    print_states(statuses)
    print(f"\nWatch them in the Web UI: {temporal_dev.ui_url()}")
    print("  filter with:  SellerState = 'closed'   or   WorkflowType = 'SellerAccount'")
    print(
        f"  to read payloads: python codec_server.py, sign in at {temporal_dev.UI_CODEC_ENDPOINT}/login"
        " (README, Operator's guide)"
    )
    print("  the dev server keeps running: ./run devserver stop")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
