"""Issue 13 case 10: `starter.py` exited 134 ("Fatal Python error: PyGILState_Release") in about one
run in nine after its work had succeeded. The real CLI, as separate processes, against the dev server."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from models.account_state import AccountInput
from models.contract import AccountProfile, ClosureReport
from tests.conftest import new_worker
from tests.support import signing
from tests.support.accounts import POLICY
from tests.support.draws import hex_id
from tests.support.registry_rows import registered_account
from workflows.seller_account import SellerAccount

ROOT = Path(__file__).resolve().parent.parent
RUNS = 20


async def run_cli(address: str, *argv: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "starter.py"),
        *argv,
        cwd=ROOT,
        env=os.environ | {"TEMPORAL_ADDRESS": address},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    return proc.returncode or 0, (out + err).decode(errors="replace")


async def test_the_cli_exits_with_its_own_status_every_time(dev_env: WorkflowEnvironment) -> None:
    address = dev_env.client.service_client.config.target_host
    member_id = "T" + hex_id(15).upper()
    async with new_worker(dev_env.client) as worker:
        registered_account(member_id, store_name="Exit Store")
        handle = await dev_env.client.start_workflow(
            SellerAccount.run,
            signing.admitted(
                AccountInput(
                    profile=AccountProfile(member_id=member_id, store_name="Exit Store", region="CN"),
                    policy=POLICY,
                    registered_at=(await dev_env.get_current_time()),
                )
            ),
            id=f"seller-{member_id}",
            task_queue=worker.task_queue,
        )
        results: list[tuple[int, str]] = []
        for _ in range(RUNS // 2):  # two at a time: the machine's cores are shared
            results += await asyncio.gather(
                run_cli(address, "--json", "status", member_id),
                run_cli(address, "--json", "status", member_id),
            )
        # A refusal exits 3, also every time (refused by the facade before anything is sent).
        refused = await run_cli(
            address,
            "--json",
            "violation",
            member_id,
            "--id",
            "v1",
            "--category",
            "ip",
            "--points",
            str(2**63),
        )
        await signing.signal(
            handle,
            SellerAccount.report_closure,
            ClosureReport("exit-over", "REG-9", "account_rental"),
            service="test",
        )
        await asyncio.wait_for(handle.result(), timeout=120)
    codes = [code for code, _ in results]
    assert codes == [0] * RUNS, [out[-300:] for code, out in results if code != 0][:2]
    assert all(member_id in out for _, out in results)
    assert refused[0] == 3 and "points_out_of_range" in refused[1]
