"""The registry and the record: SQLModel tables.

The workflow is the source of truth for an account's state; these tables hold what must be unique
across accounts (identity fingerprints, REG-11 / REG-5) and what must never be rewritten (the audit
log, ENF-4). Uniqueness is the database's job: a unique index, not a prior SELECT, is what makes two
racing registrations safe (DESIGN decision 3).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, UniqueConstraint, text
from sqlalchemy.engine import Engine
from sqlmodel import Field, SQLModel

from models import limits


class Account(SQLModel, table=True):
    """One seller account. `member_id` is assigned by the system and never changes (REG-7)."""

    member_id: str = Field(primary_key=True, max_length=limits.MEMBER_ID)
    registration_id: str = Field(unique=True, index=True, max_length=limits.REQUEST_ID)
    store_name: str = Field(max_length=limits.STORE_NAME)
    region: str = Field(max_length=limits.REGION, index=True)
    is_main: bool = True
    main_member_id: str | None = Field(default=None, max_length=limits.MEMBER_ID, index=True)
    state: str = Field(default="registered", max_length=limits.STATE, index=True)
    closed_reason: str | None = Field(default=None, max_length=limits.CLOSED_REASON)
    created_at: datetime
    updated_at: datetime


class IdentityFingerprint(SQLModel, table=True):
    """A keyed fingerprint (HMAC) of one identity attribute; one seller account per value (REG-11)."""

    __table_args__ = (UniqueConstraint("kind", "digest", name="uq_identity_kind_digest"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # licence | id_card | mobile | email
    digest: str = Field(max_length=64)
    member_id: str = Field(foreign_key="account.member_id", index=True, max_length=limits.MEMBER_ID)


class BarredFingerprint(SQLModel, table=True):
    """Identity of an account closed for serious violations: may not register again (REG-5)."""

    __table_args__ = (UniqueConstraint("kind", "digest", name="uq_barred_kind_digest"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    digest: str = Field(max_length=64)
    origin_member_id: str = Field(max_length=limits.MEMBER_ID)
    barred_at: datetime


class AccountLink(SQLModel, table=True):
    """Two accounts found to belong together (ASSOC-2 shared identity, ASSOC-3 duplicate products).
    Stored once per pair and reason with the smaller member id first; ENF-3 cascades walk these."""

    __table_args__ = (UniqueConstraint("member_a", "member_b", "reason", name="uq_link_pair_reason"),)

    id: int | None = Field(default=None, primary_key=True)
    member_a: str = Field(max_length=limits.MEMBER_ID, index=True)
    member_b: str = Field(max_length=limits.MEMBER_ID, index=True)
    rule: str = Field(max_length=limits.RULE)
    reason: str = Field(max_length=limits.CAUSE)
    # e.g. the identity kind or the product ids
    evidence: str = Field(default="", max_length=limits.LINK_EVIDENCE)
    created_at: datetime
    cleared_at: datetime | None = None  # ASSOC-5: an approved appeal clears the link; ENF-3 ignores it
    cleared_by: str | None = Field(default=None, max_length=limits.ACTOR)


class AuditRecord(SQLModel, table=True):
    """Append-only (ENF-4): keyed by workflow id and event sequence so a retried write is a no-op."""

    __table_args__ = (UniqueConstraint("workflow_id", "seq", name="uq_audit_workflow_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    workflow_id: str = Field(max_length=limits.WORKFLOW_ID, index=True)
    seq: int
    at: datetime
    actor: str = Field(max_length=limits.ACTOR)  # system | seller | operator:<name> | service:<name>
    event: str = Field(max_length=limits.EVENT)
    rule: str = Field(max_length=limits.RULE)
    reason: str = Field(max_length=limits.REASON)
    from_state: str | None = Field(default=None, max_length=limits.STATE)
    to_state: str | None = Field(default=None, max_length=limits.STATE)
    policy_version: str = Field(max_length=limits.POLICY_VERSION)
    detail: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class EvidenceAccess(SQLModel, table=True):
    """Who looked, who decided (issue 25): one row per view of personal data or evidence on the evidence
    page, and per decision sent from it. Append-only, like the audit log (database triggers below)."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    operator: str = Field(max_length=limits.ACTOR, index=True)
    workflow_id: str = Field(max_length=limits.WORKFLOW_ID, index=True)
    item_id: str = Field(max_length=limits.REVIEW_ITEM_ID, index=True)
    what: str = Field(max_length=limits.ACCESS_WHAT)  # view_item | view_<evidence kind> | decide_* | refused_*
    note: str = Field(default="", max_length=limits.NOTE)  # a decision's note; empty for a view


class PreApproval(SQLModel, table=True):
    """REG-2: an operator's advance approval of a non-mainland applicant, matched on its licence."""

    id: int | None = Field(default=None, primary_key=True)
    ref: str = Field(unique=True, index=True, max_length=40)
    region: str = Field(max_length=limits.REGION)
    licence_digest: str = Field(max_length=64)
    approved_by: str = Field(max_length=64)
    created_at: datetime


