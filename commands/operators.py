"""Operators' decisions: pre-approve an applicant from abroad, decide an appeal, retry stuck steps; and
the signed credential an operator or a service pastes into a command sent by hand."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import click

import seller_client
from activities.registration_checks import create_pre_approval
from models import boundary
from models.contract import AppealDecisionInput, RetryInput
from models.healing import OPERATOR_ASKED
from models.refusals import Refusal, RefusedError
from security import credentials
from workflows.seller_account import SellerAccount

from .common import (
    Answer,
    Call,
    Output,
    at_most_one,
    facade_command,
    operator_option,
    pass_output,
    request_id_option,
)


@click.command("preapprove")
@click.option("--region", required=True, help="two-letter country code")
@click.option("--licence", required=True, help="the applicant's business licence number")
@operator_option("who approves (an operator key is needed; recorded)")
@request_id_option(used=False)
@pass_output
def preapprove(out: Output, region: str, licence: str, as_operator: str) -> int:
    """Approve a non-mainland applicant in advance (REG-2).

    Prints the pre-approval reference the applicant registers with (`register --pre-approval REF`).
    """
    try:
        # Only a process holding an operator key can sign one: that is what makes the name verified.
        cred = credentials.for_command("preapprove", credentials.ANY, operator=as_operator)
        refusal = credentials.check(cred, command="preapprove", account="*", now=seller_client.utcnow())
        if refusal is not None:
            return out.refused(refusal)
        ref = create_pre_approval(region, licence, operator=cred.principal, at=seller_client.utcnow())
    except PermissionError as err:
        return out.refused(credentials.refusal("role_not_allowed", str(err)))
    except RefusedError as err:
        return out.refused(err.refusal)
    out.show({"pre_approval_ref": ref, "region": region.upper()})
    return 0


@facade_command("decide")
@click.argument("case_id", metavar="CASE")
@click.argument("decision", type=click.Choice(["approve", "reject"]))
@operator_option("sign the decision as this operator (an operator key is needed; recorded, ENF-4)")
@click.option("--note", default="")
async def decide(call: Call, case_id: str, decision: str, as_operator: str, note: str) -> Answer:
    """Approve or reject an appeal (ASSOC-5)."""
    verdict = AppealDecisionInput(case_id, decision == "approve", as_operator, note)
    return await call.new_state(SellerAccount.decide_appeal, verdict, operator=as_operator)


@facade_command("retry")
@operator_option("your operator name: signs the command (ENF-4)")
async def retry(call: Call, as_operator: str) -> Answer:
    """Try again the steps an account could not finish (NeedsAttention).

    Writes again what ran out of retries and prints what still fails.
    """
    result = await call.update(SellerAccount.retry, RetryInput(as_operator), operator=as_operator)
    return {"member_id": call.member_id, **dataclasses.asdict(result)}


@facade_command("heal", keyed=False)
async def heal(call: Call) -> Answer:
    """Ask the account keeper to look at an account now (ENF-4).

    A run no worker can move (ended from outside, its task failing or never handed out) is reset to its
    last workflow task and its signed facts sent again; a healthy run is left as it is. Prints what the
    keeper did (`action`: healthy, reset, not_open, not_resettable, resets_exhausted).
    """
    handle = await seller_client.ask_keeper(await call.client(), call.member_id, OPERATOR_ASKED)
    if handle is None:
        return call.out.refused(Refusal("ENF-4", "keeper_unavailable", "The account keeper could not be asked; try again.", True))
    return dataclasses.asdict(await handle.result())


@click.command("credential")
@click.argument("command_name", metavar="COMMAND", type=click.Choice(sorted(credentials.COMMAND_ROLES)))
@click.option("--member", help="the account it is for (default: any, for operators and services)")
@click.option("--as-operator", metavar="NAME", help="sign as this operator (or --as-service)")
@click.option("--as-service", metavar="NAME", help="sign as this service (or --as-operator)")
@click.option("--ttl-minutes", type=float, default=10, show_default=True)
@click.option(
    "--input",
    "typed",
    metavar="JSON",
    help="the command's JSON input as it will be sent: the credential is for that message only",
)
@request_id_option(used=False)
@pass_output
def credential(
    out: Output,
    command_name: str,
    member: str | None,
    as_operator: str | None,
    as_service: str | None,
    ttl_minutes: float,
    typed: str | None,
) -> int:
    """Print a signed credential (`auth`) for a command sent by hand.

    COMMAND is the update or signal as the account names it (decide_appeal, report_violation, ...).
    A credential is bound to its message (docs/contract/credential.md): give the JSON input with
    --input, then paste the output as the `auth` field of that same input in the Web UI.
    """
    at_most_one(as_operator=as_operator, as_service=as_service)
    message = None
    if command_name in boundary.COMMAND_MESSAGES:
        try:
            value = json.loads(typed) if typed is not None else None
        except ValueError:
            value = None
        message = boundary.from_json(command_name, value)
        if message is None:
            return out.refused(
                credentials.refusal(
                    "credential_request_invalid",
                    f"A credential is for one message: give `{command_name}`'s JSON input with --input "
                    "(a JSON object with every field the command needs).",
                )
            )
    try:
        cred = credentials.for_command(
            command_name,
            member or credentials.ANY,
            operator=as_operator,
            service=as_service,
            ttl=timedelta(minutes=ttl_minutes),
            payload=message,
        )
    except PermissionError as err:
        return out.refused(credentials.refusal("role_not_allowed", str(err)))
    print(json.dumps({"auth": credentials.as_dict(cred)}, indent=2))
    return 0


COMMANDS = [preapprove, decide, retry, heal, credential]
