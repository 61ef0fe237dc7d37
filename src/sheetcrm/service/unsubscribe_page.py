"""The unsubscribe page a nurture e-mail's link opens (docs/sequences.md), and the RFC 8058
one-click POST mail clients send to the same URL.

``GET /unsubscribe/<token>`` only shows whom the link stops and a button: mail scanners and
link previews fetch every URL in a message, so a GET must never unsubscribe anyone.
``POST`` (the button, or ``List-Unsubscribe=One-Click`` from a mail client, without cookies)
records the stop twice over, both idempotent: on the suppression list (notify/suppression.py),
which every sender checks at once, and as an ``unsubscribe`` activity in the intake outbox,
which the next flush appends to the Activities tab, where the sync sets Unsubscribed at on
every lead holding the address. The token (notify/unsubscribe.py) is signed and expires; an
edited, foreign or expired one gets a page that says so and what to do instead, and changes
nothing. Without SHEETCRM_UNSUBSCRIBE_SECRET no link can be checked: 404, in plain words.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from html import escape

from flask import Blueprint, Response, current_app, g, request
from sqlalchemy.exc import SQLAlchemyError

from sheetcrm.engine import unsubscribe_texts as texts
from sheetcrm.engine.catalog import LANGUAGES, speaking
from sheetcrm.engine.unsubscribe_texts import Words
from sheetcrm.intake.activity import ACTIVITY, activity_row
from sheetcrm.intake.submission import KEY_LIMIT
from sheetcrm.notify import suppression
from sheetcrm.notify.unsubscribe import PATH, BadToken, Unsubscribe, read
from sheetcrm.service import logs
from sheetcrm.service.tasks import Service

bp = Blueprint("unsubscribe", __name__)
ONE_CLICK = "One-Click"  # RFC 8058: the body is List-Unsubscribe=One-Click
TYPE = "unsubscribe"  # the Activities Type the sync reads (engine: Unsubscribed at)
LEAD_ID_LIMIT = 40  # the suppression table's lead_id column
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the token must not leave in a Referer
    "X-Robots-Tag": "noindex",
    # no script, no outside asset: the page's own style and a form back to itself only
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
}
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;"
    "line-height:1.5;color:#1f2328}section+section{border-top:1px solid #d0d7de;margin-top:2rem}"
    "button{font:inherit;padding:.6rem 1.4rem;border:0;border-radius:.3rem;background:#0b57d0;"
    "color:#fff;cursor:pointer}"
)


def _service() -> Service:
    svc: Service = current_app.extensions["sheetcrm"]
    return svc


def _languages(language: str) -> tuple[str, ...]:
    """The page's languages: the token's when it is one we speak, else every one."""
    return (language,) if language in LANGUAGES else LANGUAGES


def _text(words: str) -> str:
    """``words`` as HTML text: quotes stay quotes (they are not in an attribute)."""
    return escape(words, quote=False)


def _page(status: int, languages: tuple[str, ...], say: Callable[[], Words]) -> Response:
    """What ``say`` says, laid out once per language."""
    sections, titles = [], []
    for language in languages:
        with speaking(language):
            words = say()
        titles.append(words.title)
        paragraphs = "".join(f"<p>{_text(p)}</p>" for p in words.paragraphs)
        form = (
            f'<form method="post"><button type="submit">{_text(words.button)}</button></form>'
            if words.button
            else ""
        )
        sections.append(
            f'<section lang="{language}"><h1>{_text(words.title)}</h1>{paragraphs}{form}</section>'
        )
    html = (
        f'<!doctype html><html lang="{languages[0]}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{_text(' / '.join(titles))}</title><style>{_STYLE}</style></head>"
        f"<body>{''.join(sections)}</body></html>"
    )
    return Response(html, status, headers=HEADERS, mimetype="text/html")


def _who(token: str) -> Unsubscribe | Response:
    """Whom the token names, or the page (or 404) that answers instead."""
    g.source = TYPE
    g.logged_path = PATH + "<token>"  # the token names the address: not for the log
    svc = _service()
    secret = svc.config.nurture.secret
    if not secret:
        with speaking("en"):
            english = texts.not_set_up()
        with speaking("fr"):
            french = texts.not_set_up()
        g.refused = "unsubscribe links are not set up"
        return Response(f"{english}\n\n{french}\n", 404, headers=HEADERS, mimetype="text/plain")
    days = svc.config.nurture.days
    try:
        return read(secret, token, days * 86400)
    except BadToken as bad:
        g.refused = f"unsubscribe token {bad}"
        if bad.expired:
            return _page(410, LANGUAGES, lambda: texts.expired(days))
        return _page(400, LANGUAGES, texts.invalid)


@bp.get(PATH + "<token>")
def ask(token: str) -> Response:
    """The page naming the address, with the button. Changes nothing."""
    who = _who(token)
    if isinstance(who, Response):
        return who
    return _page(200, _languages(who.language), lambda: texts.asking(who.address))


@bp.post(PATH + "<token>")
def confirm(token: str) -> Response:
    """The button, or a mail client's one-click POST: the address stops, then a page that
    says so. Pressed twice, the second press stores nothing new."""
    who = _who(token)
    if isinstance(who, Response):
        return who
    how = "one-click" if request.form.get("List-Unsubscribe") == ONE_CLICK else "page"
    try:
        svc = _service()
        new = unsubscribe(svc, who, how, svc.clock().timestamp())
    except SQLAlchemyError as exc:
        logs.event("outbox unavailable", 40, kind="error", error=type(exc).__name__)
        g.refused = "the unsubscribe could not be stored"
        answer = _page(503, _languages(who.language), texts.unavailable)
        answer.headers["Retry-After"] = "30"
        return answer
    logs.event("unsubscribed", kind=TYPE, how=how, lead=who.lead_id, new=new)
    return _page(200, _languages(who.language), lambda: texts.done(who.address))


def activity_key(who: Unsubscribe) -> str:
    """The outbox key of the stop: one per lead and address, so a second click (or the
    mail client's POST after the person's) stores nothing new."""
    key = f"{TYPE}:{who.lead_id}:{suppression.normal(who.address)}"
    if len(key) <= KEY_LIMIT:
        return key
    digest = hashlib.sha256(suppression.normal(who.address).encode()).hexdigest()[:40]
    return f"{TYPE}:{who.lead_id[:LEAD_ID_LIMIT]}:sha256:{digest}"


def unsubscribe(svc: Service, who: Unsubscribe, how: str, now: float) -> bool:
    """Put ``who``'s address on the suppression list and its activity in the outbox; whether
    anything was new. The activity's At is when the address first asked, whichever link
    that was: its body is then the same on every click, and the outbox keeps it once. Were
    the process to die between the two writes, the next click completes the second."""
    added = suppression.suppress(svc.outbox.db, who.address, who.lead_id[:LEAD_ID_LIMIT], now, how)
    first = suppression.since(svc.outbox.db, who.address) or now
    at = datetime.fromtimestamp(first, UTC).isoformat(timespec="seconds")
    row = activity_row(
        {
            "at": at,
            "lead_id": who.lead_id,
            "email": who.address,  # stands for the lead only if the token had no Lead ID
            "type": TYPE,
            "notes": f"unsubscribed from {who.address} by the link",
        }
    )
    stored = svc.outbox.put(activity_key(who), ACTIVITY, json.dumps(row, sort_keys=True), now)
    return added or stored is not None
