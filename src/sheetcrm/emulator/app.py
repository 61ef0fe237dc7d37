"""The WSGI app: Google's URL paths under /v4/spreadsheets, the simulated limits around them,
the "human edit" hooks between requests, and /_emulator/ for counts and settings.

A request goes: counted -> delayed (latency) -> admitted or failed (scripted or random
fault, dropped connection, quota) -> hooks that are due run -> served. Any or no
Authorization header is accepted.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from werkzeug.wrappers import Request, Response

from sheetcrm.emulator import batch_update, spreadsheets_api, values_api
from sheetcrm.emulator.call import Call
from sheetcrm.emulator.collector import held_back
from sheetcrm.emulator.errors import (
    PAYLOAD_LIMIT,
    ApiError,
    bad_request,
    not_found,
    payload_too_large,
)
from sheetcrm.emulator.faults import DROP, DROP_AFTER, Limits
from sheetcrm.emulator.stats import Stats
from sheetcrm.emulator.store import Spreadsheet, Store

BookHandler = Callable[[Spreadsheet, Call], dict[str, Any]]
_ID = r"/v4/spreadsheets/(?P<id>[^/:]+)"
_ROUTES: list[tuple[str, str, str, str, Any]] = [
    # method, path pattern (percent-encoded), endpoint name, kind, handler
    ("POST", r"/v4/spreadsheets", "spreadsheets.create", "write", spreadsheets_api.create),
    ("GET", _ID, "spreadsheets.get", "read", spreadsheets_api.get),
    ("POST", _ID + ":batchUpdate", "spreadsheets.batchUpdate", "write", batch_update.batch_update),
    ("GET", _ID + "/values:batchGet", "values.batchGet", "read", values_api.batch_get),
    ("POST", _ID + "/values:batchUpdate", "values.batchUpdate", "write", values_api.batch_update),
    ("POST", _ID + "/values:batchClear", "values.batchClear", "write", values_api.batch_clear),
    (
        "POST",
        _ID + "/values:batchGetByDataFilter",
        "values.batchGetByDataFilter",
        "read",
        values_api.batch_get_by_data_filter,
    ),
    (
        "POST",
        _ID + "/values:batchUpdateByDataFilter",
        "values.batchUpdateByDataFilter",
        "write",
        values_api.batch_update_by_data_filter,
    ),
    (
        "POST",
        _ID + "/values:batchClearByDataFilter",
        "values.batchClearByDataFilter",
        "write",
        values_api.batch_clear_by_data_filter,
    ),
    ("POST", _ID + "/values/(?P<range>.+):append", "values.append", "write", values_api.append),
    ("POST", _ID + "/values/(?P<range>.+):clear", "values.clear", "write", values_api.clear),
    ("GET", _ID + "/values/(?P<range>.+)", "values.get", "read", values_api.get),
    ("PUT", _ID + "/values/(?P<range>.+)", "values.update", "write", values_api.update),
    (
        "POST",
        _ID + "/developerMetadata:search",
        "developerMetadata.search",
        "read",
        spreadsheets_api.search_metadata,
    ),
    (
        "GET",
        _ID + "/developerMetadata/(?P<extra>[^/]+)",
        "developerMetadata.get",
        "read",
        spreadsheets_api.get_metadata,
    ),
]
ROUTES = [(m, re.compile(p), e, k, h) for m, p, e, k, h in _ROUTES]


def _route(method: str, path: str) -> tuple[str, str, Any, re.Match[str]]:
    """(endpoint, kind, handler, match) of a request; 404 when no route fits."""
    for route_method, pattern, endpoint, kind, handler in ROUTES:
        match = pattern.fullmatch(path)
        if match and method == route_method:
            return endpoint, kind, handler, match
    raise not_found()


@dataclass(frozen=True)
class RequestInfo:
    """What a hook's ``when`` sees of the request about to be served."""

    method: str
    endpoint: str
    kind: str  # "read" or "write"
    spreadsheet_id: str
    range: str
    body: Any
    args: Mapping[str, list[str]] = field(default_factory=dict)  # the query's parameters


@dataclass
class Hook:
    callback: Callable[[Store], None]
    when: Callable[[RequestInfo], bool] | None = None
    once: bool = True


