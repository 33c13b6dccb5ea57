"""Who may read decrypted payloads through the codec server, and in which namespaces.

Three ways in, one per client:

- an operator signed in on the codec server itself (`/login`), who then holds a signed session cookie.
  The Web UI sends it with "include cross-origin credentials" on;
- the Web UI's OIDC access token ("pass access token", https only), verified against the provider's
  keys (issuer, audience, expiry);
- the static `CODEC_SERVER_TOKEN`, for the `temporal` CLI (`--codec-auth "Bearer ..."`).

Settings (environment; the codec server reads them, the worker does not):

    CODEC_OPERATORS_FILE   JSON {"alice": {"password": "scrypt$...", "namespaces": ["default"]}, ...}
    CODEC_OPERATORS        the same JSON inline (the file wins when both are set)
    CODEC_SESSION_SECRET   signs session cookies (32+ characters)
    CODEC_SESSION_HOURS    session lifetime, default 8
    CODEC_UI_ORIGINS       origins the browser may call from, comma separated (default: the dev UI)
    CODEC_COOKIE_SECURE    cookie `SameSite=None; Secure` (https); default true in production
    CODEC_TOKEN_NAMESPACES namespaces the static token may read, comma separated or *; default TEMPORAL_NAMESPACE
    CODEC_OIDC_ISSUER, CODEC_OIDC_AUDIENCE, CODEC_OIDC_JWKS_URL or CODEC_OIDC_JWKS_FILE,
    CODEC_OIDC_NAMESPACES_CLAIM (default "temporal_namespaces": a list, or "*"),
    CODEC_OIDC_NAME_CLAIM (default "sub": the name the audit records), CODEC_OIDC_ROLES_CLAIM
    (default "seller_roles": a list, or a space-separated string)
    CODEC_SIGNING_KEYS     operator-only credential keys for signing commands typed in the Web UI
                           (security/codec_signing.py); development falls back on CREDENTIAL_KEYS
    CODEC_SIGN_SECONDS     lifetime of those credentials, default 120 (10 to 600)
    CODEC_UI_UPSTREAM      the Web UI to serve on the codec server's own origin (security/ui_front.py),
                           e.g. http://localhost:8233 for the dev server's UI

An operator entry may add `"roles": ["operator"]`: then, signed in, they may send operator commands
(decide_appeal, retry, ban, ...) from the Web UI, signed in their name, and open review items
(evidence/page.py). Without it they only read. `"identity_reader"` lets them read identity fields
in decoded payloads; without it those are masked (security/masking.py).

Password hashes come from `python codec_server.py hash-password`. In development, with no operators
configured, one operator `operator` with the password `dev-operator-password` and the operator role
exists; production refuses it, like every other development secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt

from models.auth import DEV_KEYS, IDENTITY_READER
from models.settings import DEV_CODEC_TOKEN, Settings, SettingsError, key_problem, secret_problem, settings
from security import credentials
from security.credentials import SigningKey

DEV_OPERATOR = "operator"
DEV_OPERATOR_PASSWORD = "dev-operator-password"
DEV_SESSION_SECRET = "dev-codec-session-secret-change-me"
DEV_UI_ORIGINS = ("http://localhost:8233", "http://127.0.0.1:8233")
SESSION_COOKIE = "seller_codec_session"
DEVICE_COOKIE = "seller_codec_device"  # a browser that signed in before (security/sign_in.py)
DEVICE_SECONDS = 30 * 24 * 3600
MAX_SESSIONS_PER_OPERATOR = 20
# Roles a person signed in on the codec server may sign as: never seller, service or system.
SIGNING_ROLES = frozenset({"operator"})
# Roles an operator entry (or the OIDC roles claim) may hold: the signing role, and `identity_reader`
# (models/auth.py), without which identity fields in decoded payloads are masked (security/masking.py).
OPERATOR_ROLES = SIGNING_ROLES | {IDENTITY_READER}
SIGN_SECONDS = 120  # a credential signed for the UI is used at once: the UI sends right after encoding
# scrypt cost: ~50 ms and 16 MB per check, which also slows password guessing.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    b64 = base64.urlsafe_b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.urlsafe_b64decode(digest)
        got = hashlib.scrypt(
            password.encode(),
            salt=base64.urlsafe_b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=64 * 1024 * 1024,
        )
    except ValueError:
        return False
    return hmac.compare_digest(got, expected)


class NamespaceReader:
    """Who may read a namespace's payloads: the namespaces listed, or "*" for all."""

    namespaces: frozenset[str]

    def may_read(self, namespace: str) -> bool:
        return "*" in self.namespaces or namespace in self.namespaces


