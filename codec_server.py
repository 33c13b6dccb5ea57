"""The payload codec server: lets operators read decrypted payloads in the Temporal Web UI (and the
`temporal` CLI), while the Temporal server itself only ever stores ciphertext.

    python codec_server.py [--host 127.0.0.1] [--port 8081]
    python codec_server.py hash-password          # a password hash for CODEC_OPERATORS

Remote codec protocol, as the Web UI 2.x and the CLI call it:

    POST /decode?preserveStorageRefs=true    X-Namespace: default    {"payloads": [...]}
    POST /encode                             X-Namespace: default    {"payloads": [...]}

(`/{namespace}/decode` and `/{namespace}/encode` are accepted too; any query string is ignored.)

Commands typed in the Web UI (security/codec_signing.py): an input whose `auth` names an operator command
and account, `{"auth": {"command": "decide_appeal", "account": "M…"}}`, is signed on /encode for the
signed-in operator (cookie or OIDC token, with the operator role, from a UI origin), or refused with
rule ENF-4 and a reason code; /decode blanks every credential's signature.

Authentication (security/codec_access.py): an operator signs in at `/login` and the UI sends the session
cookie ("include cross-origin credentials"); or the UI passes the user's OIDC access token; or the CLI
sends the static `CODEC_SERVER_TOKEN`. Every principal reads only its namespaces. Anything else gets
401, and the UI shows the ciphertext. CORS answers the configured UI origins only, never `*`.

Sign-in (`POST /login`): a cross-site form is refused (Origin must be this server or a UI origin);
guessing is slowed by client, by name and by device with growing delays, never locked
(security/sign_in.py); a name that does not exist costs the same scrypt check as one that does.
Sessions live on the server: `/logout` ends the session, and every copy of its cookie stops decoding.
A malformed cookie is answered 400; /encode refuses an encoding not spelled exactly as the SDK spells it.

Review pages (evidence/page.py): `/review` lists the items waiting for an operator, and each item's
page shows its evidence, both accounts and the decisions, and takes the decision; every view and
decision goes to the access log. Decoded identity fields are masked for anyone without the
`identity_reader` role (security/masking.py).

Bounded: bodies are capped on the bytes actually read (whatever Content-Length says), slow or idle
connections are closed, and at most a fixed number of requests decode at once.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import hmac
import html
import json
import logging
import os
import secrets
import urllib.parse
from datetime import UTC, datetime, timedelta

from aiohttp import web
from google.protobuf import json_format
from prometheus_client import CollectorRegistry, Counter, start_http_server
from temporalio.api.common.v1 import Payloads
from temporalio.client import Client

from activities.storage.db import engine
from evidence import page as evidence_page
from models import metrics
from models.auth import IDENTITY_READER
from models.refusals import Refusal
from models.settings import Settings, settings
from security import codec_signing, masking, ui_front
from security.codec import EncryptionCodec
from security.codec_access import (
    DEVICE_COOKIE,
    DEVICE_SECONDS,
    SESSION_COOKIE,
    AccessSettings,
    MalformedCookie,
    OidcVerifier,
    Principal,
    Sessions,
    check_password,
    hash_password,
    load_access,
)
from security.codec_signing import Signer, SigningRefused
from security.data_keys import DataKeys
from security.sign_in import SignInThrottle

log = logging.getLogger("codec_server")

MAX_BODY = 8 * 1024 * 1024  # bytes of JSON per request
MAX_PAYLOADS = 10_000
BODY_SECONDS = 15.0  # a body must arrive within this, however it trickles
IDLE_SECONDS = 15.0  # an idle (or never-speaking) connection is closed after this
MAX_CONCURRENT = 32  # requests doing codec work at once; the next wait, up to QUEUE_SECONDS
QUEUE_SECONDS = 10.0
ALLOWED_HEADERS = ("Authorization", "Content-Type", "X-Namespace")
# Payload encodings /encode takes, spelled exactly as the SDK's converters spell them: anything else
# ("json/plain " with a space, "JSON/plain") is refused, not encrypted for the worker to guess at.
ENCODINGS = frozenset({b"binary/null", b"binary/plain", b"json/plain", b"json/protobuf", b"binary/protobuf"})

ACCESS: web.AppKey[AccessSettings] = web.AppKey("access", AccessSettings)
SESSIONS: web.AppKey[Sessions] = web.AppKey("sessions", Sessions)
OIDC: web.AppKey[OidcVerifier | None] = web.AppKey("oidc", object)  # type: ignore[arg-type]
CODEC: web.AppKey[EncryptionCodec] = web.AppKey("codec", EncryptionCodec)
SLOTS: web.AppKey[asyncio.Semaphore] = web.AppKey("slots", asyncio.Semaphore)
SIGNER: web.AppKey[Signer] = web.AppKey("signer", Signer)


THROTTLE: web.AppKey[SignInThrottle] = web.AppKey("throttle", SignInThrottle)
DUMMY_HASH: web.AppKey[str] = web.AppKey("dummy_hash", str)


def _error(status: int, code: str, message: str, *, retryable: bool = False) -> web.Response:
    """A request the codec server cannot serve as sent: answered in the same shape as a refusal."""
    return _refused(status, Refusal("ENF-4", code, message, retryable))


def _refused(status: int, refusal: Refusal) -> web.Response:
    """A refusal of who may do what (ENF-4): rule, reason code, sentence, and whether trying again helps."""
    response = web.json_response(
        {
            "error": refusal.message,
            "rule": refusal.rule,
            "code": refusal.code,
            "message": refusal.message,
            "retryable": refusal.retryable,
        },
        status=status,
    )
    response[REFUSAL_CODE] = refusal.code  # for the refusals metric (`measured`)
    return response


REFUSAL_CODE = "refusal_code"
ROUTES = ("/login", "/logout", "/health")
REGISTRY = CollectorRegistry()
REQUESTS = Counter(
    metrics.CODEC_REQUESTS.name, metrics.CODEC_REQUESTS.description, metrics.CODEC_REQUESTS.labels, registry=REGISTRY
)
REFUSALS = Counter(
    metrics.CODEC_REFUSALS.name, metrics.CODEC_REFUSALS.description, metrics.CODEC_REFUSALS.labels, registry=REGISTRY
)


@web.middleware
async def measured(request: web.Request, handler):  # type: ignore[no-untyped-def]
    """Requests by route and status, refusals by code (models/metrics.py); never a path's free text."""
    response = await handler(request)
    route = request.match_info.get("action") or (request.path if request.path in ROUTES else "other")
    REQUESTS.labels(route=route, status=str(response.status)).inc()
    if code := response.get(REFUSAL_CODE):
        REFUSALS.labels(code=code).inc()
    return response


