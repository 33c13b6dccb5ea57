"""The seller's own commands: register, prove the contacts, authenticate, take the exam, sell, appeal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

import seller_client
from models.contract import (
    ChangeContactInput,
    ExamAnswers,
    ExamStartInput,
    ProductInput,
    ProductRemoval,
    RegistrationInput,
    RequestCodeInput,
    UnbindInput,
    VerifyEmailInput,
)
from models.refusals import Refusal, RefusedError
from workflows.seller_account import SellerAccount

from .common import EXIT_REFUSED, Output, not_answered, one_of, pass_output, request_id_option, run_async

MEMBER = click.argument("member_id", metavar="MEMBER")
IMAGE_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command("register")
@click.option("--store-name", required=True)
@click.option("--email", required=True)
@click.option("--mobile", required=True)
@click.option("--region", required=True, help="two-letter country code; CN is mainland China")
@click.option("--licence", required=True, help="business licence number")
@click.option("--id-card", required=True, help="legal person's ID card number")
@click.option("--sub-of", metavar="MEMBER", help="register a sub-account of this main account (REG-9)")
@click.option(
    "--pre-approval", metavar="REF", help="operator pre-approval for non-mainland applicants (REG-2)"
)
@click.option("--owned-brand", multiple=True, help="a brand the applicant owns (REG-1), repeatable")
@click.option("--request-id", help="idempotency key; a repeated request answers the same result")
@pass_output
@run_async
async def register(
    out: Output,
    store_name: str,
    email: str,
    mobile: str,
    region: str,
    licence: str,
    id_card: str,
    sub_of: str | None,
    pre_approval: str | None,
    owned_brand: tuple[str, ...],
    request_id: str | None,
) -> int:
    """Register a seller account (REG-1, 2, 5, 6, 7, 9, 11).

    Prints the new member id, or the refusal of the first rule the application breaks.
    """
    client = await seller_client.connect()
    reg = RegistrationInput(
        request_id=request_id or seller_client.new_request_id(),
        store_name=store_name,
        email=email,
        mobile=mobile,
        region=region,
        licence_number=licence,
        id_card_number=id_card,
        account_type="sub" if sub_of else "main",
        main_member_id=sub_of,
        pre_approval_ref=pre_approval,
        owned_brands=list(owned_brand),
    )
    result = await seller_client.register(client, reg)
    if result.refusal is not None:
        return out.refused(result.refusal)
    out.show({"member_id": result.member_id, "workflow_id": result.workflow_id})
    return 0


@click.command("login")
@MEMBER
@click.option(
    "--channel", type=click.Choice(["marketplace", "messenger"]), default="marketplace", show_default=True
)
@click.option("--ip", required=True)
@request_id_option(used=False)
@pass_output
@run_async
async def login(out: Output, member_id: str, channel: str, ip: str) -> int:
    """Report a login (restarts the REG-4 year; wakes a dormant account)."""
    client = await seller_client.connect()
    await seller_client.login(client, member_id, channel=channel, ip=ip)
    out.show({"member_id": member_id, "login": "recorded"})
    return 0


def key_of(request_id: str | None) -> str:
    """The command's idempotency key: --request-id, or a new one (printed if the answer is lost)."""
    return request_id or seller_client.new_request_id()


async def account_command(
    out: Output, member_id: str, update: Any, arg: Any, *, request_id: str | None, operator: str | None = None
) -> int:
    """Send one account command (a workflow update) and print the state it leaves, or its refusal.

    It is signed as the account's seller, or as `operator` for an operator's decision (models/credentials.py).
    """
    key = key_of(request_id)
    client = await seller_client.connect()
    try:
        state = await seller_client.command(client, member_id, update, arg, request_id=key, operator=operator)
    except seller_client.CommandNotAnswered as err:
        return not_answered(key, err)
    except RefusedError as err:
        return out.refused(err.refusal)
    out.show({"member_id": member_id, "state": state})
    return 0


