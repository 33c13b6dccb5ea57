"""The command line's declarations: every command answers --help, usage errors exit 2, refusals exit 3,
and the README documents exactly the commands there are. None of these reach Temporal."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import pytest

import starter

README = Path(__file__).resolve().parents[1] / "README.md"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = starter.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def readme_commands() -> set[str]:
    text = README.read_text()
    block = text[text.index("`starter.py` subcommands") : text.index("## Settings")]
    lines = [line.strip() for line in block.splitlines() if line.startswith("    ")]
    return {line.split()[0] for line in lines if not line.startswith(("#", "["))}


def test_the_readme_documents_every_command_and_no_other() -> None:
    assert readme_commands() == set(starter.cli.commands)


def test_every_command_answers_help_with_its_docstring(capsys: pytest.CaptureFixture[str]) -> None:
    code, top, _ = run(capsys, "--help")
    assert code == 0
    listed = set(re.findall(r"^  ([a-z][a-z-]*)  ", top, flags=re.MULTILINE))
    assert listed == set(starter.cli.commands), "the top-level help lists each command once"
    assert sorted(sum(starter.cli.sections.values(), [])) == sorted(starter.cli.commands)
    for name, command in starter.cli.commands.items():
        code, out, err = run(capsys, name, "--help")
        assert code == 0, (name, err)
        assert out.startswith(f"Usage: starter.py {name} "), name
        first_line = (command.help or "").splitlines()[0]
        assert first_line and " ".join(first_line.split()) in " ".join(out.split()), name


def test_every_command_takes_a_request_id() -> None:
    for name, command in starter.cli.commands.items():
        # A group (`review`) is not a command: each of its subcommands is.
        subcommands = command.commands.items() if isinstance(command, click.Group) else [(name, command)]
        for sub, leaf in subcommands:
            assert "--request-id" in {opt for p in leaf.params for opt in p.opts}, (name, sub)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["change-contact", "M1"], "give exactly one of --email | --mobile"),
        (["change-contact", "M1", "--email", "a@example.com", "--mobile", "+8613700000000"], "only one of"),
        (["credential", "decide_appeal", "--as-operator", "lin", "--as-service", "x"], "only one of"),
        (["close-report", "--rule", "REG-9", "--id", "r1"], "give exactly one of --member-id | --licence"),
        (["decide", "M1", "C1", "maybe", "--operator", "lin"], "'maybe' is not one of"),
        (["violation", "M1", "--id", "v1", "--category", "rumour"], "'rumour' is not one of"),
        (["authenticate", "M1", "/no/such/photo.jpg"], "does not exist"),
        (["register", "--store-name", "S"], "Missing option"),
        (["status", "M1", "--json"], "No such option '--json'"),
        (["no-such-command"], "No such command"),
    ],
)
def test_usage_errors_exit_2_with_the_reason(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert message in err


def test_a_refusal_prints_rule_code_and_sentence_and_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["preapprove", "--region", "CN", "--licence", "L1", "--operator", "lin"]
    code, out, err = run(capsys, *argv)
    assert (code, out) == (3, "")
    assert err.startswith("refused: REG-2 bad_region: ")
    code, out, err = run(capsys, "--json", *argv)
    assert (code, err) == (3, "")
    refused = json.loads(out)["refused"]
    assert (refused["rule"], refused["code"]) == ("REG-2", "bad_region")
    assert refused["message"] and isinstance(refused["retryable"], bool)
