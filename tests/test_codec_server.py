"""The codec server the Web UI calls: decrypts for token holders only, over real HTTP."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.converter import DataConverter

import codec_server
from devtools.smtp_sink import free_port
from models.codec import codec
from models.settings import settings


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    port = free_port()
    httpd = codec_server.serve(port)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    httpd.shutdown()


def post(url: str, body: bytes, token: str | None) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def encrypted(value: object) -> bytes:
    plain = DataConverter.default.payload_converter.to_payloads([value])
    sealed = asyncio.run(codec().encode(plain))
    return json_format.MessageToJson(Payloads(payloads=sealed)).encode()


def test_decode_needs_the_token_and_returns_the_plain_payload(server: str) -> None:
    body = encrypted({"email": "owner@example.com"})
    assert b"owner@example.com" not in body
    assert post(f"{server}/default/decode", body, None)[0] == 401
    assert post(f"{server}/default/decode", body, "wrong-token")[0] == 401
    status, out = post(f"{server}/default/decode", body, settings().codec_server_token)
    assert status == 200
    decoded = json_format.ParseDict(out, Payloads())
    assert DataConverter.default.payload_converter.from_payloads(decoded.payloads)[0] == {
        "email": "owner@example.com"
    }


def test_encode_round_trips_and_bad_input_is_refused(server: str) -> None:
    plain = DataConverter.default.payload_converter.to_payloads(["hello"])
    body = json_format.MessageToJson(Payloads(payloads=plain)).encode()
    status, out = post(f"{server}/default/encode", body, settings().codec_server_token)
    assert status == 200
    sealed = json_format.ParseDict(out, Payloads()).payloads
    assert sealed[0].metadata["encoding"] == b"binary/encrypted" and b"hello" not in sealed[0].data
    assert asyncio.run(codec().decode(sealed))[0].data == plain[0].data
    assert post(f"{server}/default/decode", b"not json", settings().codec_server_token)[0] == 400
    assert post(f"{server}/default/other", body, settings().codec_server_token)[0] == 404


def test_cors_preflight_lets_the_ui_call_it(server: str) -> None:
    req = urllib.request.Request(f"{server}/default/decode", method="OPTIONS")
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 204
        assert resp.headers["Access-Control-Allow-Origin"] == "http://localhost:8233"
        assert "Authorization" in resp.headers["Access-Control-Allow-Headers"]
