"""``sheetcrm serve``'s HTTP server: werkzeug's, with no access line of its own.

Werkzeug writes one per request, query string included (a Jotform post's ``?token=<secret>``),
in a format of its own; the app already logs each request as a JSON line, by its path alone
(web.py). Werkzeug's other lines, errors, go through logs.JSONLines like every other line.
"""

from __future__ import annotations

import ssl

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from sheetcrm.service import logs


class _RequestHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Nothing: the app has logged the request already."""


def make(
    host: str, port: int, app: Flask, ssl_context: ssl.SSLContext | None = None
) -> BaseWSGIServer:
    """``ssl_context``: serve https (tests serve the unsubscribe links' https address)."""
    logs.setup()
    return make_server(
        host, port, app, threaded=True, request_handler=_RequestHandler, ssl_context=ssl_context
    )
