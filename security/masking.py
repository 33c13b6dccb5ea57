"""Identity fields in decoded payloads, masked for whoever may not read them (issue 25).

The codec server decodes every payload of a history for the Web UI; registration inputs, buyer
screenings, contact changes and the mail activity's input hold identity values (ID card and licence
numbers, mobile numbers, email addresses). Only a principal holding the `identity_reader` role
(models/auth.py; `"roles": ["operator", "identity_reader"]` in CODEC_OPERATORS, or the OIDC roles
claim) reads them; for everyone else each such value is replaced by `MASK` and the last two
characters, enough to tell two values apart on a screen, not to use one.

Walked like the credential redaction (security/codec_signing.py): every payload whose data reads as
JSON, at any depth, iteratively.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from temporalio.api.common.v1 import Payload

IDENTITY_KEYS = frozenset({"email", "mobile", "licence_number", "id_card_number", "new_email", "new_mobile"})
# ChangeContactInput: {"kind": "email", "value": "..."}.
CONTACT_KINDS = frozenset({"email", "mobile"})
MASK = "masked-for-identity_reader"


def masked_value(value: str) -> str:
    return f"{MASK}…{value[-2:]}" if len(value) > 6 else MASK


def rewritten(payloads: Sequence[Payload], edit: Callable[[Any], bool]) -> list[Payload]:
    """The payloads with `edit` applied in place to each one whose data reads as JSON, whatever its
    encoding says (a misspelt encoding hides nothing); a payload is re-encoded only when `edit` says it
    changed something. The one walk behind masking and the credential redaction (codec_signing)."""
    out = []
    for p in payloads:
        if p.metadata.get("encoding") != b"binary/null" and p.data:
            try:
                value = json.loads(p.data)
            except (ValueError, UnicodeDecodeError, RecursionError):
                value = None
            if value is not None and edit(value):
                p = Payload(metadata=dict(p.metadata), data=json.dumps(value, ensure_ascii=False).encode())
        out.append(p)
    return out


def mask(payloads: Sequence[Payload]) -> list[Payload]:
    return rewritten(payloads, _mask_in_place)


def _mask_in_place(value: Any) -> bool:
    changed = False
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            contact = node.get("kind") in CONTACT_KINDS and isinstance(node.get("value"), str)
            for key, child in node.items():
                if isinstance(child, str) and child and not child.startswith(MASK):
                    if key in IDENTITY_KEYS or (contact and key == "value"):
                        node[key] = masked_value(child)
                        changed = True
                elif isinstance(child, dict | list):
                    stack.append(child)
        elif isinstance(node, list):
            stack.extend(c for c in node if isinstance(c, dict | list))
    return changed
