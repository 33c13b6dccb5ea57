"""The codec server the Web UI and the CLI call, over real HTTP on loopback: the UI's request shape,
the three ways to authenticate, per-namespace authorisation, CORS with credentials, and the bounds on
bodies and connections (issue 13 case 9)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import http.client
import json
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.converter import DataConverter

import codec_server
from devtools.smtp_sink import free_port
from models.auth import Credential
from models.settings import SettingsError, settings
from security import codec_access, codec_signing, credentials
from security.codec import codec
from security.codec_access import (
    DEV_OPERATOR,
    DEV_OPERATOR_PASSWORD,
    SESSION_COOKIE,
    AccessSettings,
    OidcSettings,
    Operator,
    hash_password,
    load_access,
)
from security.sign_in import SignInThrottle

UI = "http://127.0.0.1:8233"
ISSUER = "https://idp.test.invalid/"
AUDIENCE = "temporal-ui"
LIN_PASSWORD = "lin-password-123"  # an operator with the operator role: signs commands typed in the UI
READER_PASSWORD = "reader-password-1"  # reads the default namespace, signs nothing


def rsa_key() -> rsa.RSAPrivateKey:
    # RSA generation draws from the OS; the test's assertions never depend on the key's value.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Server:
    """The codec server in its own thread and event loop, as a separate process would be."""

    def __init__(
        self, access: AccessSettings, idle_seconds: float = 15.0, throttle: SignInThrottle | None = None
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        app = codec_server.create_app(settings(), access)
        if throttle is not None:
            app[codec_server.THROTTLE] = throttle
        self.runner = asyncio.run_coroutine_threadsafe(
            codec_server.start("127.0.0.1", self.port, app, idle_seconds=idle_seconds), self.loop
        ).result(10)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An OIDC provider's signing key and its JWKS file, and a stranger's key."""
    provider, stranger = rsa_key(), rsa_key()
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(provider.public_key()))
    jwk.update(kid="idp-1", use="sig", alg="RS256")
    path = tmp_path_factory.mktemp("jwks") / "jwks.json"
    path.write_text(json.dumps({"keys": [jwk]}))
    return {"provider": provider, "stranger": stranger, "jwks": path}


@pytest.fixture(scope="module")
def access(keys: dict[str, Any]) -> AccessSettings:
    base = load_access(settings(), env={})
    auditor = Operator("auditor", hash_password("auditor-password-1"), frozenset({"other-namespace"}))
    lin = Operator("lin", hash_password(LIN_PASSWORD), frozenset({"default"}), frozenset({"operator"}))
    reader = Operator("reader", hash_password(READER_PASSWORD), frozenset({"default"}))
    return replace(
        base,
        operators={**base.operators, "auditor": auditor, "lin": lin, "reader": reader},
        oidc=OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url=None, jwks_file=Path(keys["jwks"])),
    )


@pytest.fixture(scope="module")
def server(access: AccessSettings) -> Iterator[str]:
    srv = Server(access)
    yield srv.url
    srv.close()


