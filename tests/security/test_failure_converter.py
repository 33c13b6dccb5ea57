"""One shape for every refusal, and nothing of the worker's insides in a caller's error."""

from __future__ import annotations

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.api.failure.v1 import Failure
from temporalio.client import WorkflowUpdateFailedError
from temporalio.converter import default
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from models.contract import UnbindInput, VerifyEmailInput
from models.refusals import REFUSAL_ERROR_TYPE, Refusal, refusal_failure
from security.failure_converter import ContractFailureConverter
from tests.conftest import new_worker
from tests.support.accounts import finish, start_account
from tests.support.signing import update
from workflows.seller_account import SellerAccount


def _no_stack_anywhere(failure: Failure) -> bool:
    while True:
        if failure.stack_trace:
            return False
        if not failure.HasField("cause"):
            return True
        failure = failure.cause


def _converted(err: BaseException) -> Failure:
    failure = Failure()
    ContractFailureConverter().to_failure(err, default().payload_converter, failure)
    return failure


def _raised(err: BaseException, cause: BaseException) -> BaseException:
    try:
        try:
            raise cause
        except BaseException as inner:
            raise err from inner
    except BaseException as caught:
        return caught


def test_a_refusal_carries_no_stack_and_no_cause_and_says_whether_to_retry() -> None:
    refused = _raised(refusal_failure(Refusal("OPEN-1", "face_mismatch", "Not you.")), KeyError("x"))
    failure = _converted(refused)
    info = failure.application_failure_info
    assert (info.type, info.non_retryable) == (REFUSAL_ERROR_TYPE, False)
    assert not failure.HasField("cause") and _no_stack_anywhere(failure)
    assert failure.message == "Encoded failure"  # the sentence travels encrypted (encoded attributes)
    final = _converted(refusal_failure(Refusal("REG-8", "unbind_not_allowed", "Never.", retryable=False)))
    assert final.application_failure_info.non_retryable is True


def test_other_failures_keep_their_cause_for_the_workflow_but_lose_every_stack() -> None:
    failure = _converted(_raised(ApplicationError("db down", type="DatabaseError"), OSError("disk")))
    assert failure.cause.application_failure_info.type == "OSError"  # what the workflow reads
    assert _no_stack_anywhere(failure)


async def test_a_refused_update_answers_the_contract_shape_and_history_holds_no_stack(
    time_env: WorkflowEnvironment,
) -> None:
    async with new_worker(time_env.client) as worker:
        handle = await start_account(time_env, worker.task_queue)
        try:
            cases = [
                (SellerAccount.verify_email, VerifyEmailInput("12ab"), ("REG-6", "code_malformed", True)),
                (SellerAccount.unbind_identity, UnbindInput("sold"), ("REG-8", "unbind_not_allowed", False)),
            ]
            for handler, message, (rule, code, retryable) in cases:
                with pytest.raises(WorkflowUpdateFailedError) as failed:
                    await update(handle, handler, message)
                err = failed.value.cause
                assert isinstance(err, ApplicationError) and err.type == REFUSAL_ERROR_TYPE
                assert err.non_retryable is (not retryable)
                assert err.details[0] == {
                    "rule": rule,
                    "code": code,
                    "message": err.message,
                    "retryable": retryable,
                }
                assert err.failure is not None and _no_stack_anywhere(err.failure)
                assert not err.failure.HasField("cause") and err.__cause__ is None
            completed = [
                e.workflow_execution_update_completed_event_attributes.outcome.failure
                async for e in handle.fetch_history_events()
                if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED
            ]
            assert completed and all(_no_stack_anywhere(f) for f in completed)
        finally:
            await finish(handle)
