"""The boundary: one declaration per message the account workflow takes (signals, updates, inputs),
checked where the message enters, with the sizes of the columns it ends up in (models/limits.py).
Over 400 lines: one declaration per message, side by side, so that every entry point's checks read in one place.

`parse(cls, raw)` turns a decoded payload (plain JSON values: signals arrive undecoded so that a
payload that does not fit the dataclass is still seen) into the dataclass, normalised: datetimes aware
and in UTC, integers in range, texts within their column and free of control characters.
`check(obj)` runs the same declaration over a dataclass the SDK already decoded (updates).
Both raise RefusedError naming the message's rule and a `<field>_<problem>` reason code.

Pure and deterministic: imported by workflow code.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from temporalio.converter import value_to_type

from models import limits as L
from models.auth import Credential
from models.contract import (
    SIGNAL_PAYLOADS,
    AccountProfile,
    AppealDecisionInput,
    AppealInput,
    AssociationCaseInput,
    BanInput,
    ChangeContactInput,
    ClosureReport,
    Consent,
    ExamAnswers,
    ExamStartInput,
    LoginInput,
    PhotoSubmission,
    ProductInput,
    ProductRemoval,
    RegistrationInput,
    RequestCodeInput,
    RetryInput,
    UnbindInput,
    VerifyEmailInput,
    ViolationInput,
)
from models.refusals import RefusedError, refuse
from models.review import DECISIONS, ClaimReviewInput, DecideReviewInput

T = TypeVar("T")

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/+=-]*$")  # report, case and request ids
_RULE_ID = re.compile(r"^[A-Z]{2,8}-[0-9]{1,3}$")
_MEMBER_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
# A blob reference as the blob store names its files (activities/storage/blobs.py).
BLOB_REF = re.compile(r"^sha256:([0-9a-f]{64})$")


class Invalid(Exception):
    """One field's problem; the message's rule is added by `parse`."""

    def __init__(self, field: str, problem: str, message: str) -> None:
        super().__init__(message)
        self.field, self.problem, self.message = field, problem, message


# ---------------------------------------------------------------- field kinds


@dataclass(frozen=True)
class Text:
    max_len: int
    min_len: int = 0
    choices: tuple[str, ...] | None = None
    pattern: re.Pattern[str] | None = None
    multiline: bool = False  # free text may hold newlines and tabs; names and ids may not
    ip: bool = False
    controls: bool = True  # False: a field whose own validator refuses control characters with its codes

    def __call__(self, name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise Invalid(name, "wrong_type", f"{name} must be a string.")
        if len(value) > self.max_len:
            raise Invalid(name, "too_long", f"{name} is longer than {self.max_len} characters.")
        if len(value.strip()) < self.min_len:
            raise Invalid(name, "too_short", f"{name} needs at least {self.min_len} character(s).")
        allowed = "\n\t\r" if self.multiline else ""
        if self.controls and any(
            unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp") and c not in allowed
            for c in value
        ):
            raise Invalid(name, "control_characters", f"{name} contains control characters.")
        if self.choices is not None and value not in self.choices:
            raise Invalid(name, "not_allowed", f"{name} must be one of: {', '.join(self.choices)}.")
        if self.pattern is not None and value and not self.pattern.match(value):
            raise Invalid(name, "bad_format", f"{name} is not in the expected format.")
        if self.ip and value:
            try:
                ipaddress.ip_address(value)
            except ValueError:
                raise Invalid(name, "bad_format", f"{name} is not an IP address.") from None
        return value


@dataclass(frozen=True)
class Int:
    lo: int
    hi: int

    def __call__(self, name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid(name, "wrong_type", f"{name} must be an integer.")
        if not self.lo <= value <= self.hi:
            raise Invalid(name, "out_of_range", f"{name} must be from {self.lo} to {self.hi}.")
        return value


@dataclass(frozen=True)
class Flag:
    def __call__(self, name: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise Invalid(name, "wrong_type", f"{name} must be true or false.")
        return value


@dataclass(frozen=True)
class Moment:
    """An instant: ISO 8601 with its offset (or an aware datetime), normalised to UTC. A time without
    a zone is refused: guessing it would move penalties by hours."""

    def __call__(self, name: str, value: Any) -> datetime:
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                raise Invalid(name, "bad_format", f"{name} is not an ISO 8601 date and time.") from None
        if not isinstance(value, datetime):
            raise Invalid(name, "wrong_type", f"{name} must be a date and time.")
        if value.tzinfo is None or value.utcoffset() is None:
            raise Invalid(name, "naive_datetime", f"{name} must carry its time zone (UTC offset).")
        return value.astimezone(UTC)


@dataclass(frozen=True)
class Items:
    of: Callable[[str, Any], Any]
    max_items: int
    min_items: int = 0

    def __call__(self, name: str, value: Any) -> list[Any]:
        if not isinstance(value, list | tuple):
            raise Invalid(name, "wrong_type", f"{name} must be a list.")
        if not self.min_items <= len(value) <= self.max_items:
            raise Invalid(
                name, "count_out_of_range", f"{name} takes {self.min_items} to {self.max_items} items."
            )
        return [self.of(name, v) for v in value]


@dataclass(frozen=True)
class Maybe:
    of: Callable[[str, Any], Any]

    def __call__(self, name: str, value: Any) -> Any:
        return None if value is None else self.of(name, value)


@dataclass(frozen=True)
class Message:
    rule: str  # the rule a refusal of this message names
    fields: dict[str, Callable[[str, Any], Any]]


@dataclass(frozen=True)
class ConsentItem:
    """DATA-1: one accepted notice, decoded by the SDK; which notices exist is screening's question."""

    def __call__(self, name: str, value: Any) -> Consent:
        if isinstance(value, dict) and set(value) == {"purpose", "notice_version", "accepted_at"}:
            value = Consent(value["purpose"], value["notice_version"], Moment()(name, value["accepted_at"]))
        if not isinstance(value, Consent):
            raise Invalid(
                name, "wrong_type", f"{name} must hold consents (purpose, notice_version, accepted_at)."
            )
        return Consent(
            Text(8, choices=("identity", "face"))(name, value.purpose),
            Text(24, min_len=1)(name, value.notice_version),
            Moment()(name, value.accepted_at),
        )


