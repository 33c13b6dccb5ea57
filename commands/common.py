"""What every command shares: the top-level `--json` choice, printing answers and refusals, tables."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, ParamSpec

import click

import seller_client
from models.refusals import Refusal

EXIT_REFUSED = 3
EXIT_UNKNOWN = 4
EXIT_NOT_ANSWERED = 75  # EX_TEMPFAIL: retry with the printed --request-id

P = ParamSpec("P")


@dataclasses.dataclass(frozen=True)
class Output:
    """How the answer is printed, chosen by `starter.py --json` before the command."""

    json: bool = False

    def show(self, obj: Any) -> None:
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            obj = dataclasses.asdict(obj)
        if self.json:
            print(json.dumps(obj, default=str, indent=2))
        elif isinstance(obj, dict):
            width = max((len(k) for k in obj), default=0)
            for key, value in obj.items():
                print(f"{key:<{width}}  {value}")
        else:
            print(obj)

    def refused(self, refusal: Refusal) -> int:
        """Print a refusal (rule, reason code, sentence) and answer the exit status that means it."""
        if self.json:
            print(json.dumps({"refused": dataclasses.asdict(refusal)}))
        else:
            print(f"refused: {refusal.rule} {refusal.code}: {refusal.message}", file=sys.stderr)
        return EXIT_REFUSED

    def unknown_member(self, member_id: str) -> int:
        message = f"No seller account has member id {member_id!r}."
        if self.json:
            print(
                json.dumps({"error": {"code": "unknown_member", "member_id": member_id, "message": message}})
            )
        else:
            print(f"error: {message}", file=sys.stderr)
        return EXIT_UNKNOWN


pass_output = click.make_pass_decorator(Output, ensure=True)


def request_id_option(*, used: bool = True) -> Callable[[Any], Any]:
    """`--request-id KEY`, which every command takes so that scripts can send any of them the same way.

    It is the update id of an account command (the same key answers the first answer); reports and
    screenings are keyed by their own ids (--id, BUYER) and reads change nothing, so there the key is
    accepted and not used (`used=False`).
    """
    return click.option(
        "--request-id",
        metavar="KEY",
        expose_value=used,
        help="idempotency key: the same key again answers the first answer"
        if used
        else "accepted as by every command; this one is keyed by its own id or changes nothing",
    )


def not_answered(key: str, err: seller_client.CommandNotAnswered) -> int:
    """A lost answer: the command was applied at most once, and the same key will tell which."""
    print(
        f"not answered ({err}); it was applied at most once: send it again with --request-id "
        f"{key} to learn its answer",
        file=sys.stderr,
    )
    return EXIT_NOT_ANSWERED


def run_async(command: Callable[P, Coroutine[Any, Any, int]]) -> Callable[P, int]:
    """A command that talks to Temporal runs in its own event loop; its result is the exit status."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> int:
        return asyncio.run(command(*args, **kwargs))

    return run


def at_most_one(**given: str | None) -> list[tuple[str, str]]:
    """The options given of a mutually exclusive set (`--as-operator NAME | --as-service NAME`)."""
    present = [(name, value) for name, value in given.items() if value is not None]
    if len(present) > 1:
        raise click.UsageError(f"give only one of {_names(given)}", click.get_current_context(silent=True))
    return present


def one_of(**given: str | None) -> tuple[str, str]:
    """The one option given of a required, mutually exclusive set (`--email E | --mobile M`)."""
    present = at_most_one(**given)
    if not present:
        raise click.UsageError(f"give exactly one of {_names(given)}", click.get_current_context(silent=True))
    return present[0]


def _names(given: dict[str, str | None]) -> str:
    return " | ".join(f"--{name.replace('_', '-')}" for name in given)


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
