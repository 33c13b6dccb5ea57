"""Deployment settings, read once from the environment.

Everything has an embedded default so that a fresh checkout runs on the dev server with SQLite files
under one data folder (DESIGN decision 2). Secrets have development defaults that are refused when
`SELLER_ENV=production`.
"""

from __future__ import annotations

import hmac
import math
import os
import zlib
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from models.auth import DEV_KEYS, parse_keys

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET = "dev-only-secret-change-me"
DEV_CODEC_TOKEN = "dev-codec-token"
# Development default key: public (it is in this file), stable so that saved dev histories stay readable.
DEV_CODEC_KEY = "5e11e7" * 10 + "a1b2"


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
    # Credential keys (security/credentials.py): `id:roles:hex,...`, the first key for a role signs it.
    credential_keys: str = field(repr=False, default="")
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    mail_from: str = "no-reply@seller-platform.invalid"
    # "production" refuses development secrets and turns on the strict codec (security/codec.py).
    seller_env: str = "development"
    # Strict codec: a payload arriving in clear is refused instead of decoded (on in production).
    codec_strict: bool = False
    # Mutual TLS to the Temporal frontend (seller_client.connect): PEM files. The CA verifies the
    # server (system roots when unset); the certificate and key identify this caller. In production a
    # process that connects needs all three (seller_client.tls_config): its frontend takes no caller
    # without a certificate (docker-compose.yml); the codec server never connects, so needs none.
    temporal_tls_ca: Path | None = None
    temporal_tls_cert: Path | None = None
    temporal_tls_key: Path | None = field(repr=False, default=None)
    temporal_tls_server_name: str | None = None  # when the address is not the name in the certificate
    # Blobs: empty for the folder under data_dir, or s3://bucket[/prefix] (activities/storage/object_store.py).
    blob_store_url: str = ""
    # Observability (activities/worker_support/telemetry.py): a Prometheus endpoint (host:port) for the
    # worker's metrics, an OTLP/HTTP collector for traces, and the log line format (text or json).
    metrics_address: str | None = None
    otlp_endpoint: str | None = None
    log_format: str = "text"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"


class SettingsError(ValueError):
    """A setting is missing, malformed or a development value where production needs a real one."""


def parse_codec_keys(raw: str) -> dict[str, bytes]:
    """`CODEC_KEYS=k2:<64 hex>,k1:<64 hex>`; the first entry encrypts, the others only decrypt."""
    keys: dict[str, bytes] = {}
    for n, part in enumerate((p.strip() for p in raw.split(",")), start=1):
        if not part:
            raise SettingsError(
                f"CODEC_KEYS: entry {n} is empty (expected id:<64 hex digits>, comma separated)"
            )
        key_id, sep, hex_key = part.partition(":")
        key_id = key_id.strip()
        if not sep or not key_id:
            raise SettingsError(f"CODEC_KEYS: entry {n} is not id:<64 hex digits>")
        try:
            key = bytes.fromhex(hex_key.strip())
        except ValueError:
            raise SettingsError(f"CODEC_KEYS: key {key_id!r} is not hexadecimal") from None
        if len(key) != 32:
            raise SettingsError(f"CODEC_KEYS: key {key_id!r} must be 32 bytes (64 hex digits)")
        if key_id in keys:
            raise SettingsError(f"CODEC_KEYS: key id {key_id!r} appears twice; each key needs its own id")
        keys[key_id] = key
    return keys


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    value = raw.strip().lower()
    if value not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        raise SettingsError(f"{name}: expected true or false, got {raw!r}")
    return value in ("1", "true", "yes", "on")


MIN_SECRET_CHARS = 32
MIN_SECRET_BITS = 96  # estimated: a 32-character random hex string reaches ~110, "x" * 40 reaches 0
MIN_KEY_BITS = 100  # of a binary key, estimated the same way: 32 random bytes reach ~150


def estimated_bits(value: str | bytes) -> float:
    """At most how much a secret could hold: the lesser of the symbols' Shannon entropy times the length
    (low for anything short or drawn from few symbols) and its size compressed (low for anything
    repeated). It cannot see that a string was typed from memory; it catches the common mistakes
    ("x", "changeme" * 5, "7a" * 32)."""
    if not value:
        return 0.0
    raw = value.encode() if isinstance(value, str) else value
    counts = Counter(value)
    n = len(value)
    shannon = -sum(c / n * math.log2(c / n) for c in counts.values()) * n
    compressed = (len(zlib.compress(raw, 9)) - len(zlib.compress(b"", 9))) * 8
    return min(shannon, float(compressed))


def secret_problem(name: str, value: str) -> str | None:
    """Why `value` is too weak a secret for the setting `name`, or None."""
    if len(value) < MIN_SECRET_CHARS:
        return f"{name} is too short ({len(value)} characters; production needs {MIN_SECRET_CHARS} or more)"
    if (bits := estimated_bits(value)) < MIN_SECRET_BITS:
        return (
            f"{name} is too predictable (about {bits:.0f} bits; production needs {MIN_SECRET_BITS} or more)"
        )
    return None


def key_problem(name: str, key_id: str, key: bytes, public: bytes) -> str | None:
    """Why a binary key is unfit for production (the public development key, or too regular), or None."""
    if hmac.compare_digest(key, public):
        return f"{name} contains the public development key (key {key_id!r})"
    if (bits := estimated_bits(key)) < MIN_KEY_BITS:
        return f"{name} key {key_id!r} is too regular to be random (about {bits:.0f} bits)"
    return None