@click.command("verify-email")
@MEMBER
@click.argument("code")
@request_id_option()
@pass_output
@run_async
async def verify_email(out: Output, member_id: str, code: str, request_id: str | None) -> int:
    """Prove the email with the 6-digit code it received (REG-6)."""
    return await account_command(
        out, member_id, SellerAccount.verify_email, VerifyEmailInput(code=code), request_id=request_id
    )


@click.command("request-code")
@MEMBER
@click.option("--email", required=True, help="the registered address (codes go nowhere else)")
@request_id_option()
@pass_output
@run_async
async def request_code(out: Output, member_id: str, email: str, request_id: str | None) -> int:
    """Mail a new REG-6 code to the registered email."""
    return await account_command(
        out, member_id, SellerAccount.request_email_code, RequestCodeInput(email=email), request_id=request_id
    )


@click.command("change-contact")
@MEMBER
@click.option("--email", help="the new email (give this or --mobile)")
@click.option("--mobile", help="the new mobile number (give this or --email)")
@request_id_option()
@pass_output
@run_async
async def change_contact(
    out: Output, member_id: str, email: str | None, mobile: str | None, request_id: str | None
) -> int:
    """Change the email or mobile (REG-11; ASSOC-2 links a clash)."""
    kind, value = one_of(email=email, mobile=mobile)
    change = ChangeContactInput(kind=kind, value=value)
    return await account_command(out, member_id, SellerAccount.change_contact, change, request_id=request_id)


@click.command("authenticate")
@MEMBER
@click.argument("photo", type=IMAGE_FILE)
@request_id_option()
@pass_output
@run_async
async def authenticate(out: Output, member_id: str, photo: Path, request_id: str | None) -> int:
    """Submit the photo holding the ID card (OPEN-1; needs REG-6 first).

    PHOTO is a JPEG, PNG or WebP file.
    """
    key = key_of(request_id)
    client = await seller_client.connect()
    try:
        result = await seller_client.submit_photo(client, member_id, photo, request_id=key)
    except seller_client.CommandNotAnswered as err:
        return not_answered(key, err)
    except RefusedError as err:
        return out.refused(err.refusal)
    if not result.passed:
        return out.refused(result.failures[0])
    out.show({"member_id": member_id, "state": result.state})
    return 0


@click.command("unbind")
@MEMBER
@click.option("--reason", default="")
@request_id_option()
@pass_output
@run_async
async def unbind(out: Output, member_id: str, reason: str, request_id: str | None) -> int:
    """Ask to unbind the authenticated identity (always refused, REG-8)."""
    return await account_command(
        out, member_id, SellerAccount.unbind_identity, UnbindInput(reason=reason), request_id=request_id
    )


@click.command("exam")
@MEMBER
@request_id_option()
@pass_output
@run_async
async def exam(out: Output, member_id: str, request_id: str | None) -> int:
    """Take the rules exam in the terminal (OPEN-2).

    One question at a time, answered a-d. Exits 0 when passed and 3 when not.
    """
    # One key for the command, one update id per step: the paper drawn, then the answers given.
    key = key_of(request_id)
    client = await seller_client.connect()
    try:
        paper = await seller_client.command(
            client, member_id, SellerAccount.start_exam, ExamStartInput(), request_id=f"{key}:paper"
        )
    except seller_client.CommandNotAnswered as err:
        return not_answered(key, err)
    except RefusedError as err:
        return out.refused(err.refusal)
    print(
        f"Rules exam, attempt {paper.attempt}: {len(paper.questions)} questions, pass mark {paper.pass_mark}/100\n"
    )
    answers = []
    for q in paper.questions:
        print(f"{q.number}. [{q.rule}] {q.text}")
        for letter, option in zip("abcd", q.options, strict=False):
            print(f"   {letter}) {option}")
        while True:
            reply = input("   your answer (a-d): ").strip().lower()
            if len(reply) == 1 and reply in "abcd"[: len(q.options)]:
                answers.append("abcd".index(reply))
                break
            print("   please type one letter, a to d")
        print()
    try:
        result = await seller_client.command(
            client,
            member_id,
            SellerAccount.submit_exam,
            ExamAnswers(paper.paper_id, answers),
            request_id=f"{key}:answers",
        )
    except seller_client.CommandNotAnswered as err:
        return not_answered(key, err)
    except RefusedError as err:
        return out.refused(err.refusal)
    verdict = "passed" if result.passed else "not passed"
    print(f"score {result.score}/100: {verdict}; the account is {result.state}")
    if result.retake_at:
        print(f"you can retake the exam from {result.retake_at.isoformat(timespec='minutes')}")
    return 0 if result.passed else EXIT_REFUSED


