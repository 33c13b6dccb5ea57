"""The review queue and the evidence page, served by the codec server (codec_server.py) under /review.

    GET  /review                                   open items, soonest due first
    GET  /review/{workflow id}/{item id}           the item: evidence, both accounts, decisions, access log
    GET  /review/{workflow id}/{item id}/evidence/{n}      one piece of evidence (a clean PNG, or a download)
    GET  /review/{workflow id}/{item id}/listing/{product}  an ASSOC-3 listing's picture
    POST /review/{workflow id}/{item id}/decide    approve or refuse, with a required note

Who: the codec server's own sign-in (the session cookie, or an OIDC bearer token); not signed in is 401,
signed in without the `operator` role 403, and neither is shown anything. A decision is a same-origin
form carrying a token bound to the session (a cross-site form cannot forge it), signed in the operator's
name (security/codec_signing.py's keys) and sent as the account's update; a refusal is shown with its
rule and reason.

What is shown is written to the access log first (activities/storage/access_log.py): the item's view,
each text and picture of evidence, each decision. Everything the seller wrote is escaped; the page runs
no script at all and says so in its Content-Security-Policy; pictures are re-encoded (evidence/images.py).

Over 400 lines: the page's templates and its handlers belong together, and split they would only
pass the same request around.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import logging
import secrets
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiohttp import web
from temporalio.client import Client
from temporalio.service import RPCError

import seller_client
from activities.storage import access_log, blobs
from evidence import source
from evidence.images import LIMITS, reencoded
from models import limits, review
from models.review import ReviewItem
from security import credentials
from security.codec_access import SESSION_COOKIE, AccessSettings, Principal
from security.codec_signing import Signer

log = logging.getLogger("evidence")
T = TypeVar("T")

REVIEWER_ROLE = "operator"  # who may open evidence and decide
MAX_FORM = 16 * 1024
CSP = (
    "default-src 'none'; img-src 'self'; style-src 'nonce-{nonce}'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
STYLE = """body{font-family:sans-serif;max-width:80em;margin:1.5em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;
vertical-align:top}pre{white-space:pre-wrap;background:#f6f6f6;padding:.6em;border:1px solid #ddd}
img{max-width:100%;border:1px solid #ccc}.pair{display:flex;gap:1em}.pair>div{flex:1}
.refused{border:2px solid #a00;padding:.6em;background:#fee}.done{border:2px solid #070;padding:.6em}
textarea{width:100%;height:5em}button{font-size:1.1em;margin:.4em .6em .4em 0}"""


@dataclass
class Desk:
    """What the pages need from the codec server: who is asking, the operator signing keys, the
    settings, and a Temporal client (connected on first use, with the codec server's own converter)."""

    authenticate: Callable[[web.Request], Awaitable[Principal | None]]
    signer: Signer
    access: AccessSettings
    client: Client | None = None

    async def temporal(self) -> Client:
        if self.client is None:
            self.client = await seller_client.connect()
        return self.client

    @property
    def ui(self) -> str:
        """Where the Web UI is: on this origin when the codec server serves it (security/ui_front.py)."""
        return "" if self.access.ui_upstream else self.access.ui_origins[0]

    def ui_workflow(self, workflow_id: str) -> str:
        ns = urllib.parse.quote(self.access.default_namespace, safe="")
        return f"{self.ui}/namespaces/{ns}/workflows/{urllib.parse.quote(workflow_id, safe='')}"

    def ui_queue(self) -> str:
        ns = urllib.parse.quote(self.access.default_namespace, safe="")
        query = urllib.parse.quote(
            "ExecutionStatus = 'Running' AND (ReviewKinds IS NOT NULL OR OpenCase = true)"
        )
        return f"{self.ui}/namespaces/{ns}/workflows?query={query}"


DESK: web.AppKey[Desk] = web.AppKey("evidence_desk", Desk)
SIGNED_IN: web.RequestKey[Principal] = web.RequestKey("evidence_operator", Principal)  # once admitted


def setup(app: web.Application, desk: Desk) -> None:
    app[DESK] = desk
    app.add_routes(
        [
            web.get("/review", queue_page),
            web.get("/review/{workflow_id}/{item_id}", item_page),
            web.get("/review/{workflow_id}/{item_id}/evidence/{n:[0-9]+}", evidence_file),
            web.get("/review/{workflow_id}/{item_id}/listing/{product_id}", listing_image),
            web.post("/review/{workflow_id}/{item_id}/decide", decide),
            web.post("/review/{workflow_id}/{item_id}/claim", claim),
        ]
    )


def item_url(workflow_id: str, item_id: str) -> str:
    return f"/review/{urllib.parse.quote(workflow_id, safe='')}/{urllib.parse.quote(item_id, safe='')}"


# ---------------------------------------------------------------------------------------------- answers


def e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _html(title: str, body: str, status: int = 200) -> web.Response:
    nonce = secrets.token_urlsafe(16)
    page = (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{e(title)}</title>'
        f'<style nonce="{nonce}">{STYLE}</style></head><body>{body}</body></html>'
    )
    response = web.Response(text=page, content_type="text/html", status=status)
    _harden(response, CSP.format(nonce=nonce))
    return response


def _harden(response: web.StreamResponse, csp: str = "default-src 'none'") -> None:
    response.headers["Content-Security-Policy"] = csp
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Not no-referrer: with it browsers send `Origin: null` on the decision form, which is refused.
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"


def _refusal_page(status: int, code: str, message: str, request: web.Request | None = None) -> web.Response:
    more = ""
    if status == 401 and request is not None:
        more = f'<p><a href="/login?next={e(urllib.parse.quote(request.path_qs))}">Sign in</a></p>'
    body = f"<h1>Refused</h1><p>ENF-4 <code>{e(code)}</code>: {e(message)}</p>{more}"
    return _html("Refused", body, status)


async def _operator(request: web.Request) -> Principal | web.Response:
    """The signed-in reviewer, or the answer that refuses everyone else."""
    desk = request.app[DESK]
    try:
        who = await desk.authenticate(request)
    except ValueError:  # a malformed cookie
        return _refusal_page(
            400, "session_cookie_malformed", "The session cookie is malformed: sign in again."
        )
    if who is None:
        return _refusal_page(401, "not_signed_in", "Sign in to see review items.", request)
    if who.via == "token" or REVIEWER_ROLE not in who.roles:
        log.warning("%s (%s) refused the evidence page: no %s role", who.name, who.via, REVIEWER_ROLE)
        return _refusal_page(403, "role_not_allowed", f"{who.name} may not open review items.")
    if not who.may_read(desk.access.default_namespace):
        return _refusal_page(403, "namespace_not_allowed", "Not allowed in this namespace.")
    request[SIGNED_IN] = who
    return who


async def _account(request: web.Request) -> tuple[source.Account, ReviewItem] | web.Response:
    workflow_id = request.match_info["workflow_id"]
    item_id = request.match_info["item_id"]
    if not workflow_id.startswith("seller-") or len(workflow_id) > limits.WORKFLOW_ID:
        return _refusal_page(404, "no_such_item", "There is no such review item.")
    try:
        account = await source.read_account(await request.app[DESK].temporal(), workflow_id)
    except RPCError as err:
        log.info("item page for %s: %s", workflow_id, err.status)
        return _refusal_page(404, "no_such_item", "There is no such review item.")
    item = account.item(item_id)
    if item is None:
        return _refusal_page(404, "no_such_item", "There is no such review item.")
    return account, item


async def _signed_in(
    request: web.Request, then: Callable[[web.Request], Awaitable[T | web.Response]]
) -> tuple[Principal, T] | web.Response:
    """The signed-in reviewer and what `then` reads of the request (the item the path names, the page's
    own form), checked in this order; or the answer that refuses."""
    who = await _operator(request)
    if isinstance(who, web.Response):
        return who
    found = await then(request)
    if isinstance(found, web.Response):
        return found
    return who, found


async def _log(who: Principal, account: source.Account, item: ReviewItem, what: str, note: str = "") -> None:
    await asyncio.to_thread(access_log.record, who.name, account.workflow_id, item.item_id, what, note)


def csrf_token(request: web.Request) -> str:
    """Bound to the session: a page on another site cannot read it, so it cannot send a decision."""
    cookie = request.cookies.get(SESSION_COOKIE, "") or request.headers.get("Authorization", "")
    mac = hmac.new(request.app[DESK].access.session_secret, b"review-decision|" + cookie.encode(), "sha256")
    return mac.hexdigest()


def _same_origin(request: web.Request) -> bool:
    if request.headers.get("Sec-Fetch-Site", "same-origin") != "same-origin":
        return False
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser: the token below still has to match
    parsed = urllib.parse.urlsplit(origin)
    return parsed.scheme in ("http", "https") and parsed.netloc == request.host


# ---------------------------------------------------------------------------------------------- pages


async def queue_page(request: web.Request) -> web.Response:
    who = await _operator(request)
    if isinstance(who, web.Response):
        return who
    desk = request.app[DESK]
    rows = await source.queue(await desk.temporal())
    now = datetime.now(UTC)
    lines = []
    for account, item in rows:
        overdue = item.escalated or item.due_at <= now
        lines.append(
            "<tr>"
            f'<td><a href="{e(item_url(account.workflow_id, item.item_id))}">{e(item.item_id)}</a></td>'
            f"<td>{e(item.kind)}</td><td>{e(item.rule)}</td><td>{e(account.member_id)}</td>"
            f"<td>{e(item.opened_at.isoformat(timespec='minutes'))}</td>"
            f"<td>{e(item.due_at.isoformat(timespec='minutes'))}{' <b>overdue</b>' if overdue else ''}</td>"
            f"<td>{e(item.state)}{' by ' + e(item.claimed_by) if item.claimed_by else ''}</td></tr>"
        )
    table = (
        "<table><tr><th>item</th><th>kind</th><th>rule</th><th>account</th><th>opened</th><th>due</th>"
        f"<th>state</th></tr>{''.join(lines)}</table>"
        if lines
        else "<p>Nothing waits for a decision.</p>"
    )
    body = (
        f"<h1>Review queue</h1><p>Signed in as {e(who.name)}. {len(lines)} open item(s), soonest due first. "
        f'<a href="{e(desk.ui_queue())}">The same accounts in the Web UI</a></p>{table}'
    )
    return _html("Review queue", body)


async def item_page(request: web.Request, *, refusal: Any = None, status: int = 200) -> web.Response:
    opened = await _signed_in(request, _account)
    if isinstance(opened, web.Response):
        return opened
    who, (account, item) = opened
    desk = request.app[DESK]
    await _log(who, account, item, "view_item")
    parts = [
        f'<p><a href="/review">Review queue</a> · <a href="{e(desk.ui_workflow(account.workflow_id))}">'
        "This account in the Web UI</a></p>",
        f"<h1>{e(item.item_id)}</h1>",
        "<table>"
        f"<tr><th>kind</th><td>{e(item.kind)} ({e(item.rule)})</td></tr>"
        f"<tr><th>account</th><td>{e(account.member_id)}</td></tr>"
        f"<tr><th>opened</th><td>{e(item.opened_at.isoformat(timespec='seconds'))}</td></tr>"
        f"<tr><th>due</th><td>{e(item.due_at.isoformat(timespec='seconds'))}"
        f"{' (escalated)' if item.escalated else ''}</td></tr>"
        f'<tr><th>state</th><td id="item-state">{e(item.state)}'
        f"{' — claimed by ' + e(item.claimed_by) if item.claimed_by else ''}"
        f"{' — ' + e(item.decision or '') + ' by ' + e(item.decided_by or '') if item.decided_by else ''}</td></tr>"
        "</table>",
    ]
    if refusal is not None:
        parts.append(
            f'<div class="refused" id="refusal"><b>The account refused it.</b> Rule {e(refusal.rule)}, '
            f"reason <code>{e(refusal.code)}</code>: {e(refusal.message)}</div>"
        )
    parts.append("<h2>Evidence</h2>")
    for n, evidence in enumerate(item.evidence):
        parts.append(await _evidence_html(request, who, account, item, n, evidence))
    parts.append(await _association_html(request, who, account, item))
    parts.append(_decisions_html(account, item))
    if item.state != review.DECIDED:
        parts.append(_decision_form(request, account, item))
    parts.append(_access_html(account, item))
    return _html(f"Review {item.item_id}", "".join(parts), status)


async def _evidence_html(
    request: web.Request, who: Principal, account: source.Account, item: ReviewItem, n: int, ev: Any
) -> str:
    label = f"<h3>{e(ev.label)}</h3>"
    if ev.measures:  # the photo check's figures (OPEN-1): numbers, no personal data
        rows = "".join(f"<tr><th>{e(k)}</th><td>{v:.3g}</td></tr>" for k, v in sorted(ev.measures.items()))
        return f'{label}<table id="evidence-{n}">{rows}</table>'
    if ev.text_key is not None:
        text = account.text(item, ev.text_key)
        if text is None:
            return label + "<p>(not found in the account's history)</p>"
        await _log(who, account, item, f"view_{ev.kind}")
        return f'{label}<pre id="evidence-{n}">{e(text)}</pre>'
    if ev.ref is not None:
        url = f"{item_url(account.workflow_id, item.item_id)}/evidence/{n}"
        picture = await asyncio.to_thread(_picture, ev.ref, account.workflow_id)
        if picture is None:
            return f'{label}<p><a href="{e(url)}" id="evidence-{n}">Download (not a picture)</a></p>'
        return f'{label}<img src="{e(url)}" id="evidence-{n}" alt="{e(ev.label)}">'
    return label


def _picture(ref: str, scope: str) -> bytes | None:
    try:  # the account's own blob (under its data key: docs/PRIVACY.md), else one of no account
        return reencoded(blobs.read_bytes(ref, max_bytes=LIMITS.max_bytes, scope=scope))
    except blobs.BlobError:
        return None


async def _association_html(
    request: web.Request, who: Principal, account: source.Account, item: ReviewItem
) -> str:
    case = account.cases.get(source.case_of(item))
    other = case.linked_member_id if case is not None else None
    if item.kind == review.ASSOCIATION:  # no case yet: the link the operator is asked to confirm
        other = review.association_of(item)[0] or None
    found = await asyncio.to_thread(source.links, account.member_id, other)
    if not found:
        return ""
    parts = ["<h2>Association</h2>"]
    for link in found:
        parts.append(f"<p>{e(link.rule)} <code>{e(link.reason)}</code> with {e(link.other_member_id)}</p>")
        if link.shared_identity is not None:
            # Which kind of identity, never its value (not even to an identity reader: it is not needed).
            parts.append(f'<p id="shared-identity">Shared identity: <b>{e(link.shared_identity)}</b></p>')
        if link.listings:
            await _log(who, account, item, "view_listings")
            cells = []
            for listing in link.listings:
                picture = ""
                if listing.image_ref:
                    url = f"{item_url(account.workflow_id, item.item_id)}/listing/{urllib.parse.quote(listing.product_id)}"
                    picture = f'<img src="{e(url)}" alt="listing {e(listing.product_id)}">'
                title = e(listing.title) if listing.title else "(refused listing: not kept)"
                cells.append(
                    f"<div><p><b>{e(listing.product_id)}</b> of {e(listing.member_id or '?')}</p>"
                    f"<p>{title}</p>{picture}</div>"
                )
            parts.append(
                f'<p>Matched by: <b>{e(link.matched_by)}</b></p><div class="pair">{"".join(cells)}</div>'
            )
        if link.other_member_id:
            parts.append(await _other_account_html(request, link.other_member_id))
    return "".join(parts)


async def _other_account_html(request: web.Request, member_id: str) -> str:
    desk = request.app[DESK]
    workflow_id = f"seller-{member_id}"
    try:
        status = (
            await (await desk.temporal())
            .get_workflow_handle(workflow_id)
            .query("status", result_type=source.AccountStatus)
        )
        state = status.state
    except RPCError:
        state = "unknown (not running)"
    rows = await asyncio.to_thread(source.decisions, workflow_id)
    return (
        f'<h3>Linked account {e(member_id)}: <span class="state">{e(state)}</span> '
        f'(<a href="{e(desk.ui_workflow(workflow_id))}">Web UI</a>)</h3>{_audit_table(rows)}'
    )


def _audit_table(rows: list[Any]) -> str:
    if not rows:
        return "<p>No decisions recorded.</p>"
    lines = [
        f"<tr><td>{e(r.at.isoformat(timespec='seconds'))}</td><td>{e(r.actor)}</td><td>{e(r.event)}</td>"
        f"<td>{e(r.rule)}</td><td>{e(r.reason)}</td><td>{e(r.detail.get('note', ''))}</td></tr>"
        for r in rows
    ]
    return (
        "<table><tr><th>at</th><th>who</th><th>event</th><th>rule</th><th>reason</th><th>note</th></tr>"
        + "".join(lines)
        + "</table>"
    )


def _decisions_html(account: source.Account, item: ReviewItem) -> str:
    state = account.status.state if account.status is not None else "unknown"
    history = "".join(
        f"<tr><td>{e(h.at.isoformat(timespec='seconds'))}</td><td>{e(h.event)}</td><td>{e(h.actor)}</td>"
        f"<td>{e(h.note)}</td></tr>"
        for h in item.history
    )
    return (
        f'<h2>This account: <span id="account-state">{e(state)}</span></h2>'
        + (f"<h3>Item history</h3><table>{history}</table>" if history else "")
        + "<h3>Decisions</h3>"
        + _audit_table(account.decisions)
    )


def _decision_form(request: web.Request, account: source.Account, item: ReviewItem) -> str:
    action = f"{item_url(account.workflow_id, item.item_id)}/decide"
    codes = review.REFUSAL_CODES.get(item.rule, ()) if account.from_account else ()
    options = "".join(f'<option value="{e(c)}">{e(c)}</option>' for c in codes)
    select = (
        f'<label>Reason when refusing ({e(item.rule)})<select name="code" id="code">'
        f'<option value="">—</option>{options}</select></label>'
        if codes
        else ""
    )
    claim = ""
    if account.from_account:
        mine = item.claimed_by == _signed_in_name(request)
        claim = (
            f'<form method="post" action="{e(item_url(account.workflow_id, item.item_id))}/claim">'
            f'<input type="hidden" name="csrf" value="{e(csrf_token(request))}">'
            f'<input type="hidden" name="request_id" value="page-{secrets.token_hex(12)}">'
            + (
                '<button type="submit" name="release" value="1" id="release">Give back</button>'
                if mine
                else '<button type="submit" id="claim">Claim</button>'
                if item.state == review.OPEN
                else ""
            )
            + "</form>"
        )
    return (
        claim + f'<h2>Decide</h2><form method="post" action="{e(action)}">'
        f'<input type="hidden" name="csrf" value="{e(csrf_token(request))}">'
        f'<input type="hidden" name="request_id" value="page-{secrets.token_hex(12)}">'
        f'<label>Note (required)<textarea name="note" id="note" required maxlength="{limits.NOTE}"></textarea></label>'
        f"{select}"
        '<button type="submit" name="decision" value="approve" id="approve">Approve</button>'
        '<button type="submit" name="decision" value="refuse" id="refuse">Refuse</button></form>'
    )


def _signed_in_name(request: web.Request) -> str | None:
    who = request.get(SIGNED_IN)
    return who.name if who is not None else None


def _access_html(account: source.Account, item: ReviewItem) -> str:
    rows = access_log.entries(account.workflow_id, item.item_id)
    lines = "".join(
        f"<tr><td>{e(r.at.isoformat(timespec='seconds'))}</td><td>{e(r.operator)}</td><td>{e(r.what)}</td>"
        f"<td>{e(r.note)}</td></tr>"
        for r in rows
    )
    return (
        '<h2>Who looked, who decided</h2><table id="access-log"><tr><th>at</th><th>operator</th><th>what</th>'
        f"<th>note</th></tr>{lines}</table>"
    )


# ---------------------------------------------------------------------------------------------- files


async def evidence_file(request: web.Request) -> web.StreamResponse:
    opened = await _signed_in(request, _account)
    if isinstance(opened, web.Response):
        return opened
    who, (account, item) = opened
    n = int(request.match_info["n"])
    if n >= len(item.evidence) or item.evidence[n].ref is None:
        return _refusal_page(404, "no_such_evidence", "There is no such piece of evidence.")
    ev = item.evidence[n]
    assert ev.ref is not None
    await _log(who, account, item, f"view_{ev.kind}")
    return await _file(ev.ref, f"{ev.kind}-{n + 1}", account.workflow_id)


async def listing_image(request: web.Request) -> web.StreamResponse:
    opened = await _signed_in(request, _account)
    if isinstance(opened, web.Response):
        return opened
    who, (account, item) = opened
    product_id = request.match_info["product_id"]
    shown = await asyncio.to_thread(source.links, account.member_id, None)
    listing = next((li for link in shown for li in link.listings if li.product_id == product_id), None)
    if listing is None or listing.image_ref is None:
        return _refusal_page(404, "no_such_evidence", "There is no such listing on this account's links.")
    await _log(who, account, item, "view_listing_image")
    return await _file(listing.image_ref, f"listing-{product_id}", account.workflow_id)


async def _file(ref: str, name: str, scope: str) -> web.Response:
    try:
        data = await asyncio.to_thread(blobs.read_bytes, ref, max_bytes=LIMITS.max_bytes, scope=scope)
    except blobs.BlobError:
        return _refusal_page(404, "evidence_missing", "The file is no longer kept.")
    png = await asyncio.to_thread(reencoded, data)
    if png is not None:
        response = web.Response(body=png, content_type="image/png")
    else:  # not a picture: never rendered, only downloaded
        response = web.Response(
            body=data,
            content_type="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{name}.bin"'},
        )
    _harden(response)
    return response


# ---------------------------------------------------------------------------------------------- decide


async def _form(request: web.Request) -> dict[str, str] | web.Response:
    """The page's own form, from the page itself (same origin, the session's token), or the refusal."""
    if not _same_origin(request):
        return _refusal_page(403, "cross_site_refused", "Decide from the evidence page itself.")
    body = await request.content.read(MAX_FORM + 1)
    if len(body) > MAX_FORM:
        return _refusal_page(413, "form_too_large", "The form is too large.")
    form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode(errors="replace")).items()}
    if not hmac.compare_digest(form.get("csrf", ""), csrf_token(request)):
        return _refusal_page(403, "form_token_invalid", "Open the item's page again and decide from it.")
    return form


def _signer(request: web.Request, who: Principal, account: source.Account, command: str) -> Any:
    """Signs a message in the operator's name, bound to that message (security/binding.py)."""
    desk = request.app[DESK]
    return lambda message: credentials.sign(
        role="operator",
        actor=who.name,
        account=account.member_id,
        command=command,
        now=datetime.now(UTC),
        ttl=desk.signer.ttl,
        keys=desk.signer.keys,
        payload=message,
    )


def _request_id(form: dict[str, str]) -> str:
    """The form's request id (the page draws one per form, so a form sent twice acts once)."""
    return form.get("request_id", "")[:64] or f"page-{secrets.token_hex(12)}"


def _back_to_item(account: source.Account, item: ReviewItem) -> web.Response:
    """After a claim or a decision: the item's page again (a reload never sends the form twice)."""
    response = web.Response(status=303, headers={"Location": item_url(account.workflow_id, item.item_id)})
    _harden(response)
    return response


async def claim(request: web.Request) -> web.StreamResponse:
    posted = await _signed_in(request, _form)
    if isinstance(posted, web.Response):
        return posted
    who, form = posted
    found = await _account(request)
    if isinstance(found, web.Response):
        return found
    account, item = found
    desk = request.app[DESK]
    if not desk.signer.keys or not account.from_account:
        return _refusal_page(503, "signing_off", "Claiming is not available here: use starter.py review claim.")
    release = form.get("release") == "1"
    await _log(who, account, item, "release" if release else "claim")
    refusal = await source.claim(
        await desk.temporal(),
        account,
        item,
        operator=who.name,
        sign=_signer(request, who, account, "claim_review"),
        release=release,
        request_id=_request_id(form),
    )
    if refusal is not None:
        await _log(who, account, item, f"refused_{refusal.code}")
        return await item_page(request, refusal=refusal, status=409)
    return _back_to_item(account, item)


async def decide(request: web.Request) -> web.StreamResponse:
    posted = await _signed_in(request, _form)
    if isinstance(posted, web.Response):
        return posted
    who, form = posted
    decision = form.get("decision", "")
    note = form.get("note", "").strip()
    request_id = _request_id(form)
    code = form.get("code", "").strip() or None
    if decision not in (review.APPROVE, review.REFUSE):
        return _refusal_page(400, "decision_unknown", "Approve or refuse.")
    if not note or len(note) > limits.NOTE:
        return _refusal_page(
            400, "note_required", f"A decision needs a note (at most {limits.NOTE} characters)."
        )
    found = await _account(request)
    if isinstance(found, web.Response):
        return found
    account, item = found
    codes = review.REFUSAL_CODES.get(item.rule, ())
    if decision == review.REFUSE and account.from_account and codes and code not in codes:
        return _refusal_page(400, "code_required", f"Refusing under {item.rule} needs a reason: {', '.join(codes)}.")
    desk = request.app[DESK]
    if not desk.signer.keys:
        return _refusal_page(503, "signing_off", "This server holds no operator signing key: use starter.py.")
    sign = _signer(request, who, account, source.decision_command(account))
    await _log(who, account, item, f"decide_{decision}", note)
    refusal = await source.decide(
        await desk.temporal(),
        account,
        item,
        approve=decision == review.APPROVE,
        note=note,
        operator=who.name,
        sign=sign,
        request_id=request_id,
        code=code,
    )
    if refusal is not None:
        log.info("%s's decision on %s refused: %s %s", who.name, item.item_id, refusal.rule, refusal.code)
        await _log(who, account, item, f"refused_{refusal.code}")
        return await item_page(request, refusal=refusal, status=409)
    log.info("%s decided %s on %s", who.name, decision, item.item_id)
    return _back_to_item(account, item)
