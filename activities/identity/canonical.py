"""REG-11 / REG-5: the one canonical form of each identity attribute, from maintained libraries.

Two spellings of one identity must fingerprint alike, or a seller registers a second store by typing
their mobile with a country code, or their ID card number in Arabic-Indic digits. So:

- numbers written in another script (Arabic-Indic, Devanagari, full-width, ...) are folded to ASCII
  digits first, and anything else that is not ASCII is refused (`non_ascii_characters`): a value is
  never fingerprinted as it was typed;
- ID card and business licence numbers: python-stdnum (`stdnum.cn.ric`, `stdnum.cn.uscc`, and the
  validator of other regions listed in models/identity_documents.toml, else a strict ASCII pattern);
- mobiles: phonenumbers, as E.164 with the registration region as the default region;
- emails: email-validator (syntax only, no DNS), case-folded, then the provider rules of
  models/email_providers.toml (policy data: Gmail ignores dots and `+tags`, ...).

Every function here is pure and raises `RefusedError` with a rule id, a reason code and a sentence.
"""

from __future__ import annotations

import importlib
import os
import re
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from stdnum.cn import ric, uscc
from stdnum.exceptions import InvalidChecksum, InvalidFormat, InvalidLength, ValidationError

from models.refusals import Refusal, RefusedError

MAINLAND_CHINA = "CN"
# For lookups that do not know the region: the strict pattern every non-mainland number also meets.
ANY_REGION = "*"
MODELS = Path(__file__).resolve().parents[2] / "models"
# Malformed input is refused under the rule the field serves.
KIND_RULES = {"id_card": "REG-11", "licence": "REG-11", "mobile": "REG-11", "email": "REG-6"}
KIND_NAMES = {
    "id_card": "ID card number",
    "licence": "business licence number",
    "mobile": "mobile number",
    "email": "email address",
}
_FOREIGN_NUMBER = re.compile(r"[A-Z0-9]{6,20}")
_PHONE_CHARS = re.compile(r"[0-9+ \-./()]+")


def _refused(kind: str, code: str, message: str) -> RefusedError:
    return RefusedError(Refusal(KIND_RULES[kind], code, message))


def fold_digits(kind: str, value: str) -> str:
    """Digits of any script become ASCII digits (NFKC folds full-width forms, Unicode decimal values
    the rest); any other character outside ASCII is refused rather than fingerprinted as typed."""
    out = []
    for char in unicodedata.normalize("NFKC", value):
        if char.isascii():
            out.append(char)
        elif unicodedata.category(char) == "Nd":
            out.append(str(unicodedata.decimal(char)))
        elif unicodedata.category(char) == "Zs":  # no-break and other spaces between digit groups
            out.append(" ")
        elif unicodedata.category(char) == "Pd":  # en dash, minus-like dashes from autocorrect
            out.append("-")
        else:
            raise _refused(
                kind,
                "non_ascii_characters",
                f"The {KIND_NAMES[kind]} contains a character that is not a digit, a letter A-Z or a separator"
                f" (U+{ord(char):04X}).",
            )
    return "".join(out)


def _no_controls(kind: str, value: str) -> None:
    # Controls, format characters and line/paragraph separators; spaces (Zs) are mere separators.
    if any(unicodedata.category(c)[0] == "C" or unicodedata.category(c) in ("Zl", "Zp") for c in value):
        raise _refused(
            kind, "control_characters", f"The {KIND_NAMES[kind]} contains control or line-break characters."
        )


@cache
def _document_modules() -> dict[str, dict[str, str]]:
    with open(MODELS / "identity_documents.toml", "rb") as fh:
        return tomllib.load(fh)


def _stdnum_module(kind: str, region: str) -> ModuleType | None:
    name = _document_modules().get(kind, {}).get(region)
    return importlib.import_module(f"stdnum.{name}") if name else None


def _cn_resident_id(number: str) -> str:
    """stdnum.cn.ric without its birth-place lookup, whose table lacks codes still on valid cards
    (and fails with a KeyError on some prefectures in stdnum 2.2): length, digits, check, birth date."""
    if len(number) != 18:
        raise InvalidLength()
    if not number[:17].isdigit() or number[17] not in "0123456789X":
        raise InvalidFormat()
    if number[-1] != ric.calc_check_digit(number):
        raise InvalidChecksum()
    ric.get_birth_date(number)
    return number