@web.middleware
async def cors(request: web.Request, handler):  # type: ignore[no-untyped-def]
    """CORS for the configured UI origins, with credentials; other origins get no CORS headers, and
    their codec requests are refused outright (a browser would hide the answer, but why decrypt)."""
    origin = request.headers.get("Origin")
    allowed = origin is not None and ui_origin(request, origin)
    if request.method == "OPTIONS":
        response: web.StreamResponse = web.Response(status=204 if allowed else 403)
        log.debug(
            "preflight from %s for %s asks %s",
            origin,
            request.path,
            request.headers.get("Access-Control-Request-Headers"),
        )
    elif origin is not None and not allowed and request.path.endswith(("/decode", "/encode")):
        response = _error(403, "origin_not_allowed", "This page's origin may not use the codec server.")
    else:
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # 404/405: answered as JSON, with the CORS headers below
            response = _error(exc.status, f"http_{exc.status}", exc.reason)
        except Exception:  # a bug: the trace goes to the log, never to the caller
            log.exception("%s %s failed", request.method, request.path)
            response = _error(
                500, "internal_error", "The codec server failed; the error is logged.", retryable=True
            )
    if allowed:
        assert origin is not None
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        # Whatever headers the UI version asks for (only ever from an allowed origin): a header missing
        # here fails the preflight, and the UI would show ciphertext with "could not connect".
        asked = request.headers.get("Access-Control-Request-Headers", "")
        response.headers["Access-Control-Allow-Headers"] = asked or ", ".join(ALLOWED_HEADERS)
        response.headers["Access-Control-Max-Age"] = "600"
    response.headers["Vary"] = "Origin"
    return response


