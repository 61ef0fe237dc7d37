"""The Flask application: web-form webhooks in, task endpoints for cron, health and status.

``create_app(test_config=None)`` reads ``SHEETCRM_*`` settings from the environment, or
from ``test_config`` (the same names) in tests, which may also give the service a ``clock``
of their own. Nothing is read at import time. Every
error, ours or the framework's, is answered as JSON with a message and a hint.
Run it with ``sheetcrm serve`` locally, or ``gunicorn 'sheetcrm.service.web:create_app()'``.
"""

from __future__ import annotations

import hmac
import io
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from sheetcrm.errors import IntakeError
from sheetcrm.intake.activity import ACTIVITY, activity_key, activity_row
from sheetcrm.intake.adapters import SOURCES, adapt
from sheetcrm.intake.payload import loads
from sheetcrm.intake.signatures import verify
from sheetcrm.service import background, secret_manager
from sheetcrm.service.openapi import openapi
from sheetcrm.service.tasks import Service, logs, starting
from sheetcrm.service.unsubscribe_page import bp as unsubscribe_bp

bp = Blueprint("sheetcrm", __name__)
JSON_TYPES = ("application/json",)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def service() -> Service:
    svc: Service = current_app.extensions["sheetcrm"]
    return svc


class Refused(Exception):
    """A request we answer with a 4xx: what is wrong, and what to do instead."""

    def __init__(self, status: int, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.status, self.message, self.hint = status, message, hint


@bp.post("/hooks/activity")
def activity_hook() -> tuple[Response, int]:
    """A touch from a dialer or an e-mail tool: stored in the outbox under its key, appended
    to the Activities tab by the next flush (intake/activity.py)."""
    g.source = ACTIVITY
    svc = service()
    body = _checked_body(svc, ACTIVITY, "send the touch as a JSON object")
    payload = _payload(body)
    row = activity_row(payload)
    assert isinstance(payload, dict)  # activity_row refused anything else
    key = activity_key(payload, body)
    g.key = key
    stored = svc.outbox.put(key, ACTIVITY, json.dumps(row, sort_keys=True), time.time())
    if stored is None:
        return jsonify(status="duplicate", key=key), 200
    return jsonify(status="accepted", key=stored), 202


@bp.post("/hooks/<source>")
def hook(source: str) -> tuple[Response, int]:
    source = source.lower()
    g.source = source
    if source not in SOURCES:
        raise Refused(404, f"no webhook for {source!r}", f"use one of: {', '.join(SOURCES)}")
    svc = service()
    body = _checked_body(svc, source, "send the form's answers as JSON")
    submission = adapt(source, _payload(body))
    key = submission.key()
    g.key = key
    stored = svc.outbox.put(key, source, submission.to_json(), time.time())
    if stored is None:
        return jsonify(status="duplicate", key=key), 200
    if stored != key:
        g.key = stored
        logs.event(
            "a submission reused the key of an earlier, different one: stored under a new "
            "key, its lead flagged",
            logging.WARNING,
            kind="reused-key",
            source=source,
            key=key,
            stored_as=stored,
        )
        return jsonify(status="accepted", key=stored, reused_key=key), 202
    return jsonify(status="accepted", key=key), 202


def _checked_body(svc: Service, source: str, hint: str) -> bytes:
    """The body of a post to ``/hooks/<source>``, its signature or token checked when the
    source has a secret; refused when empty (``hint``: what to send)."""
    body = _body(svc.config.max_body)
    secret = svc.config.secrets.get(source)
    if secret is not None:  # an empty one refuses every post: verification fails closed
        # Jotform and plain HTML forms cannot set a header: ?token= instead
        verify(source, secret, body, dict(request.headers), request.args.get("token"))
    if not body.strip():
        raise Refused(400, "the request has no body", hint)
    return body


def _body(limit: int) -> bytes:
    """The request's body, refused (413) past ``limit`` bytes. Werkzeug refuses a longer
    Content-Length itself, but reads a chunked body (no Content-Length) only up to its limit
    and hands on that much as if it were all of it: the limit it is given is one byte more
    than ours (create_app), so that a body over ours shows itself here."""
    body = request.get_data(cache=True, parse_form_data=False)
    if len(body) > limit:
        raise RequestEntityTooLarge()
    return body


def _payload(body: bytes) -> object:
    kind = (request.mimetype or "").lower()
    if kind in JSON_TYPES or kind.endswith("+json"):
        try:
            return loads(body)
        except (ValueError, RecursionError) as exc:  # ValueError covers bad UTF-8 too
            raise Refused(
                400, f"the body is not valid JSON ({exc})", "check the payload's syntax"
            ) from exc
    if kind in FORM_TYPES:
        form = _form(body, kind)
        return {k: ", ".join(v for v in form.getlist(k)) for k in form}
    raise Refused(
        415,
        f"content type {kind or 'none'!r} is not accepted",
        "send application/json, application/x-www-form-urlencoded or multipart/form-data",
    )


def _form(body: bytes, kind: str) -> MultiDict[str, str]:
    """The form's fields. ``request.form`` makes a broken multipart body (cut short, no
    boundary) an empty form, which would be answered "the post has no answers"."""
    parser = request.make_form_data_parser()
    parser.silent = False
    try:
        _, form, _ = parser.parse(io.BytesIO(body), kind, len(body), request.mimetype_params)
    except ValueError as exc:
        raise Refused(
            400,
            f"the {kind} body is malformed ({exc})",
            "send every part between boundaries named in the Content-Type, ending with "
            "the closing boundary, or send JSON",
        ) from exc
    return form


def _authorised() -> None:
    """Task endpoints: a bearer token, or App Engine's cron header where it can be trusted."""
    config = service().config
    if config.trust_cron_header and request.headers.get("X-Appengine-Cron") == "true":
        return
    if not config.task_token:
        raise Refused(
            403,
            "task endpoints are turned off",
            "set SHEETCRM_TASK_TOKEN and send it as 'Authorization: Bearer <token>'",
        )
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if not (
        scheme.lower() == "bearer"
        and hmac.compare_digest(given.strip().encode(), config.task_token.encode())
    ):
        raise Refused(401, "missing or wrong bearer token", "send 'Authorization: Bearer <token>'")


@bp.route("/tasks/flush", methods=["GET", "POST"])  # App Engine cron sends GET
def task_flush() -> tuple[Response, int]:
    _authorised()
    svc = service()
    svc.release_dead()  # with cron alone (no background work), a dead instance's claims too
    report = svc.flush()
    svc.keep_retention()
    outbox = svc.outbox.stats(time.time())
    answer: dict[str, Any] = {"ok": not report.error, **report.as_log(), "outbox": outbox}
    if outbox["in_backoff"]:
        # "claimed 0" alone reads as "nothing to do" while submissions wait
        answer["note"] = (
            f"{outbox['in_backoff']} pending submissions wait out a backoff; the next try is "
            f"at {outbox['next_try_at']} (in {outbox['next_try_in_seconds']:.0f} s); "
            "`sheetcrm outbox retry --now` makes them due at once"
        )
    return jsonify(answer), 200 if not report.error else 503


@bp.route("/tasks/sync", methods=["GET", "POST"])
def task_sync() -> tuple[Response, int]:
    _authorised()
    result = service().sync()
    return jsonify(result), 200 if result["ok"] else 503


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(ok=True)


@bp.get("/_ah/warmup")
def warmup() -> Response:
    """App Engine's warmup request, sent to a new instance before its first real one: open
    the outbox's first connection (Cloud SQL's takes a while) before a webhook waits on it."""
    service().outbox.has_due(time.time())
    return jsonify(ok=True)


@bp.get("/status")
def status() -> Response:
    _authorised()
    return jsonify(service().status())


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(openapi())


def _error(status: int, message: str, hint: str = "") -> tuple[Response, int]:
    g.refused = message  # for the request's log line: our own words, never what was sent
    body: dict[str, Any] = {"error": message}
    if hint:
        body["hint"] = hint
    return jsonify(body), status


def create_app(
    test_config: Mapping[str, str] | None = None, clock: Callable[[], datetime] | None = None
) -> Flask:
    """``clock``: the service's time (aware, UTC) for its syncs, flushes, sends and
    unsubscribes; tests move it past a sequence's waits. Unset: the real time."""
    app = Flask(__name__)
    given = os.environ if test_config is None else test_config
    settings = {**given, **secret_manager.resolve(given)}
    config = starting(settings, serves=True)
    app.config["MAX_CONTENT_LENGTH"] = config.max_body + 1  # see _body
    app.config["MAX_FORM_MEMORY_SIZE"] = config.max_body
    svc = Service(config) if clock is None else Service(config, clock=clock)
    app.extensions["sheetcrm"] = svc
    app.register_blueprint(bp)
    app.register_blueprint(unsubscribe_bp)

    @app.errorhandler(Refused)
    def refused(exc: Refused) -> tuple[Response, int]:
        return _error(exc.status, exc.message, exc.hint)

    @app.errorhandler(IntakeError)
    def intake_error(exc: IntakeError) -> tuple[Response, int]:
        return _error(exc.status, exc.message, exc.hint)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response, int]:
        hints = {
            404: "the endpoints are /hooks/<source>, /tasks/sync, /tasks/flush, /healthz, /status, "
            "/openapi.json",
            405: "see /openapi.json for the methods each endpoint takes",
            413: f"the limit is {config.max_body} bytes (SHEETCRM_MAX_BODY_BYTES)",
        }
        response, status = _error(
            exc.code or 500, exc.description or exc.name, hints.get(exc.code or 0, "")
        )
        for name, value in exc.get_headers():  # a 405's Allow (RFC 9110 requires it)
            if name.casefold() != "content-type":
                response.headers[name] = value
        return response, status

    @app.errorhandler(SQLAlchemyError)
    def outbox_down(exc: SQLAlchemyError) -> tuple[Response, int]:
        logs.event("outbox unavailable", 40, kind="error", error=type(exc).__name__)
        response, status = _error(
            503, "the submission could not be stored", "send it again; nothing was kept"
        )
        response.headers["Retry-After"] = "5"
        return response, status

    @app.before_request
    def started() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def log_request(response: Response) -> Response:
        status = response.status_code
        # A refused credential is a vendor or a scheduler set up with the wrong secret (or
        # someone guessing): the operator must see it among the requests, and why.
        level = logging.WARNING if status in (401, 403) else logging.INFO
        reason = {"refused": g.refused} if status >= 400 and "refused" in g else {}
        logs.event(
            "request",
            level,
            kind="request",
            method=request.method,
            # never the query string (some vendors put tokens there), nor an unsubscribe token
            path=g.get("logged_path", request.path),
            status=status,
            ms=round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 2),
            source=g.get("source", ""),
            key=g.get("key", ""),
            **reason,
        )
        return response

    if config.background and not background.elsewhere():
        svc.start()
    return app
