"""The operator and backend command line, against the dev server with a real worker."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import sys
from pathlib import Path

import jsonschema
import pytest
from sqlmodel import Session, select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

import seller_client
import starter
from activities.storage.db import engine
from devtools.contract_schema import ROOT as CONTRACT
from devtools.identity_factory import applicant
from devtools.smtp_sink import SmtpSink
from models.contract import AssociationCaseInput, ClosureReport
from models.tables import AccountLink, IdentityFingerprint
from tests.conftest import new_worker
from tests.support.accounts import notices
from tests.support.draws import hex_id, raw_bytes
from workflows.seller_account import SellerAccount


async def text_of(argv: list[str]) -> str:
    """What `starter.py ARGV` prints for a person (no --json); the exit code must be 0."""
    out = io.StringIO()

    def run() -> int:
        with contextlib.redirect_stdout(out):
            return starter.main(argv)

    assert await asyncio.to_thread(run) == 0
    return out.getvalue()


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
    code, out = await cli("preapprove", "--region", "de", "--licence", "DEHRB777777", "--as-operator", "lin")
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
        photo.write_bytes(photo_fixtures.jpeg_bytes(photo_fixtures.VARIANTS[1], reg.id_card_number))  # type: ignore[attr-defined]
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
        # The contract's schema (docs/contract/): times RFC 3339 with their offset (`due_at`), no null lists.
        schema = json.loads((CONTRACT / "schemas" / "AccountStatus.json").read_text())
        jsonschema.Draft202012Validator(schema).validate(out)
        assert out["requirements"]["eventually_due"][0]["due_at"][10] == "T"


async def test_duplicate_product_case_appeal_and_decisions_from_the_command_line(
    dev_env: WorkflowEnvironment, cli, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from devtools import product_fixtures
    from models.settings import settings
    from tests.support.accounts import finish, registered_identity, start_account
    from tests.support.polling import until

    # screen-buyer starts a workflow on the configured task queue, as the CLI does in production.
    async with new_worker(dev_env.client, task_queue=settings().task_queue) as worker:
        first = await start_account(dev_env, worker.task_queue, state="exam_passed")
        second = await start_account(dev_env, worker.task_queue, state="exam_passed")
        a = (await first.query(SellerAccount.status)).member_id
        b = (await second.query(SellerAccount.status)).member_id
        who = registered_identity(a)
        n = 40_000_000  # a fixed product (tests draw nothing unseeded)
        image = tmp_path / "p.jpg"
        image.write_bytes(product_fixtures.encode(product_fixtures.image(n)))
        title, description, category = product_fixtures.listing(n)
        args = ["--title", title, "--description", description, "--price", "12.00", "--category", category]
        code, out = await cli("release", a, *args, "--image", str(image))
        assert (code, out["accepted"]) == (0, True)
        code, out = await cli("release", b, *args, "--image", str(image))
        assert (code, out["refused"]["rule"], out["refused"]["code"]) == (3, "ASSOC-3", "duplicate_product")

        # ASSOC-4: both stores are suspended, each with the same case and an appeal window.
        sa_ = await until(first, lambda s: s.state == "suspended", "first suspended")
        sb_ = await until(second, lambda s: s.state == "suspended", "second suspended")
        assert sa_.open_cases == sb_.open_cases and len(sa_.open_cases) == 1
        case_id = sa_.open_cases[0]

        invoice = tmp_path / "invoice.pdf"
        invoice.write_bytes(b"%PDF-1.4 purchase invoice 2026-03 " + raw_bytes())
        code, out = await cli("decide", b, case_id, "reject", "--operator", "lin")
        assert (code, out["refused"]["code"]) == (3, "no_appeal")
        appeal = ["--opening-info", "Opened 2025, own brand", "--invoice", str(invoice)]
        code, out = await cli(
            "appeal", a, case_id, *appeal, "--letter", "We make this product ourselves; invoices attached."
        )
        assert (code, out["state"]) == (0, "suspended")
        code, out = await cli("appeal", a, case_id, *appeal, "--letter", "A second letter for the same case.")
        assert out["refused"]["code"] == "already_appealed"
        code, out = await cli("decide", a, case_id, "approve", "--as-operator", "lin", "--note", "own brand")
        assert (code, out["state"]) == (0, "exam_passed")
        # `links` says the approved appeal cleared the link, and by whom.
        code, links = await cli("links", a)
        assert [x["status"].split(" ")[0] for x in links] == ["cleared"]
        assert links[0]["status"].endswith("by operator:lin")
        # The association notice names the case it is about, and no other member.
        case_notices = [n for n in notices(a) if n.kind == "association_case"]
        assert (
            len(case_notices) == 1 and case_id in case_notices[0].message and b not in case_notices[0].message
        )
        code, out = await cli(
            "appeal", b, case_id, *appeal, "--letter", "We bought it from the same factory, honestly."
        )
        code, out = await cli("decide", b, case_id, "reject", "--as-operator", "wang", "--note", "forged")
        assert (code, out["state"]) == (0, "closed")
        # The table shows what each decision was about: the case and the operator's note.
        text = await text_of(["audit", b])
        decided = next(line for line in text.splitlines() if "appeal_rejected" in line)
        assert f"case_id={case_id}" in decided and "note=forged" in decided and "operator:wang" in decided
        # The approved store's link was cleared, so the rejected store's closure does not ban it.
        await asyncio.sleep(0.5)
        assert (await first.query(SellerAccount.status)).state == "exam_passed"
        code, trail = await cli("audit", b)
        assert [(r["event"], r["actor"], r["rule"]) for r in trail][-2:] == [
            ("appeal_rejected", "operator:wang", "ASSOC-5"),
            ("close", "operator:wang", "ASSOC-5"),
        ]

        # REG-3: an overseas buyer with the seller's mobile is closed, and the seller gets trade points.
        code, out = await cli(
            "screen-buyer", f"B{hex_id(8)}", "--region", "US", "--mobile", who.mobile
        )
        assert (code, out["closed"], out["seller_member_id"]) == (0, True, a)
        await until(first, lambda s: s.penalty_points["trade"] == 12, "REG-3 trade points")
        code, out = await cli(
            "screen-buyer", f"B{hex_id(8)}", "--region", "US", "--mobile", "+15550100"
        )
        assert (code, out["closed"]) == (0, False)

        # REG-10: Alibaba.com reports the supplier's licence; unknown licences are refused with a reason.
        code, out = await cli(
            "close-report", "--rule", "REG-10", "--licence", "91440300NOSUCH0000", "--id", "ali-1"
        )
        assert (code, out["refused"]["code"]) == (3, "no_matching_account")
        await finish(first)


async def test_the_same_request_id_answers_the_first_answer(dev_env: WorkflowEnvironment, cli) -> None:  # type: ignore[no-untyped-def]
    async with new_worker(dev_env.client) as worker:
        member, _ = await registered(dev_env, worker.task_queue)
        key = hex_id()
        code, first = await cli("change-contact", member, "--mobile", "+8613700000001", "--request-id", key)
        assert code == 0
        _, trail = await cli("audit", member)
        # The same key with another value: the first answer again, and nothing applied.
        code, again = await cli("change-contact", member, "--mobile", "+8613700000002", "--request-id", key)
        assert (code, again) == (0, first)
        _, after = await cli("audit", member)
        assert after == trail
        code, _ = await cli("change-contact", member, "--mobile", "+8613700000002", "--request-id", key + "x")
        assert code == 0
        _, changed = await cli("audit", member)
        assert len(changed) > len(trail)


@pytest.mark.parametrize("command", ["status", "audit"])
async def test_an_unknown_member_is_a_clear_error(
    dev_env: WorkflowEnvironment, cli, command: str, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    code, out = await cli(command, "MNOSUCHMEMBER")
    assert (code, out["error"]["code"]) == (starter.EXIT_UNKNOWN, "unknown_member")
    code = await asyncio.to_thread(starter.main, [command, "MNOSUCHMEMBER"])
    err = capsys.readouterr().err
    assert code == starter.EXIT_UNKNOWN
    assert "No seller account has member id 'MNOSUCHMEMBER'" in err and "Traceback" not in err


async def test_status_of_an_account_closed_with_an_open_case(dev_env: WorkflowEnvironment, cli) -> None:  # type: ignore[no-untyped-def]
    """Closing settles the case: `status` lists none, and OpenCase finds only live accounts."""
    from tests.support.accounts import finish, start_account
    from tests.support.polling import until
    from tests.support.signing import signal

    async with new_worker(dev_env.client) as worker:
        live = await start_account(dev_env, worker.task_queue, state="open")
        closing = await start_account(dev_env, worker.task_queue, state="open")
        for n, h in enumerate((live, closing)):
            case = AssociationCaseInput(f"C{n}{hex_id(16)}", "shared_email", "MOTHER")
            await signal(h, SellerAccount.open_case, case, operator="ops")
            await until(h, lambda s: bool(s.open_cases), "case opened")
        await seller_client.report_closure(
            dev_env.client, closing.id.removeprefix("seller-"), ClosureReport("r1", "REG-9", "account_rental")
        )
        await until(closing, lambda s: s.state == "closed", "closed")
        code, out = await cli("status", closing.id.removeprefix("seller-"))
        assert (code, out["state"], out["open_cases"]) == (0, "closed", [])
        ids = {live.id, closing.id}
        found: set[str] = set()
        for _ in range(100):  # visibility is eventually consistent
            found = {w.id async for w in dev_env.client.list_workflows("OpenCase = true") if w.id in ids}
            closed = {w.id async for w in dev_env.client.list_workflows("ClosedReason = 'account_rental'")}
            if found == {live.id} and closing.id in closed:
                break
            await asyncio.sleep(0.1)
        assert found == {live.id}
        await finish(live)


def test_the_demo_table_shows_whole_deadlines(capsys: pytest.CaptureFixture[str]) -> None:
    import demo
    from models.contract import AccountStatus
    from seller_client import utcnow

    waits = ["rules exam (OPEN-2)", "REG-4 warning 30d before reclaim at 2027-11-25T06:40:00+00:00"]
    demo.print_states([AccountStatus("M1", "authenticated", None, None, [], waits, utcnow(), 0, 0, "v1")])
    assert "; ".join(waits) in capsys.readouterr().out


async def test_a_credential_printed_by_the_cli_works_in_a_hand_typed_json_command(
    dev_env: WorkflowEnvironment, capsys: pytest.CaptureFixture[str]
) -> None:
    """The Web UI path: an operator pastes the printed `auth` into the JSON input of an update."""
    from tests.support.accounts import appeal_for, finish, linked_pair_with_a_case
    from tests.support.signing import update, update_id

    async with new_worker(dev_env.client) as worker:
        h, other, case_id = await linked_pair_with_a_case(dev_env, worker.task_queue, state="open")
        await update(h, SellerAccount.appeal, appeal_for(case_id))
        capsys.readouterr()
        typed = {"case_id": case_id, "approved": True, "operator": "", "note": "checked by hand"}
        # A credential is for one message: without --input none is printed.
        assert await asyncio.to_thread(starter.main, ["credential", "decide_appeal", "--as-operator", "lin"]) != 0
        capsys.readouterr()
        argv = ["credential", "decide_appeal", "--as-operator", "lin", "--input", json.dumps(typed)]
        assert await asyncio.to_thread(starter.main, argv) == 0
        auth = json.loads(capsys.readouterr().out)["auth"]
        with pytest.raises(WorkflowUpdateFailedError):  # the same credential on another decision: refused
            await dev_env.client.get_workflow_handle(h.id).execute_update(
                "decide_appeal", typed | {"approved": False, "auth": auth}, id=update_id("decide_appeal")
            )
        untyped = dev_env.client.get_workflow_handle(h.id)
        with pytest.raises(WorkflowUpdateFailedError):  # no credential: refused
            await untyped.execute_update("decide_appeal", typed, id=update_id("decide_appeal"))
        assert await untyped.execute_update(
            "decide_appeal", typed | {"auth": auth}, id=update_id("decide_appeal")
        ) == "open"
        await finish(h, other)


async def run_text(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """`starter.py ARGV` as a person runs it (no --json): (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = await asyncio.to_thread(starter.main, argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def test_each_account_command_prints_its_answer_or_its_refusal(
    dev_env: WorkflowEnvironment, cli, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    """The commands no other test sends: what each prints, in JSON and as text, and its exit status."""
    from tests.support.accounts import finish, start_account
    from tests.support.polling import until

    async with new_worker(dev_env.client) as worker:
        handle = await start_account(dev_env, worker.task_queue, state="open")
        member = handle.id.removeprefix("seller-")
        assert await cli("login", member, "--ip", "203.0.113.7") == (
            0,
            {"member_id": member, "login": "recorded"},
        )
        code, out, _ = await run_text(
            ["login", member, "--channel", "messenger", "--ip", "203.0.113.8"], capsys
        )
        assert (code, out.split()) == (0, ["member_id", member, "login", "recorded"])

        code, out = await cli("unbind", member, "--reason", "sold the shop")
        assert (code, out["refused"]["rule"], out["refused"]["code"]) == (3, "REG-8", "unbind_not_allowed")
        code, out, err = await run_text(["unbind", member], capsys)
        assert (code, out) == (3, "")
        assert err.startswith("refused: REG-8 unbind_not_allowed: The authenticated identity is bound")

        code, out = await cli("remove-product", member, "P-NO-SUCH")
        assert (code, out["refused"]["rule"], out["refused"]["code"]) == (3, "OPEN-3", "no_such_product")

        code, out = await cli("retry", member, "--as-operator", "lin")
        assert (code, out) == (0, {"member_id": member, "retried": 0, "still_failing": []})

        code, out = await cli(
            "violation", member, "--id", "v-cli-1", "--category", "listing", "--points", "2"
        )
        assert (code, out) == (
            0,
            {"member_id": member, "violation": "v-cli-1", "reported": True, "answer": "counted"},
        )
        await until(handle, lambda s: s.penalty_points["listing"] == 2, "ENF-2 listing points")
        code, out, _ = await run_text(
            ["violation", member, "--id", "v-cli-2", "--category", "listing", "--as-service", "qa"], capsys
        )
        assert (code, out.split()) == (
            0,
            ["member_id", member, "violation", "v-cli-2", "reported", "True", "answer", "counted"],
        )

        code, out = await cli("close-report", "--rule", "REG-9", "--member-id", member, "--id", "r-cli")
        assert (code, out) == (
            0,
            {"member_id": member, "report": "r-cli", "rule": "REG-9", "answer": "counted"},
        )
        final = await until(handle, lambda s: s.state == "closed", "closed by the REG-9 report")
        assert final.closed_reason == "account_rental"
        await finish(handle)


async def test_register_from_the_command_line(
    dev_env: WorkflowEnvironment, cli, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    from models.settings import settings
    from tests.support.accounts import finish

    reg = applicant()
    args = ["--store-name", reg.store_name, "--email", reg.email, "--mobile", reg.mobile, "--region", "CN"]
    args += ["--licence", reg.licence_number, "--id-card", reg.id_card_number, "--accept-notice", "identity-v1"]
    async with new_worker(dev_env.client, task_queue=settings().task_queue):
        code, first = await cli("register", *args, "--request-id", reg.request_id)
        assert code == 0 and first["workflow_id"] == f"seller-{first['member_id']}"
        assert await cli("register", *args, "--request-id", reg.request_id) == (0, first)
        # Another request with the same identity is refused, with the rule it breaks.
        code, out, err = await run_text(["register", *args], capsys)
        assert (code, out) == (3, "") and err.startswith("refused: REG-")
        abroad = applicant(region="DE", licence_number="DEHRB424242", id_card_number="L01X00T42")
        code, out = await cli(
            "register", "--store-name", "Abroad", "--email", abroad.email, "--mobile", abroad.mobile,
            "--region", "DE", "--licence", abroad.licence_number, "--id-card", abroad.id_card_number,
            "--accept-notice", "identity-v1",
        )  # fmt: skip
        assert (code, out["refused"]["rule"]) == (3, "REG-2")
        await finish(dev_env.client.get_workflow_handle(first["workflow_id"]))


async def test_a_lost_answer_exits_75_and_prints_the_key_to_send_again(
    data_dir, tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    """The server goes away after the command connected: the answer is lost, not the command's key."""
    from temporalio.client import Client

    from tests.conftest import BIN

    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server")
    )
    # The SDK's own retries of a refused connection take about 8 s a command: three commands show it.
    client = await Client.connect(env.client.service_client.config.target_host)
    await env.shutdown()

    async def connect() -> Client:
        return client

    monkeypatch.setattr(seller_client, "connect", connect)
    monkeypatch.setattr(seller_client, "ANSWER_PATIENCE_SECONDS", 0.0)
    code, out, err = await run_text(["unbind", "M1", "--request-id", "key-1"], capsys)
    assert (code, out) == (75, "")
    assert "applied at most once: send it again with --request-id key-1 " in err
    # The exam sends a step under the command's key; the key printed is the command's.
    code, _, err = await run_text(["exam", "M1", "--request-id", "key-2"], capsys)
    assert code == 75 and "send it again with --request-id key-2 " in err
    # Without a key the command made one up (after storing its file): it is the one printed.
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"stored before the command is sent")
    code, _, err = await run_text(["authenticate", "M1", str(photo)], capsys)
    assert code == 75 and re.search(r"send it again with --request-id [0-9a-f]{32} ", err)


def test_check_photo_refuses_an_id_number_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = tmp_path / "card.jpg"
    photo.write_bytes(b"not read: refused before anything runs")
    number = "110101199003074514"
    code = starter.main(["check-photo", str(photo), "--id-card", number])
    err = capsys.readouterr().err
    # A usage error (exit 2) with the reason, and the number is not repeated anywhere.
    assert code == 2
    assert "visible to every user of this machine" in err and "--id-card-file" in err
    assert number not in err
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    assert starter.main(["check-photo", str(photo), "--id-card-file", str(empty)]) == 2
    assert "holds no ID card number" in capsys.readouterr().err