def request(
    url: str,
    body: bytes | None = None,
    *,
    method: str = "POST",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def decode_call(server: str, body: bytes, namespace: str = "default", **headers: str) -> tuple[int, bytes]:
    """The request the Web UI 2.54 sends."""
    status, _, out = request(
        f"{server}/decode?preserveStorageRefs=true",
        body,
        headers={"Content-Type": "application/json", "X-Namespace": namespace, **headers},
    )
    return status, out


def encrypted(value: object) -> bytes:
    plain = DataConverter.default.payload_converter.to_payloads([value])
    sealed = asyncio.run(codec().encode(plain))
    return json_format.MessageToJson(Payloads(payloads=sealed)).encode()


def plain_value(out: bytes) -> object:
    decoded = json_format.Parse(out, Payloads())
    return DataConverter.default.payload_converter.from_payloads(decoded.payloads)[0]


def sign_in(server: str, operator: str, password: str, next_url: str = "") -> tuple[int, dict[str, str]]:
    form = urllib.parse.urlencode({"operator": operator, "password": password, "next": next_url}).encode()
    status, headers, _ = request(
        f"{server}/login", form, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    return status, headers


def session_cookie(headers: dict[str, str]) -> str:
    raw = headers["Set-Cookie"]
    return raw.split(";", 1)[0]


def token(key: rsa.RSAPrivateKey, **claims: Any) -> str:
    now = int(time.time())
    body = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "op-7",
        "iat": now,
        "exp": now + 600,
        "temporal_namespaces": ["default"],
    }
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": "idp-1"})


def test_the_ui_request_shape_with_the_cli_token(server: str) -> None:
    body = encrypted({"email": "owner@example.com"})
    assert b"owner@example.com" not in body
    assert decode_call(server, body)[0] == 401
    assert decode_call(server, body, Authorization="Bearer wrong-token")[0] == 401
    status, out = decode_call(server, body, Authorization=f"Bearer {settings().codec_server_token}")
    assert status == 200 and plain_value(out) == {"email": "owner@example.com"}
    # The older path form, with the namespace in the path, answers the same.
    status, _, out = request(
        f"{server}/default/decode", body, headers={"Authorization": f"Bearer {settings().codec_server_token}"}
    )
    assert status == 200 and plain_value(out) == {"email": "owner@example.com"}
    # The token reads its own namespace only.
    assert (
        decode_call(server, body, "other-namespace", Authorization=f"Bearer {settings().codec_server_token}")[
            0
        ]
        == 403
    )


def test_encode_round_trips_and_bad_input_is_refused(server: str) -> None:
    auth = {"Authorization": f"Bearer {settings().codec_server_token}", "X-Namespace": "default"}
    plain = DataConverter.default.payload_converter.to_payloads(["hello"])
    body = json_format.MessageToJson(Payloads(payloads=plain)).encode()
    status, _, out = request(f"{server}/encode?preserveStorageRefs=true", body, headers=auth)
    assert status == 200
    sealed = json_format.Parse(out, Payloads()).payloads
    assert sealed[0].metadata["encoding"] == b"binary/encrypted" and b"hello" not in sealed[0].data
    assert asyncio.run(codec().decode(sealed))[0].data == plain[0].data
    # protocol errors answer in the shape of every other refusal: rule, code, sentence, retryable
    status, _, out = request(f"{server}/decode", b"not json", headers=auth)
    assert status == 400
    assert {k: v for k, v in json.loads(out).items() if k != "message"} == {
        "error": json.loads(out)["message"],
        "rule": "ENF-4",
        "code": "not_payloads",
        "retryable": False,
    }
    status, _, out = request(f"{server}/other", body, headers=auth)
    assert (status, json.loads(out)["code"]) == (404, "http_404")
    forged = json.dumps(
        {"payloads": [{"metadata": {"encoding": "YmluYXJ5L2VuY3J5cHRlZA==", "encryption-key-id": "azE="}}]}
    ).encode()
    status, _, out = request(f"{server}/decode", forged, headers=auth)
    assert status == 400 and json.loads(out)["code"] == "cannot_decode"


def test_cors_preflight_with_credentials_for_the_ui_origin_only(server: str) -> None:
    asked = {
        "Origin": UI,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-namespace",
    }
    status, headers, _ = request(f"{server}/decode?preserveStorageRefs=true", method="OPTIONS", headers=asked)
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == UI
    assert headers["Access-Control-Allow-Credentials"] == "true"
    assert {"content-type", "x-namespace"} <= {
        h.strip().lower() for h in headers["Access-Control-Allow-Headers"].split(",")
    }
    status, headers, _ = request(
        f"{server}/decode", method="OPTIONS", headers={**asked, "Origin": "https://evil.example"}
    )
    assert status == 403 and "Access-Control-Allow-Origin" not in headers
    # A page on another origin cannot have its browser decrypt with the operator's cookie.
    _, signed = sign_in(server, DEV_OPERATOR, DEV_OPERATOR_PASSWORD)
    status, _ = decode_call(
        server, encrypted("x"), Origin="https://evil.example", Cookie=session_cookie(signed)
    )
    assert status == 403


def test_an_operator_signs_in_and_the_cookie_decrypts_for_their_namespaces(server: str) -> None:
    body = encrypted({"store": "Tea House"})
    assert sign_in(server, DEV_OPERATOR, "wrong password")[0] == 401
    assert sign_in(server, "nobody", DEV_OPERATOR_PASSWORD)[0] == 401
    status, headers = sign_in(server, DEV_OPERATOR, DEV_OPERATOR_PASSWORD)
    assert status == 200
    set_cookie = headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie  # plain-http development
    cookie = session_cookie(headers)
    status, out = decode_call(server, body, Cookie=cookie, Origin=UI)
    assert status == 200 and plain_value(out) == {"store": "Tea House"}
    assert decode_call(server, body, "other-namespace", Cookie=cookie)[0] == 403
    # A cookie edited by hand (another operator's name, a later expiry) is worthless.
    value = cookie.split("=", 1)[1]
    tampered = "A" + value[1:] if value[0] != "A" else "B" + value[1:]
    assert decode_call(server, body, Cookie=f"{SESSION_COOKIE}={tampered}")[0] == 401
    # The auditor reads only their namespace.
    _, headers = sign_in(server, "auditor", "auditor-password-1")
    auditor = session_cookie(headers)
    assert decode_call(server, body, "default", Cookie=auditor)[0] == 403
    assert decode_call(server, body, "other-namespace", Cookie=auditor)[0] == 200


def test_sign_in_sends_the_operator_back_to_the_ui_only(server: str) -> None:
    status, headers = sign_in(server, DEV_OPERATOR, DEV_OPERATOR_PASSWORD, f"{UI}/namespaces/default")
    assert status == 303 and headers["Location"] == f"{UI}/namespaces/default"
    status, headers = sign_in(server, DEV_OPERATOR, DEV_OPERATOR_PASSWORD, "https://evil.example/")
    assert status == 200 and "Location" not in headers


def test_expired_sessions_and_https_cookies(access: AccessSettings) -> None:
    sessions = codec_server.Sessions(access)
    cookie = sessions.issue(DEV_OPERATOR, now=time.time() - access.session_seconds - 5)
    assert sessions.operator(cookie) is None
    assert sessions.operator(sessions.issue(DEV_OPERATOR)) is not None
    assert sessions.operator(sessions.issue("removed-operator")) is None


def test_the_ui_access_token_is_verified_against_the_provider_keys(server: str, keys: dict[str, Any]) -> None:
    body = encrypted(["member", "M1"])

    def call(tok: str, namespace: str = "default") -> int:
        return decode_call(server, body, namespace, Authorization=f"Bearer {tok}")[0]

    provider = keys["provider"]
    assert call(token(provider)) == 200
    assert call(token(provider), "other-namespace") == 403
    assert call(token(provider, aud="another-app")) == 401
    assert call(token(provider, iss="https://other-idp.invalid/")) == 401
    assert call(token(provider, exp=int(time.time()) - 600)) == 401
    assert call(token(provider, exp=None)) == 401
    assert call(token(provider, temporal_namespaces=None)) == 401
    assert call(token(keys["stranger"])) == 401, "signed by a key the provider never published"
    alg_none = jwt.encode(jwt.decode(token(provider), options={"verify_signature": False}), None, "none")
    assert call(alg_none) == 401


def raw_http(port: int, data: bytes, *, timeout: float = 10) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
                if b"\r\n\r\n" in b"".join(chunks):
                    break
        except ConnectionResetError:
            pass
        return b"".join(chunks)


def test_the_body_cap_holds_whatever_content_length_says(server: str) -> None:
    port = int(server.rsplit(":", 1)[1])
    auth = f"Authorization: Bearer {settings().codec_server_token}\r\n".encode()
    head = b"POST /decode HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + auth
    # A negative length is not a length.
    answer = raw_http(port, head + b"Content-Length: -1\r\n\r\n" + b"{" * 1000)
    assert re.match(rb"HTTP/1\.[01] 400", answer)
    # No length at all, the body chunked past the cap: counted on what arrives.
    chunk = b"x" * (1024 * 1024)
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(9)) + b"0\r\n\r\n"
    answer = raw_http(port, head + b"Transfer-Encoding: chunked\r\n\r\n" + chunked)
    assert re.match(rb"HTTP/1\.[01] 413", answer), answer[:200]
    # A length over the cap is refused without waiting for the bytes.
    answer = raw_http(port, head + b"Content-Length: 99999999999\r\n\r\n{")
    assert re.match(rb"HTTP/1\.[01] 413", answer), answer[:200]


