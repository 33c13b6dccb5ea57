"""Messages of the account keeper (ENF-4, issue 24): an account the registry holds open whose workflow no
worker can move (its run ended by someone other than itself, its workflow task failing or never handed
out) is put back in enforcement's reach."""

from dataclasses import dataclass, field
from datetime import datetime

# Why the keeper was asked to look at an account.
FACT_REFUSED = "fact_refused"  # a service's fact was refused by the server for the run's caps, or the run was gone
RUN_ENDED = "run_ended"  # the sweep found the run terminated, failed or timed out
TASK_FAILING = "task_failing"  # the sweep found the server reporting repeated workflow task problems
OPERATOR_ASKED = "operator_asked"  # `starter.py heal MEMBER`


@dataclass
class HealInput:
    member_id: str
    why: str


@dataclass
class HealReport:
    member_id: str
    # healthy | not_open | reset | not_resettable | resets_exhausted
    action: str
    detail: str = ""
    new_run_id: str | None = None
    # Properly signed facts (violations, closure reports, cases, bans) sent again to the new run; the
    # signals that were not (a flood) are left behind.
    facts_sent_again: int = 0
    signals_left_behind: int = 0


@dataclass
class StrandedQuery:
    """The sweep looks at runs that ended at or after `since` (None: the keeper's first sweep)."""

    since: datetime | None = None


@dataclass
class StrandedAccounts:
    member_ids: list[str] = field(default_factory=list)
    until: datetime | None = None  # the next sweep's `since`
