"""A TLS terminator that demands a client certificate, in front of the Temporal dev server.

The dev server (`temporal server start-dev`) has no TLS options, so mutual TLS is tested the way a
deployment behind a TLS-terminating proxy (Envoy, nginx stream) would run it: a real TLS 1.2/1.3
endpoint, with the frontend's certificate and the CA it trusts for clients, forwarding the decrypted
HTTP/2 to the dev server. What it proves: the client side (seller_client.connect with TEMPORAL_TLS_*)
presents its certificate, verifies the server's, and runs real Temporal calls over the link; a caller
without a certificate from the CA gets no connection. What it does not: the Temporal server's own TLS
configuration in docker-compose.yml (checked statically in tests/test_deployment.py)."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from pathlib import Path


class MutualTlsProxy:
    def __init__(self, upstream: str, cert: Path, key: Path, client_ca: Path) -> None:
        host, _, port = upstream.rpartition(":")
        self.upstream = (host, int(port))
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(client_ca))
        self.context.load_cert_chain(str(cert), str(key))
        self.context.verify_mode = ssl.CERT_REQUIRED  # no client certificate, no connection
        self.context.set_alpn_protocols(["h2"])  # gRPC
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.context)
        return int(self._server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, ssl.SSLError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    dst.close()

        both = asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        task = asyncio.ensure_future(both)
        self._tasks.add(task)  # type: ignore[arg-type]
        task.add_done_callback(self._tasks.discard)  # type: ignore[arg-type]
        await task

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