@dataclass(frozen=True)
class Operator(NamespaceReader):
    name: str
    password_hash: str = field(repr=False)
    namespaces: frozenset[str]
    roles: frozenset[str] = frozenset()  # OPERATOR_ROLES: signing commands (operator), identity_reader


@dataclass(frozen=True)
class Principal(NamespaceReader):
    """Whoever a request was authenticated as, and how."""

    name: str
    via: str  # "session", "oidc" or "token"
    namespaces: frozenset[str]
    roles: frozenset[str] = frozenset()  # the token has none: it names no one


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    audience: str
    jwks_url: str | None
    jwks_file: Path | None
    namespaces_claim: str = "temporal_namespaces"
    name_claim: str = "sub"  # stable and not user-editable, unlike some providers' usernames
    roles_claim: str = "seller_roles"
    algorithms: tuple[str, ...] = ("RS256", "ES256", "PS256")


@dataclass(frozen=True)
class AccessSettings:
    operators: dict[str, Operator]
    session_secret: bytes = field(repr=False)
    session_seconds: int
    ui_origins: tuple[str, ...]
    cookie_secure: bool
    static_token: str = field(repr=False)
    token_namespaces: frozenset[str]
    default_namespace: str
    oidc: OidcSettings | None = None
    # Keys the codec server signs operator commands with; empty: it signs nothing (security/codec_signing.py).
    signing_keys: tuple[SigningKey, ...] = field(default=(), repr=False)
    sign_seconds: int = SIGN_SECONDS
    # The Web UI served through the codec server, on its origin (security/ui_front.py); None: not served.
    ui_upstream: str | None = None


def _namespaces(raw: Any, where: str) -> frozenset[str]:
    if isinstance(raw, str):
        raw = [x.strip() for x in raw.split(",") if x.strip()]
    if not isinstance(raw, list) or not raw or not all(isinstance(x, str) and x for x in raw):
        raise SettingsError(f'{where}: namespaces must be a non-empty list of names (or ["*"])')
    return frozenset(raw)


def _roles(raw: Any, name: str, source: str) -> frozenset[str]:
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw) or not set(raw) <= OPERATOR_ROLES:
        raise SettingsError(f"{source}: operator {name!r}: roles must be a list of {sorted(OPERATOR_ROLES)}")
    if set(raw) & SIGNING_ROLES and credentials.ACTOR.match(name) is None:
        raise SettingsError(
            f"{source}: operator {name!r} cannot sign commands: the audit takes letters, digits and ._@- only"
        )
    return frozenset(raw)


def _signing_keys(env: dict[str, str], s: Settings, production: bool) -> tuple[SigningKey, ...]:
    """Operator-capable keys only. Production takes them from CODEC_SIGNING_KEYS alone, each limited to
    the operator role, so the codec server (the part facing browsers) can never mint a seller's, a
    service's or the system's credential; without them it signs nothing."""
    raw = env.get("CODEC_SIGNING_KEYS", "").strip()
    if raw:
        try:
            keys = credentials.parse_keys(raw)
        except ValueError as err:
            raise SettingsError(f"CODEC_SIGNING_KEYS: {err}") from None
        if wider := [k.key_id for k in keys if k.roles != SIGNING_ROLES]:
            raise SettingsError(f"CODEC_SIGNING_KEYS: key(s) {wider} may sign more than the operator role")
        dev = credentials.parse_keys(DEV_KEYS)[0].secret
        for k in keys if production else ():
            if weak := key_problem("CODEC_SIGNING_KEYS", k.key_id, k.secret, dev):
                raise SettingsError(weak)
        return tuple(keys)
    if production:
        return ()
    return tuple(k for k in credentials.parse_keys(s.credential_keys) if "operator" in k.roles)


