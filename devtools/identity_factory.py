"""Well-formed synthetic identity numbers for demos and tests: valid check characters, no real person."""

from __future__ import annotations

import uuid

from activities.registration_checks import _ID_CHECK, _ID_WEIGHTS, _USCC_ALPHABET, _USCC_WEIGHTS
from models.contract import RegistrationInput


def licence_number(n: int) -> str:
    """A unified social credit code (GB 32100-2015) with a correct check character."""
    body = "91" + "440300" + "".join(_USCC_ALPHABET[(n // 31**i) % 31] for i in range(9))
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(body, _USCC_WEIGHTS, strict=True))
    return body + _USCC_ALPHABET[(31 - total % 31) % 31]


def id_card_number(n: int) -> str:
    """A resident ID number (region 440305, born 1990-01-01) with an ISO 7064 MOD 11-2 check."""
    body = f"{440305 + (n // 1000) % 1000:06d}19900101{n % 1000:03d}"
    total = sum(int(c) * w for c, w in zip(body, _ID_WEIGHTS, strict=True))
    return body + _ID_CHECK[total % 11]


def applicant(**overrides: object) -> RegistrationInput:
    """A well-formed mainland applicant with a fresh identity (email, mobile, licence, ID card)."""
    n = uuid.uuid4().int % 10**9
    fields: dict[str, object] = dict(
        request_id=uuid.uuid4().hex,
        store_name=f"Garden Shop {n % 100_000}",
        email=f"owner{n}@example.com",
        mobile=f"+86139{n % 10**8:08d}",
        region="CN",
        licence_number=licence_number(n),
        id_card_number=id_card_number(n),
    )
    fields.update(overrides)
    return RegistrationInput(**fields)  # type: ignore[arg-type]
