"""A client in another language, written from docs/contract/ alone (clients/node, @temporalio/client):
it registers a seller, verifies the email with the code mailed over SMTP, has a photo refused and reads
the refusal's rule and code, passes with another photo and the exam, releases a product and reports a
violation as a service, against the dev server and a real worker. Its own unit tests (the codec and
credential test vectors) run here too. `npm ci` (scripts/bootstrap.sh) installs its lock file."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from temporalio.testing import WorkflowEnvironment

from activities.exam import answer_key, draw
from devtools import product_fixtures
from devtools.contract_schema import ROOT as CONTRACT
from devtools.smtp_sink import SmtpSink
from models.settings import settings
from tests.conftest import new_worker
from tests.support.accounts import photo
from tests.support.draws import hex_id
from tests.support.polling import eventually

NODE_CLIENT = Path(__file__).resolve().parents[2] / "clients" / "node"
STEP_SECONDS = 240  # one command; a photo check on a busy machine takes tens of seconds
pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")


def _node_env(target: str, task_queue: str) -> dict[str, str]:
    s = settings()
    keys = [s.codec_key_id] + [k for k in s.codec_keys if k != s.codec_key_id]
    return os.environ | {
        "TEMPORAL_ADDRESS": target,
        "TEMPORAL_NAMESPACE": "default",
        "TASK_QUEUE": task_queue,
        "CODEC_KEYS": ",".join(f"{k}:{s.codec_keys[k].hex()}" for k in keys),
        "CREDENTIAL_KEYS": s.credential_keys,
        "SELLER_DATA_DIR": str(s.data_dir),
    }


async def _node(env: dict[str, str], *args: str, refused: bool = False) -> dict[str, Any]:
    """One run of the Node client's command line; its JSON answer (exit 3 and `refused` when refused)."""
    proc = await asyncio.create_subprocess_exec(
        "node", str(NODE_CLIENT / "bin" / "seller.js"), *args,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:  # a step that hangs fails naming itself, rather than holding the test until its timeout
        out, err = await asyncio.wait_for(proc.communicate(), STEP_SECONDS)
    except TimeoutError:
        proc.kill()
        raise AssertionError(f"node {args[0]} gave no answer within {STEP_SECONDS} s") from None
    assert proc.returncode == (3 if refused else 0), (
        f"{args[0]}: exit {proc.returncode}\n{err.decode()[-2000:]}"
    )
    answer: dict[str, Any] = json.loads(out)
    return answer


def _valid(schema_name: str, value: Any) -> None:
    schema = json.loads((CONTRACT / "schemas" / f"{schema_name}.json").read_text())
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    jsonschema.Draft202012Validator(schema, format_checker=checker).validate(value)


async def test_the_node_clients_own_tests_pass_the_specs_vectors() -> None:
    proc = await asyncio.create_subprocess_exec(
        "node", "--test", "test/", cwd=NODE_CLIENT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )  # fmt: skip
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out.decode()[-3000:]
    assert "# fail 0" in out.decode()


async def test_a_seller_from_registration_to_a_product_through_the_node_client(
    dev_env: WorkflowEnvironment, mailbox: SmtpSink, tmp_path: Path
) -> None:
    async with new_worker(dev_env.client) as worker:
        env = _node_env(dev_env.client.service_client.config.target_host, worker.task_queue)
        n = int(hex_id(6), 16)
        identity = await _node(env, "identity", str(n))
        email = f"node{n}@example.com"
        registered = await _node(
            env, "register", "--store-name", f"Node Teahouse {n % 10_000}", "--email", email,
            "--mobile", f"+86137{n % 10**8:08d}", "--licence", identity["licence_number"],
            "--id-card", identity["id_card_number"], "--accept-notice", "identity-v1", "--accept-notice", "face-v1",
        )  # fmt: skip
        _valid("RegistrationResult", registered)
        assert registered["accepted"], registered
        member = registered["member_id"]

        code = await asyncio.to_thread(mailbox.latest_code, email)
        assert (await _node(env, "verify-email", member, code)) == {"state": "registered"}

        dark = photo(tmp_path, "dark", identity["id_card_number"])
        refusal = (await _node(env, "authenticate", member, str(dark), refused=True))["refused"]
        assert (refusal["rule"], refusal["code"]) == ("OPEN-1", "too_dark")
        assert refusal["non_retryable"] is (not refusal["retryable"])

        good = photo(tmp_path, "pass_obama", identity["id_card_number"])
        passed = await _node(env, "authenticate", member, str(good))
        _valid("AuthenticationResult", passed)
        assert passed["state"] == "authenticated"

        paper = await _node(env, "start-exam", member)
        _valid("ExamPaperView", paper)
        key = answer_key(
            draw(f"{member}:{paper['attempt']}", len(paper["questions"]), paper["attempt"]).paper
        )
        graded = await _node(env, "submit-exam", member, paper["paper_id"], ",".join(map(str, key)))
        assert (graded["passed"], graded["state"]) == (True, "exam_passed")

        image = tmp_path / "product.jpg"
        image.write_bytes(product_fixtures.encode(product_fixtures.image(n)))
        title, description, category = product_fixtures.listing(n)
        released = await _node(
            env, "release", member, "--title", title, "--description", description, "--price", "19.90",
            "--category", category, "--image", str(image),
        )  # fmt: skip
        _valid("ProductReleaseResult", released)
        assert (released["accepted"], released["products_released"]) == (True, 1)

        await _node(env, "violation", member, "listing", "--id", f"V-node-{n}", "--points", "2")
        status: dict[str, Any] = await eventually(
            lambda: _node(env, "status", member),
            lambda s: s["penalty_points"]["listing"] == 2,
            "points",
            every=0.5,
        )
        _valid("AccountStatus", status)  # lists never null, times RFC 3339 with their offset
        assert status["state"] == "exam_passed" and status["requirements"]["errors"] == []
