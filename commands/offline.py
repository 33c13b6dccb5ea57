"""Offline tools for operators and QA: no Temporal, no database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO

import click

from activities.identity_photo import verify_photo
from activities.identity_registry import candidate_fingerprints
from models.policy import load_policy

from .common import EXIT_REFUSED, EXIT_REVIEW, Output, pass_output, request_id_option


@click.command("check-photo")
@click.argument("photo", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--id-card-file",
    type=click.File("r", encoding="utf-8", lazy=False),
    help="a file holding the registered ID card number the card must carry (- for standard input)",
)
@click.option(
    "--id-card", hidden=True, expose_value=False, callback=lambda ctx, param, value: refuse_id_card(value)
)
@click.option("--json", "as_json", is_flag=True, help="machine-readable output (as starter.py --json)")
@request_id_option(used=False)
@pass_output
def check_photo(out: Output, photo: Path, id_card_file: TextIO | None, as_json: bool) -> int:
    """Run the whole OPEN-1 photo check on a file, offline (no Temporal, no DB).

    Prints the verdict (pass, refused, review), the reason code, whether a new photo can fix it, the
    measures, and for `review` the cue that was unsure with its measures. Exits 0 on a pass, 3 on a
    refusal, 6 on review. The ID card number is read from a file or standard input, never from the
    command line (where every user of the machine sees it in the process list); it is fingerprinted at
    once, as the registry would hold it, and only the fingerprint goes into the check; neither the
    number nor the face encoding is printed.
    """
    id_card = read_id_card(id_card_file) if id_card_file is not None else None
    policy = load_policy().authentication
    if photo.stat().st_size > policy.max_photo_bytes:
        data = b"\0" * (policy.max_photo_bytes + 1)  # refused by size, as the activity does, unread
    else:
        data = photo.read_bytes()
    id_print = None
    if id_card:
        # As the registry would hold it: the mainland form, else another document's strict pattern.
        prints = candidate_fingerprints("id_card", id_card)
        if not prints:
            raise click.BadParameter("not a valid ID card number", param_hint="--id-card-file")
        id_print = prints[0]
    result = verify_photo(data, policy, id_fingerprint=id_print).result
    answer: dict[str, Any] = {
        "verdict": result.verdict,
        "rule": "OPEN-1",
        "code": result.refusal.code if result.refusal else None,
        "retryable": result.refusal.retryable if result.refusal else None,
        "message": result.refusal.message if result.refusal else "The photo passes OPEN-1.",
        "id_number_checked": id_print is not None,
        "measures": {k: round(v, 4) for k, v in sorted(result.measures.items())},
    }
    if result.review is not None:
        answer["unsure"] = {
            "cue": result.review.cue,
            "suspected": result.review.suspected,
            "measures": {k: round(v, 4) for k, v in sorted(result.review.measures.items())},
        }
    if as_json or out.json:
        print(json.dumps(answer, indent=2))
    else:
        print(f"verdict    {answer['verdict']}")
        if result.review is not None:
            print(f"unsure     {result.review.cue} (would be {result.review.suspected})")
            for k, v in answer["unsure"]["measures"].items():
                print(f"  {k:<30} {v}")
        elif result.refusal:
            print(f"reason     {result.refusal.rule} {result.refusal.code}")
            print(f"retryable  {'yes' if result.refusal.retryable else 'no (final)'}")
        print(f"message    {answer['message']}")
        print(f"id number  {'checked against the card' if id_print else 'not checked (no --id-card-file)'}")
        for k, v in answer["measures"].items():
            print(f"  {k:<22} {v}")
    return 0 if result.passed else EXIT_REVIEW if result.review is not None else EXIT_REFUSED


def refuse_id_card(value: str | None) -> None:
    """`--id-card NUMBER` is refused before anything runs (exit 2, a usage error): the number would sit
    in the process list and the shell's history. The error does not repeat it."""
    if value is not None:
        raise click.UsageError(
            "--id-card is refused: a number on the command line is visible to every user of this machine "
            "(in the process list) and stays in shell history. Put it in a file only you can read and pass "
            "--id-card-file PATH, or pipe it in with --id-card-file -."
        )


def read_id_card(source: TextIO) -> str:
    number = source.read(256).strip()  # a number is short: a larger file is not one
    if not number:
        raise click.BadParameter("the file holds no ID card number", param_hint="--id-card-file")
    return number


COMMANDS = [check_photo]
