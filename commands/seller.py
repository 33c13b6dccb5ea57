"""The seller's own commands: register, prove the contacts, authenticate, take the exam, sell, appeal."""

from __future__ import annotations

from pathlib import Path

import click

import seller_client
from models.contract import (
    ChangeContactInput,
    Consent,
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

from .common import EXIT_REFUSED, EXIT_REVIEW, Answer, Call, facade_command, one_of

IMAGE_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@facade_command("register", member=False)
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
@click.option(
    "--accept-notice",
    "accepted",
    multiple=True,
    metavar="VERSION",
    help="a notice the applicant accepted now (DATA-1: identity-v1 is required; face-v1 for the automatic"
    " face check), repeatable",
)
@click.option("--request-id", help="idempotency key; a repeated request answers the same result")
async def register(
    call: Call,
    store_name: str,
    email: str,
    mobile: str,
    region: str,
    licence: str,
    id_card: str,
    sub_of: str | None,
    pre_approval: str | None,
    owned_brand: tuple[str, ...],
    accepted: tuple[str, ...],
) -> Answer:
    """Register a seller account (REG-1, 2, 5, 6, 7, 9, 11).

    Prints the new member id, or the refusal of the first rule the application breaks.
    """
    reg = RegistrationInput(
        request_id=call.key,
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
        consents=[Consent(version.split("-", 1)[0], version, seller_client.utcnow()) for version in accepted],
    )
    result = await seller_client.register(await call.client(), reg)
    if result.refusal is not None:
        raise RefusedError(result.refusal)
    return {"member_id": result.member_id, "workflow_id": result.workflow_id}


@facade_command("login", keyed=False)
@click.option(
    "--channel", type=click.Choice(["marketplace", "messenger"]), default="marketplace", show_default=True
)
@click.option("--ip", required=True)
async def login(call: Call, channel: str, ip: str) -> Answer:
    """Report a login (restarts the REG-4 year; wakes a dormant account)."""
    await seller_client.login(await call.client(), call.member_id, channel=channel, ip=ip)
    return {"member_id": call.member_id, "login": "recorded"}


@facade_command("verify-email")
@click.argument("code")
async def verify_email(call: Call, code: str) -> Answer:
    """Prove the email with the 6-digit code it received (REG-6)."""
    return await call.new_state(SellerAccount.verify_email, VerifyEmailInput(code=code))


@facade_command("request-code")
@click.option("--email", required=True, help="the registered address (codes go nowhere else)")
async def request_code(call: Call, email: str) -> Answer:
    """Mail a new REG-6 code to the registered email."""
    return await call.new_state(SellerAccount.request_email_code, RequestCodeInput(email=email))


@facade_command("change-contact")
@click.option("--email", help="the new email (give this or --mobile)")
@click.option("--mobile", help="the new mobile number (give this or --email)")
async def change_contact(call: Call, email: str | None, mobile: str | None) -> Answer:
    """Change the email or mobile (REG-11; ASSOC-2 links a clash)."""
    kind, value = one_of(email=email, mobile=mobile)
    return await call.new_state(SellerAccount.change_contact, ChangeContactInput(kind=kind, value=value))


@facade_command("authenticate")
@click.argument("photo", type=IMAGE_FILE)
async def authenticate(call: Call, photo: Path) -> Answer:
    """Submit the photo holding the ID card (OPEN-1; needs REG-6 first).

    PHOTO is a JPEG, HEIC, PNG or WebP file. A photo sent to an operator's review (the check was unsure,
    or the seller was refused three times for one reason) prints its review item and exits 6.
    """
    result = await seller_client.submit_photo(await call.client(), call.member_id, photo, request_id=call.key)
    if result.review_item_id:
        call.out.show({"member_id": call.member_id, "state": result.state, "review_item_id": result.review_item_id})
        return EXIT_REVIEW
    return {"member_id": call.member_id, "state": result.state}


@facade_command("unbind")
@click.option("--reason", default="")
async def unbind(call: Call, reason: str) -> Answer:
    """Ask to unbind the authenticated identity (always refused, REG-8)."""
    return await call.new_state(SellerAccount.unbind_identity, UnbindInput(reason=reason))


@facade_command("exam")
async def exam(call: Call) -> Answer:
    """Take the rules exam in the terminal (OPEN-2).

    One question at a time, answered a-d. Exits 0 when passed and 3 when not.
    """
    # One key for the command, one update id per step: the paper drawn, then the answers given.
    paper = await call.update(SellerAccount.start_exam, ExamStartInput(), step="paper")
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
    result = await call.update(
        SellerAccount.submit_exam, ExamAnswers(paper.paper_id, answers), step="answers"
    )
    verdict = "passed" if result.passed else "not passed"
    print(f"score {result.score}/100: {verdict}; the account is {result.state}")
    if result.retake_at:
        print(f"you can retake the exam from {result.retake_at.isoformat(timespec='minutes')}")
    return 0 if result.passed else EXIT_REFUSED


@facade_command("release")
@click.option("--title", required=True)
@click.option("--description", default="")
@click.option("--price", required=True, help="e.g. 19.90")
@click.option("--category", required=True)
@click.option("--image", required=True, type=IMAGE_FILE, help="JPEG, PNG or WebP file")
async def release(call: Call, title: str, description: str, price: str, category: str, image: Path) -> Answer:
    """Release a product (OPEN-3; ASSOC-3 duplicate check)."""
    from activities.product_index import MAX_IMAGE_BYTES
    from activities.storage.blobs import BlobError, put_stream

    try:
        with open(image, "rb") as fh:
            ref, _ = put_stream(fh, max_bytes=MAX_IMAGE_BYTES)
    except BlobError as err:
        raise RefusedError(Refusal("OPEN-3", "image_too_large", "The product image is too large.")) from err
    result = await call.update(
        SellerAccount.release_product, ProductInput(title, description, price, category, ref)
    )
    return result


@facade_command("remove-product")
@click.argument("product_id")
async def remove_product(call: Call, product_id: str) -> Answer:
    """Take a product down (an open store stays open)."""
    return await call.new_state(SellerAccount.remove_product, ProductRemoval(product_id))


@facade_command("appeal")
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
async def appeal(
    call: Call, case_id: str, opening_info: str, invoice: tuple[Path, ...], letter: str
) -> Answer:
    """Appeal an association case, once (ASSOC-5)."""
    state = await seller_client.appeal(
        await call.client(),
        call.member_id,
        case_id,
        opening_info=opening_info,
        invoices=list(invoice),
        letter=Path(letter).read_text() if Path(letter).is_file() else letter,
        request_id=call.key,
    )
    return {"member_id": call.member_id, "case_id": case_id, "state": state}


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