def test_idle_and_slow_connections_are_closed_and_hold_no_threads(access: AccessSettings) -> None:
    srv = Server(access, idle_seconds=1.0)
    try:
        threads_before = threading.active_count()
        socks = [socket.create_connection(("127.0.0.1", srv.port), timeout=5) for _ in range(200)]
        trickler = socks[0]
        trickler.sendall(b"POST /decode HTTP/1.1\r\n")  # headers that never finish
        assert threading.active_count() == threads_before, "a connection must not cost a thread"
        time.sleep(2.5)
        closed = 0
        for s in socks:
            s.settimeout(2)
            try:
                closed += s.recv(1) == b""
            except ConnectionResetError:
                closed += 1
            except TimeoutError:
                pass  # still open
            s.close()
        assert closed == len(socks), f"{len(socks) - closed} idle connection(s) still open"
        # The server still answers.
        assert request(f"{srv.url}/health", method="GET")[0] == 200
    finally:
        srv.close()


def post_login(
    port: int,
    operator: str,
    password: str,
    *,
    source: str = "127.0.0.1",
    cookie: str | None = None,
    **headers: str,
) -> tuple[int, dict[str, str], bytes]:
    """A sign-in from a given loopback address (each one a different client to the throttle)."""
    form = urllib.parse.urlencode({"operator": operator, "password": password}).encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20, source_address=(source, 0))
    sent = {"Content-Type": "application/x-www-form-urlencoded", **headers}
    if cookie is not None:
        sent["Cookie"] = cookie
    try:
        conn.request("POST", "/login", form, sent)
        resp = conn.getresponse()
        cookies = {c.split("=", 1)[0]: c.split(";", 1)[0] for c in resp.headers.get_all("Set-Cookie") or []}
        return resp.status, {**dict(resp.headers), **cookies}, resp.read()
    finally:
        conn.close()


