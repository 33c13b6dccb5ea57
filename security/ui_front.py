"""The Web UI served through the codec server, so that the UI and its codec endpoint share one origin.

The dev server's UI (`temporal server start-dev`) takes `--ui-codec-endpoint` but no "include
credentials" setting, and the Web UI sends cookies to a codec endpoint on another origin only with that
setting on: signed in on the codec server, an operator would still read ciphertext until they set the
Data Encoder dialog by hand. Served from the codec server's own origin, the UI's codec calls are
same-origin requests, which browsers send with the session cookie by default.

    CODEC_UI_UPSTREAM=http://localhost:8233 python codec_server.py   # then open http://localhost:8081/

Every request the codec server does not answer itself (/decode, /encode, /login, /logout, /health,
/review...) is forwarded to the UI as it came, and the answer handed back as it went (compressed bodies
stay compressed). Production (docker-compose) sets the UI's TEMPORAL_CODEC_INCLUDE_CREDENTIALS and
needs none of this.
"""

from __future__ import annotations

import aiohttp
from aiohttp import web

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
MAX_BODY = 8 * 1024 * 1024
UPSTREAM: web.AppKey[str] = web.AppKey("ui_upstream", str)
CLIENT: web.AppKey[aiohttp.ClientSession] = web.AppKey("ui_client", aiohttp.ClientSession)


def add_front(app: web.Application, upstream: str) -> None:
    """Forward everything not otherwise routed to `upstream`: call after every other route is added."""
    app[UPSTREAM] = upstream.rstrip("/")

    async def opened(app: web.Application) -> None:
        app[CLIENT] = aiohttp.ClientSession(
            auto_decompress=False, timeout=aiohttp.ClientTimeout(total=60), cookie_jar=aiohttp.DummyCookieJar()
        )

    async def closed(app: web.Application) -> None:
        await app[CLIENT].close()

    app.on_startup.append(opened)
    app.on_cleanup.append(closed)
    app.router.add_route("*", "/{tail:.*}", forward)


async def forward(request: web.Request) -> web.StreamResponse:
    body = await request.content.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        return web.Response(status=413, text="request too large")
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
    url = request.app[UPSTREAM] + request.rel_url.raw_path_qs
    try:
        async with request.app[CLIENT].request(
            request.method, url, headers=headers, data=body or None, allow_redirects=False
        ) as upstream:
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for key, value in upstream.headers.items():
                if key.lower() not in HOP_BY_HOP:
                    response.headers.add(key, value)
            if upstream.content_length is not None:
                response.content_length = upstream.content_length
            await response.prepare(request)
            async for chunk in upstream.content.iter_chunked(64 * 1024):
                await response.write(chunk)
            await response.write_eof()
            return response
    except (aiohttp.ClientError, TimeoutError):
        return web.Response(status=502, text="The Web UI does not answer.")
