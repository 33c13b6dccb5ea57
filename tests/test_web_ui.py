"""Operators find accounts by state in the real Web UI: headless Chromium against the dev server's UI."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from devtools import ui_check
from devtools.smtp_sink import free_port
from models.settings import settings
from seller_client import data_converter
from tests.conftest import new_worker
from tests.workflows.test_seller_account import finish, start_account
from workflows import search_attributes as sa

pytestmark = pytest.mark.skipif(
    not (Path(ui_check.CHROMIUM).exists() and Path(ui_check.CHROMEDRIVER).exists()),
    reason="Debian's chromium and chromium-driver are not installed (.ci/run installs them)",
)


async def test_an_account_is_found_by_its_state_in_the_web_ui() -> None:
    ui_port = free_port()
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(sys.prefix) / "bin" / "temporal"),
        data_converter=data_converter(settings()),
        search_attributes=sa.ALL,
        ui=True,
        ui_port=ui_port,
        dev_server_log_level="error",
    )
    try:
        async with new_worker(env.client) as worker:
            passed = await start_account(env, worker.task_queue, state="exam_passed")
            other = await start_account(env, worker.task_queue, state="registered")
            ui = f"http://127.0.0.1:{ui_port}"
            import asyncio

            found = await asyncio.to_thread(ui_check.find_accounts, ui, "exam_passed", expect=passed.id)
            assert passed.id in found
            assert other.id not in found, "the state filter must leave other states out"
            await finish(passed, other)
    finally:
        await env.shutdown()
