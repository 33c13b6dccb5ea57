"""What every command shares: the top-level `--json` choice, printing answers and refusals, tables, and
`facade_command`, the declaration of a command that sends to the accounts through seller_client."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import UTC, date, datetime
from typing import Any, ParamSpec

import click
from temporalio.client import Client

import seller_client
from models.refusals import Refusal, RefusedError

EXIT_REFUSED = 3
EXIT_UNKNOWN = 4
EXIT_CLOSED = 5  # the account is closed: nothing more is applied to it (a counted report answers 0)
EXIT_REVIEW = 6  # check-photo, authenticate: neither pass nor refusal, a person must look (review)
EXIT_NOT_ANSWERED = 75  # EX_TEMPFAIL: retry with the printed --request-id

P = ParamSpec("P")


def json_value(value: Any) -> Any:
    """Times as RFC 3339 with their offset (`2027-01-24T06:00:00+00:00`), as the contract writes them
    (docs/contract/); the registry stores UTC, so a time read back without its zone is UTC."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


@dataclasses.dataclass(frozen=True)
class Output:
    """How the answer is printed, chosen by `starter.py --json` before the command."""

    json: bool = False

    def show(self, obj: Any) -> None:
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            obj = dataclasses.asdict(obj)
        if self.json:
            print(json.dumps(obj, default=json_value, indent=2))
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

    def closed(self, err: seller_client.AccountClosed) -> int:
        """The account is closed: the refusal (the closing rule, `account_closed`), its own exit status."""
        r = err.refusal
        if self.json:
            print(json.dumps({"refused": dataclasses.asdict(r), "member_id": err.member_id}))
        else:
            print(f"account closed: {err.member_id}: {r.rule} {r.code}: {r.message}", file=sys.stderr)
        return EXIT_CLOSED

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

MEMBER = click.argument("member_id", metavar="MEMBER")


def request_id_option(*, used: bool = True) -> Callable[[Any], Any]:
    """`--request-id KEY`, which every command takes so that scripts can send any of them the same way.

    It is the update id of an account command (the same key answers the first answer); reports and
    screenings are keyed by their own ids (--id, BUYER) and reads change nothing, so there the key is
    accepted and not used (`used=False`).
    """
    return click.option("--request-id", **_request_id_attrs(used))


def _request_id_attrs(used: bool) -> dict[str, Any]:
    return {
        "metavar": "KEY",
        "expose_value": used,
        "help": "idempotency key: the same key again answers the first answer"
        if used
        else "accepted as by every command; this one is keyed by its own id or changes nothing",
    }


def operator_option(help: str) -> Callable[[Any], Any]:
    """`--as-operator NAME` (or `--operator NAME`): the operator the command is signed as."""
    return click.option(
        "--as-operator", "--operator", "as_operator", required=True, metavar="NAME", help=help
    )


def service_option(default: str, help: str, *aliases: str) -> Callable[[Any], Any]:
    """`--as-service NAME`: the service a report is signed as (security/credentials.py)."""
    return click.option(
        *aliases, "--as-service", "as_service", default=default, show_default=True, metavar="NAME", help=help
    )


@dataclasses.dataclass
class Call:
    """One command's way to the accounts: the account it is about, its idempotency key (--request-id, or
    a new one, printed if the answer is lost), and a Temporal connection made when it is first needed,
    so that what a command checks or stores before sending is refused without it."""

    out: Output
    member_id: str
    key: str
    _client: Client | None = None

    async def client(self) -> Client:
        if self._client is None:
            self._client = await seller_client.connect()
        return self._client

    async def update(self, update: Any, arg: Any, *, operator: str | None = None, step: str = "") -> Any:
        """Send one account command (a workflow update), signed as the account's seller, or as `operator`
        for an operator's decision (security/credentials.py). A command sending several updates names
        each one's `step`: each is keyed `KEY:step`, and the key to send again with stays the command's."""
        return await seller_client.command(
            await self.client(),
            self.member_id,
            update,
            arg,
            request_id=f"{self.key}:{step}" if step else self.key,
            operator=operator,
        )

    async def new_state(self, update: Any, arg: Any, *, operator: str | None = None) -> dict[str, Any]:
        """Send one account command and answer what most of them print: the state it leaves."""
        return {"member_id": self.member_id, "state": await self.update(update, arg, operator=operator)}


# The answer of a command's coroutine: a dict or dataclass, printed by `Output.show` (exit 0), or the
# exit status of a command that printed its own answer.
Answer = Any


def facade_command(
    name: str, *, member: bool = True, keyed: bool = True
) -> Callable[[Callable[..., Awaitable[Answer]]], click.Command]:
    """Declare a command that sends to the accounts: it states only its own parameters and what it
    sends; this adds what they all share.

    The coroutine takes a `Call` and the command's own parameters and answers what to print. It takes
    MEMBER as the first argument (unless `member=False`) and `--request-id KEY` as the last option
    (unless it declares its own; `keyed=False`: accepted and not used, as for reports keyed by their own
    ids). A refusal raised (RefusedError) prints as a refusal and exits 3; a closed account
    (AccountClosed) exits 5, an unknown member id 4; a lost answer prints the key to send the command
    again with and exits 75.
    """

    def declare(send: Callable[..., Awaitable[Answer]]) -> click.Command:
        @functools.wraps(send)
        async def run(out: Output, **params: Any) -> int:
            member_id = params.pop("member_id") if member else ""
            call = Call(out, member_id, params.pop("request_id", None) or seller_client.new_request_id())
            try:
                answer = await send(call, **params)
            except seller_client.CommandNotAnswered as err:
                return not_answered(call.key, err)
            except seller_client.AccountClosed as err:
                return out.closed(err)
            except seller_client.UnknownMember as err:
                return out.unknown_member(err.member_id)
            except RefusedError as err:
                return out.refused(err.refusal)
            if isinstance(answer, int):
                return answer
            out.show(answer)
            return 0

        command = click.command(name)(pass_output(run_async(run)))
        if member:
            command.params.insert(0, click.Argument(["member_id"], metavar="MEMBER"))
        if not any(p.name == "request_id" for p in command.params):
            command.params.append(click.Option(["--request-id"], **_request_id_attrs(keyed)))
        return command

    return declare


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