def _ids(max_len: int, min_len: int = 1) -> Text:
    return Text(max_len, min_len=min_len, pattern=_ID)


MEMBER = Text(L.MEMBER_ID, min_len=1, pattern=_MEMBER_ID)
BLOB = Text(L.BLOB_REF, pattern=BLOB_REF)

# ---------------------------------------------------------------- the declarations, one per message

MESSAGES: dict[type, Message] = {
    # signals
    LoginInput: Message(
        "REG-4",
        {
            "channel": Text(16, choices=("marketplace", "messenger")),
            "ip": Text(L.IP_ADDRESS, min_len=1, ip=True),
            "device_id": Text(L.DEVICE_ID),
        },
    ),
    ViolationInput: Message(
        "ENF-2",
        {
            "violation_id": _ids(L.REPORT_ID),
            "category": Text(16, choices=("ip", "trade", "listing", "ip_strike", "false_buyer")),
            "rule": Text(L.RULE, pattern=_RULE_ID),
            "points": Int(0, L.POINTS_MAX),
            "severity": Text(8, choices=("normal", "serious")),
            "evidence_ref": Text(L.EVIDENCE_REF),
            "given_at": Maybe(Moment()),
        },
    ),
    ClosureReport: Message(
        "REG-9",
        {
            "report_id": _ids(L.REPORT_ID),
            "rule": Text(L.RULE, choices=("REG-9", "REG-10")),
            "reason": Text(L.CLOSED_REASON, min_len=1),
            "evidence_ref": Text(L.EVIDENCE_REF),
            "reported_by": Text(L.SERVICE_NAME),
        },
    ),
    AssociationCaseInput: Message(
        "ASSOC-4",
        {
            "case_id": _ids(L.CASE_ID),
            "cause": Text(L.CAUSE, min_len=1, pattern=re.compile(r"^[a-z0-9_]+$")),
            "linked_member_id": MEMBER,
            "rule": Text(L.RULE, choices=("ASSOC-2", "ASSOC-3", "ASSOC-4")),
        },
    ),
    BanInput: Message(
        "ENF-3",
        {
            "origin_member_id": MEMBER,
            "via_member_id": MEMBER,
            "origin_reason": Text(L.REASON),
            "chain": Items(MEMBER, L.LIST_ITEMS),
        },
    ),
    # updates
    VerifyEmailInput: Message("REG-6", {"code": Text(L.EMAIL_CODE)}),
    # Contacts: email-validator and phonenumbers (activities/identity/input_checks.py contact_refusal)
    # refuse control characters and bad forms with REG-6/REG-11 codes; the boundary checks type and size.
    RequestCodeInput: Message("REG-6", {"email": Text(L.EMAIL, controls=False)}),
    ChangeContactInput: Message(
        "REG-11", {"kind": Text(8, choices=("email", "mobile")), "value": Text(L.EMAIL, controls=False)}
    ),
    PhotoSubmission: Message("OPEN-1", {"photo_ref": Text(L.BLOB_REF)}),
    UnbindInput: Message("REG-8", {"reason": Text(L.NOTE, multiline=True)}),
    ExamStartInput: Message("OPEN-2", {}),
    ExamAnswers: Message(
        "OPEN-2", {"paper_id": Text(L.PAPER_ID), "answers": Items(Int(0, 99), L.EXAM_ANSWERS)}
    ),
    ProductInput: Message(
        "OPEN-3",
        {
            "title": Text(L.PRODUCT_TITLE),
            "description": Text(L.PRODUCT_DESCRIPTION, multiline=True),
            "price": Text(L.PRICE),
            "category": Text(L.PRODUCT_CATEGORY),
            "image_ref": Text(L.BLOB_REF),
        },
    ),
    ProductRemoval: Message("OPEN-3", {"product_id": Text(L.PRODUCT_ID)}),
    AppealInput: Message(
        "ASSOC-5",
        {
            "case_id": Text(L.CASE_ID),
            "store_opening_info": Text(L.APPEAL_OPENING_INFO, multiline=True),
            "invoice_refs": Items(Text(L.BLOB_REF), 10),
            "letter": Text(L.FREE_TEXT, multiline=True),
        },
    ),
    AppealDecisionInput: Message(
        "ASSOC-5",
        {
            "case_id": Text(L.CASE_ID),
            "approved": Flag(),
            "operator": Text(L.OPERATOR_NAME),
            "note": Text(L.NOTE, multiline=True),
        },
    ),
    RetryInput: Message("ENF-4", {"operator": Text(L.OPERATOR_NAME)}),
    # Review items (issue 25): what the decision says is checked by the account, which audits a refusal.
    ClaimReviewInput: Message(
        "ENF-4",
        {"item_id": Text(L.REVIEW_ITEM_ID, min_len=1), "operator": Text(L.OPERATOR_NAME), "release": Flag()},
    ),
    DecideReviewInput: Message(
        "ENF-4",
        {
            "item_id": Text(L.REVIEW_ITEM_ID, min_len=1),
            "decision": Text(8, choices=DECISIONS),
            "operator": Text(L.OPERATOR_NAME),
            "note": Text(L.NOTE, multiline=True),
            "code": Maybe(Text(L.REASON)),
        },
    ),
    # workflow inputs
    AccountProfile: Message(
        "REG-7",
        {
            "member_id": MEMBER,
            "store_name": Text(L.STORE_NAME, min_len=1),
            "region": Text(L.REGION, min_len=1),
            "account_type": Text(4, choices=("main", "sub")),
            "main_member_id": Maybe(MEMBER),
        },
    ),
    # Registration screening (activities/registration_checks.py, REG-1/2/6/11) checks the applicant's
    # fields with its own reason codes; the boundary adds what becomes a key: the request id.
    # A list is never null (a Go nil slice marshals as null): refused here rather than failing a step.
    RegistrationInput: Message(
        "REG-7",
        {
            "request_id": _ids(L.REQUEST_ID),
            "owned_brands": Items(Text(64), 20),
            "consents": Items(ConsentItem(), 4),
        },
    ),
}


