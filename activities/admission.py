"""Who may start an account, and which policy a registration applies: the registry and the worker's own
settings answer, never the caller (DESIGN 13; issue 24).

- `admit_account`: an account run that is not its own continue-as-new starts only with an admission the
  registration signed (role system, command `open_account`, bound to the run's whole input), for an
  account the registry holds, not closed, in the state the run starts in. A closed account is never
  started again.
- `verify_registration`: a registration comes from a registration service (a `register` credential bound
  to the request) and brings no policy of its own.
- `policy_in_force`: the policy the worker's settings name (POLICY_FILE), versioned; the registration
  hands it to the account, which stamps its version on every decision.
"""

from __future__ import annotations

from sqlmodel import Session
from temporalio import activity

from activities.storage.db import engine
from models.admission import AdmitAccountInput, VerifyRegistrationInput
from models.policy import Policy, load_policy
from models.refusals import Refusal
from models.settings import settings
from models.tables import Account
from security.binding import binding
from security.credentials import check

RULE = "REG-7"  # accounts are created by registration only, and keep their member id for good


@activity.defn
def admit_account(inp: AdmitAccountInput) -> Refusal | None:
    """None when the run may act; else why it may not (it then does nothing at all)."""
    start = inp.start
    member_id = start.profile.member_id
    # Judged as of its signing, like a signal: the start is a one-way fact, and a worker outage between
    # the registration's answer and the account's first task must not leave a registered account unopened.
    # Bound to the whole input, it opens this account as registered and nothing else.
    refusal = check(
        start.admission, command="open_account", account=member_id, now=inp.now, bound=binding(start), as_sent=True
    )
    if refusal is not None:
        return Refusal(
            RULE, "not_started_by_registration", f"Accounts are opened by registration only ({refusal.code}).", False
        )
    starting = start.state.chart.state if start.state is not None else "registered"
    with Session(engine()) as session:
        row = session.get(Account, member_id)
        if row is None:
            return Refusal(RULE, "account_not_registered", "The registry holds no such account.", False)
        if row.state == "closed":
            return Refusal(RULE, "account_closed", "This account is closed for good; it cannot be started again.", False)
        if row.state != starting:
            return Refusal(
                RULE,
                "registry_disagrees",
                f"The registry has this account {row.state}, not {starting}: it is not started.",
                False,
            )
    return None


@activity.defn
def verify_registration(inp: VerifyRegistrationInput) -> Refusal | None:
    if inp.caller_policy:
        return Refusal(
            "ENF-4",
            "policy_not_accepted",
            "A registration takes the policy in force where it runs; send the request without one.",
            False,
        )
    return check(inp.registration.auth, command="register", account="*", now=inp.now, bound=(inp.fact_id, inp.digest))


_INSTALLED: list[Policy] = []  # set by this worker's own process only (`install`)


def install(policy: Policy | None) -> None:
    """The policy this process's worker hands to registrations from now on, in place of POLICY_FILE's
    (None: POLICY_FILE's again). For a worker run inside another program, the demo's or a benchmark's:
    its shortened years are that worker's setting, like a POLICY_FILE, never a caller's."""
    _INSTALLED[:] = [policy] if policy is not None else []


@activity.defn
def policy_in_force(request_id: str) -> Policy:
    """The policy the worker's settings name, for the registration `request_id`: read at each
    registration, so a new POLICY_FILE (a new version) applies to the registrations after it, and each
    account keeps the one it started with."""
    return _INSTALLED[0] if _INSTALLED else load_policy(settings().policy_file)
