"""Deployment settings, read once from the environment.

Everything has an embedded default so that a fresh checkout runs on the dev server with SQLite files
under one data folder (DESIGN decision 2). Secrets have development defaults that are refused when
`SELLER_ENV=production`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET = "dev-only-secret-change-me"


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    temporal_address: str
    temporal_namespace: str
    task_queue: str
    policy_file: Path | None
    fingerprint_secret: bytes
    # Payload codec keys as {key id: 32-byte key}; the first is used to encrypt, all can decrypt.
    codec_keys: dict[str, bytes] = field(repr=False, default_factory=dict)
    codec_key_id: str = "k1"
    codec_server_token: str = field(repr=False, default="")
    # Credential keys (models/credentials.py): `id:roles:hex,...`, the first key for a role signs it.
    credential_keys: str = field(repr=False, default="")
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    mail_from: str = "no-reply@seller-platform.invalid"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"


def _codec_keys(raw: str) -> dict[str, bytes]:
    """`CODEC_KEYS=k2:<64 hex>,k1:<64 hex>`; the first entry encrypts, the others only decrypt."""
    keys: dict[str, bytes] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        key_id, _, hex_key = part.partition(":")
        key = bytes.fromhex(hex_key)
        if len(key) != 32:
            raise ValueError(f"CODEC_KEYS: key {key_id!r} must be 32 bytes (64 hex digits)")
        keys[key_id] = key
    return keys


def load_settings() -> Settings:
    data_dir = Path(_env("SELLER_DATA_DIR", str(PROJECT_ROOT / ".data"))).resolve()
    # Development default key: derived, stable across runs so that saved histories stay readable.
    dev_key = "k1:" + "5e11e7" * 10 + "a1b2"
    keys = _codec_keys(_env("CODEC_KEYS", dev_key))
    secret = _env("FINGERPRINT_SECRET", DEV_SECRET)
    from models.credentials import DEV_KEYS

    credential_keys = _env("CREDENTIAL_KEYS", DEV_KEYS)
    if _env("SELLER_ENV", "development") == "production" and (
        secret == DEV_SECRET
        or "CODEC_KEYS" not in os.environ
        or DEV_KEYS.rsplit(":", 1)[1] in credential_keys
    ):
        raise RuntimeError("production needs FINGERPRINT_SECRET, CODEC_KEYS and CREDENTIAL_KEYS set")
    policy_file = os.environ.get("POLICY_FILE")
    return Settings(
        data_dir=data_dir,
        database_url=_env("DATABASE_URL", f"sqlite:///{data_dir / 'seller.db'}"),
        temporal_address=_env("TEMPORAL_ADDRESS", "localhost:7233"),
        temporal_namespace=_env("TEMPORAL_NAMESPACE", "default"),
        task_queue=_env("TASK_QUEUE", "seller-accounts"),
        policy_file=Path(policy_file) if policy_file else None,
        fingerprint_secret=secret.encode(),
        codec_keys=keys,
        codec_key_id=next(iter(keys)),
        codec_server_token=_env("CODEC_SERVER_TOKEN", "dev-codec-token"),
        credential_keys=credential_keys,
        smtp_host=_env("SMTP_HOST", "127.0.0.1"),
        smtp_port=int(_env("SMTP_PORT", "8025")),
        mail_from=_env("MAIL_FROM", "no-reply@seller-platform.invalid"),
    )


@lru_cache(maxsize=1)
def settings() -> Settings:
    return load_settings()
