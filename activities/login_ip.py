"""ASSOC-1: sharing an IP address never links accounts; past the policy count, each is advised."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select
from temporalio import activity

from activities.storage.db import engine
from models.activity_io import LoginIpInput, LoginIpResult
from models.settings import settings
from models.tables import LoginDevice, LoginIp, Notice

ADVISORY = (
    "More than {n} accounts have logged in from the same network address as yours. This is only a notice: "
    "sharing an address does not link accounts and carries no penalty (ASSOC-1)."
)


def ip_digest(ip: str) -> str:
    # An IP address is personal data: keep only a keyed digest.
    return hmac.new(settings().fingerprint_secret, f"ip:{ip.strip()}".encode(), hashlib.sha256).hexdigest()


def device_digest(device_id: str) -> str:
    return hmac.new(
        settings().fingerprint_secret, f"device:{device_id.strip()}".encode(), hashlib.sha256
    ).hexdigest()


@activity.defn
def record_login_ip(inp: LoginIpInput) -> LoginIpResult:
    """Remember (IP digest, account) for each address; when an address has more accounts than the
    threshold, advise each of them once per address (an outbox notice, never a link or a penalty).
    Idempotent under retries."""
    result = LoginIpResult(accounts_on_ip=0)
    with Session(engine()) as session:
        for ip in dict.fromkeys(inp.ips):
            count, advised = _record_one(session, ip_digest(ip), inp)
            result.accounts_on_ip = max(result.accounts_on_ip, count)
            result.advised += [m for m in advised if m not in result.advised]
        for device in dict.fromkeys(d for d in inp.devices if d.strip()):
            key = (device_digest(device), inp.member_id)
            if session.get(LoginDevice, key) is None:
                session.add(LoginDevice(device_digest=key[0], member_id=inp.member_id, first_seen=inp.at))
                try:
                    session.commit()
                except IntegrityError:
                    session.rollback()
    return result


def _record_one(session: Session, digest: str, inp: LoginIpInput) -> tuple[int, list[str]]:
    if session.get(LoginIp, (digest, inp.member_id)) is None:
        session.add(LoginIp(ip_digest=digest, member_id=inp.member_id, first_seen=inp.at))
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
    members = session.exec(select(LoginIp.member_id).where(LoginIp.ip_digest == digest)).all()
    if len(members) <= inp.threshold:
        return len(members), []
    key = f"assoc1-{digest[:32]}"
    noticed = session.exec(
        select(Notice.member_id, Notice.at).where(Notice.key == key, Notice.member_id.in_(members))  # type: ignore[attr-defined]
    ).all()
    # Those advised at this very login (a retry after its commit) count as advised by it, so a retry
    # answers as the first attempt did.
    ours = [m for m, at in noticed if _same_moment(at, inp.at)]
    already = {m for m, _ in noticed}
    new = [m for m in members if m not in already]
    advised = sorted(ours + new)
    for member in new:
        session.add(
            Notice(
                member_id=member,
                key=key,
                kind="ip_advisory",
                rule="ASSOC-1",
                message=ADVISORY.format(n=inp.threshold),
                at=inp.at,
            )
        )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()  # another login of the same address advised them first
        advised = ours
    return len(members), advised


def _same_moment(a: datetime, b: datetime) -> bool:
    # SQLite hands datetimes back without their zone; every time here is UTC.
    return a.replace(tzinfo=a.tzinfo or UTC) == b.replace(tzinfo=b.tzinfo or UTC)


def accounts_on_ip(ip: str) -> int:
    with Session(engine()) as session:
        return int(session.exec(select(func.count()).where(LoginIp.ip_digest == ip_digest(ip))).one())