async def read_capped(request: web.Request, cap: int = MAX_BODY) -> bytes | None:
    """The body, or None when it is over the cap: counted on the bytes read, so a missing, negative or
    lying Content-Length cannot get past it."""
    if (request.content_length or 0) > cap:
        return None  # announced over the cap: no need to wait for it
    chunks: list[bytes] = []
    size = 0
    async with asyncio.timeout(BODY_SECONDS):
        while chunk := await request.content.read(64 * 1024):
            size += len(chunk)
            if size > cap:
                return None
            chunks.append(chunk)
    return b"".join(chunks)


async def authenticate(request: web.Request) -> Principal | None:
    access = request.app[ACCESS]
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        token = auth.removeprefix("Bearer ").strip()
        if access.static_token and hmac.compare_digest(token.encode(), access.static_token.encode()):
            return Principal("cli-token", "token", access.token_namespaces)
        verifier = request.app[OIDC]
        if verifier is not None and token.count(".") == 2:
            return await asyncio.to_thread(verifier.principal, token)
        return None
    op = request.app[SESSIONS].operator(request.cookies.get(SESSION_COOKIE))
    return Principal(op.name, "session", op.namespaces, op.roles) if op else None


def ui_origin(request: web.Request, origin: str) -> bool:
    """A configured UI origin, or this server's own when it serves the UI itself (security/ui_front.py)."""
    if origin.rstrip("/") in request.app[ACCESS].ui_origins:
        return True
    parsed = urllib.parse.urlsplit(origin)
    return bool(request.app[ACCESS].ui_upstream) and parsed.scheme in ("http", "https") and parsed.netloc == request.host


def from_ui(request: web.Request) -> bool:
    """A JSON request from a configured UI origin: a cross-site form cannot be one (browsers always send
    Origin on a POST, and a JSON content type from a page needs the preflight only UI origins pass)."""
    origin = request.headers.get("Origin", "")
    return bool(origin) and ui_origin(request, origin) and request.content_type == "application/json"


def namespace_of(request: web.Request) -> str:
    return (
        request.headers.get("X-Namespace", "").strip()
        or request.match_info.get("namespace", "")
        or request.app[ACCESS].default_namespace
    )


