"""Issue 14: a seller who types their identity another way is still one seller (REG-11), and still
barred after a serious closure (REG-5). End to end on the dev server, against the registry the tests
run on (SQLite file, or PostgreSQL with SELLER_TEST_DATABASE_URL)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from temporalio.testing import WorkflowEnvironment

import seller_client
from activities.enforcement import bar_identity
from devtools.identity_factory import applicant
from models.activity_io import BarIdentityInput
from models.contract import RegistrationInput
from tests.conftest import new_worker
from tests.support.draws import hex_id


def in_script(number: str, zero: str) -> str:
    return "".join(chr(ord(zero) + int(c)) if c.isdigit() else c for c in number)


def spaced_mobile(e164: str) -> str:
    national = e164.removeprefix("+86")
    return f"+86 {national[:3]}-{national[3:7]}-{national[7:]}"


# One way (at least) for each attribute that the landed code took for a new identity. Each takes the
# original registration and answers the spelling a second store would use.
ALIASES: dict[str, tuple[str, Callable[[RegistrationInput], str]]] = {
    "mobile spaced with country code": ("mobile", lambda r: spaced_mobile(r.mobile)),
    "mobile without country code": ("mobile", lambda r: r.mobile.removeprefix("+86")),
    "mobile with 00 international prefix": ("mobile", lambda r: "00" + r.mobile.removeprefix("+")),
    "mobile in Arabic-Indic digits": ("mobile", lambda r: in_script(r.mobile, "\u0660")),
    "gmail dots, case and +tag": (
        "email",
        lambda r: ".".join(r.email.split("@")[0].replace(".", "")).upper() + "+shop2@Gmail.com",
    ),
    "googlemail domain": ("email", lambda r: r.email.split("@")[0] + "@googlemail.com"),
    "ID card in Arabic-Indic digits": ("id_card_number", lambda r: in_script(r.id_card_number, "\u0660")),
    "ID card in Devanagari digits": ("id_card_number", lambda r: in_script(r.id_card_number, "\u0966")),
    "ID card in full-width digits": ("id_card_number", lambda r: in_script(r.id_card_number, "\uff10")),
    "ID card spaced, check x in lower case": (
        "id_card_number",
        lambda r: f"{r.id_card_number[:6]} {r.id_card_number[6:14]} {r.id_card_number[14:]}".lower(),
    ),
    "licence in lower case with spaces": (
        "licence_number",
        lambda r: " ".join([r.licence_number[:6], r.licence_number[6:]]).lower(),
    ),
    "licence in Persian digits": ("licence_number", lambda r: in_script(r.licence_number, "\u06f0")),
}
FIELDS = {"mobile": "mobile", "email": "email"}


def original() -> RegistrationInput:
    """A first registration as a seller would type it, with a Gmail address (the provider rules apply)."""
    reg = applicant()
    return dataclasses.replace(reg, email=f"ab.alias.{hex_id(10)}@gmail.com")


def second_store(first: RegistrationInput, alias: str) -> RegistrationInput:
    """A fresh applicant except for the one aliased attribute."""
    field, spell = ALIASES[alias]
    fresh = dataclasses.replace(applicant(), email=f"fresh.{hex_id(10)}@example.com")
    return dataclasses.replace(fresh, **{FIELDS.get(field, field): spell(first)})


async def test_every_alias_is_refused_as_a_duplicate_identity_then_as_barred(
    dev_env: WorkflowEnvironment,
) -> None:
    first = original()
    async with new_worker(dev_env.client) as worker:
        accepted = await seller_client.register(dev_env.client, first, task_queue=worker.task_queue)
        assert accepted.accepted and accepted.member_id, accepted.refusal

        async def each_alias_registers() -> dict[str, object]:
            """A second store of `first`'s identity under each alias at once: each one's refusal."""
            stores = {alias: second_store(first, alias) for alias in ALIASES}
            results = await asyncio.gather(
                *(seller_client.register(dev_env.client, r, task_queue=worker.task_queue) for r in stores.values())
            )
            return {
                alias: r.refusal and (r.refusal.rule, r.refusal.code, r.refusal.retryable)
                for alias, r in zip(stores, results, strict=True)
            }

        assert await each_alias_registers() == dict.fromkeys(ALIASES, ("REG-11", "duplicate_identity", False))

        # REG-5: the first account is closed for serious violations; its identity is barred however it
        # is typed (the fresh attributes of each attempt were never registered, so only the alias matters).
        bar_identity(BarIdentityInput(member_id=accepted.member_id, at=datetime.now(UTC)))
        assert await each_alias_registers() == dict.fromkeys(ALIASES, ("REG-5", "identity_barred", False))


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("id_card_number", "44030519900101001\u0425", "non_ascii_characters"),  # Cyrillic Ha for X
        ("mobile", "+86 139\u00b71234\u00b75670", "non_ascii_characters"),
        ("mobile", "1-800-FLOWERS", "bad_mobile"),
        ("email", "shop@gmail.com\u2028", "control_characters"),
    ],
)
async def test_numbers_with_other_characters_are_refused_not_fingerprinted(
    dev_env: WorkflowEnvironment, field: str, value: str, code: str
) -> None:
    reg = dataclasses.replace(applicant(), **{field: value})
    async with new_worker(dev_env.client) as worker:
        result = await seller_client.register(dev_env.client, reg, task_queue=worker.task_queue)
    assert not result.accepted and result.refusal is not None
    assert result.refusal.code == code and result.refusal.message and result.refusal.retryable
