"""Request counts, so that tests and benchmarks can assert the API calls an operation costs.

Every request that reaches the API counts once, by kind (read or write; a batch is one
request) and by endpoint (``values.batchGet``, ``spreadsheets.batchUpdate``...), whatever it
was answered; the answers are counted by status, and batchUpdate's requests by their kind.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.reads = self.writes = 0
            self.by_endpoint: Counter[str] = Counter()
            self.by_status: Counter[str] = Counter()
            self.batch_requests: Counter[str] = Counter()

    @property
    def total(self) -> int:
        return self.reads + self.writes

    def count(self, endpoint: str, kind: str, body: Any = None) -> None:
        with self._lock:
            if kind == "read":
                self.reads += 1
            else:
                self.writes += 1
            self.by_endpoint[endpoint] += 1
            if endpoint == "spreadsheets.batchUpdate" and isinstance(body, dict):
                for request in body.get("requests") or []:
                    if isinstance(request, dict):
                        self.batch_requests.update(request.keys())

    def answered(self, status: int | str) -> None:
        with self._lock:
            self.by_status[str(status)] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": self.reads + self.writes,
                "reads": self.reads,
                "writes": self.writes,
                "byEndpoint": dict(self.by_endpoint),
                "byStatus": dict(self.by_status),
                "batchUpdateRequests": dict(self.batch_requests),
            }
