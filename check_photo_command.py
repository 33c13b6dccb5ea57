"""`starter.py check-photo PHOTO [--id-card NUMBER] [--json]`: the whole OPEN-1 check of one photo,
offline (no Temporal, no database), for operators and QA. Exit 0 on a pass, 3 on a refusal.

The number given with --id-card is fingerprinted at once, as the registry would hold it, and only the
fingerprint goes into the check; neither the number nor the face encoding is printed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from activities.identity_photo import verify_photo
from activities.identity_registry import candidate_fingerprints
from models.policy import load_policy


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    cp = sub.add_parser(
        "check-photo", help="run the OPEN-1 photo check on a file, offline (no Temporal, no DB)"
    )
    cp.add_argument("photo", type=Path)
    cp.add_argument("--id-card", dest="id_card", help="the registered ID card number the card must carry")
    cp.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output")
    cp.set_defaults(run=cmd_check_photo)


async def cmd_check_photo(args: argparse.Namespace) -> int:
    policy = load_policy().authentication
    if not args.photo.is_file():
        print(f"no such file: {args.photo}")
        return 2
    if args.photo.stat().st_size > policy.max_photo_bytes:
        data = b"\0" * (policy.max_photo_bytes + 1)  # refused by size, as the activity does, unread
    else:
        data = args.photo.read_bytes()
    id_print = None
    if args.id_card:
        # As the registry would hold it: the mainland form, else another document's strict pattern.
        prints = candidate_fingerprints("id_card", args.id_card)
        if not prints:
            print("the --id-card value is not a valid ID card number")
            return 2
        id_print = prints[0]
    result = verify_photo(data, policy, id_fingerprint=id_print).result
    out: dict[str, Any] = {
        "verdict": "pass" if result.passed else "refused",
        "rule": "OPEN-1",
        "code": result.refusal.code if result.refusal else None,
        "retryable": result.refusal.retryable if result.refusal else None,
        "message": result.refusal.message if result.refusal else "The photo passes OPEN-1.",
        "id_number_checked": id_print is not None,
        "measures": {k: round(v, 4) for k, v in sorted(result.measures.items())},
    }
    if getattr(args, "json", False):
        print(json.dumps(out, indent=2))
    else:
        print(f"verdict    {out['verdict']}")
        if result.refusal:
            print(f"reason     {result.refusal.rule} {result.refusal.code}")
            print(f"retryable  {'yes' if result.refusal.retryable else 'no (final)'}")
        print(f"message    {out['message']}")
        print(f"id number  {'checked against the card' if id_print else 'not checked (no --id-card)'}")
        for k, v in out["measures"].items():
            print(f"  {k:<22} {v}")
    return 0 if result.passed else 3
