"""The operator and backend command line, against the dev server with a real worker."""

from __future__ import annotations

import asyncio
import io
import json
import sys

import pytest
from sqlmodel import Session, select
from temporalio.testing import WorkflowEnvironment

import seller_client
import starter
from devtools.identity_factory import applicant
from devtools.smtp_sink import SmtpSink
from models.db import engine
from models.tables import AccountLink, IdentityFingerprint
from tests.conftest import new_worker


@pytest.fixture
def cli(dev_env: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run `starter.py ARGS --json` in this process against the test's dev server; (exit code, output)."""

    async def connect() -> object:
        return dev_env.client

    monkeypatch.setattr(seller_client, "connect", connect)

    async def run(*argv: str) -> tuple[int, dict]:
        capsys.readouterr()
        code = await asyncio.to_thread(starter.main, ["--json", *argv])
        out = capsys.readouterr().out
        try:
            return code, (json.loads(out) if out.strip() else {})
        except json.JSONDecodeError:
            return code, {"text": out}

    return run


async def registered(env: WorkflowEnvironment, tq: str, **overrides: object) -> tuple[str, object]:
    reg = applicant(**overrides)
    result = await seller_client.register(env.client, reg, task_queue=tq)
    assert result.accepted, result.refusal
    return result.member_id, reg  # type: ignore[return-value]


async def test_verify_email_with_the_mailed_code(
    dev_env: WorkflowEnvironment, cli, mailbox: SmtpSink
) -> None:  # type: ignore[no-untyped-def]
    async with new_worker(dev_env.client) as worker:
        member, reg = await registered(dev_env, worker.task_queue)
        code, out = await cli("verify-email", member, "123456x")
        assert (code, out["refused"]["rule"], out["refused"]["code"]) == (3, "REG-6", "code_malformed")
        mailed = await asyncio.to_thread(mailbox.latest_code, reg.email)  # type: ignore[attr-defined]
        wrong = "000000" if mailed != "000000" else "111111"
        code, out = await cli("verify-email", member, wrong)
        assert (code, out["refused"]["code"]) == (3, "code_wrong")
        code, out = await cli("verify-email", member, mailed)
        assert (code, out["state"]) == (0, "registered")
        code, out = await cli("verify-email", member, mailed)
        assert out["refused"]["code"] == "already_verified"
        code, out = await cli("request-code", member, "--email", reg.email)  # type: ignore[attr-defined]
        assert out["refused"]["code"] == "already_verified"


async def test_request_code_only_to_the_registered_address(dev_env: WorkflowEnvironment, cli) -> None:  # type: ignore[no-untyped-def]
    async with new_worker(dev_env.client) as worker:
        member, reg = await registered(dev_env, worker.task_queue)
        code, out = await cli("request-code", member, "--email", "someone-else@example.com")
        assert (code, out["refused"]["code"]) == (3, "email_not_registered")
        code, out = await cli("request-code", member, "--email", reg.email)  # type: ignore[attr-defined]
        assert code == 0


async def test_changed_email_that_collides_links_the_accounts(dev_env: WorkflowEnvironment, cli) -> None:  # type: ignore[no-untyped-def]
    async with new_worker(dev_env.client) as worker:
        first, first_reg = await registered(dev_env, worker.task_queue)
        second, _ = await registered(dev_env, worker.task_queue)
        code, out = await cli("change-contact", second, "--email", "not an address")
        assert (code, out["refused"]["code"]) == (3, "bad_email")
        code, out = await cli("change-contact", second, "--email", first_reg.email.upper())  # type: ignore[attr-defined]
        assert (code, out["refused"]["rule"], out["refused"]["code"]) == (3, "ASSOC-2", "identity_in_use")
        assert first not in json.dumps(out), "the other account is named to operators, not to the seller"
        code, links = await cli("links", second)
        assert [(x["rule"], x["reason"]) for x in links] == [("ASSOC-2", "shared_email")]
        assert {links[0]["member_a"], links[0]["member_b"]} == {first, second}
        # The clash changed nothing: each account keeps its own email fingerprint.
        with Session(engine()) as session:
            owners = session.exec(
                select(IdentityFingerprint.member_id).where(
                    IdentityFingerprint.kind == "email",
                    IdentityFingerprint.member_id.in_([first, second]),  # type: ignore[attr-defined]
                )
            ).all()
        assert sorted(owners) == sorted([first, second])
        code, out = await cli("change-contact", second, "--mobile", "+8613700000000")
        assert code == 0
        # A repeated clash does not link twice.
        await cli("change-contact", second, "--email", first_reg.email)  # type: ignore[attr-defined]
        with Session(engine()) as session:
            assert (
                len(session.exec(select(AccountLink).where(AccountLink.member_b.in_([first, second]))).all())
                == 1
            )  # type: ignore[attr-defined]


async def test_preapprove_then_register_abroad(dev_env: WorkflowEnvironment, cli) -> None:  # type: ignore[no-untyped-def]
    code, out = await cli("preapprove", "--region", "CN", "--licence", "DEHRB1", "--operator", "lin")
    assert (code, out["refused"]["code"]) == (3, "bad_region")
    code, out = await cli("preapprove", "--region", "de", "--licence", "DEHRB777777", "--operator", "op:lin")
    assert code == 0 and out["pre_approval_ref"].startswith("PA-")
    async with new_worker(dev_env.client) as worker:
        reg = applicant(region="DE", licence_number="DEHRB777777", id_card_number="L01X00T99")
        refused = await seller_client.register(dev_env.client, reg, task_queue=worker.task_queue)
        assert refused.refusal and refused.refusal.rule == "REG-2"
        approved = applicant(
            region="DE",
            licence_number="DEHRB777777",
            id_card_number="L01X00T99",
            pre_approval_ref=out["pre_approval_ref"],
        )
        assert (await seller_client.register(dev_env.client, approved, task_queue=worker.task_queue)).accepted


async def test_authenticate_and_take_the_exam_in_the_terminal(
    dev_env: WorkflowEnvironment, cli, mailbox: SmtpSink, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from activities.exam import answer_key, draw
    from devtools import photo_fixtures
    from models.policy import load_policy

    async with new_worker(dev_env.client) as worker:
        member, reg = await registered(dev_env, worker.task_queue)
        code = await asyncio.to_thread(mailbox.latest_code, reg.email)  # type: ignore[attr-defined]
        assert (await cli("verify-email", member, code))[0] == 0
        photo = tmp_path / "me.jpg"
        photo.write_bytes(photo_fixtures.jpeg_bytes(photo_fixtures.VARIANTS[1]))
        code, out = await cli("authenticate", member, str(photo))
        assert (code, out["state"]) == (0, "authenticated")

        n = load_policy().exam.questions_per_paper
        letters = ["z", *("abcd"[k] for k in answer_key(draw(f"{member}:1", n, 1).paper))]
        monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(letters) + "\n"))  # the seller typing
        code, out = await cli("exam", member)
        assert code == 0, out
        assert "please type one letter" in out["text"] and "score 100/100: passed" in out["text"]
        code, out = await cli("status", member)
        assert out["state"] == "exam_passed"