async def codec_call(request: web.Request) -> web.Response:
    action = request.match_info["action"]
    try:
        principal = await authenticate(request)
    except MalformedCookie:
        return _error(400, "session_cookie_malformed", "The session cookie is malformed: sign in again.")
    if principal is None:
        log.info("%s refused: not signed in (%s)", action, request.headers.get("Origin", "no origin"))
        return _refused(
            401, Refusal("ENF-4", "not_signed_in", "Sign in at /login, or send a valid bearer token.")
        )
    namespace = namespace_of(request)
    if not principal.may_read(namespace):
        log.warning("%s (%s) refused namespace %r", principal.name, principal.via, namespace)
        return _refused(
            403, Refusal("ENF-4", "namespace_not_allowed", f"Not allowed in namespace {namespace!r}.", False)
        )
    try:
        body = await read_capped(request)
    except TimeoutError:
        return _error(408, "body_too_slow", "The request body arrived too slowly.", retryable=True)
    if body is None:
        return _error(413, "body_too_large", f"The body is over {MAX_BODY} bytes.")
    try:
        payloads = json_format.Parse(body, Payloads())
    except (json_format.ParseError, UnicodeDecodeError) as err:
        log.warning("%s: not a payloads document (%s)", action, type(err).__name__)
        return _error(400, "not_payloads", f"Not a payloads document: {str(err)[:200]}")
    if len(payloads.payloads) > MAX_PAYLOADS:
        return _error(413, "too_many_payloads", f"Over {MAX_PAYLOADS} payloads in one request.")
    plain = list(payloads.payloads)
    issued: list[str] = []
    if action == "encode":
        if unknown := {p.metadata.get("encoding", b"") for p in plain} - ENCODINGS:
            shown = ", ".join(repr(e.decode(errors="replace")[:40]) for e in sorted(unknown))
            log.warning("%s (%s) encode refused: encoding %s", principal.name, principal.via, shown)
            return _error(400, "encoding_unknown", f"Unknown payload encoding {shown}: nothing was encoded.")
        try:
            signed = codec_signing.sign_requests(
                plain, principal, request.app[SIGNER], now=datetime.now(UTC), from_ui=from_ui(request)
            )
        except SigningRefused as err:
            log.warning("%s (%s) not signed: %s", principal.name, principal.via, err.refusal)
            return _refused(err.status, err.refusal)
        plain, issued = signed.payloads, signed.issued
    slots = request.app[SLOTS]
    try:
        async with asyncio.timeout(QUEUE_SECONDS):
            await slots.acquire()
    except TimeoutError:
        return _error(503, "busy", "The codec server is busy: try again.", retryable=True)
    try:
        c = request.app[CODEC]
        # Decoded, each credential's signature is blanked: history is for reading, not for replaying.
        out = await c.encode(plain) if action == "encode" else codec_signing.redact(await c.decode(plain))
        if action == "decode" and principal.via != "token" and IDENTITY_READER not in principal.roles:
            # Identity fields for identity readers only (security/masking.py). The static token is the
            # services' own CLI credential, not a person's: it reads what the services read.
            out = masking.mask(out)
    except Exception as err:  # a payload from another key set, a forged one: say so, never crash
        log.warning("%s: cannot %s a payload (%s)", principal.name, action, type(err).__name__)
        return _error(400, f"cannot_{action}", f"cannot {action} a payload: {type(err).__name__}")
    finally:
        slots.release()
    # Who read how much, never what: payloads are personal data.
    log.info("%s %s %d payload(s) in %s", principal.name, action, len(out), namespace)
    for what in issued:  # the audit proper is the workflow's; this says who asked the codec to sign
        log.info("%s (%s) signed %s in %s", principal.name, principal.via, what, namespace)
    return web.json_response(json_format.MessageToDict(Payloads(payloads=out)))