def canonical_document(kind: str, value: str, region: str = MAINLAND_CHINA) -> str:
    """An ID card (`id_card`) or business licence (`licence`) number in its canonical form."""
    region = (region or MAINLAND_CHINA).strip().upper()
    _no_controls(kind, value.strip())
    # Separators people type inside numbers; what is left must be the number itself.
    number = re.sub(r"[\s\-./()]", "", fold_digits(kind, value)).upper()
    try:
        if region == MAINLAND_CHINA and kind == "id_card":
            return _cn_resident_id(number)
        if region == MAINLAND_CHINA:
            return uscc.validate(number)
        module = None if region == ANY_REGION else _stdnum_module(kind, region)
        if module is not None:
            return re.sub(r"[^0-9A-Z]", "", module.validate(number).upper())
    except ValidationError as err:
        what = "resident ID number" if kind == "id_card" else "unified social credit code"
        if region != MAINLAND_CHINA:
            what = f"{region} {KIND_NAMES[kind]}"
        raise _refused(
            kind,
            f"bad_{kind}_number",
            f"The {KIND_NAMES[kind]} is not a valid {what} ({getattr(err, 'message', 'invalid').rstrip('.').lower()}).",
        ) from None
    if not _FOREIGN_NUMBER.fullmatch(number):
        raise _refused(
            kind, f"bad_{kind}_number", f"The {KIND_NAMES[kind]} must be 6 to 20 letters or digits."
        )
    # Not scoped by region: a lookup that does not know the region (REG-10 names a supplier by its
    # licence alone, REG-3 buyers) must still find it, and one string issued in two regions to two
    # people is rarer than a seller changing the region they declare.
    return number


def canonical_mobile(value: str, region: str = MAINLAND_CHINA) -> str:
    """E.164 (`+8613912345670`), the registration region the default for numbers without a country."""
    _no_controls("mobile", value.strip())
    number = fold_digits("mobile", value).strip()
    # phonenumbers reads letters as a keypad ("1-800-FLOWERS"): a mobile on a form has none.
    if not _PHONE_CHARS.fullmatch(number):
        raise _refused(
            "mobile", "bad_mobile", "A mobile number has only digits, spaces, hyphens and a leading +."
        )
    try:
        parsed = phonenumbers.parse(number, (region or MAINLAND_CHINA).strip().upper())
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        raise _refused("mobile", "bad_mobile", "The mobile number is not a valid phone number.")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@dataclass(frozen=True)
class Provider:
    domain: str
    ignore_dots: bool = False
    tag_separators: tuple[str, ...] = ()


def providers_file() -> Path:
    return Path(os.environ.get("EMAIL_PROVIDERS_FILE") or MODELS / "email_providers.toml")


@cache
def load_providers(path: Path | None = None) -> dict[str, Provider]:
    """Domain (canonical or alias) -> its provider's rules."""
    with open(path or providers_file(), "rb") as fh:
        raw = tomllib.load(fh)
    found: dict[str, Provider] = {}
    for domain, spec in raw.get("providers", {}).items():
        unknown = set(spec) - {"aliases", "ignore_dots", "tag_separators"}
        if unknown:  # a misspelt rule would otherwise silently merge nothing
            raise ValueError(f"email providers: unknown setting(s) {sorted(unknown)} for {domain}")
        provider = Provider(
            domain.casefold(), bool(spec.get("ignore_dots", False)), tuple(spec.get("tag_separators", ()))
        )
        for name in [domain, *spec.get("aliases", [])]:
            found[name.casefold()] = provider
    return found


def email_address(value: str) -> str:
    """The address as mail may be sent to it: checked by email-validator, ASCII (IDNA) domain.

    Only surrounding plain spaces are forgiven: any other whitespace or control character is refused,
    so nothing a header would misread ever reaches one.
    """
    value = value.strip(" ")
    _no_controls("email", value)
    try:
        checked = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as err:
        raise _refused("email", "bad_email", f"The email address is not valid: {err}") from None
    return checked.ascii_email or checked.normalized


def canonical_email(value: str, providers: dict[str, Provider] | None = None) -> str:
    """The mailbox an address reaches: case-folded, then its provider's dot and tag rules (those of
    the policy file, or `providers`: the re-fingerprinting command passes the rules of before a change)."""
    local, _, domain = email_address(value).casefold().rpartition("@")
    provider = (load_providers() if providers is None else providers).get(domain)
    if provider is not None:
        for sep in provider.tag_separators:
            local = local.split(sep, 1)[0]
        if provider.ignore_dots:
            local = local.replace(".", "")
        domain = provider.domain
        if not local:
            raise _refused("email", "bad_email", "The email address has no mailbox name before its tag.")
    return f"{local}@{domain}"


def canonical(kind: str, value: str, *, region: str = MAINLAND_CHINA) -> str:
    """The one form of an identity attribute that is fingerprinted."""
    if not isinstance(value, str) or not value.strip():
        raise _refused(kind, "missing_field", f"The {KIND_NAMES.get(kind, kind)} is required.")
    if kind == "email":
        return canonical_email(value)
    if kind == "mobile":
        return canonical_mobile(value, region)
    if kind in ("id_card", "licence"):
        return canonical_document(kind, value, region)
    raise ValueError(f"unknown identity kind {kind!r}")


def refusal_for(kind: str, value: str, *, region: str = MAINLAND_CHINA) -> Refusal | None:
    """The refusal a value earns, or None when it has a canonical form."""
    try:
        canonical(kind, value, region=region)
    except RefusedError as err:
        return err.refusal
    return None


# Read the data files now, when the module is imported (outside any workflow): update validators call
# these functions inside the workflow sandbox, which forbids open(); a cold cache there failed every
# email change in a freshly started worker.
_document_modules()
load_providers()
