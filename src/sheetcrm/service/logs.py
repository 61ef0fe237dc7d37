"""Structured logs: one JSON line per request, sync and flush, and per line of the servers'.

Cloud Logging (App Engine, Cloud Run) reads ``severity`` and ``message`` from such lines.
The fields are chosen by the callers: counts, timings, sources, keys and Lead IDs; never a
secret, a body, or a lead's contact details. The servers' own lines (werkzeug's under
``sheetcrm serve``, gunicorn's through gunicorn.conf.py) come through :class:`JSONLines`
too, which takes out query strings and bearer tokens: a server quotes a request line it
cannot parse, and vendors put tokens in URLs (Jotform's ``?token=``).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

logger = logging.getLogger("sheetcrm")
# werkzeug's own lines, under ``sheetcrm serve``; gunicorn's go through gunicorn.conf.py
SERVERS = ("werkzeug",)
# a query string after a path, and the credential after an Authorization scheme
SECRETS = re.compile(r"(?<=\S\?)[^\s'\"]+|(?<=\b[Bb]earer )[^\s'\"]+|(?<=\b[Bb]asic )[^\s'\"]+")


def redact(text: str) -> str:
    return SECRETS.sub("<redacted>", text)


class JSONLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "severity": record.levelname,
            "message": redact(record.getMessage()),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["error"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def setup(level: int = logging.INFO) -> None:
    """Send sheetcrm's logs and werkzeug's to stderr as JSON lines (once per process)."""
    if any(isinstance(h.formatter, JSONLines) for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONLines())
    for each in (logger, *map(logging.getLogger, SERVERS)):
        each.addHandler(handler)  # werkzeug then adds no handler of its own
        each.setLevel(level)
        each.propagate = False


def event(message: str, level: int = logging.INFO, **fields: Any) -> None:
    logger.log(level, message, extra={"fields": fields})
