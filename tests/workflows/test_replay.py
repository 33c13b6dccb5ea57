"""Recorded histories of every release (tests/workflows/histories/<release>/, written by
devtools/record_histories.py) replay with the current workflow code: a change that would break running
accounts fails here, not in production (docs/DEPLOYING.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from models.settings import load_settings
from seller_client import data_converter
from worker import WORKFLOWS, sandbox_runner
from workflows.releases import RELEASES

ROOT = Path(__file__).parent / "histories"
HISTORIES = sorted(ROOT.glob("*/*.json"))


def test_every_released_version_has_recorded_histories() -> None:
    released = [name for name, commit in RELEASES.items() if commit is not None]
    for release in released:
        assert len(list((ROOT / release).glob("*.json"))) >= 3, f"no histories kept for release {release}"
    assert {p.parent.name for p in HISTORIES} <= set(RELEASES), "histories of an unknown release"


@pytest.mark.parametrize("path", HISTORIES, ids=[f"{p.parent.name}/{p.stem}" for p in HISTORIES])
async def test_recorded_history_replays_with_current_code(path: Path) -> None:
    raw = json.loads(path.read_text())
    workflow_id = raw["events"][0]["workflowExecutionStartedEventAttributes"].get("workflowId", path.stem)
    replayer = Replayer(
        workflows=WORKFLOWS, data_converter=data_converter(load_settings()), workflow_runner=sandbox_runner()
    )
    result = await replayer.replay_workflow(WorkflowHistory.from_json(workflow_id, raw))
    assert result.replay_failure is None
