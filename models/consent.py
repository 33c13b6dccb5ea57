"""DATA-1 consent as data: the versioned notices an applicant may accept, and the registry's record of
each acceptance (which notice, when) and of its withdrawal.

Notices are files, `models/terms/notices/<purpose>-v<N>.md`: a notice once published is never edited (a
new text is a new version), so a recorded version always names the text the applicant read.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from sqlmodel import Field, SQLModel

NOTICES_DIR = Path(__file__).resolve().parent / "terms" / "notices"
PURPOSES = ("identity", "face")  # identity: ID numbers and contacts; face: templates and comparison
NOTICE_VERSION = re.compile(r"(identity|face)-v([1-9][0-9]{0,3})")


@lru_cache(maxsize=1)
def notices() -> dict[str, str]:
    """Every published notice version and its purpose."""
    found = {}
    for path in NOTICES_DIR.glob("*.md"):
        match = NOTICE_VERSION.fullmatch(path.stem)
        if match:
            found[path.stem] = match.group(1)
    return found


def current_notice(purpose: str) -> str:
    """The newest version of the purpose's notice (what a client shows an applicant today)."""
    versions = [v for v, p in notices().items() if p == purpose]
    return max(versions, key=lambda v: int(v.rsplit("-v", 1)[1]))


def notice_text(version: str) -> str:
    if version not in notices():
        raise KeyError(version)
    return (NOTICES_DIR / f"{version}.md").read_text(encoding="utf-8")


class ConsentRecord(SQLModel, table=True):
    """One accepted notice of one account; `withdrawn_at` set when the seller withdraws it (the row
    stays: the proof that processing before then was consented to)."""

    id: int | None = Field(default=None, primary_key=True)
    member_id: str = Field(foreign_key="account.member_id", index=True, max_length=32)
    purpose: str = Field(max_length=16)  # identity | face
    notice_version: str = Field(max_length=24)
    accepted_at: datetime
    withdrawn_at: datetime | None = None
