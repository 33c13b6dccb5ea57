"""The command line for backend services and operators: `python starter.py [--json] COMMAND ...`.

Each command is declared with Click next to its code in `commands/` (seller, reading, operators,
services, offline); this module groups them, and `python starter.py --help` lists them by caller.

Settings come from the environment (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TASK_QUEUE, DATABASE_URL,
CREDENTIAL_KEYS, ...), defaulting to the embedded dev server. Each command is signed with the role it
needs (security/credentials.py): seller commands as the account's seller, reports as a service
(`--as-service NAME`), decisions as the operator named by `--as-operator NAME`. Refusals print the
rule, the reason code and the sentence, and exit with status 3; an unknown member exits with status 4;
`--json` prints machine-readable output instead. Every command takes
`--request-id KEY`: the same key again answers the first answer and changes nothing; a command whose
answer was lost exits with status 75 and prints the key to send it again with.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import traceback
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn

import click

from commands import offline, operators, privacy, reading, reviews, seller, services
from commands.common import EXIT_CLOSED, EXIT_REFUSED, EXIT_UNKNOWN, Output, table
from commands.reading import requirements_text
from models.refusals import RefusedError

# demo.py and the tests use these through the entry point.
__all__ = ["EXIT_CLOSED", "EXIT_REFUSED", "EXIT_UNKNOWN", "cli", "main", "requirements_text", "table"]

EXIT_UNREACHABLE = 2


class CommandLine(click.Group):
    """The group of commands: its help lists them in sections, in the order they were added, and a
    refusal raised before anything was sent is printed like every other refusal."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sections: dict[str, list[str]] = {}

    def add_section(self, title: str, commands: Iterable[click.Command]) -> None:
        for command in commands:
            self.add_command(command)
            self.sections.setdefault(title, []).append(command.name or "")

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RefusedError as err:  # refused at the boundary before anything was sent (models/boundary.py)
            return ctx.ensure_object(Output).refused(err.refusal)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        for title, names in self.sections.items():
            # The whole first sentence of each docstring: write_dl wraps it rather than cutting it short.
            rows = [
                (n, self.commands[n].get_short_help_str(200)) for n in names if not self.commands[n].hidden
            ]
            with formatter.section(title):
                formatter.write_dl(rows)


@click.group(
    cls=CommandLine,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
)
@click.option("--json", "as_json", is_flag=True, help="machine-readable output (before the command)")
@click.pass_context
def cli(ctx: click.Context, as_json: bool) -> None:
    """Seller accounts from the command line, for backend services and operators.

    Settings come from the environment (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TASK_QUEUE, DATABASE_URL,
    CREDENTIAL_KEYS, ...), defaulting to the embedded dev server. Each command is signed with the role
    it needs: seller commands as the account's seller, reports as a service (--as-service NAME),
    decisions as the operator named by --as-operator NAME. A refusal prints `refused: RULE code:
    sentence` on stderr and exits with status 3; an unknown member exits with status 4; --json prints
    it, and every answer, as JSON on stdout instead.
    Every command takes --request-id KEY: the same key again answers the first answer and changes
    nothing; a command whose answer was lost exits with status 75 and prints the key to send it again
    with. Each command has --help.
    """
    ctx.obj = Output(json=as_json)


cli.add_section("Seller commands", seller.COMMANDS)
cli.add_section("Reading (changes nothing)", reading.COMMANDS)
cli.add_section("Operators", operators.COMMANDS + reviews.COMMANDS)
cli.add_section("Other services", services.COMMANDS)
cli.add_section("Personal data (DATA-3, DATA-4)", privacy.COMMANDS)
cli.add_section("Offline tools (no Temporal, no database)", offline.COMMANDS)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; answer its exit status (0 done, 2 usage or Temporal unreachable, 3 refused,
    4 unknown member, 5 account closed, 6 check-photo or authenticate sends the photo to review, 75 not
    answered: send it again with the same --request-id)."""
    try:
        return int(cli.main(args=argv, prog_name="starter.py", standalone_mode=False) or 0)
    except click.ClickException as err:
        err.show()
        return err.exit_code
    except click.Abort:
        print("Aborted!", file=sys.stderr)
        return 1
    except RuntimeError as err:
        if "Failed client connect" in str(err) or "connection" in str(err).lower():
            print(f"cannot reach Temporal: {err}. Start it with ./run devserver start", file=sys.stderr)
            return EXIT_UNREACHABLE
        raise


def exit_now(code: int) -> NoReturn:
    """End the process once the command's work is done and its output flushed.

    The Temporal client's Rust threads may still hand a last callback to Python while the interpreter
    finalizes, which aborts the process ("Fatal Python error: PyGILState_Release", exit 134) after a
    command that succeeded. `os._exit` skips that finalization: nothing is left to clean up here."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more to say
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    try:
        status = main()
    except SystemExit as stop:  # anything that calls sys.exit itself
        status = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 2)
        if stop.code is not None and not isinstance(stop.code, int):
            print(stop.code, file=sys.stderr)
    except KeyboardInterrupt:
        status = 130
    except BaseException:
        traceback.print_exc()
        status = 1
    exit_now(status)
