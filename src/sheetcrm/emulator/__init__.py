"""A local stand-in for the Google Sheets API v4, for tests and benchmarks without Google.

It keeps spreadsheets in memory, answers on Google's URL paths with Google's JSON (checked
against real recorded answers: tests/test_emulator.py replays them), and simulates the real
limits: per-minute read and write quotas (60 each by default, as on Google), latency, server
faults, dropped connections, and a person editing the sheet between two requests::

    with Emulator(quota_per_minute=None) as emulator:
        book = emulator.store.create("CRM", sheets=["Leads"])
        os.environ["SHEETS_EMULATOR_HOST"] = emulator.host  # 127.0.0.1:PORT
        ...
        sort_leads = lambda store: store[book.spreadsheet_id].sheet("Leads").sort_rows("Name")
        emulator.before_request(sort_leads, when=lambda info: info.kind == "write")
        emulator.inject(503, DROP)  # the next two requests fail
        assert emulator.stats()["reads"] == 1

Or as a server: ``python -m sheetcrm.emulator --port 8085``.

The parts: store.py and grid.py (spreadsheets, tabs, cells), a1.py (ranges), cells.py
(RAW / USER_ENTERED and rendering), values_api.py, spreadsheets_api.py, batch_update.py,
formatting.py and metadata.py (the endpoints), faults.py and stats.py (limits and counts),
app.py (the WSGI app). Not emulated: Drive, named ranges, dimension groups, copy/cut-paste,
pixel sizes, and formulas beyond plain arithmetic (they show ``#NAME?``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from sheetcrm.emulator.app import EmulatorApp, Hook, RequestInfo
from sheetcrm.emulator.faults import DROP, DROP_AFTER, Limits, ManualClock, Outcome
from sheetcrm.emulator.store import Spreadsheet, Store

__all__ = [
    "DROP",
    "DROP_AFTER",
    "Emulator",
    "Hook",
    "ManualClock",
    "RequestInfo",
    "Spreadsheet",
    "Store",
]


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class Emulator:
    """The stand-in on a real HTTP server on 127.0.0.1, in a daemon thread.

    ``quota_per_minute`` applies to reads and to writes separately, as Google's 60 per
    minute per user does (None: no limit; ``emulator.limits.read_quota`` sets one alone).
    ``window`` is the quota's period in seconds; ``clock`` may be a :class:`ManualClock`.
    Every setting can be changed on ``emulator.limits`` while it runs.
    """

    def __init__(
        self,
        port: int = 0,
        *,
        latency_ms: float = 0.0,
        quota_per_minute: int | None = 60,
        window: float = 60.0,
        fault_rate: float = 0.0,
        drop_rate: float = 0.0,
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
        store: Store | None = None,
        log_requests: bool = False,
    ) -> None:
        self.port = port
        self.store = store if store is not None else Store(seed)
        self.limits = Limits(
            read_quota=quota_per_minute,
            write_quota=quota_per_minute,
            window=window,
            latency_ms=latency_ms,
            fault_rate=fault_rate,
            drop_rate=drop_rate,
            seed=seed,
            clock=clock,
        )
        self.app = EmulatorApp(self.store, self.limits)
        self._log_requests = log_requests
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # -- running ----------------------------------------------------------------------------

    def start(self) -> Emulator:
        handler = WSGIRequestHandler if self._log_requests else _QuietHandler
        self._server = make_server(
            "127.0.0.1", self.port, self.app, threaded=True, request_handler=handler
        )
        self.port = self._server.socket.getsockname()[1]
        server = self._server
        self._thread = threading.Thread(
            target=lambda: server.serve_forever(poll_interval=0.01),
            name="sheets-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def serve_forever(self) -> None:
        """Serve until interrupted (the command line); starts the server if need be."""
        if self._server is None:
            self.start()
        assert self._thread is not None
        try:
            while self._thread.is_alive():
                self._thread.join(timeout=0.5)
        finally:
            self.stop()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``: the value for SHEETS_EMULATOR_HOST."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    # -- for tests ---------------------------------------------------------------------------

    def before_request(
        self,
        callback: Callable[[Store], None],
        when: Callable[[RequestInfo], bool] | None = None,
        once: bool = True,
    ) -> Hook:
        """Run ``callback(store)`` between two requests, before the next one for which
        ``when(info)`` holds (every time, with ``once=False``). See :class:`RequestInfo`."""
        return self.app.before_request(callback, when, once)

    def inject(self, *outcomes: Outcome) -> None:
        """Fail the next requests in order: 429, 500, 503, DROP or DROP_AFTER."""
        self.limits.inject(*outcomes)

    def stats(self) -> dict[str, Any]:
        """Requests so far: total, reads, writes, byEndpoint, byStatus, batchUpdateRequests."""
        return self.app.stats.snapshot()

    def reset_stats(self) -> None:
        self.app.stats.reset()

    @property
    def errors(self) -> list[Exception]:
        """Exceptions raised by hooks or by the emulator itself; each request they broke
        was answered 500. A test can assert this stays empty."""
        return self.app.errors

    @property
    def lock(self) -> threading.RLock:
        """Hold it to edit the store from a test while requests may be running."""
        return self.app.lock