def test_guessing_slows_down_with_growing_delays_and_never_forever() -> None:
    throttle = SignInThrottle(["lin"], free=3, client_cap=900, name_cap=300, forget=3600)
    waits = []
    for n in range(15):
        assert throttle.wait("10.0.0.1", "lin", now=1000.0 * n) == 0  # each attempt once its wait is over
        throttle.failed("10.0.0.1", "lin", now=1000.0 * n)
        waits.append(throttle.wait("10.0.0.1", "lin", now=1000.0 * n))
    # Three free failures, then doubling waits: by client up to 15 minutes, by name up to 5.
    assert waits[:3] == [0, 0, 0] and waits[3:8] == [1, 2, 4, 8, 16] and waits[-1] == 900
    assert throttle.wait("10.0.0.2", "lin", now=14_000.0) == 300  # another client: the name's cap
    # Forgotten an hour after the last failure.
    assert throttle.wait("10.0.0.1", "lin", now=14_000.0 + 3601) == 0


def test_an_attacker_cannot_lock_the_operator_out(access: AccessSettings) -> None:
    # The throttle's clock stands still here: the waits below are seconds long, and a loaded machine
    # can take that long between two requests (the waits' growth has its own test above).
    srv = Server(access, throttle=SignInThrottle(access.operators, clock=lambda: 1000.0))
    try:
        # The operator signed in from this browser before: it holds a device cookie for "auditor".
        status, headers, _ = post_login(srv.port, "auditor", "auditor-password-1", source="127.0.0.4")
        assert status == 200
        device = headers[codec_access.DEVICE_COOKIE]
        # Guessing from two machines: three failures for the name are free, then the guessers wait
        # (the doubling of the waits: test_guessing_slows_down_with_growing_delays_and_never_forever).
        answers = [
            post_login(srv.port, "auditor", f"guess-{n}", source=f"127.0.0.{2 + n % 2}") for n in range(6)
        ]
        assert [a[0] for a in answers] == [401] * 4 + [429] * 2
        assert 1 <= int(answers[-1][1]["Retry-After"]) <= 300
        assert post_login(srv.port, "auditor", "auditor-password-1", source="127.0.0.2")[0] == 429
        # A new machine waits (at most the name's cap, never a lock-out): the right password is not
        # even checked before, so guessing from fresh addresses gains nothing.
        status, headers, _ = post_login(srv.port, "auditor", "auditor-password-1", source="127.0.0.5")
        assert status == 429 and int(headers["Retry-After"]) <= 300
        # The operator's own browser signs in at once with the right password.
        status, headers, _ = post_login(
            srv.port, "auditor", "auditor-password-1", source="127.0.0.4", cookie=device
        )
        assert status == 200 and SESSION_COOKIE in headers
        # A device cookie for another name (an attacker's own account) buys nothing for this one.
        status, headers, _ = post_login(srv.port, "reader", READER_PASSWORD, source="127.0.0.6")
        mine = headers[codec_access.DEVICE_COOKIE]
        assert post_login(srv.port, "auditor", "guess", source="127.0.0.6", cookie=mine)[0] == 429
        # Guessing shows in the refusals metric, by code (never by name).
        refused = {
            s.labels["code"]: s.value
            for m in codec_server.REFUSALS.collect()
            for s in m.samples
            if s.name.endswith("_total")
        }
        assert refused.get("sign_in_failed", 0) >= 4 and refused.get("sign_in_delayed", 0) >= 4
    finally:
        srv.close()


