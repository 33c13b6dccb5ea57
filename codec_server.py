"""The payload codec server: lets the Temporal Web UI (and `temporal` CLI) show decrypted payloads to
operators who hold the token, while the Temporal server itself only ever stores ciphertext.

    python codec_server.py [--port 8081]      # CODEC_KEYS, CODEC_SERVER_TOKEN from the environment

Point the UI at it (TEMPORAL_CODEC_ENDPOINT=http://localhost:8081 in docker-compose, or the UI's
"Codec Server" setting with "Pass the user access token" off and the token in CODEC_SERVER_TOKEN
sent as `Authorization: Bearer <token>`). Endpoints, per Temporal's remote codec protocol:

    POST /{namespace}/encode   {"payloads": [...]}  ->  {"payloads": [...]}
    POST /{namespace}/decode   {"payloads": [...]}  ->  {"payloads": [...]}

Requests without the token get 401. CORS allows the UI's origin (CODEC_CORS_ORIGIN, default
http://localhost:8233) to call it from the browser.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import json
import logging
import os
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from models.codec import codec
from models.settings import settings

log = logging.getLogger("codec_server")
MAX_BODY = 8 * 1024 * 1024


class CodecHandler(BaseHTTPRequestHandler):
    server_version = "SellerCodec/1"

    def _cors(self) -> None:
        self.send_header(
            "Access-Control-Allow-Origin", os.environ.get("CODEC_CORS_ORIGIN", "http://localhost:8233")
        )
        self.send_header("Access-Control-Allow-Methods", "POST, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Namespace")
        self.send_header("Access-Control-Allow-Credentials", "true")

    def _reply(self, status: HTTPStatus, body: dict | None = None) -> None:
        data = json.dumps(body or {}).encode()
        self.send_response(status)
        self._cors()
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_OPTIONS(self) -> None:  # noqa: N802  (the CORS preflight carries no token)
        self.send_response(HTTPStatus.NO_CONTENT)
        self._cors()
        self.end_headers()

    def do_POST(self) -> None:  # noqa: N802
        action = self.path.rstrip("/").rsplit("/", 1)[-1]
        if action not in ("encode", "decode"):
            return self._reply(HTTPStatus.NOT_FOUND, {"error": "POST /{namespace}/encode or /decode"})
        token = settings().codec_server_token
        given = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not token or not hmac.compare_digest(given.encode(), token.encode()):
            return self._reply(HTTPStatus.UNAUTHORIZED, {"error": "missing or wrong token"})
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "body too large"})
        try:
            payloads = json_format.Parse(self.rfile.read(length), Payloads())
        except json_format.ParseError as err:
            return self._reply(HTTPStatus.BAD_REQUEST, {"error": f"not a payloads document: {err}"})
        c = codec()
        try:
            out = asyncio.run(
                c.encode(payloads.payloads) if action == "encode" else c.decode(payloads.payloads)
            )
        except Exception as err:  # a payload from another key set: say so, never crash the server
            return self._reply(HTTPStatus.BAD_REQUEST, {"error": f"cannot {action}: {err}"})
        self._reply(HTTPStatus.OK, json_format.MessageToDict(Payloads(payloads=out)))
        # Log the count only: payloads are personal data.
        log.info("%s %d payload(s)", action, len(out))

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        log.debug(format, *args)


def serve(port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    return ThreadingHTTPServer((host, port), CodecHandler)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=int(os.environ.get("CODEC_SERVER_PORT", "8081")))
    p.add_argument("--host", default=os.environ.get("CODEC_SERVER_HOST", "127.0.0.1"))
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    server = serve(args.port, args.host)
    log.info("codec server on http://%s:%d", args.host, args.port)
    server.serve_forever()


if __name__ == "__main__":
    main()