def _operators(env: dict[str, str], default_namespace: str, production: bool) -> dict[str, Operator]:
    path = env.get("CODEC_OPERATORS_FILE", "").strip()
    source = "CODEC_OPERATORS_FILE" if path else "CODEC_OPERATORS"
    raw = Path(path).read_text() if path else env.get("CODEC_OPERATORS", "").strip()
    if not raw:
        if production:
            return {}  # no operator sign-in: OIDC or the static token only
        return {
            DEV_OPERATOR: Operator(
                DEV_OPERATOR,
                hash_password(DEV_OPERATOR_PASSWORD),
                frozenset({default_namespace}),
                OPERATOR_ROLES,
            )
        }
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as err:
        raise SettingsError(f"{source}: not JSON ({err.msg} at {err.pos})") from None
    if not isinstance(data, dict):
        raise SettingsError(f"{source}: expected an object {{name: {{password, namespaces}}}}")
    operators = {}
    for name, entry in data.items():
        if not isinstance(entry, dict) or not str(entry.get("password", "")).startswith("scrypt$"):
            raise SettingsError(f"{source}: operator {name!r} needs a password hash from hash-password")
        op = Operator(
            name,
            entry["password"],
            _namespaces(entry.get("namespaces"), f"{source} {name!r}"),
            _roles(entry.get("roles", []), name, source),
        )
        if production and check_password(DEV_OPERATOR_PASSWORD, op.password_hash):
            raise SettingsError(f"{source}: operator {name!r} has the development password")
        operators[name] = op
    return operators


