"""What a failure may tell a caller: the refusal, never the worker's insides.

Every failure the workers and clients write (an update's refusal, an activity's failure, a workflow's)
goes through this converter (security/codec.py `data_converter`):
- no stack traces at any depth: they name the worker's files and functions;
- a refusal (ApplicationError type `RuleRefusal`) is the whole answer: its cause chain (the activity that
  failed, its error kind) stays in the workflow's history and the audit, not in the caller's error;
- each failure's message moves into its encoded attributes, which the payload codec encrypts (a message
  can quote the data it refuses), as Temporal's "encode common attributes" does.
Temporal's own decoding (every SDK's default failure converter) restores the message for a client holding
the codec. Imported inside the workflow sandbox: temporalio only.
"""

from __future__ import annotations

from temporalio.api.failure.v1 import Failure
from temporalio.converter import DefaultFailureConverter, PayloadConverter

REFUSAL_ERROR_TYPE = "RuleRefusal"  # models/refusals.py; repeated so the sandbox imports nothing else


class ContractFailureConverter(DefaultFailureConverter):
    def __init__(self) -> None:
        super().__init__(encode_common_attributes=False)  # encoded below, after the stack is dropped

    def to_failure(
        self, exception: BaseException, payload_converter: PayloadConverter, failure: Failure
    ) -> None:
        super().to_failure(exception, payload_converter, failure)  # causes come back through here
        _without_stacks(failure)
        if failure.application_failure_info.type == REFUSAL_ERROR_TYPE:
            failure.ClearField("cause")
        if not failure.HasField("encoded_attributes"):
            failure.encoded_attributes.CopyFrom(
                payload_converter.to_payloads([{"message": failure.message, "stack_trace": ""}])[0]
            )
            failure.message = "Encoded failure"


def _without_stacks(failure: Failure) -> None:
    """A failure copied whole from history (an ActivityError re-raised) may carry another process's stacks."""
    while True:
        failure.stack_trace = ""
        if not failure.HasField("cause"):
            return
        failure = failure.cause
