"""A refusal names the rule it applies, a reason code for machines and a sentence for people."""

from dataclasses import dataclass

from temporalio.exceptions import ApplicationError

# The ApplicationError type that carries a Refusal as its first detail, for callers to match on.
REFUSAL_ERROR_TYPE = "RuleRefusal"
# The ApplicationError type of an activity that failed on its input (activities/worker_support/failure_kinds.py):
# non-retryable, no retry changes the value.
BAD_INPUT_ERROR_TYPE = "BadInput"


@dataclass(frozen=True)
class Refusal:
    rule: str  # e.g. "REG-11"
    code: str  # e.g. "duplicate_identity"
    message: str  # for the person who sent the command
    retryable: bool = True  # can the sender fix it and try again (a new photo), or is it final (REG-5)?

    def __str__(self) -> str:
        return f"{self.rule} {self.code}: {self.message}"


class RefusedError(Exception):
    """Raised by pure code (chart, screening, checks); workflows turn it into an ApplicationError."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(str(refusal))
        self.refusal = refusal


def refuse(rule: str, code: str, message: str, *, retryable: bool = True) -> RefusedError:
    return RefusedError(Refusal(rule, code, message, retryable))


def refusal_failure(refusal: Refusal) -> ApplicationError:
    """The one shape of a refused command, for callers in any language: ApplicationError type
    `RuleRefusal`, the sentence as its message, the refusal as its only detail, and `non_retryable`
    saying the same as the refusal (not retryable: sending it again, changed, cannot succeed)."""
    return ApplicationError(
        refusal.message, refusal, type=REFUSAL_ERROR_TYPE, non_retryable=not refusal.retryable
    )
