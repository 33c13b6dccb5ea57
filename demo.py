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

from temporalio.client import Client

import seller_client
from devtools import temporal_dev
from models.contract import AccountStatus, RegistrationInput, RegistrationResult
from models.policy import Policy
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
        return RegistrationInput(**fields)  # type: ignore[arg-type]


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


async def demo(client: Client) -> list[AccountStatus]:
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
    idle_member = show(await seller_client.register(client, idle, policy=short_year(policy)), "Sleepy Socks")
    active = people.applicant("Busy Bees Crafts")
    active_member = show(
        await seller_client.register(client, active, policy=short_year(policy)), "Busy Bees Crafts"
    )
    assert idle_member and active_member
    members += [idle_member, active_member]

    async def reclaimed() -> bool:
        # The active seller keeps logging in, so its year keeps restarting.
        await seller_client.login(client, active_member, channel="messenger", ip="203.0.113.10")
        return (await seller_client.status(client, idle_member)).state == "closed"

    await wait_for(reclaimed, seconds=DEMO_YEAR_SECONDS * 3, label="the idle account's year to run out")
    print()
    return [await seller_client.status(client, m) for m in members if m]


def print_states(statuses: list[AccountStatus]) -> None:
    rows = [
        (s.member_id, s.state, s.closed_reason or "", s.login_count, "; ".join(s.waiting_for)[:70])
        for s in statuses
    ]
    say("Accounts")
    print(table(rows, ["member id", "state", "closed reason", "logins", "waiting for"]))


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

    async with build_worker(client):
        statuses = await demo(client)
    print_states(statuses)
    print(f"\nWatch them in the Web UI: {temporal_dev.ui_url()}")
    print("  filter with:  SellerState = 'closed'   or   WorkflowType = 'SellerAccount'")
    print("  the dev server keeps running: ./run devserver stop")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
