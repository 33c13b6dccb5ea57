"""Recorded histories (tests/workflows/histories/, written by devtools/record_histories.py) replay with
the current workflow code: a change that would break running accounts fails here, not in production."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from models.settings import load_settings
from seller_client import data_converter
from worker import WORKFLOWS, sandbox_runner

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_histories_were_recorded() -> None:
    assert len(HISTORIES) >= 3, "run `python -m devtools.record_histories` to record the scenarios"


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_recorded_history_replays_with_current_code(path: Path) -> None:
    raw = json.loads(path.read_text())
    workflow_id = raw["events"][0]["workflowExecutionStartedEventAttributes"].get("workflowId", path.stem)
    replayer = Replayer(
        workflows=WORKFLOWS, data_converter=data_converter(load_settings()), workflow_runner=sandbox_runner()
    )
    result = await replayer.replay_workflow(WorkflowHistory.from_json(workflow_id, raw))
    assert result.replay_failure is None