class LoginIp(SQLModel, table=True):
    """ASSOC-1: which accounts logged in from an IP (kept as a keyed digest); advice only."""

    ip_digest: str = Field(primary_key=True, max_length=64)
    member_id: str = Field(primary_key=True, max_length=limits.MEMBER_ID)
    first_seen: datetime


class BuyerAccount(SQLModel, table=True):
    """REG-3: buyer accounts screened against seller identities (fingerprints only, never in clear)."""

    buyer_id: str = Field(primary_key=True, max_length=40)
    region: str = Field(max_length=limits.REGION)
    state: str = Field(default="active", max_length=16)  # active | closed
    closed_reason: str | None = Field(default=None, max_length=40)
    matched_member_id: str | None = Field(default=None, max_length=limits.MEMBER_ID)
    screened_at: datetime


class LoginDevice(SQLModel, table=True):
    """Devices an account logged in from (keyed digests), for REG-3 matching; never a link by itself."""

    device_digest: str = Field(primary_key=True, max_length=64)
    member_id: str = Field(primary_key=True, max_length=limits.MEMBER_ID, index=True)
    first_seen: datetime


class Notice(SQLModel, table=True):
    """The seller's outbox: warnings, reminders and advisories, one per idempotency key."""

    __table_args__ = (UniqueConstraint("member_id", "key", name="uq_notice_member_key"),)

    id: int | None = Field(default=None, primary_key=True)
    member_id: str = Field(max_length=limits.MEMBER_ID, index=True)
    key: str = Field(max_length=limits.NOTICE_KEY)
    kind: str = Field(max_length=limits.NOTICE_KIND)
    rule: str = Field(max_length=limits.RULE)
    message: str = Field(max_length=limits.NOTICE_MESSAGE)
    at: datetime


_SQLITE_GUARDS = [
    """CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON auditrecord
       BEGIN SELECT RAISE(ABORT, 'ENF-4: the audit log is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON auditrecord
       BEGIN SELECT RAISE(ABORT, 'ENF-4: the audit log is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS access_no_update BEFORE UPDATE ON evidenceaccess
       BEGIN SELECT RAISE(ABORT, 'the evidence access log is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS access_no_delete BEFORE DELETE ON evidenceaccess
       BEGIN SELECT RAISE(ABORT, 'the evidence access log is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS member_id_immutable BEFORE UPDATE OF member_id ON account
       WHEN NEW.member_id IS NOT OLD.member_id
       BEGIN SELECT RAISE(ABORT, 'REG-7: a member id is never changed'); END""",
]

_POSTGRES_GUARDS = [
    """CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'ENF-4: the audit log is append-only'; END $$ LANGUAGE plpgsql""",
    "DROP TRIGGER IF EXISTS audit_no_change ON auditrecord",
    """CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON auditrecord
       FOR EACH ROW EXECUTE FUNCTION audit_append_only()""",
    """CREATE OR REPLACE FUNCTION access_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'the evidence access log is append-only'; END $$ LANGUAGE plpgsql""",
    "DROP TRIGGER IF EXISTS access_no_change ON evidenceaccess",
    """CREATE TRIGGER access_no_change BEFORE UPDATE OR DELETE ON evidenceaccess
       FOR EACH ROW EXECUTE FUNCTION access_append_only()""",
    """CREATE OR REPLACE FUNCTION member_id_immutable() RETURNS trigger AS $$
       BEGIN
         IF NEW.member_id IS DISTINCT FROM OLD.member_id THEN
           RAISE EXCEPTION 'REG-7: a member id is never changed';
         END IF;
         RETURN NEW;
       END $$ LANGUAGE plpgsql""",
    "DROP TRIGGER IF EXISTS member_id_immutable ON account",
    """CREATE TRIGGER member_id_immutable BEFORE UPDATE ON account
       FOR EACH ROW EXECUTE FUNCTION member_id_immutable()""",
]


def install_guards(engine: Engine) -> None:
    """Database-level refusals, so that no code path (or operator with a SQL shell) bypasses them."""
    guards = _POSTGRES_GUARDS if engine.dialect.name == "postgresql" else _SQLITE_GUARDS
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # Two workers starting together would race on CREATE OR REPLACE FUNCTION.
            conn.execute(text("SELECT pg_advisory_xact_lock(7233)"))
        for ddl in guards:
            conn.execute(text(ddl))


# Feature tables live in their own modules; importing them here registers them for create_all.
import models.consent  # noqa: E402,F401
import models.data_keys  # noqa: E402,F401
import models.decision_locks  # noqa: E402,F401
import models.email_verification  # noqa: E402,F401
import models.known_faces  # noqa: E402,F401
import models.products  # noqa: E402,F401
