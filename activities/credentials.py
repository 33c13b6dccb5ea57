"""Signal credentials, verified outside workflow code so that the verdict is recorded in history.

A local activity: it only computes HMACs with the worker's keys, so it costs a marker, not a round trip
through the server, and a replay after the keys rotate reads the recorded verdict (security/credentials.py).
"""

from __future__ import annotations

from temporalio import activity

from models.auth import CredentialVerdict, VerifyCredentialsInput
from security.credentials import check


@activity.defn
def verify_credentials(inp: VerifyCredentialsInput) -> list[CredentialVerdict]:
    verdicts = []
    for item in inp.checks:
        refusal = check(
            item.auth,
            command=item.command,
            account=item.account,
            now=inp.now,
            bound=(item.fact_id, item.digest),
            as_sent=inp.as_sent,
        )
        principal = item.auth.principal if refusal is None and item.auth is not None else None
        verdicts.append(CredentialVerdict(principal=principal, refusal=refusal))
    return verdicts
