"""Re-fingerprint the identity registry in canonical form (REG-11, REG-5, ASSOC-2).

    python -m commands.refingerprint --values export.jsonl      # values from the system of record
    python -m commands.refingerprint --from-temporal            # values from retained workflow inputs
    python -m commands.refingerprint --help

Why it needs the values: the registry stores only keyed fingerprints (HMAC-SHA256), never an identity
in clear, so a fingerprint cannot be recomputed from itself. The command takes each original value, computes
the fingerprint the registry holds for it (under the landed canonical form, `legacy_canonical`, and the
current one), and moves every row it finds to the fingerprint of the canonical form
(activities/identity/canonical.py): identity claims (REG-11), barred identities (REG-5) and REG-2
pre-approvals. Where two accounts now hold one identity, the second row keeps its old fingerprint, the two
accounts are linked (ASSOC-2, `shared_<kind>`) and, with `--open-cases`, each gets an association case.

Where the values are: the registration command carries them (RegistrationInput, encrypted by the
payload codec) into the `registration-<request id>` workflow's history, and a contact change carries the
new value into the account workflow's `change_contact` update. `--from-temporal` reads them back from
whatever histories the namespace still retains (decoded with CODEC_KEYS). Histories of finished
registrations outlive their retention period only in an archive, so for older accounts the operators
export the values from the system of record (the KYC file) as JSON Lines:

    {"kind": "mobile", "value": "+86 139-1234-5670", "region": "CN"}
    {"kind": "id_card", "value": "٤٤٠٣٠٥١٩٩٠٠١٠١٠٠١٨"}

`kind` is licence | id_card | mobile | email; `region` defaults to CN. A value matches only the rows
that hold its fingerprint, so a stale or extra value changes nothing. Identity rows no value matched are
counted as `unmatched`: they keep their fingerprints and are reported, never guessed at.

After a change to models/email_providers.toml, pass the file as it was with
`--previous-email-providers OLD.toml`, so the fingerprints computed under the old rules are found (a domain
newly added is found without it).

Idempotent and safe to re-run: a row already in canonical form is left alone, links are recorded once per
pair and reason, case ids are derived from the pair. The report names member ids and kinds only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session, select
from temporalio.client import Client

from activities.identity.canonical import canonical_email, load_providers
from activities.identity_registry import IDENTITY_KINDS, digest_of, fingerprint, link_accounts
from activities.storage.db import engine
from models.refusals import RefusedError
from models.tables import BarredFingerprint, IdentityFingerprint, PreApproval


@dataclass(frozen=True)
class SourceValue:
    """One identity value as the applicant typed it; never printed or logged."""

    kind: str
    value: str = field(repr=False)
    region: str = "CN"


@dataclass(frozen=True)
class Collision:
    kind: str
    member_ids: tuple[str, str]
    newly_linked: bool


@dataclass
class Report:
    values_read: int = 0
    values_refused: int = 0  # no canonical form (malformed): their rows are left as they are
    rewritten: int = 0  # identity claims moved to the canonical fingerprint
    merged: int = 0  # a member's duplicate claim of one identity, removed
    barred_rewritten: int = 0
    barred_merged: int = 0
    pre_approvals_rewritten: int = 0
    collisions: list[Collision] = field(default_factory=list)
    unmatched: int = 0  # identity rows no value accounted for (neither old nor canonical)
    ambiguous: int = 0  # old fingerprints shared by values of different canonical forms: left as they are
    dry_run: bool = False

    def as_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["collisions"] = [
            {"kind": c.kind, "member_ids": list(c.member_ids), "newly_linked": c.newly_linked}
            for c in self.collisions
        ]
        return out


def legacy_canonical(kind: str, value: str) -> str:
    """The canonical form as landed before python-stdnum/phonenumbers/email-validator (frozen here: it
    is what the registry's older fingerprints were computed from)."""
    value = unicodedata.normalize("NFKC", value).strip()
    if kind == "email":
        return value.casefold()
    if kind == "mobile":
        return re.sub(r"[^\d+]", "", value)
    return re.sub(r"[\s-]", "", value).upper()


def previous_digests(src: SourceValue, previous_providers: Path | None = None) -> set[str]:
    """The fingerprints the registry may hold for a value: under the landed canonical form, and for an
    email under the provider rules of before a change (a file given, and no rules at all, which is
    what a domain newly added to the rules had)."""
    found = {digest_of(src.kind, legacy_canonical(src.kind, src.value))}
    if src.kind == "email":
        try:
            found.add(digest_of("email", canonical_email(src.value, providers={})))
            if previous_providers is not None:
                rules = load_providers(previous_providers)
                found.add(digest_of("email", canonical_email(src.value, providers=rules)))
        except RefusedError:
            pass
    return found


def refingerprint(
    values: Iterable[SourceValue],
    *,
    at: datetime | None = None,
    dry_run: bool = False,
    previous_providers: Path | None = None,
) -> tuple[Report, list[Collision]]:
    """Move every stored fingerprint the values account for to canonical form; link collisions."""
    at = at or datetime.now(UTC)
    report = Report(dry_run=dry_run)
    # First every value's old and new fingerprints: an old fingerprint that values with different
    # canonical forms share (rules that were coarser before) cannot say whose row it is, so it is left.
    plans: list[tuple[str, str, set[str]]] = []
    targets: dict[tuple[str, str], set[str]] = {}
    for src in values:
        report.values_read += 1
        if src.kind not in IDENTITY_KINDS:
            report.values_refused += 1
            continue
        try:
            new = fingerprint(src.kind, src.value, region=src.region)
        except RefusedError:
            report.values_refused += 1
            continue
        old = previous_digests(src, previous_providers) - {new}
        plans.append((src.kind, new, old))
        # A canonical fingerprint is its own target: a row holding it may be that value's, not old.
        targets.setdefault((src.kind, new), set()).add(new)
        for digest in old:
            targets.setdefault((src.kind, digest), set()).add(new)
    ambiguous = {key for key, news in targets.items() if len(news) > 1}
    report.ambiguous = len(ambiguous)
    accounted = set(targets)
    with Session(engine()) as session:
        for kind, new, previous in plans:
            old = {d for d in previous if (kind, d) not in ambiguous}
            if not old:
                continue
            for held in HELD:
                _move(session, held, kind, old, new, report, at=at)
            if not dry_run:
                session.commit()
        stored = session.exec(select(IdentityFingerprint.kind, IdentityFingerprint.digest)).all()
        report.unmatched = sum((k, d) not in accounted for k, d in stored)
        if dry_run:
            session.rollback()  # one transaction for the whole dry run, so collisions show as they would
    return report, report.collisions


@dataclass(frozen=True)
class Held:
    """A registry table holding identity fingerprints, and what moving one of its rows counts as."""

    table: Any
    digest: str  # the column holding the fingerprint
    rewritten: str  # the Report count of rows moved to the canonical fingerprint
    # One row per fingerprint (a unique index): the Report count of rows merged into the canonical
    # fingerprint where it is held already. Empty: rows may share a fingerprint, and each moves.
    merged: str = ""
    # Who holds a row: the canonical fingerprint held by another is a collision (two accounts, one
    # identity), not a duplicate to merge.
    holder: str = ""
    kind: str = ""  # the one kind a table without a kind column holds


HELD = (
    Held(IdentityFingerprint, "digest", "rewritten", merged="merged", holder="member_id"),  # REG-11 claims
    Held(BarredFingerprint, "digest", "barred_rewritten", merged="barred_merged"),  # REG-5 bars
    Held(PreApproval, "licence_digest", "pre_approvals_rewritten", kind="licence"),  # REG-2
)


def _move(
    session: Session, held: Held, kind: str, old: set[str], new: str, report: Report, *, at: datetime
) -> None:
    """Move the table's rows holding an old fingerprint of an identity to its canonical one."""
    if held.kind and held.kind != kind:
        return
    digest = getattr(held.table, held.digest)
    of_kind = [] if held.kind else [held.table.kind == kind]
    for row in session.exec(select(held.table).where(*of_kind, digest.in_(sorted(old)))).all():
        existing = (
            session.exec(select(held.table).where(*of_kind, digest == new)).first() if held.merged else None
        )
        if existing is None:
            setattr(row, held.digest, new)
            session.add(row)
            _count(report, held.rewritten)
        elif held.holder and getattr(existing, held.holder) != getattr(row, held.holder):
            _collide(session, kind, getattr(row, held.holder), getattr(existing, held.holder), report, at=at)
        else:
            session.delete(row)  # held in canonical form already
            _count(report, held.merged)
        session.flush()


def _count(report: Report, name: str) -> None:
    setattr(report, name, getattr(report, name) + 1)


def _collide(session: Session, kind: str, member: str, holder: str, report: Report, *, at: datetime) -> None:
    """One identity, two accounts: REG-11 was dodged by spelling. The later claim keeps its old
    fingerprint (the unique index allows one holder) and the operators get the pair."""
    first, second = sorted((member, holder))
    linked = False
    if not report.dry_run:
        session.commit()  # link_accounts commits on the same session
        linked = link_accounts(
            session,
            first,
            second,
            rule="ASSOC-2",
            reason=f"shared_{kind}",
            evidence=f"{kind} (re-fingerprinted)",
            at=at,
        )
    report.collisions.append(Collision(kind, (first, second), linked))


def read_values(path: Path) -> Iterator[SourceValue]:
    """JSON Lines of {"kind", "value", "region"?}; a malformed line stops the command (exit 2)."""
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                yield SourceValue(str(raw["kind"]), str(raw["value"]), str(raw.get("region") or "CN").upper())
            except (ValueError, KeyError, TypeError) as err:
                raise SystemExit(f"{path}:{number}: not a value line ({type(err).__name__})") from None


async def values_from_temporal(
    client: Client | None = None,
    *,
    registrations: str = "WorkflowType = 'Registration'",
    accounts: str = "WorkflowType = 'SellerAccount'",
) -> list[SourceValue]:
    """The identity values carried by the registration commands and contact changes the namespace still
    holds (decoded with the payload codec keys). An erased account's are shredded (DATA-4): skipped, as
    its values are gone."""
    from temporalio.api.enums.v1 import EventType

    from models.account_state import AccountInput
    from models.contract import ChangeContactInput, RegistrationInput
    from models.policy import Policy
    from security.data_keys import DataKeyDestroyed
    from seller_client import connect

    client = client or await connect()
    found: list[SourceValue] = []
    converter = client.data_converter
    async for execution in client.list_workflows(registrations):
        history = await client.get_workflow_handle(execution.id, run_id=execution.run_id).fetch_history()
        started = history.events[0].workflow_execution_started_event_attributes
        try:
            reg, _policy = await converter.decode(started.input.payloads, [RegistrationInput, Policy])
        except DataKeyDestroyed:
            continue
        region = reg.region.strip().upper()
        for kind, value in (
            ("licence", reg.licence_number),
            ("id_card", reg.id_card_number),
            ("mobile", reg.mobile),
            ("email", reg.email),
        ):
            found.append(SourceValue(kind, value, region))
    async for execution in client.list_workflows(accounts):
        history = await client.get_workflow_handle(execution.id, run_id=execution.run_id).fetch_history()
        started = history.events[0].workflow_execution_started_event_attributes
        try:
            (account,) = await converter.decode(started.input.payloads, [AccountInput])
        except DataKeyDestroyed:
            continue
        for event in history.events:
            if event.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
                continue
            request = event.workflow_execution_update_accepted_event_attributes.accepted_request
            if request.input.name != "change_contact":
                continue
            try:
                (change,) = await converter.decode(request.input.args.payloads, [ChangeContactInput])
            except DataKeyDestroyed:
                continue
            found.append(SourceValue(change.kind, change.value, account.profile.region))
    return found


async def open_cases(
    collisions: list[Collision], client: Client | None = None, *, ttl: timedelta | None = None
) -> int:
    """ASSOC-4: each account of a collision gets the association case a live contact change would open."""
    import hashlib
    import hmac

    from temporalio.service import RPCError

    from models.contract import AssociationCaseInput, account_workflow_id
    from models.settings import settings
    from security import credentials
    from seller_client import connect

    client = client or await connect()
    sent = 0
    for c in collisions:
        first, second = c.member_ids
        # Opaque (both sellers see it, so it names neither: DESIGN 13) and the same on every run, so a
        # resend opens nothing new.
        pair = f"ASSOC-2:shared_{c.kind}:{first}:{second}".encode()
        case_id = "C" + hmac.new(settings().fingerprint_secret, pair, hashlib.sha256).hexdigest()[:20]
        for member, other in ((first, second), (second, first)):
            case = AssociationCaseInput(case_id, f"shared_{c.kind}", other, "ASSOC-2")
            # The platform's own maintenance job: it signs as the system, like the account workflows.
            cred = credentials.sign(
                role="system",
                actor="refingerprint",
                account=member,
                command="open_case",
                ttl=ttl or credentials.DEFAULT_TTL,
                payload=case,
            )
            try:
                await client.get_workflow_handle(account_workflow_id(member)).signal(
                    "open_case", credentials.signed(case, cred)
                )
                sent += 1
            except RPCError:
                pass  # that account's workflow has ended (closed): the link still stands for ENF-3
    return sent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m commands.refingerprint",
        description=(
            "Recompute every stored identity fingerprint in canonical form (REG-11/REG-5), report the "
            "identities that now collide and link those accounts (ASSOC-2). Idempotent; safe to re-run."
        ),
        epilog="Prints a JSON report (member ids and kinds, never a value). Exit 0 done, 2 bad input.",
    )
    parser.add_argument("--values", type=Path, action="append", default=[], help="JSON Lines file of values")
    parser.add_argument(
        "--from-temporal",
        action="store_true",
        help="read values from retained Registration/account histories",
    )
    parser.add_argument("--dry-run", action="store_true", help="report what would change; change nothing")
    parser.add_argument(
        "--previous-email-providers",
        type=Path,
        help="the provider rules file as it was before a change (EMAIL_PROVIDERS_FILE is the new one)",
    )
    parser.add_argument(
        "--open-cases", action="store_true", help="also open an ASSOC-2 association case on both accounts"
    )
    args = parser.parse_args(argv)
    if not args.values and not args.from_temporal:
        parser.error("give --values FILE and/or --from-temporal")
    sources: list[SourceValue] = []
    for path in args.values:
        sources.extend(read_values(path))
    if args.from_temporal:
        sources.extend(asyncio.run(values_from_temporal()))
    report, collisions = refingerprint(
        sources, dry_run=args.dry_run, previous_providers=args.previous_email_providers
    )
    out = report.as_dict()
    if args.open_cases and not args.dry_run and collisions:
        out["case_signals_sent"] = asyncio.run(open_cases(collisions))
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