@click.command("release")
@MEMBER
@click.option("--title", required=True)
@click.option("--description", default="")
@click.option("--price", required=True, help="e.g. 19.90")
@click.option("--category", required=True)
@click.option("--image", required=True, type=IMAGE_FILE, help="JPEG, PNG or WebP file")
@request_id_option()
@pass_output
@run_async
async def release(
    out: Output,
    member_id: str,
    title: str,
    description: str,
    price: str,
    category: str,
    image: Path,
    request_id: str | None,
) -> int:
    """Release a product (OPEN-3; ASSOC-3 duplicate check)."""
    from activities.blobs import BlobError, put_stream
    from activities.product_index import MAX_IMAGE_BYTES

    try:
        with open(image, "rb") as fh:
            ref, _ = put_stream(fh, max_bytes=MAX_IMAGE_BYTES)
    except BlobError:
        return out.refused(Refusal("OPEN-3", "image_too_large", "The product image is too large."))
    product = ProductInput(title, description, price, category, ref)
    key = key_of(request_id)
    client = await seller_client.connect()
    try:
        result = await seller_client.command(
            client, member_id, SellerAccount.release_product, product, request_id=key
        )
    except seller_client.CommandNotAnswered as err:
        return not_answered(key, err)
    except RefusedError as err:
        return out.refused(err.refusal)
    if not result.accepted:
        return out.refused(result.refusal)
    out.show(result)
    return 0


@click.command("remove-product")
@MEMBER
@click.argument("product_id")
@request_id_option()
@pass_output
@run_async
async def remove_product(out: Output, member_id: str, product_id: str, request_id: str | None) -> int:
    """Take a product down (an open store stays open)."""
    return await account_command(
        out, member_id, SellerAccount.remove_product, ProductRemoval(product_id), request_id=request_id
    )


@click.command("appeal")
@MEMBER
@click.argument("case_id", metavar="CASE")
@click.option("--opening-info", required=True, help="store-opening information")
@click.option(
    "--invoice",
    multiple=True,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="purchase invoice file, repeatable",
)
@click.option("--letter", required=True, help="the letter, or a file holding it")
@request_id_option()
@pass_output
@run_async
async def appeal(
    out: Output,
    member_id: str,
    case_id: str,
    opening_info: str,
    invoice: tuple[Path, ...],
    letter: str,
    request_id: str | None,
) -> int:
    """Appeal an association case, once (ASSOC-5)."""
    key = key_of(request_id)
    client = await seller_client.connect()
    text = Path(letter).read_text() if Path(letter).is_file() else letter
    try:
        state = await seller_client.appeal(
            client,
            member_id,
            case_id,
            opening_info=opening_info,
            invoices=list(invoice),
            letter=text,
            request_id=key,
        )
    except seller_client.CommandNotAnswered as err:
        return not_answered(key, err)
    except RefusedError as err:
        return out.refused(err.refusal)
    out.show({"member_id": member_id, "case_id": case_id, "state": state})
    return 0


COMMANDS = [
    register,
    login,
    verify_email,
    request_code,
    change_contact,
    authenticate,
    unbind,
    exam,
    release,
    remove_product,
    appeal,
]
