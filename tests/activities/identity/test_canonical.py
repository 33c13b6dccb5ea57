"""REG-11 canonical identities: every spelling of one identity has one fingerprint, and a value with no
canonical form is refused (rule, reason code, sentence), never fingerprinted as typed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activities.email_verification import send_verification_code
from activities.identity import canonical as identity_canonical
from activities.identity.canonical import canonical, canonical_email, load_providers
from activities.identity.input_checks import contact_refusal
from activities.identity_registry import fingerprint
from devtools.identity_factory import id_card_number, licence_number
from devtools.smtp_sink import SmtpSink
from models.activity_io import SendCodeInput
from models.refusals import RefusedError
from tests.support.draws import hex_id
from tests.support.registry_rows import registered_account

# Decimal digit zeros of scripts people type numbers in; each script's digits are zero + 0..9.
DIGIT_ZEROS = {
    "ascii": "0",
    "full-width": "\uff10",
    "arabic-indic": "\u0660",
    "extended-arabic-indic": "\u06f0",
    "devanagari": "\u0966",
    "bengali": "\u09e6",
    "thai": "\u0e50",
    "myanmar": "\u1040",
    "mathematical-bold": "\U0001d7ce",
}


def in_script(number: str, zero: str) -> str:
    return "".join(chr(ord(zero) + int(c)) if c.isdigit() else c for c in number)


ALIASES = {
    # issue 14, word for word
    "mobile": [
        "+86 139-1234-5670",
        "13912345670",
        "008613912345670",
        "+86 (139) 1234 5670",
        "+8613912345670",
    ],
    "email": [
        "ab.alias@gmail.com",
        "A.B.Alias+shop2@Gmail.com",
        "abalias@googlemail.com",
        " AB.ALIAS@GMAIL.COM ",
    ],
    "id_card": [
        "440305199001010018",
        in_script("440305199001010018", "\u0660"),
        in_script("440305199001010018", "\u0966"),
        in_script("440305199001010018", "\uff10"),
        "440305 19900101 0018",
    ],
    "licence": [
        "91440300100000000R",
        "91440300100000000r",
        "9144 0300 1000 0000 0R",
        in_script("91440300100000000R", "\u06f0"),
    ],
}


@pytest.mark.parametrize("kind", list(ALIASES))
def test_every_alias_of_an_identity_has_one_fingerprint(kind: str) -> None:
    prints = {fingerprint(kind, v) for v in ALIASES[kind]}
    assert len(prints) == 1, [canonical(kind, v) for v in ALIASES[kind]]


def test_canonical_forms_are_e164_stdnum_compact_and_the_providers_mailbox() -> None:
    assert canonical("mobile", "+86 139-1234-5670") == "+8613912345670"
    assert canonical("email", "A.B.Alias+shop2@Gmail.com") == "abalias@gmail.com"
    assert canonical("id_card", "44030519900101001x".replace("x", "8")) == "440305199001010018"
    # Other regions: their stdnum validator (models/identity_documents.toml), else a strict pattern.
    assert canonical("id_card", "l01x-00t47", region="DE") == "L01X00T47"
    assert canonical("id_card", "12345678-z", region="ES") == "12345678Z"  # stdnum.es.dni
    with pytest.raises(RefusedError):
        canonical("id_card", "12345678A", region="ES")  # wrong DNI check letter


def test_other_providers_keep_dots_and_only_strip_tags_where_the_provider_does() -> None:
    assert canonical_email("a.b@example.com") != canonical_email("ab@example.com")
    assert canonical_email("a+b@example.com") == "a+b@example.com"  # not a provider known to strip
    assert canonical_email("shop+2@outlook.com") == canonical_email("Shop@Outlook.com")
    assert canonical_email("x.y@outlook.com") != canonical_email("xy@outlook.com")
    assert canonical_email("me@me.com") == canonical_email("me@icloud.com")
    assert canonical_email("john@hotmail.com") != canonical_email("john@outlook.com")


def test_operators_extend_the_provider_rules_without_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = tmp_path / "providers.toml"
    rules.write_text('[providers."corp.example"]\naliases = ["corp-mail.example"]\ntag_separators = ["-"]\n')
    monkeypatch.setenv("EMAIL_PROVIDERS_FILE", str(rules))
    load_providers.cache_clear()
    try:
        assert canonical_email("Sales-2@corp-mail.example") == "sales@corp.example"
        assert canonical_email("a.b+x@gmail.com") == "a.b+x@gmail.com"  # this file has no Gmail rule
    finally:
        monkeypatch.delenv("EMAIL_PROVIDERS_FILE")
        load_providers.cache_clear()
    rules.write_text('[providers."corp.example"]\nignore_dot = true\n')
    with pytest.raises(ValueError, match="ignore_dot"):
        load_providers(rules)


REFUSED = [
    ("id_card", "440305199001010018\u0301", "non_ascii_characters"),  # combining mark
    ("id_card", "44030519900101001\u0425", "non_ascii_characters"),  # Cyrillic Х for X
    ("id_card", "440305199001010019", "bad_id_card_number"),  # check character
    ("id_card", "440305199013010013", "bad_id_card_number"),  # no 13th month
    ("licence", "91440300MA5FXXXXX1", "bad_licence_number"),
    ("mobile", "1-800-FLOWERS", "bad_mobile"),  # a keypad spelling is not a mobile
    ("mobile", "+86 139 1234 567a", "bad_mobile"),
    ("mobile", "+86 139\u00b71234\u00b75670", "non_ascii_characters"),
    ("mobile", "12345", "bad_mobile"),
    ("email", "\nab.alias@gmail.com", "control_characters"),
    ("email", "\u2028ab.alias@gmail.com", "control_characters"),
    ("email", "ab@gmail.com\r\nBcc: victim@example.com", "control_characters"),
    ("email", "ab@gmail.com, other@example.com", "bad_email"),
    ("email", "Victim <ab@gmail.com>", "bad_email"),
    ("email", "+tag@gmail.com", "bad_email"),
    ("email", "ab@localhost", "bad_email"),
]


@pytest.mark.parametrize(("kind", "value", "code"), REFUSED)
def test_values_without_a_canonical_form_are_refused_with_a_reason(kind: str, value: str, code: str) -> None:
    with pytest.raises(RefusedError) as err:
        fingerprint(kind, value)
    refusal = err.value.refusal
    assert (refusal.rule, refusal.code) == (identity_canonical.KIND_RULES[kind], code)
    assert refusal.message.endswith(".") and "\n" not in refusal.message
    assert refusal.retryable  # the sender can correct the value


@pytest.mark.parametrize(
    "value", ["\nab@example.com", "\u2028ab@example.com", "ab@example.com\u2029", "a\u0085b@example.com"]
)
def test_contact_validator_refuses_line_breaks_before_any_activity(value: str) -> None:
    refusal = contact_refusal("email", value)
    assert refusal is not None and (refusal.rule, refusal.code) == ("REG-6", "control_characters")


def test_the_mail_activity_refuses_an_unvalidated_address_for_good(mailbox: SmtpSink) -> None:
    """Defence in depth: even called directly, the activity answers a refusal (no exception to retry)
    and no mail leaves."""
    member_id = "C" + hex_id(15).upper()
    email = f"owner-{member_id.lower()}@example.com"
    now = datetime(2026, 3, 1, tzinfo=UTC)
    registered_account(member_id, email=email)
    before = len(mailbox.messages())
    for bad in ("\n" + email, "\u2028" + email, email + "\r\nBcc: x@example.com"):
        result = send_verification_code(
            SendCodeInput(member_id=member_id, email=bad, ttl_minutes=15, issued_at=now)
        )
        assert not result.sent and result.refusal is not None
        assert (result.refusal.rule, result.refusal.code) == ("REG-6", "control_characters")
    assert len(mailbox.messages()) == before
    # The same address, spelt another way the provider rules fold together, is the registered one.
    assert send_verification_code(
        SendCodeInput(member_id=member_id, email=" " + email.upper(), ttl_minutes=15, issued_at=now)
    ).sent


# ------------------------------------------------------------------ properties

SEPARATORS = st.sampled_from(["", " ", "-", " - ", ".", "\u00a0", "/", "\u2013", "\u2009"])
SCRIPTS = st.sampled_from(sorted(DIGIT_ZEROS.values()))


@st.composite
def cn_mobiles(draw: st.DrawFn) -> tuple[str, str]:
    """A valid mainland mobile, and one way a person might type it."""
    prefix = draw(st.sampled_from(["139", "138", "150", "186", "177", "199"]))
    rest = draw(st.text("0123456789", min_size=8, max_size=8))
    national = prefix + rest
    country = draw(st.sampled_from(["", "+86", "+86 ", "0086", "0086 ", "+86-", "(+86) "]))
    zero = draw(SCRIPTS)
    cuts = sorted(draw(st.sets(st.integers(1, 10), max_size=3)))
    parts, last = [], 0
    for cut in cuts:
        parts.append(national[last:cut])
        last = cut
    parts.append(national[last:])
    sep = draw(SEPARATORS)
    typed = country + sep.join(parts)
    return "+86" + national, in_script(typed, zero)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(cn_mobiles())
def test_any_typing_of_a_valid_mobile_has_its_e164_fingerprint(case: tuple[str, str]) -> None:
    e164, typed = case
    assert canonical("mobile", typed) == e164
    assert fingerprint("mobile", typed) == fingerprint("mobile", e164)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.integers(0, 10**9 - 1), SCRIPTS, SEPARATORS, st.booleans())
def test_any_typing_of_a_valid_id_card_has_one_fingerprint(n: int, zero: str, sep: str, lower: bool) -> None:
    number = id_card_number(n)
    typed = sep.join([number[:6], number[6:14], number[14:]])
    typed = in_script(typed.lower() if lower else typed, zero)
    assert fingerprint("id_card", typed) == fingerprint("id_card", number)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.integers(0, 10**9 - 1), SCRIPTS, st.booleans())
def test_any_typing_of_a_valid_licence_has_one_fingerprint(n: int, zero: str, lower: bool) -> None:
    number = licence_number(n)
    typed = in_script(" ".join([number[:2], number[2:8], number[8:]]), zero)
    assert fingerprint("licence", typed.lower() if lower else typed) == fingerprint("licence", number)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=6, max_size=20),
    st.data(),
)
def test_any_gmail_spelling_reaches_one_mailbox(name: str, data: st.DataObject) -> None:
    dots = data.draw(st.sets(st.integers(1, len(name) - 1), max_size=3))
    spelt = "".join(("." if i in dots else "") + c for i, c in enumerate(name))
    spelt = "".join(c.upper() if data.draw(st.booleans()) else c for c in spelt)
    tag = data.draw(st.sampled_from(["", "+shop2", "+a.b", "+"]))
    domain = data.draw(st.sampled_from(["gmail.com", "GMAIL.com", "googlemail.com", "GoogleMail.COM"]))
    assert fingerprint("email", f"{spelt}{tag}@{domain}") == fingerprint("email", f"{name}@gmail.com")


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(min_size=1, max_size=30), st.sampled_from(sorted(identity_canonical.KIND_RULES)))
def test_any_text_is_either_canonical_ascii_or_refused_with_a_reason(value: str, kind: str) -> None:
    try:
        form = canonical(kind, value)
    except RefusedError as err:
        assert err.refusal.rule in {"REG-11", "REG-6"} and err.refusal.code and err.refusal.message
        return
    assert form.isascii() and form == form.strip() and not any(c in form for c in "\r\n\t ")


def test_lookups_without_a_region_find_mainland_and_foreign_numbers() -> None:
    """REG-10 names a supplier by its licence alone; REG-3 buyers declare another region."""
    from activities.identity_registry import candidate_fingerprints

    foreign = fingerprint("licence", "DEHRB123456", region="DE")
    assert foreign in candidate_fingerprints("licence", "dehrb 123456")
    mainland = fingerprint("licence", "91440300100000000R")
    assert mainland in candidate_fingerprints("licence", in_script("9144 0300 1000 0000 0R", "\u0660"))
    assert candidate_fingerprints("licence", "no such\u2028licence") == []


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.integers(0, 10**9 - 1), st.lists(SCRIPTS, min_size=18, max_size=18))
def test_digits_of_mixed_scripts_in_one_number_fold_alike(n: int, zeros: list[str]) -> None:
    number = id_card_number(n)
    typed = "".join(in_script(c, z) for c, z in zip(number, zeros, strict=True))
    assert fingerprint("id_card", typed) == fingerprint("id_card", number)