def _metrics_address() -> str | None:
    raw = os.environ.get("METRICS_ADDRESS", "").strip()
    if not raw:
        return None
    host, sep, port = raw.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SettingsError(f"METRICS_ADDRESS: expected host:port (for example 127.0.0.1:9464), got {raw!r}")
    return raw


def _log_format() -> str:
    value = _env("LOG_FORMAT", "text").strip().lower()
    if value not in ("text", "json"):
        raise SettingsError(f"LOG_FORMAT: expected text or json, got {value!r}")
    return value


def production_problems(env: dict[str, str] | None = None) -> list[str]:
    """Development values and weak secrets production must not run with, each naming its setting.
    Keys are parsed exactly as the code reads them (hex may be spaced, any case), so a development key
    written another way is still the development key."""
    env = dict(os.environ if env is None else env)
    problems = []
    secret = env.get("FINGERPRINT_SECRET", "")
    if not secret.strip() or secret == DEV_SECRET:
        problems.append("FINGERPRINT_SECRET is unset, empty or the development secret")
    elif weak := secret_problem("FINGERPRINT_SECRET", secret):
        problems.append(weak)
    raw_keys = env.get("CODEC_KEYS", "")
    if not raw_keys.strip():
        problems.append("CODEC_KEYS is unset: production needs its own keys")
    else:
        try:
            codec_keys = parse_codec_keys(raw_keys)
        except SettingsError as err:
            problems.append(str(err))
            codec_keys = {}
        for key_id, key in codec_keys.items():
            if weak := key_problem("CODEC_KEYS", key_id, key, bytes.fromhex(DEV_CODEC_KEY)):
                problems.append(weak)
    token = env.get("CODEC_SERVER_TOKEN", DEV_CODEC_TOKEN)
    if token == DEV_CODEC_TOKEN:
        problems.append("CODEC_SERVER_TOKEN is unset or the development token (set it, or empty to disable)")
    elif token and (weak := secret_problem("CODEC_SERVER_TOKEN", token)):
        problems.append(weak)

    raw_credential_keys = env.get("CREDENTIAL_KEYS", "")
    if not raw_credential_keys.strip():
        problems.append("CREDENTIAL_KEYS is unset: production needs its own command-signing keys")
    else:
        dev_secret = parse_keys(DEV_KEYS)[0].secret
        try:
            signing_keys = parse_keys(raw_credential_keys)
        except ValueError as err:
            problems.append(f"CREDENTIAL_KEYS: {err}")
            signing_keys = []
        for k in signing_keys:
            if weak := key_problem("CREDENTIAL_KEYS", k.key_id, k.secret, dev_secret):
                problems.append(weak)
    if env.get("CODEC_STRICT", "").strip().lower() in ("0", "false", "no", "off"):
        problems.append("CODEC_STRICT cannot be turned off in production")
    return problems


def _path_env(name: str) -> Path | None:
    raw = os.environ.get(name, "").strip()
    return Path(raw) if raw else None


def _tls_paths() -> tuple[Path | None, Path | None, Path | None]:
    """TEMPORAL_TLS_CA, _CERT, _KEY as paths; a certificate without its key (or the reverse) is an error."""
    ca, cert, key = (
        _path_env("TEMPORAL_TLS_CA"),
        _path_env("TEMPORAL_TLS_CERT"),
        _path_env("TEMPORAL_TLS_KEY"),
    )
    if (cert is None) != (key is None):
        raise SettingsError("TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together: set both or neither")
    return ca, cert, key


def load_settings() -> Settings:
    data_dir = Path(_env("SELLER_DATA_DIR", str(PROJECT_ROOT / ".data"))).resolve()
    seller_env = _env("SELLER_ENV", "development").strip().lower()
    if seller_env not in ("development", "production"):
        raise SettingsError(f"SELLER_ENV: expected development or production, got {seller_env!r}")
    production = seller_env == "production"
    if production and (problems := production_problems()):
        raise SettingsError("SELLER_ENV=production refuses development settings: " + "; ".join(problems))
    keys = parse_codec_keys(_env("CODEC_KEYS", f"k1:{DEV_CODEC_KEY}"))
    secret = _env("FINGERPRINT_SECRET", DEV_SECRET)

    credential_keys = _env("CREDENTIAL_KEYS", DEV_KEYS)
    policy_file = os.environ.get("POLICY_FILE")
    tls_ca, tls_cert, tls_key = _tls_paths()
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
        codec_server_token=_env("CODEC_SERVER_TOKEN", DEV_CODEC_TOKEN),
        credential_keys=credential_keys,
        smtp_host=_env("SMTP_HOST", "127.0.0.1"),
        smtp_port=int(_env("SMTP_PORT", "8025")),
        mail_from=_env("MAIL_FROM", "no-reply@seller-platform.invalid"),
        seller_env=seller_env,
        codec_strict=production or _flag("CODEC_STRICT", False),
        temporal_tls_ca=tls_ca,
        temporal_tls_cert=tls_cert,
        temporal_tls_key=tls_key,
        temporal_tls_server_name=os.environ.get("TEMPORAL_TLS_SERVER_NAME", "").strip() or None,
        blob_store_url=_env("BLOB_STORE_URL", ""),
        metrics_address=_metrics_address(),
        otlp_endpoint=os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip() or None,
        log_format=_log_format(),
    )


@lru_cache(maxsize=1)
def settings() -> Settings:
    return load_settings()
