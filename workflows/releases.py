"""Releases of the account workflow, oldest first: the code each one ran, so that recorded histories
(tests/workflows/histories/<release>/) and the deploy test (tests/workflows/test_deploy.py) can start
accounts on a released version and carry them onto the current code. docs/DEPLOYING.md says how to cut one.
"""

from __future__ import annotations

# release -> the commit whose workflows/ that release deployed (None: the working tree, not yet released)
RELEASES: dict[str, str | None] = {
    "v1": "103f2970a61dff9996b7b18dc65b23588e1ca324",
    "v2": None,
}
CURRENT = next(reversed(RELEASES))
