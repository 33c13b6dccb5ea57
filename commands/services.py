"""Reports other services send: violations, closures (REG-9/10), new buyers to screen (REG-3)."""

from __future__ import annotations

import click

import seller_client
from activities.storage.blobs import BlobError
from models.contract import BuyerScreening, ClosureReport, ViolationInput
from models.refusals import Refusal, RefusedError

from .common import (
    Answer,
    Call,
    Output,
    facade_command,
    one_of,
    pass_output,
    request_id_option,
    service_option,
)

CLOSURE_REASONS = {"REG-9": "account_rental", "REG-10": "alibaba_closure"}


@facade_command("violation", keyed=False)
@click.option("--id", "violation_id", required=True, help="the reporting service's violation id")
@click.option(
    "--category", required=True, type=click.Choice(["ip", "trade", "listing", "ip_strike", "false_buyer"])
)
@click.option("--points", type=int, default=0, show_default=True)
@click.option("--rule", default="ENF-2", show_default=True)
@click.option("--serious", is_flag=True, help="a serious violation: closes and bars (ENF-1, REG-5)")
@click.option("--evidence", default="", help="evidence reference")
@service_option("risk-engine", "the reporting service")
async def violation(
    call: Call,
    violation_id: str,
    category: str,
    points: int,
    rule: str,
    serious: bool,
    evidence: str,
    as_service: str,
) -> Answer:
    """Report a violation (ENF-1/2); a violation id counts once."""
    v = ViolationInput(
        violation_id=violation_id,
        category=category,
        rule=rule,
        points=points,
        severity="serious" if serious else "normal",
        evidence_ref=evidence,
    )
    answer = await seller_client.report_violation(await call.client(), call.member_id, v, service=as_service)
    return {"member_id": call.member_id, "violation": violation_id, "reported": True, "answer": answer}


@facade_command("close-report", member=False, keyed=False)
@click.option("--rule", required=True, type=click.Choice(list(CLOSURE_REASONS)))
@click.option("--member-id", help="the account (give this or --licence)")
@click.option("--licence", help="REG-10: the supplier's business licence number")
@click.option("--id", "report_id", required=True, help="the reporting service's report id")
@click.option("--evidence", default="")
@service_option("risk-engine", "the reporting service", "--reported-by")
async def close_report(
    call: Call,
    rule: str,
    member_id: str | None,
    licence: str | None,
    report_id: str,
    evidence: str,
    as_service: str,
) -> Answer:
    """Report a REG-9 rental or transfer, or a REG-10 Alibaba.com closure."""
    one_of(member_id=member_id, licence=licence)
    member = member_id or (seller_client.member_by_licence(licence) if licence else None)
    if member is None:
        raise RefusedError(
            Refusal(rule, "no_matching_account", "No seller account matches that licence or member id.")
        )
    report = ClosureReport(
        report_id, rule, CLOSURE_REASONS[rule], evidence_ref=evidence, reported_by=as_service
    )
    answer = await seller_client.report_closure(await call.client(), member, report)
    return {"member_id": member, "report": report_id, "rule": rule, "answer": answer}


@facade_command("screen-buyer", member=False, keyed=False)
@click.argument("buyer_id", metavar="BUYER")
@click.option("--region", required=True)
@click.option("--id-card")
@click.option("--mobile")
@click.option("--email")
@click.option("--device")
@service_option("buyer-signup", "the screening service")
async def screen_buyer(
    call: Call,
    buyer_id: str,
    region: str,
    id_card: str | None,
    mobile: str | None,
    email: str | None,
    device: str | None,
    as_service: str,
) -> Answer:
    """Screen a new buyer account against the sellers (REG-3)."""
    buyer = BuyerScreening(
        buyer_id=buyer_id,
        region=region,
        id_card_number=id_card or "",
        mobile=mobile or "",
        email=email or "",
        device_id=device or "",
    )
    result = await seller_client.screen_buyer(await call.client(), buyer, service=as_service)
    if result.refusal is not None:
        raise RefusedError(result.refusal)
    return {"buyer_id": buyer_id, "closed": result.closed, "seller_member_id": result.seller_member_id}


@click.command("upload-url")
@click.argument("sha256")
@request_id_option(used=False)
@pass_output
def upload_url(out: Output, sha256: str) -> int:
    """A pre-signed PUT URL for a file whose sha256 (64 hex digits) you give; send its bytes there.

    Any HTTP client can then upload (`curl -T photo.jpg URL`), and the reference printed
    (`sha256:...`) goes in the command that uses the file. The bytes are checked against the sha256
    when a worker first reads them. Needs an S3 blob store (BLOB_STORE_URL).
    """
    try:
        ticket = seller_client.upload_url(sha256)
    except BlobError as err:
        raise click.ClickException(str(err)) from None
    out.show({"ref": ticket.ref, "method": ticket.method, "url": ticket.url, "expires_at": ticket.expires_at})
    return 0


COMMANDS = [violation, close_report, screen_buyer, upload_url]
