"""Operators' decisions: pre-approve an applicant from abroad, decide an appeal, retry stuck steps."""

from __future__ import annotations

import click

import seller_client
from activities.registration_checks import create_pre_approval
from models.contract import AppealDecisionInput, RetryInput
from models.refusals import RefusedError
from workflows.seller_account import SellerAccount

from .common import Output, pass_output, request_id_option, run_async
from .seller import account_command


@click.command("preapprove")
@click.option("--region", required=True, help="two-letter country code")
@click.option("--licence", required=True, help="the applicant's business licence number")
@click.option("--operator", required=True, help="who approves (recorded)")
@request_id_option(used=False)
@pass_output
def preapprove(out: Output, region: str, licence: str, operator: str) -> int:
    """Approve a non-mainland applicant in advance (REG-2).

    Prints the pre-approval reference the applicant registers with (`register --pre-approval REF`).
    """
    try:
        ref = create_pre_approval(region, licence, operator=operator, at=seller_client.utcnow())
    except RefusedError as err:
        return out.refused(err.refusal)
    out.show({"pre_approval_ref": ref, "region": region.upper()})
    return 0


@click.command("decide")
@click.argument("member_id", metavar="MEMBER")
@click.argument("case_id", metavar="CASE")
@click.argument("decision", type=click.Choice(["approve", "reject"]))
@click.option("--operator", required=True, help="your operator name (recorded, ENF-4)")
@click.option("--note", default="")
@request_id_option()
@pass_output
@run_async
async def decide(
    out: Output, member_id: str, case_id: str, decision: str, operator: str, note: str, request_id: str | None
) -> int:
    """Approve or reject an appeal (ASSOC-5)."""
    verdict = AppealDecisionInput(case_id, decision == "approve", operator, note)
    return await account_command(out, member_id, SellerAccount.decide_appeal, verdict, request_id=request_id)


@click.command("retry")
@click.argument("member_id", metavar="MEMBER")
@click.option("--operator", required=True, help="your operator name (recorded, ENF-4)")
@request_id_option()
@pass_output
@run_async
async def retry(out: Output, member_id: str, operator: str, request_id: str | None) -> int:
    """Try again the steps an account could not finish (NeedsAttention).

    Writes again what ran out of retries and prints what still fails.
    """
    return await account_command(
        out, member_id, SellerAccount.retry, RetryInput(operator), request_id=request_id
    )


COMMANDS = [preapprove, decide, retry]