def test_a_flood_of_unknown_names_does_not_clear_a_real_names_record() -> None:
    # The server's throttle, with the operators configured, and a table as small as a test allows.
    throttle = SignInThrottle(["lin", "reader"], max_records=1000)
    for n in range(5):
        throttle.failed(f"10.1.0.{n}", "lin", now=100.0 + n)
    before = throttle.wait("10.9.9.9", "lin", now=105.0)
    assert before > 0
    for n in range(10_000):  # 10,000 failures under made-up names, from 10,000 addresses
        throttle.failed(f"10.2.{n // 256}.{n % 256}", f"nobody-{n}", now=105.0)
    assert throttle.wait("10.9.9.9", "lin", now=105.0) == before
    # Unknown names are throttled exactly as known ones (the answers do not tell them apart).
    for n in range(5):
        throttle.failed(f"10.3.0.{n}", "ghost", now=100.0 + n)
    assert throttle.wait("10.9.9.9", "ghost", now=105.0) == before


def test_unknown_names_cost_the_same_password_check(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[str] = []
    real = codec_server.check_password

    def counting(password: str, stored: str) -> bool:  # the real check, counted
        checked.append(stored)
        return real(password, stored)

    monkeypatch.setattr(codec_server, "check_password", counting)
    port = int(server.rsplit(":", 1)[1])
    known = post_login(port, "auditor", "wrong password 1", source="127.0.0.7")
    unknown = post_login(port, "no-such-operator", "wrong password 1", source="127.0.0.7")
    assert known[0] == unknown[0] == 401
    # Each ran one scrypt check with the same cost parameters (a dummy hash for the unknown name).
    assert len(checked) == 2 and checked[0] != checked[1]
    assert [h.split("$")[:4] for h in checked] == [["scrypt", "16384", "8", "1"]] * 2


def test_logout_ends_the_session_on_the_server(server: str) -> None:
    cookie = cookie_of(server, "reader", READER_PASSWORD)
    copy = cookie  # a copy taken before signing out (another tab, a proxy log, a thief)
    body = encrypted({"email": "owner@example.com"})
    assert decode_call(server, body, Cookie=cookie)[0] == 200
    status, _, _ = request(f"{server}/logout", b"", headers={"Cookie": cookie})
    assert status == 200
    status, out = decode_call(server, body, Cookie=copy)
    assert status == 401 and json.loads(out)["code"] == "not_signed_in"
    # Other sessions of the same operator live on.
    assert decode_call(server, body, Cookie=cookie_of(server, "reader", READER_PASSWORD))[0] == 200


def test_sign_in_refuses_a_cross_site_form(server: str) -> None:
    port = int(server.rsplit(":", 1)[1])
    for headers in (
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": f"http://127.0.0.1:{port}", "Sec-Fetch-Site": "cross-site"},
    ):
        status, _, out = post_login(port, "reader", READER_PASSWORD, **headers)
        assert status == 403 and json.loads(out)["code"] == "cross_site_sign_in", headers
    # The codec server's own sign-in page, and a configured UI origin, may post it.
    assert post_login(port, "reader", READER_PASSWORD, Origin=f"http://127.0.0.1:{port}")[0] == 200
    assert post_login(port, "reader", READER_PASSWORD, Origin=UI, **{"Sec-Fetch-Site": "same-site"})[0] == 200


def test_malformed_cookies_are_answered_400_without_a_trace(server: str) -> None:
    port = int(server.rsplit(":", 1)[1])
    body = encrypted({"email": "owner@example.com"})
    for cookie in ("seller_codec_session=café.signé", "seller_codec_session=abc"):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.putrequest("POST", "/decode")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Cookie", cookie.encode())  # raw bytes: UTF-8 on the wire
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        out = resp.read()
        conn.close()
        assert resp.status == 400, cookie
        assert json.loads(out)["code"] == "session_cookie_malformed"
        assert b"Traceback" not in out and b".py" not in out
    # Signing out with one is just signing out.
    assert request(f"{server}/logout", b"", headers={"Cookie": "seller_codec_session=abc"})[0] == 200


def test_encode_takes_exact_encoding_names_only(server: str) -> None:
    reader = cookie_of(server, "reader", READER_PASSWORD)
    ban = {"origin_member_id": "M1", "auth": {"command": "ban", "account": "M00AA11"}}
    for encoding in (b"json/plain ", b"JSON/plain", b" json/plain", b"json/plain\x00"):
        payload = {
            "metadata": {"encoding": base64.b64encode(encoding).decode()},
            "data": base64.b64encode(json.dumps(ban).encode()).decode(),
        }
        status, _, out = request(
            f"{server}/encode",
            json.dumps({"payloads": [payload]}).encode(),
            headers={
                "Content-Type": "application/json",
                "X-Namespace": "default",
                "Origin": UI,
                "Cookie": reader,
            },
        )
        assert status == 400, encoding
        answer = json.loads(out)
        assert answer["code"] == "encoding_unknown" and "payloads" not in answer
    # Spelled exactly, the reader's unsigned ban is refused as before.
    assert refusal_of(encode_call(server, ban, Cookie=reader))[:3:2] == (403, "role_not_allowed")


# ------------------------------------------------------------ operator commands typed in the Web UI


def ui_input(value: object) -> bytes:
    """What the Web UI posts to /encode for a signal's or an update's JSON input: one json/plain payload."""
    payload = {
        "metadata": {"encoding": "anNvbi9wbGFpbg=="},
        "data": base64.b64encode(json.dumps(value).encode()),
    }
    return json.dumps({"payloads": [{**payload, "data": payload["data"].decode()}]}).encode()


def encode_call(
    server: str,
    value: object,
    *,
    origin: str | None = UI,
    content_type: str = "application/json",
    **headers: str,
) -> tuple[int, dict[str, Any]]:
    """The UI's /encode request; answers the status and either the refusal or the input the worker gets."""
    sent = {"Content-Type": content_type, "X-Namespace": "default", **headers}
    if origin is not None:
        sent["Origin"] = origin
    status, _, out = request(f"{server}/encode?preserveStorageRefs=true", ui_input(value), headers=sent)
    if status != 200:
        return status, json.loads(out)
    sealed = json_format.Parse(out, Payloads()).payloads
    assert sealed[0].metadata["encoding"] == b"binary/encrypted"
    received = plain_value(
        json_format.MessageToJson(Payloads(payloads=asyncio.run(codec().decode(sealed)))).encode()
    )
    assert isinstance(received, dict)
    return status, received


def cookie_of(server: str, operator: str, password: str) -> str:
    status, headers = sign_in(server, operator, password)
    assert status == 200
    return session_cookie(headers)


def decision(**auth: str) -> dict[str, Any]:
    return {"case_id": "C0123456789abcdef0123", "approved": True, "operator": "", "note": "ok", "auth": auth}


def credential(value: dict[str, Any]) -> Credential:
    a = value["auth"]
    return Credential(
        a["actor"],
        a["role"],
        a["account"],
        a["command"],
        datetime.fromisoformat(a["expires_at"]),
        a["key_id"],
        a["signature"],
    )


def test_a_signed_in_operator_gets_commands_signed_in_their_own_name(
    server: str, access: AccessSettings
) -> None:
    cookie = cookie_of(server, "lin", LIN_PASSWORD)
    before = datetime.now(UTC)
    # Whatever the input says about who acts (an actor, a pasted signature), the signed-in name signs.
    status, value = encode_call(
        server,
        decision(command="decide_appeal", account="seller-M00AA11", actor="mallory", signature="ab" * 32),
        Cookie=cookie,
    )
    assert status == 200, value
    cred = credential(value)
    assert (cred.actor, cred.role, cred.account, cred.command) == (
        "lin",
        "operator",
        "M00AA11",
        "decide_appeal",
    )
    assert value["operator"] == "lin", "a blank operator field is the signed-in name"
    assert value["case_id"] == "C0123456789abcdef0123" and value["note"] == "ok"
    # Short-lived, and bound to this account and this command, as the workflow's validator checks.
    assert before + timedelta(seconds=access.sign_seconds - 2) <= cred.expires_at
    assert cred.expires_at <= datetime.now(UTC) + timedelta(seconds=access.sign_seconds)
    now = datetime.now(UTC)
    assert credentials.check(cred, command="decide_appeal", account="M00AA11", now=now) is None
    assert credentials.check(cred, command="decide_appeal", account="M00BB22", now=now).code == (  # type: ignore[union-attr]
        "credential_wrong_account"
    )
    assert credentials.check(cred, command="retry", account="M00AA11", now=now).code == (  # type: ignore[union-attr]
        "credential_wrong_command"
    )
    expired = credentials.check(cred, command="decide_appeal", account="M00AA11", now=cred.expires_at)
    assert expired is not None and expired.code == "credential_expired"
    # A name typed in the decision is left alone, for the workflow to refuse (operator_mismatch).
    status, value = encode_call(
        server, {**decision(command="decide_appeal", account="M00AA11"), "operator": "wang"}, Cookie=cookie
    )
    assert status == 200 and value["operator"] == "wang" and value["auth"]["actor"] == "lin"
    # A signal (ban) is signed the same way; a payload without `auth` passes as it is.
    status, value = encode_call(
        server,
        {
            "origin_member_id": "M1",
            "via_member_id": "M1",
            "origin_reason": "x",
            "auth": {"command": "ban", "account": "M2"},
        },
        Cookie=cookie,
    )
    assert status == 200 and credential(value).command == "ban" and "operator" not in value
    assert encode_call(server, {"case_id": "C1"}, Cookie=cookie) == (200, {"case_id": "C1"})


def refusal_of(answer: tuple[int, dict[str, Any]]) -> tuple[int, str, str, bool]:
    status, body = answer
    assert body.get("message"), body
    return status, body["rule"], body["code"], body["retryable"]


def test_no_one_else_gets_a_command_signed(server: str, keys: dict[str, Any]) -> None:
    ask = decision(command="decide_appeal", account="M00AA11")
    # Not signed in: the codec server encrypts nothing, so nothing reaches Temporal.
    assert refusal_of(encode_call(server, ask)) == (401, "ENF-4", "not_signed_in", True)
    # Signed in without the operator role: reads, but signs nothing.
    reader = cookie_of(server, "reader", READER_PASSWORD)
    assert refusal_of(encode_call(server, ask, Cookie=reader)) == (403, "ENF-4", "role_not_allowed", False)
    assert encode_call(server, {"case_id": "C1"}, Cookie=reader)[0] == 200, "a reader still encodes queries"
    # The static token names no one.
    cli = {"Authorization": f"Bearer {settings().codec_server_token}"}
    assert refusal_of(encode_call(server, ask, origin=None, **cli)) == (
        403,
        "ENF-4",
        "token_cannot_sign",
        False,
    )
    # An operator's cookie, but not a JSON request from the UI's origin: a forged cross-site request.
    lin = cookie_of(server, "lin", LIN_PASSWORD)
    assert refusal_of(encode_call(server, ask, origin=None, Cookie=lin))[2] == "cross_site_refused"
    assert (
        refusal_of(encode_call(server, ask, content_type="text/plain", Cookie=lin))[2] == "cross_site_refused"
    )
    assert encode_call(server, ask, origin="https://evil.example", Cookie=lin)[0] == 403
    # Not an operator's command, no command, no account or every account: nothing is signed.
    appeal = {"case_id": "C1", "auth": {"command": "appeal", "account": "M00AA11"}}
    assert refusal_of(encode_call(server, appeal, Cookie=lin)) == (403, "ENF-4", "role_not_allowed", False)
    for auth in (
        {"account": "M00AA11"},
        {"command": "nap", "account": "M1"},
        {"command": "ban"},
        {"command": "ban", "account": "*"},
    ):
        assert refusal_of(encode_call(server, decision(**auth), Cookie=lin))[:3] == (
            400,
            "ENF-4",
            "credential_request_invalid",
        ), auth
    assert (
        refusal_of(encode_call(server, {"auth": "sign please"}, Cookie=lin))[2]
        == "credential_request_invalid"
    )
    # OIDC: the provider's roles claim gives the operator role; the audit name is the `sub`.
    provider = keys["provider"]
    bearer = {"Authorization": f"Bearer {token(provider, sub='op-7', seller_roles=['operator'])}"}
    status, value = encode_call(server, ask, **bearer)
    assert status == 200 and (credential(value).actor, credential(value).role) == ("op-7", "operator")
    plain = {"Authorization": f"Bearer {token(provider, sub='op-8')}"}
    assert refusal_of(encode_call(server, ask, **plain))[2] == "role_not_allowed"
    odd = {"Authorization": f"Bearer {token(provider, sub='idp|op 9', seller_roles='operator')}"}
    assert refusal_of(encode_call(server, ask, **odd))[2] == "operator_name_invalid"


def test_pasted_credentials_for_other_roles_pass_and_the_cli_keeps_its_pasted_ones(server: str) -> None:
    service = credentials.for_command("report_violation", "M00AA11", service="risk-engine")
    report = {
        "violation_id": "v1",
        "category": "listing",
        "rule": "ENF-2",
        "auth": credentials.as_dict(service),
    }
    lin = cookie_of(server, "lin", LIN_PASSWORD)
    assert encode_call(server, report, Cookie=lin) == (200, report)
    ops = credentials.for_command("decide_appeal", "M00AA11", operator="wang")
    pasted = {**decision(), "auth": credentials.as_dict(ops)}
    cli = {"Authorization": f"Bearer {settings().codec_server_token}"}
    assert encode_call(server, pasted, origin=None, **cli) == (200, pasted)
    # Signed in, a pasted operator credential is replaced by the signed-in operator's own.
    status, value = encode_call(server, pasted, Cookie=lin)
    assert status == 200 and value["auth"]["actor"] == "lin"


def test_without_an_operator_key_the_codec_server_signs_nothing(access: AccessSettings) -> None:
    srv = Server(replace(access, signing_keys=()))
    try:
        lin = cookie_of(srv.url, "lin", LIN_PASSWORD)
        answer = encode_call(srv.url, decision(command="decide_appeal", account="M1"), Cookie=lin)
        assert refusal_of(answer) == (503, "ENF-4", "signing_off", False)
    finally:
        srv.close()


def test_decoded_history_shows_who_acted_but_no_usable_signature(server: str) -> None:
    cred = credentials.for_command("ban", "M00AA11", operator="lin")
    body = encrypted({"origin_member_id": "M1", "auth": credentials.as_dict(cred)})
    status, out = decode_call(server, body, Cookie=cookie_of(server, "reader", READER_PASSWORD), Origin=UI)
    value = plain_value(out)
    assert status == 200 and isinstance(value, dict)
    assert value["auth"]["signature"] == codec_signing.REDACTED
    assert {k: v for k, v in value["auth"].items() if k != "signature"} == {
        k: v for k, v in credentials.as_dict(cred).items() if k != "signature"
    }
    assert cred.signature not in out.decode()
    # Sent back as it reads, it verifies as nothing.
    assert (
        credentials.check(credential(value), command="ban", account="M00AA11", now=datetime.now(UTC)).code
        == "credential_invalid"
    )  # type: ignore[union-attr]


def test_decode_blanks_signatures_nested_in_a_continued_runs_input(server: str) -> None:
    report = credentials.for_command("report_violation", "M00AA11", service="risk-engine")
    ban = credentials.for_command("ban", "M00AA11", operator="lin")
    continued = {
        "profile": {"member_id": "M00AA11"},
        "pending_facts": [
            {"violation": {"rule": "ENF-1", "auth": credentials.as_dict(report)}},
            {"ban": {"origin_member_id": "M1", "auth": credentials.as_dict(ban)}},
        ],
        "recent_commands": [{"update_id": "u1", "update": "retry", "result_json": None}],
    }
    status, out = decode_call(
        server, encrypted(continued), Cookie=cookie_of(server, "reader", READER_PASSWORD), Origin=UI
    )
    assert status == 200
    value = plain_value(out)
    assert isinstance(value, dict)
    facts = value["pending_facts"]
    assert [f[k]["auth"]["signature"] for f, k in zip(facts, ("violation", "ban"), strict=True)] == [
        codec_signing.REDACTED
    ] * 2
    assert facts[0]["violation"]["auth"]["actor"] == "risk-engine"  # who, still readable
    assert report.signature not in out.decode() and ban.signature not in out.decode()


def test_signing_settings(access: AccessSettings) -> None:
    ops_key = "ops:operator:" + hashlib.sha256(b"ops").hexdigest()
    base = {
        "CODEC_SESSION_SECRET": hashlib.sha256(b"session").hexdigest(),
        "CODEC_UI_ORIGINS": "https://temporal.example.com",
    }
    prod = replace(settings(), seller_env="production", codec_server_token="t" * 40)
    # Development signs with the operator-capable keys of CREDENTIAL_KEYS; production only with
    # CODEC_SIGNING_KEYS, and only keys limited to the operator role.
    assert access.signing_keys and all("operator" in k.roles for k in access.signing_keys)
    assert load_access(prod, env=base).signing_keys == ()
    assert [
        k.key_id for k in load_access(prod, env={**base, "CODEC_SIGNING_KEYS": ops_key}).signing_keys
    ] == ["ops"]
    with pytest.raises(SettingsError, match="more than the operator role"):
        load_access(prod, env={**base, "CODEC_SIGNING_KEYS": "all:*:" + "ab" * 32})
    with pytest.raises(SettingsError, match="CODEC_SIGNING_KEYS"):
        load_access(prod, env={**base, "CODEC_SIGNING_KEYS": "ops:operator:abcd"})
    entry = {"password": hash_password("x" * 12), "namespaces": ["default"]}
    for roles, says in ((["service"], "roles must be"), ("operator", "roles must be")):
        with pytest.raises(SettingsError, match=says):
            load_access(settings(), env={"CODEC_OPERATORS": json.dumps({"lin": {**entry, "roles": roles}})})
    with pytest.raises(SettingsError, match="cannot sign"):
        load_access(
            settings(), env={"CODEC_OPERATORS": json.dumps({"Lin Wang": {**entry, "roles": ["operator"]}})}
        )
    loaded = load_access(
        settings(), env={"CODEC_OPERATORS": json.dumps({"lin": entry}), "CODEC_SIGN_SECONDS": "5"}
    )
    assert loaded.operators["lin"].roles == frozenset() and loaded.sign_seconds == 10