LOGIN_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Codec server sign-in</title>
<style>body{{font-family:sans-serif;max-width:24em;margin:4em auto}}input{{display:block;margin:.4em 0 1em;
width:100%}}.msg{{color:#a00}}</style></head><body><h1>Operator sign-in</h1>
<p>Decrypts payloads for the Temporal Web UI.</p><p class="msg" id="msg">{message}</p>
<form method="post" action="/login"><input type="hidden" name="next" value="{next}">
<label>Operator<input name="operator" id="operator" autocomplete="username" required></label>
<label>Password<input name="password" id="password" type="password" autocomplete="current-password"
required></label><button type="submit" id="sign-in">Sign in</button></form></body></html>"""

SIGNED_IN_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Signed in</title></head>
<body style="font-family:sans-serif;max-width:24em;margin:4em auto"><h1 id="signed-in">Signed in as {name}</h1>
<p>Namespaces: {namespaces}. Open the Web UI (its Codec Server setting pointing here, with
"include cross-origin credentials" on).</p>
<form method="post" action="/logout"><button type="submit">Sign out</button></form></body></html>"""


def _safe_next(request: web.Request, target: str) -> str | None:
    """Only back to a configured UI origin or to this server's review pages: never an open redirect."""
    local = target.startswith("/") and not target.startswith("//") and "\\" not in target
    if local and (target.startswith("/review") or request.app[ACCESS].ui_upstream):
        return target  # this server's own pages (the review pages; the UI when it serves it)
    parsed = urllib.parse.urlsplit(target)
    origin = f"{parsed.scheme}://{parsed.netloc}"
    return target if target and origin in request.app[ACCESS].ui_origins else None


async def login_page(request: web.Request) -> web.Response:
    nxt = html.escape(request.query.get("next", ""), quote=True)
    return web.Response(text=LOGIN_PAGE.format(message="", next=nxt), content_type="text/html")


def same_site_form(request: web.Request) -> bool:
    """A sign-in posted from this server's own page (or a configured UI origin), or by a tool that sends
    no Origin at all: a cross-site form (login CSRF: signing a victim's browser into another account)
    is refused. Browsers send Origin on every form POST, and a page cannot forge it, nor the Host."""
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "same-site", "none"):
        return False
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    parsed = urllib.parse.urlsplit(origin)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        return False  # "null" (sandboxed frames, some redirects) and anything unparsable
    return parsed.netloc == request.host or origin.rstrip("/") in request.app[ACCESS].ui_origins


def _login_page(message: str, status: int, code: str, **headers: str) -> web.Response:
    page = LOGIN_PAGE.format(message=html.escape(message), next="")
    response = web.Response(text=page, content_type="text/html", status=status, headers=headers)
    response[REFUSAL_CODE] = code  # guessing shows in the refusals metric, by code, never by name
    return response


async def login(request: web.Request) -> web.StreamResponse:
    if not same_site_form(request):
        log.warning("sign-in refused: cross-site form from %s", request.headers.get("Origin", "?")[:100])
        return _error(403, "cross_site_sign_in", "Sign in from the codec server's own page.")
    try:
        body = await read_capped(request, cap=16 * 1024)
    except TimeoutError:
        return _error(408, "body_too_slow", "The request body arrived too slowly.", retryable=True)
    if body is None:
        return _error(413, "form_too_large", "The sign-in form is too large.")
    form = urllib.parse.parse_qs(body.decode(errors="replace"))
    name = form.get("operator", [""])[0]
    password = form.get("password", [""])[0]
    access = request.app[ACCESS]
    throttle = request.app[THROTTLE]
    client = request.remote or "unknown"
    device = request.app[SESSIONS].device(request.cookies.get(DEVICE_COOKIE), name)
    if (wait := throttle.wait(client, name, device)) > 0:
        log.warning("sign-in for %r from %s delayed %.0f s: recent failures", name[:64], client, wait)
        seconds = str(int(wait) + 1)
        return _login_page(
            f"Too many failed sign-ins; try again in {seconds} s.",
            429,
            "sign_in_delayed",
            **{"Retry-After": seconds},
        )
    op = access.operators.get(name)
    # The same work for a name that does not exist: a check against a hash nobody's password matches,
    # so the answer's timing does not tell which names are operators. Under the slots too: scrypt
    # costs memory, and guessing should not be cheap.
    stored = op.password_hash if op is not None else request.app[DUMMY_HASH]
    async with request.app[SLOTS]:
        ok = await asyncio.to_thread(check_password, password, stored) and op is not None
    if not ok or op is None:
        throttle.failed(client, name, device)
        log.warning("failed sign-in for %r from %s", name[:64], client)
        return _login_page("Wrong operator or password.", 401, "sign_in_failed")
    throttle.succeeded(client, name, device)
    log.info("%s signed in from %s", op.name, client)
    target = _safe_next(request, form.get("next", [""])[0])
    response: web.StreamResponse
    if target:
        response = web.Response(status=303, headers={"Location": target})
    else:
        page = SIGNED_IN_PAGE.format(
            name=html.escape(op.name), namespaces=html.escape(", ".join(sorted(op.namespaces)))
        )
        response = web.Response(text=page, content_type="text/html")
    sessions = request.app[SESSIONS]
    response.set_cookie(
        SESSION_COOKIE,
        sessions.issue(op.name),
        max_age=access.session_seconds,
        httponly=True,
        path="/",
        # https: the UI may sit on another site, so the cookie must travel cross-site (None + Secure).
        # Plain-http development: UI and codec server on one host are the same site; Lax is enough and
        # browsers refuse `SameSite=None` without Secure.
        secure=access.cookie_secure,
        samesite="None" if access.cookie_secure else "Lax",
    )
    # Only ever sent back to /login, and only by this browser: its own throttling record from now on.
    response.set_cookie(
        DEVICE_COOKIE,
        sessions.device_cookie(op.name),
        max_age=DEVICE_SECONDS,
        httponly=True,
        path="/login",
        secure=access.cookie_secure,
        samesite="Strict",
    )
    return response


async def logout(request: web.Request) -> web.Response:
    """Ends the session on the server: the cookie, and every copy of it, stops decoding at once."""
    try:
        name = request.app[SESSIONS].revoke(request.cookies.get(SESSION_COOKIE))
    except MalformedCookie:
        name = None
    if name is not None:
        log.info("%s signed out", name)
    response = web.Response(text="Signed out.", content_type="text/plain")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def create_app(
    s: Settings | None = None, access: AccessSettings | None = None, temporal: Client | None = None
) -> web.Application:
    """`temporal`: the client the review pages read and decide through; by default one is connected
    from settings when a page first needs it."""
    s = s or settings()
    access = access or load_access(s)
    app = web.Application(middlewares=[measured, cors], client_max_size=MAX_BODY)
    app[ACCESS] = access
    app[SESSIONS] = Sessions(access)
    app[OIDC] = OidcVerifier(access.oidc) if access.oidc else None
    # Not strict: a payload already stored in clear is shown to the operator as it is.
    # With the registry's data keys: an erased account's payloads answer cannot_decode (crypto-shredding).
    app[CODEC] = EncryptionCodec(s.codec_keys, s.codec_key_id, data_keys=DataKeys(s.codec_keys, s.codec_key_id, engine))
    app[SLOTS] = asyncio.Semaphore(MAX_CONCURRENT)
    app[SIGNER] = Signer(access.signing_keys, timedelta(seconds=access.sign_seconds))
    app[THROTTLE] = SignInThrottle(access.operators)
    app[DUMMY_HASH] = hash_password(secrets.token_urlsafe(32))
    app.add_routes(
        [
            web.post(r"/{action:(decode|encode)}", codec_call),
            web.post(r"/{namespace}/{action:(decode|encode)}", codec_call),
            web.get("/login", login_page),
            web.post("/login", login),
            web.post("/logout", logout),
            web.get("/health", health),
        ]
    )
    evidence_page.setup(app, evidence_page.Desk(authenticate, app[SIGNER], access, temporal))
    if access.ui_upstream:  # last: it takes every path the routes above do not
        ui_front.add_front(app, access.ui_upstream)
    return app


async def start(
    host: str, port: int, app: web.Application | None = None, *, idle_seconds: float = IDLE_SECONDS
) -> web.AppRunner:
    """Serve until the returned runner is cleaned up. `keepalive_timeout` also closes a connection that
    never completes its request headers (aiohttp arms it when the connection opens)."""
    runner = web.AppRunner(app or create_app(), keepalive_timeout=idle_seconds, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port, backlog=256).start()
    return runner


async def serve_forever(host: str, port: int) -> None:
    runner = await start(host, port)
    log.info("codec server on http://%s:%d", host, port)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", nargs="?", choices=["serve", "hash-password"], default="serve")
    p.add_argument("--port", type=int, default=int(os.environ.get("CODEC_SERVER_PORT", "8081")))
    p.add_argument("--host", default=os.environ.get("CODEC_SERVER_HOST", "127.0.0.1"))
    args = p.parse_args()
    if args.command == "hash-password":
        password = getpass.getpass("operator password: ")
        if len(password) < 12:
            raise SystemExit("use 12 characters or more")
        print(json.dumps({"password": hash_password(password)}))
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    access = load_access(settings())  # refuse bad settings before listening
    if address := settings().metrics_address:  # its own address: the codec server's port may face operators
        host, _, port = address.rpartition(":")
        start_http_server(int(port), host, registry=REGISTRY)
        log.info("metrics on http://%s/metrics", address)
    if not access.signing_keys:
        log.info("no operator signing key (CODEC_SIGNING_KEYS): commands typed in the UI are refused")
    asyncio.run(serve_forever(args.host, args.port))


if __name__ == "__main__":
    main()
