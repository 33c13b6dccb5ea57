"""Reports other services send: violations, closures (REG-9/10), new buyers to screen (REG-3)."""

from __future__ import annotations

import click

import seller_client
from models.contract import BuyerScreening, ClosureReport, ViolationInput
from models.refusals import Refusal

from .common import Output, one_of, pass_output, request_id_option, run_async

CLOSURE_REASONS = {"REG-9": "account_rental", "REG-10": "alibaba_closure"}


@click.command("violation")
@click.argument("member_id", metavar="MEMBER")
@click.option("--id", "violation_id", required=True, help="the reporting service's violation id")
@click.option(
    "--category", required=True, type=click.Choice(["ip", "trade", "listing", "ip_strike", "false_buyer"])
)
@click.option("--points", type=int, default=0, show_default=True)
@click.option("--rule", default="ENF-2", show_default=True)
@click.option("--serious", is_flag=True, help="a serious violation: closes and bars (ENF-1, REG-5)")
@click.option("--evidence", default="", help="evidence reference")
@click.option(
    "--as-service", default="risk-engine", show_default=True, metavar="NAME", help="the reporting service"
)
@request_id_option(used=False)
@pass_output
@run_async
async def violation(
    out: Output,
    member_id: str,
    violation_id: str,
    category: str,
    points: int,
    rule: str,
    serious: bool,
    evidence: str,
    as_service: str,
) -> int:
    """Report a violation (ENF-1/2); a violation id counts once."""
    client = await seller_client.connect()
    v = ViolationInput(
        violation_id=violation_id,
        category=category,
        rule=rule,
        points=points,
        severity="serious" if serious else "normal",
        evidence_ref=evidence,
    )
    await seller_client.report_violation(client, member_id, v, service=as_service)
    out.show({"member_id": member_id, "violation": violation_id, "reported": True})
    return 0


@click.command("close-report")
@click.option("--rule", required=True, type=click.Choice(list(CLOSURE_REASONS)))
@click.option("--member-id", help="the account (give this or --licence)")
@click.option("--licence", help="REG-10: the supplier's business licence number")
@click.option("--id", "report_id", required=True, help="the reporting service's report id")
@click.option("--evidence", default="")
@click.option(
    "--reported-by",
    "--as-service",
    "reported_by",
    default="risk-engine",
    show_default=True,
    metavar="NAME",
    help="the reporting service",
)
@request_id_option(used=False)
@pass_output
@run_async
async def close_report(
    out: Output,
    rule: str,
    member_id: str | None,
    licence: str | None,
    report_id: str,
    evidence: str,
    reported_by: str,
) -> int:
    """Report a REG-9 rental or transfer, or a REG-10 Alibaba.com closure."""
    one_of(member_id=member_id, licence=licence)
    member = member_id or (seller_client.member_by_licence(licence) if licence else None)
    if member is None:
        return out.refused(
            Refusal(rule, "no_matching_account", "No seller account matches that licence or member id.")
        )
    client = await seller_client.connect()
    report = ClosureReport(
        report_id, rule, CLOSURE_REASONS[rule], evidence_ref=evidence, reported_by=reported_by
    )
    await seller_client.report_closure(client, member, report)
    out.show({"member_id": member, "report": report_id, "rule": rule})
    return 0


@click.command("screen-buyer")
@click.argument("buyer_id", metavar="BUYER")
@click.option("--region", required=True)
@click.option("--id-card")
@click.option("--mobile")
@click.option("--email")
@click.option("--device")
@click.option(
    "--as-service", default="buyer-signup", show_default=True, metavar="NAME", help="the screening service"
)
@request_id_option(used=False)
@pass_output
@run_async
async def screen_buyer(
    out: Output,
    buyer_id: str,
    region: str,
    id_card: str | None,
    mobile: str | None,
    email: str | None,
    device: str | None,
    as_service: str,
) -> int:
    """Screen a new buyer account against the sellers (REG-3)."""
    client = await seller_client.connect()
    buyer = BuyerScreening(
        buyer_id=buyer_id,
        region=region,
        id_card_number=id_card or "",
        mobile=mobile or "",
        email=email or "",
        device_id=device or "",
    )
    result = await seller_client.screen_buyer(client, buyer, service=as_service)
    if result.refusal is not None:
        return out.refused(result.refusal)
    out.show({"buyer_id": buyer_id, "closed": result.closed, "seller_member_id": result.seller_member_id})
    return 0


COMMANDS = [violation, close_report, screen_buyer]