def load_access(s: Settings | None = None, env: dict[str, str] | None = None) -> AccessSettings:
    s = s or settings()
    env = dict(os.environ if env is None else env)
    production = s.seller_env == "production"
    secret = env.get("CODEC_SESSION_SECRET", DEV_SESSION_SECRET)
    if production and secret == DEV_SESSION_SECRET:
        raise SettingsError("CODEC_SESSION_SECRET: production needs its own secret of 32+ characters")
    if production and (weak := secret_problem("CODEC_SESSION_SECRET", secret)):
        raise SettingsError(f"{weak}: production needs its own random secret")
    if production and s.codec_server_token == DEV_CODEC_TOKEN:
        raise SettingsError("CODEC_SERVER_TOKEN: the development token is refused in production")
    origins = tuple(o.strip().rstrip("/") for o in env.get("CODEC_UI_ORIGINS", "").split(",") if o.strip())
    if "*" in origins:
        raise SettingsError("CODEC_UI_ORIGINS: '*' cannot be used with credentials; list the UI's origins")
    if production and not origins:
        raise SettingsError("CODEC_UI_ORIGINS: production needs the Web UI's origin(s)")
    oidc = None
    if issuer := env.get("CODEC_OIDC_ISSUER", "").strip():
        audience = env.get("CODEC_OIDC_AUDIENCE", "").strip()
        url = env.get("CODEC_OIDC_JWKS_URL", "").strip() or None
        file = env.get("CODEC_OIDC_JWKS_FILE", "").strip()
        if not audience or not (url or file):
            raise SettingsError(
                "CODEC_OIDC_ISSUER needs CODEC_OIDC_AUDIENCE and CODEC_OIDC_JWKS_URL or CODEC_OIDC_JWKS_FILE"
            )
        oidc = OidcSettings(
            issuer=issuer,
            audience=audience,
            jwks_url=url,
            jwks_file=Path(file) if file else None,
            namespaces_claim=env.get("CODEC_OIDC_NAMESPACES_CLAIM", "temporal_namespaces"),
            name_claim=env.get("CODEC_OIDC_NAME_CLAIM", "").strip() or "sub",
            roles_claim=env.get("CODEC_OIDC_ROLES_CLAIM", "").strip() or "seller_roles",
        )
    try:
        hours = float(env.get("CODEC_SESSION_HOURS", "8"))
    except ValueError:
        raise SettingsError("CODEC_SESSION_HOURS: expected a number of hours") from None
    try:
        sign_seconds = int(env.get("CODEC_SIGN_SECONDS", str(SIGN_SECONDS)))
    except ValueError:
        raise SettingsError("CODEC_SIGN_SECONDS: expected a number of seconds") from None
    secure_raw = env.get("CODEC_COOKIE_SECURE", "").strip().lower()
    return AccessSettings(
        operators=_operators(env, s.temporal_namespace, production),
        session_secret=secret.encode(),
        session_seconds=int(max(0.01, min(hours, 24 * 7)) * 3600),
        ui_origins=origins or DEV_UI_ORIGINS,
        cookie_secure=secure_raw in ("1", "true", "yes", "on") if secure_raw else production,
        static_token=s.codec_server_token,
        token_namespaces=_namespaces(
            env.get("CODEC_TOKEN_NAMESPACES", s.temporal_namespace), "CODEC_TOKEN_NAMESPACES"
        ),
        default_namespace=s.temporal_namespace,
        oidc=oidc,
        signing_keys=_signing_keys(env, s, production),
        sign_seconds=max(10, min(sign_seconds, 600)),
        ui_upstream=env.get("CODEC_UI_UPSTREAM", "").strip() or None,
    )


class MalformedCookie(ValueError):
    """A cookie that is not even shaped like ours (not ASCII, not `<body>.<signature>`): answered 400."""


class Sessions:
    """Signed session cookies, `<payload b64>.<HMAC-SHA256 b64>`, naming the operator, the expiry and a
    random session id; the id must also be live in this process's session table. `/logout` removes it,
    so a copied cookie stops working at once; a restart signs everyone out. At most
    MAX_SESSIONS_PER_OPERATOR live sessions per operator (the oldest goes).

    Device cookies (security/sign_in.py) are signed the same way, under another label, and name the
    operator a browser signed in as and a random device id."""

    def __init__(self, access: AccessSettings) -> None:
        self._access = access
        self._live: dict[str, tuple[str, int]] = {}  # session id -> (operator, expiry)

    def _sign(self, body: bytes, label: bytes = b"session") -> str:
        mac = hmac.new(self._access.session_secret, label + b"|" + body, "sha256").digest()
        return base64.urlsafe_b64encode(mac).decode()

    def _seal(self, data: dict[str, Any], label: bytes = b"session") -> str:
        body = base64.urlsafe_b64encode(json.dumps(data).encode())
        return f"{body.decode()}.{self._sign(body, label)}"

    def _open(self, cookie: str | None, label: bytes = b"session") -> dict[str, Any] | None:
        """The cookie's payload, None when absent or not ours; MalformedCookie when not even shaped."""
        if cookie is None:
            return None
        if not cookie.isascii() or cookie.count(".") != 1 or len(cookie) > 4096:
            raise MalformedCookie("not a cookie this server issued")
        body, sig = cookie.split(".")
        if not hmac.compare_digest(sig.encode(), self._sign(body.encode(), label).encode()):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(body))
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def issue(self, operator: str, now: float | None = None) -> str:
        now = time.time() if now is None else now
        exp = int(now + self._access.session_seconds)
        self._live = {sid: v for sid, v in self._live.items() if v[1] >= now}
        mine = [sid for sid, (op, _) in self._live.items() if op == operator]
        for sid in mine[: max(0, len(mine) - MAX_SESSIONS_PER_OPERATOR + 1)]:
            del self._live[sid]
        sid = secrets.token_urlsafe(24)
        self._live[sid] = (operator, exp)
        return self._seal({"op": operator, "exp": exp, "sid": sid})

    def operator(self, cookie: str | None, now: float | None = None) -> Operator | None:
        """The operator of a live session; None for an absent, forged, expired or signed-out one."""
        data = self._open(cookie)
        if data is None:
            return None
        live = self._live.get(str(data.get("sid")))
        if live is None or live[0] != data.get("op") or live[1] < (time.time() if now is None else now):
            return None
        # An operator removed from the settings loses access at once, whatever their cookie says.
        return self._access.operators.get(live[0])

    def revoke(self, cookie: str | None) -> str | None:
        """Ends the session the cookie names (whoever holds a copy): the operator's name, or None."""
        data = self._open(cookie)
        live = self._live.pop(str(data.get("sid")), None) if data is not None else None
        return live[0] if live is not None else None

    def device_cookie(self, operator: str, now: float | None = None) -> str:
        exp = int((time.time() if now is None else now) + DEVICE_SECONDS)
        return self._seal({"op": operator, "exp": exp, "dev": secrets.token_urlsafe(16)}, b"device")

    def device(self, cookie: str | None, operator: str, now: float | None = None) -> str | None:
        """The device id of a device cookie issued to this browser for `operator`, or None."""
        try:
            data = self._open(cookie, b"device")
        except MalformedCookie:
            return None  # a device cookie only ever helps: a broken one is just not one
        if data is None or data.get("op") != operator:
            return None
        if int(data.get("exp", 0)) < (time.time() if now is None else now):
            return None
        return str(data.get("dev"))


