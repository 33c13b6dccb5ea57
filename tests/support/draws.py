"""Fixed-seed draws for the ids, addresses and contents tests need to be distinct within a session
(one registry, one dev server): the same in every run, so a failure can be run again as it was."""

from __future__ import annotations

import random

# A seed no other generator of the suite uses (devtools.identity_factory draws request ids too).
DRAW = random.Random(7_20261125)


def hex_id(digits: int = 32) -> str:
    """`digits` lowercase hex digits (a uuid's worth by default)."""
    return f"{DRAW.getrandbits(4 * digits):0{digits}x}"


def raw_bytes(n: int = 16) -> bytes:
    return DRAW.randbytes(n)