class EmulatorApp:
    def __init__(self, store: Store, limits: Limits) -> None:
        self.store, self.limits, self.stats = store, limits, Stats()
        self.lock = threading.RLock()  # held while a request (and its hooks) touch the store
        self.hooks: list[Hook] = []
        self.errors: list[Exception] = []  # raised by hooks, or by the emulator itself

    def before_request(
        self,
        callback: Callable[[Store], None],
        when: Callable[[RequestInfo], bool] | None = None,
        once: bool = True,
    ) -> Hook:
        """Run ``callback(store)`` before the next request (for which ``when(info)`` holds),
        between it and the one before: a person's edit landing between two API calls."""
        hook = Hook(callback, when, once)
        with self.lock:
            self.hooks.append(hook)
        return hook

    # -- WSGI -------------------------------------------------------------------------------

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        request = Request(environ)
        path = urlsplit(environ.get("RAW_URI") or environ.get("REQUEST_URI") or request.path).path
        if path.startswith("/_emulator/"):
            return self._control(request, path)(environ, start_response)
        with held_back():  # the answer made and encoded too
            return self._answer(request, path, environ, start_response)

    def _answer(
        self,
        request: Request,
        path: str,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
    ) -> Iterable[bytes]:
        try:
            status, body = self._api(request, path, environ)
        except ApiError as exc:
            status, body = exc.code, exc.body()
        except ConnectionAbortedError:
            raise  # a dropped connection: no answer at all
        except Exception as exc:  # a bug in the emulator: answer, and keep it for the tests
            self.errors.append(exc)
            status, body = 500, ApiError(500, f"Internal error encountered. ({exc!r})").body()
        self.stats.answered(status)
        return _json(status, body)(environ, start_response)

    def _api(self, request: Request, path: str, environ: dict[str, Any]) -> tuple[int, Any]:
        endpoint, kind, handler, match = _route(request.method, path)
        params = {k: unquote(v) for k, v in match.groupdict().items()}
        body: dict[str, Any] = {}
        try:
            body = _body(request)
        finally:
            self.stats.count(endpoint, kind, body)  # a bad body counts too
        self.limits.delay()
        fate = self.limits.admit(kind)
        if fate == DROP:
            _drop(environ, self.stats)
        if isinstance(fate, ApiError):
            raise fate
        call = Call(
            request.args.to_dict(flat=False), body, params.get("range", ""), params.get("extra", "")
        )
        info = RequestInfo(
            request.method, endpoint, kind, params.get("id", ""), call.range, body, call.args
        )
        with self.lock:
            self._run_hooks(info)
            if "id" in params:
                answer = handler(self.store.open(params["id"]), call)
            else:
                answer = handler(self.store, call)
        if fate == DROP_AFTER:
            _drop(environ, self.stats)
        return 200, answer

    def _run_hooks(self, info: RequestInfo) -> None:
        for hook in list(self.hooks):
            if hook.when is not None and not hook.when(info):
                continue
            if hook.once:
                self.hooks.remove(hook)
            try:
                hook.callback(self.store)
            except Exception as exc:
                self.errors.append(exc)
                raise ApiError(500, f"emulator hook failed: {exc!r}") from exc

    # -- /_emulator/ ------------------------------------------------------------------------

    def _control(self, request: Request, path: str) -> Response:
        if path == "/_emulator/stats" and request.method == "GET":
            return _json(200, self.stats.snapshot())
        if path == "/_emulator/stats" and request.method == "DELETE":
            self.stats.reset()
            return _json(200, {})
        if path == "/_emulator/limits" and request.method in ("GET", "PATCH", "POST"):
            try:
                if request.method != "GET":
                    configure(self.limits, _body(request))
            except (ApiError, TypeError, ValueError) as exc:
                return _json(400, {"error": {"code": 400, "message": str(exc)}})
            return _json(200, limits_json(self.limits))
        return _json(404, not_found().body())


SETTINGS = ("read_quota", "write_quota", "window", "latency_ms", "fault_rate", "drop_rate")


def configure(limits: Limits, changes: dict[str, Any]) -> None:
    """Change the limits from a JSON object: any of SETTINGS, ``seed``, ``inject`` (a list)."""
    unknown = set(changes) - {*SETTINGS, "seed", "inject"}
    if unknown:
        raise ValueError(f"unknown settings: {sorted(unknown)}")
    for name in SETTINGS:
        if name in changes:
            setattr(limits, name, changes[name])
    if "seed" in changes:
        limits.reseed(int(changes["seed"]))
    limits.inject(*changes.get("inject", []))


def limits_json(limits: Limits) -> dict[str, Any]:
    return {name: getattr(limits, name) for name in SETTINGS}


def _body(request: Request) -> dict[str, Any]:
    if (request.content_length or 0) > PAYLOAD_LIMIT:
        raise payload_too_large()  # before reading it, as Google's front end does
    raw = request.get_data(cache=True)
    if len(raw) > PAYLOAD_LIMIT:  # sent without a length
        raise payload_too_large()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise bad_request("Invalid JSON payload received.") from None
    if not isinstance(body, dict):
        raise bad_request("Invalid JSON payload received. Expected an object.")
    return body


def _drop(environ: dict[str, Any], stats: Stats) -> None:
    """Close the connection without an answer, as a network failure would."""
    stats.answered("dropped")
    connection = environ.get("werkzeug.socket")
    if connection is not None:
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RDWR)
    raise ConnectionAbortedError("connection dropped by the emulator")


def _json(status: int, body: Any) -> Response:
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return Response(text, status=status, content_type="application/json; charset=UTF-8")