class OidcVerifier:
    """Access tokens from the Web UI's OIDC provider, checked against the provider's signing keys."""

    def __init__(self, oidc: OidcSettings) -> None:
        self._oidc = oidc
        self._client = (
            jwt.PyJWKClient(oidc.jwks_url, cache_keys=True, lifespan=600) if oidc.jwks_url else None
        )
        self._file_keys = (
            jwt.PyJWKSet.from_json(oidc.jwks_file.read_text()) if oidc.jwks_file is not None else None
        )

    def _key(self, token: str) -> Any:
        kid = jwt.get_unverified_header(token).get("kid")
        if self._client is not None:
            return self._client.get_signing_key_from_jwt(token).key
        assert self._file_keys is not None
        for key in self._file_keys.keys:
            if kid is None or key.key_id == kid:
                return key.key
        raise jwt.InvalidTokenError("no key with this kid in the JWKS")

    def principal(self, token: str) -> Principal | None:
        """Blocking when the keys come from a URL (fetched and cached): call it off the event loop."""
        try:
            claims = jwt.decode(
                token,
                self._key(token),
                algorithms=list(self._oidc.algorithms),
                audience=self._oidc.audience,
                issuer=self._oidc.issuer,
                options={"require": ["exp", "iss", "aud", "sub"]},
                leeway=30,
            )
        except (jwt.PyJWTError, ValueError):
            return None
        raw = _claim_list(claims.get(self._oidc.namespaces_claim))
        if not raw:
            return None  # signed in, but granted no namespace: nothing to read
        name = claims.get(self._oidc.name_claim)
        if not isinstance(name, str) or not name:
            return None  # no name for the audit: not a usable identity
        roles = OPERATOR_ROLES & _claim_list(claims.get(self._oidc.roles_claim))
        return Principal(name, "oidc", frozenset(raw), frozenset(roles))


def _claim_list(raw: Any) -> set[str]:
    """A claim holding names: a list, or one space-separated string (as `scope` is)."""
    if isinstance(raw, str):
        return set(raw.split())
    if isinstance(raw, list):
        return {str(x) for x in raw}
    return set()
