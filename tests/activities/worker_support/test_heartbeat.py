"""The photo check heartbeats while it works, so that a heartbeat timeout of seconds (opening.py)
moves a dead worker's check on: observed through temporalio's ActivityEnvironment."""

from __future__ import annotations

import time
from pathlib import Path

from temporalio.testing import ActivityEnvironment

from activities.identity_photo import check_authentication_photo
from activities.storage.blobs import put_bytes
from activities.worker_support.heartbeat import heartbeating
from devtools import photo_fixtures
from models.activity_io import PhotoCheckInput
from models.policy import load_policy


def test_a_long_step_heartbeats_from_the_background_thread() -> None:
    beats: list[object] = []
    env = ActivityEnvironment()
    env.on_heartbeat = lambda *details: beats.append(details)

    def slow() -> str:
        with heartbeating(every=0.05):
            time.sleep(0.5)  # stands for dlib, which cannot heartbeat from inside
        return "done"

    assert env.run(slow) == "done"
    assert len(beats) >= 5  # one at the start, then every 50 ms


def test_the_photo_activity_heartbeats(data_dir: Path) -> None:
    beats: list[object] = []
    env = ActivityEnvironment()
    env.on_heartbeat = lambda *details: beats.append(details)
    ref = put_bytes(photo_fixtures.jpeg_bytes(photo_fixtures.VARIANTS[0]))
    result = env.run(check_authentication_photo, PhotoCheckInput(ref, load_policy().authentication))
    assert result.passed and beats and all(d == () for d in beats)  # nothing about the photo in them


def test_outside_an_activity_it_does_nothing() -> None:
    with heartbeating(every=0.01):
        time.sleep(0.05)
