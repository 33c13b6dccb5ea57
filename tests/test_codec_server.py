"""The codec server the Web UI and the CLI call, over real HTTP on loopback: the UI's request shape,
the three ways to authenticate, per-namespace authorisation, CORS with credentials, and the bounds on
bodies and connections (issue 13 case 9)."""

from __future__ import annotations

import asyncio
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
from models.codec import codec
from models.codec_access import (
    DEV_OPERATOR,
    DEV_OPERATOR_PASSWORD,
    SESSION_COOKIE,
    AccessSettings,
    OidcSettings,
    Operator,
    hash_password,
    load_access,
)
from models.settings import settings

UI = "http://127.0.0.1:8233"
ISSUER = "https://idp.test.invalid/"
AUDIENCE = "temporal-ui"


def rsa_key() -> rsa.RSAPrivateKey:
    # RSA generation draws from the OS; the test's assertions never depend on the key's value.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Server:
    """The codec server in its own thread and event loop, as a separate process would be."""

    def __init__(self, access: AccessSettings, idle_seconds: float = 15.0) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        app = codec_server.create_app(settings(), access)
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
    return replace(
        base,
        operators={**base.operators, "auditor": auditor},
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
    assert request(f"{server}/decode", b"not json", headers=auth)[0] == 400
    assert request(f"{server}/other", body, headers=auth)[0] == 404
    forged = json.dumps(
        {"payloads": [{"metadata": {"encoding": "YmluYXJ5L2VuY3J5cHRlZA==", "encryption-key-id": "azE="}}]}
    ).encode()
    status, _, out = request(f"{server}/decode", forged, headers=auth)
    assert status == 400 and b"cannot decode" in out


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


def test_password_guessing_locks_the_name(server: str) -> None:
    name = "auditor"
    for _ in range(codec_server.LOGIN_FAILURES):
        assert sign_in(server, name, "guess")[0] == 401
    # Locked: even the right password is refused until the window passes.
    assert sign_in(server, name, "auditor-password-1")[0] == 429
    throttle = codec_server.LoginThrottle(limit=2, window=60)
    throttle.failed("x", now=10)
    assert not throttle.locked("x", now=11)
    throttle.failed("x", now=11)
    assert throttle.locked("x", now=12) and not throttle.locked("x", now=71)
