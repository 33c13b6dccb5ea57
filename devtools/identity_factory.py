"""Well-formed synthetic identity numbers for demos and tests: valid check characters, no real person."""

from __future__ import annotations

import os
import random
import uuid
from datetime import UTC, datetime

from activities.registration_checks import _ID_CHECK, _ID_WEIGHTS, _USCC_ALPHABET, _USCC_WEIGHTS
from models.consent import current_notice
from models.contract import Consent, RegistrationInput


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


# With IDENTITY_FACTORY_SEED set (the test suite sets it), the draws repeat from run to run; without
# it (benches, history recording), each run draws new identities, so a second run on the same
# registry meets none of the first run's.
_SEED = os.environ.get("IDENTITY_FACTORY_SEED")
_DRAW = random.Random(int(_SEED) if _SEED else uuid.uuid4().int)
_ISSUED: set[int] = set()


def _fresh_number() -> int:
    """A number no applicant of this process had: `id_card_number` keeps its last six digits."""
    while True:
        n = _DRAW.randrange(10**9)
        if n % 10**6 not in _ISSUED:
            _ISSUED.add(n % 10**6)
            return n


def applicant(**overrides: object) -> RegistrationInput:
    """A well-formed mainland applicant with a fresh identity (email, mobile, licence, ID card), never
    one this process drew before."""
    n = _fresh_number()
    fields: dict[str, object] = dict(
        request_id=f"{_DRAW.getrandbits(128):032x}",
        store_name=f"Garden Shop {n % 100_000}",
        email=f"owner{n}@example.com",
        mobile=f"+86139{n % 10**8:08d}",
        region="CN",
        licence_number=licence_number(n),
        id_card_number=id_card_number(n),
        # DATA-1: the applicant accepted today's identity and face notices (override `consents` to not).
        consents=[Consent(p, current_notice(p), datetime.now(UTC)) for p in ("identity", "face")],
    )
    fields.update(overrides)
    return RegistrationInput(**fields)  # type: ignore[arg-type]
