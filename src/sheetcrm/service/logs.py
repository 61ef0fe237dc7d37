"""Structured logs: one JSON line per request, sync and flush.

Cloud Logging (App Engine, Cloud Run) reads ``severity`` and ``message`` from such lines.
The fields are chosen by the callers: counts, timings, sources, keys and Lead IDs; never a
secret, a body, or a lead's contact details.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

logger = logging.getLogger("sheetcrm")


class JSONLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "severity": record.levelname,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def setup(level: int = logging.INFO) -> None:
    """Send sheetcrm's logs to stderr as JSON lines (once per process)."""
    if any(isinstance(h.formatter, JSONLines) for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONLines())
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


def event(message: str, level: int = logging.INFO, **fields: Any) -> None:
    logger.log(level, message, extra={"fields": fields})