# The message each account command carries (signals and updates), for whoever holds only its JSON: the
# codec server signing an operator's command, `starter.py credential --input` (security/credentials.py).
COMMAND_MESSAGES: dict[str, type] = SIGNAL_PAYLOADS | {
    "login": LoginInput,  # a signal for runs started before release v3 (workflows/traffic.py)
    "verify_email": VerifyEmailInput,
    "request_email_code": RequestCodeInput,
    "change_contact": ChangeContactInput,
    "submit_authentication_photo": PhotoSubmission,
    "unbind_identity": UnbindInput,
    "start_exam": ExamStartInput,
    "submit_exam": ExamAnswers,
    "release_product": ProductInput,
    "remove_product": ProductRemoval,
    "appeal": AppealInput,
    "decide_appeal": AppealDecisionInput,
    "retry": RetryInput,
    "register": RegistrationInput,
}


def from_json(command: str, value: Any) -> Any:
    """The message `command` carries, from its JSON (as the account will read it), or None when it is
    not one (then no credential can be bound to it: the account refuses it for what it is)."""
    cls = COMMAND_MESSAGES.get(command)
    if cls is None:
        return None
    try:
        return parse(cls, {k: v for k, v in value.items() if k != "auth"} if isinstance(value, dict) else value)
    except RefusedError:
        return None


