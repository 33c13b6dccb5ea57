"""REG-6: one-time codes that prove the registrant owns the email address."""

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel


class EmailCode(SQLModel, table=True):
    """A code's keyed digest, never the code; (member, issued_at) makes sending idempotent."""

    __table_args__ = (UniqueConstraint("member_id", "issued_at", name="uq_email_code_issue"),)

    id: int | None = Field(default=None, primary_key=True)
    member_id: str = Field(max_length=32, index=True)
    code_digest: str = Field(max_length=64)
    issued_at: datetime
    expires_at: datetime
    attempts: int = 0
    used_at: datetime | None = None
    superseded: bool = False
