"""Answers carried across continue-as-new (workflows/command_memo.py) keep the contract's one shape: a
failed photo or a refused product answered by a run of an older release (a result carrying its refusal)
is answered again as every refusal is, a RuleRefusal, without running the command again."""

from __future__ import annotations

import json
from typing import Any

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from models.account_state import CommandAnswer
from models.contract import PhotoSubmission, ProductInput
from models.refusals import REFUSAL_ERROR_TYPE
from tests.conftest import new_worker
from tests.support.accounts import finish, start_account
from tests.support.signing import signed
from workflows.seller_account import SellerAccount

DARK = {"rule": "OPEN-1", "code": "too_dark", "message": "The photo is too dark.", "retryable": True}
COPY = {"rule": "ASSOC-3", "code": "duplicate_product", "message": "A copy.", "retryable": True}
OLDER = [
    CommandAnswer(
        "photo-1",
        "submit_authentication_photo",
        result_json=json.dumps({"passed": False, "state": "registered", "failures": [DARK]}),
    ),
    CommandAnswer(
        "product-1",
        "release_product",
        result_json=json.dumps({"accepted": False, "state": "exam_passed", "refusal": COPY}),
    ),
]


async def test_an_older_runs_refusal_in_a_result_is_answered_as_a_refusal(
    time_env: WorkflowEnvironment,
) -> None:
    async with new_worker(time_env.client) as worker:
        handle = await start_account(time_env, worker.task_queue, recent_commands=OLDER)
        try:
            photo = PhotoSubmission("sha256:" + "ab" * 32)
            product = ProductInput("Teapot", "", "19.90", "kitchen", "sha256:" + "cd" * 32)
            cases: list[tuple[str, Any, Any, dict[str, Any]]] = [
                ("photo-1", SellerAccount.submit_authentication_photo, photo, DARK),
                ("product-1", SellerAccount.release_product, product, COPY),
            ]
            for update_id, handler, message, expected in cases:
                with pytest.raises(WorkflowUpdateFailedError) as failed:
                    await handle.execute_update(handler, signed(handle, handler, message), id=update_id)
                err = failed.value.cause
                assert isinstance(err, ApplicationError) and err.type == REFUSAL_ERROR_TYPE
                assert (err.details[0], err.non_retryable) == (expected, False)
            status = await handle.query(SellerAccount.status)
            assert status.state == "registered" and status.requirements.errors == []  # nothing ran again
        finally:
            await finish(handle)