def declaration(cls: type) -> Message:
    return MESSAGES[cls]


def parse(cls: type[T], raw: Any) -> T:
    """A decoded payload (dict of JSON values, or an instance of `cls`) as a checked, normalised `cls`."""
    message = MESSAGES[cls]
    if dataclasses.is_dataclass(raw) and isinstance(raw, cls):
        raw = {f.name: getattr(raw, f.name) for f in dataclasses.fields(raw)}  # type: ignore[arg-type]
    if not isinstance(raw, dict):
        raise refuse(message.rule, "not_an_object", f"{cls.__name__} must be an object of named fields.")
    values: dict[str, Any] = {}
    try:
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.name not in raw:
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    raise Invalid(f.name, "missing", f"{f.name} is required.")
                continue
            kind = message.fields.get(f.name)
            if f.name == "auth":  # the sender's credential (security/credentials.py), verified later
                values["auth"] = _credential(raw["auth"])
            elif kind is None:  # a field with nothing to check (none today): passed as it came
                values[f.name] = raw[f.name]
            else:
                values[f.name] = kind(f.name, raw[f.name])
    except Invalid as bad:
        raise refuse(message.rule, f"{bad.field}_{bad.problem}", bad.message) from None
    return cls(**values)


def _credential(value: Any) -> Credential | None:
    """A signal's `auth` arrives as plain JSON: the Credential it decodes to, or why it does not."""
    if value is None or isinstance(value, Credential):
        return value
    try:
        return value_to_type(Credential | None, value)  # type: ignore[arg-type]
    except (TypeError, ValueError, KeyError):
        raise Invalid("auth", "malformed", "auth is not a credential.") from None


def check(obj: T) -> T:
    """`parse` for an instance the SDK decoded (an update's argument)."""
    return parse(type(obj), obj)
