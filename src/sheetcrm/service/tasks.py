"""The running service: its settings, the outbox, and the flushes and syncs it runs.

Settings come from ``SHEETCRM_*`` environment variables (secrets included: they never live
in the sheet). The background work flushes the outbox within a second or so of submissions
arriving and syncs the sheet every "Sync every minutes" (Settings): in a thread under
``sheetcrm serve``, in a process of its own under gunicorn (:mod:`sheetcrm.service.background`).
``/tasks/flush`` and ``/tasks/sync`` do the same on demand, for cron. One flush or sync at
a time per process; across processes and instances, the sheet's lease and the outbox's
claims keep them apart.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from traceback import extract_tb
from typing import Any

from sheetcrm.backends import open_backend
from sheetcrm.backends.apply import sync_once
from sheetcrm.backends.base import SheetBackend
from sheetcrm.backends.holders import abandoned, new_holder
from sheetcrm.backends.sheets_address import spreadsheet_id
from sheetcrm.engine.validation import Memo
from sheetcrm.errors import ConfigError, SheetCRMError
from sheetcrm.intake.adapters import SOURCES
from sheetcrm.intake.flusher import FlushReport, flush
from sheetcrm.intake.outbox import Outbox
from sheetcrm.intake.run_log import RunLog
from sheetcrm.intake.signatures import secret_variable
from sheetcrm.service import background, logs

MAX_BODY_BYTES = 1024 * 1024
# The most SHEETCRM_MAX_BODY_BYTES may be: App Engine refuses requests over 32 MB anyway, and
# each of a worker's threads may hold a body of that size in memory.
MAX_BODY_LIMIT = 32 * 1024 * 1024
# Submissions per flush. A flush costs 3 write requests (take the lease; History rows and the
# lease's release in one values:batchUpdate; the new leads in one values:append) whatever its
# size, and reads and re-plans the whole sheet: 4,000 makes that 0.75 writes per 1,000 leads
# and lets the 60 writes a minute carry ~80,000 leads a minute, while each request stays
# under Google's recommended 2 MB (about 1.45 MB of leads and 1 MB of History at 4,000 web
# leads of bench/intake.py). At 1,000 it was 3 writes per 1,000, over issue 4's target once
# grid growth was counted, and the quota capped the drain at ~20,000 leads a minute.
FLUSH_BATCH = 4000
POLL_SECONDS = 1.0  # how often the background work looks for due submissions


@dataclass
class ServiceConfig:
    sheet: str
    outbox_url: str
    task_token: str = ""
    secrets: dict[str, str] = field(default_factory=dict)  # source -> secret
    max_body: int = MAX_BODY_BYTES
    background: bool = True
    flush_every: float = 5.0  # seconds between flushes at most: 3 write requests each
    batch: int = FLUSH_BATCH
    trust_cron_header: bool = False  # only on App Engine, which strips it from outside requests

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ServiceConfig:
        sheet = env.get("SHEETCRM_SHEET", "").strip()
        if not sheet:
            raise ConfigError(
                "SHEETCRM_SHEET is not set",
                "set it to the sheet's URL or ID, or a workbook path: SHEETCRM_SHEET=crm.xlsx",
            )
        return cls(
            sheet=sheet,
            outbox_url=env.get("SHEETCRM_OUTBOX", "").strip() or default_outbox(sheet),
            task_token=_task_token(env),
            secrets=_secrets(env),
            max_body=_int(env, "SHEETCRM_MAX_BODY_BYTES", MAX_BODY_BYTES, MAX_BODY_LIMIT),
            background=background.wanted(env),
            flush_every=float(_int(env, "SHEETCRM_FLUSH_SECONDS", 5)),
            batch=_int(env, "SHEETCRM_FLUSH_BATCH", FLUSH_BATCH),
            trust_cron_header=bool(env.get("GAE_APPLICATION")),
        )


MIN_TOKEN_CHARS = 16
PLACEHOLDER_TOKEN = "change-me"  # secret.example.yaml's


def _task_token(env: Mapping[str, str]) -> str:
    """Empty turns the task endpoints off; anything else must be hard to guess: the token
    lets a caller flush, sync and read /status, and the example file's placeholder is public."""
    token = env.get("SHEETCRM_TASK_TOKEN", "").strip()
    if token and (token == PLACEHOLDER_TOKEN or len(token) < MIN_TOKEN_CHARS):
        what = "is the example's placeholder" if token == PLACEHOLDER_TOKEN else "is too short"
        raise ConfigError(
            f"SHEETCRM_TASK_TOKEN {what} (at least {MIN_TOKEN_CHARS} characters)",
            'make one with: python3 -c "import secrets; print(secrets.token_urlsafe(32))"',
        )
    return token


def _secrets(env: Mapping[str, str]) -> dict[str, str]:
    """source -> secret. A variable that is set always counts, even empty (verification
    then refuses every post: it fails closed), and one that names no source is an error:
    a typo must not leave the real source unsigned."""
    prefix = "SHEETCRM_SECRET_"
    secrets = {}
    for name, value in env.items():
        if not name.startswith(prefix):
            continue
        source = name[len(prefix) :].lower().replace("_", "-")
        if source not in SOURCES:
            known = ", ".join(secret_variable(s) for s in SOURCES)
            raise ConfigError(f"{name} names no form source", f"use one of: {known}")
        secrets[source] = value
    return secrets


def _int(env: Mapping[str, str], name: str, default: int, most: int | None = None) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"{name}={text!r} is not a whole number", f"write it like {default}")
    if most is not None and int(text) > most:
        raise ConfigError(f"{name}={text} is more than it may be ({most})", f"write {most} or less")
    return int(text)


def default_outbox(sheet: str) -> str:
    """Beside a workbook, ``crm.xlsx`` -> ``crm.outbox.sqlite3``; for a Google Sheet, in the
    working folder. (On App Engine that folder is read-only: use PostgreSQL there.)"""
    if spreadsheet_id(sheet):
        return f"sqlite:///{Path('sheetcrm-outbox.sqlite3').resolve()}"
    path = Path(sheet).resolve()
    return f"sqlite:///{path.with_name(path.stem + '.outbox.sqlite3')}"


class Service:
    def __init__(
        self,
        config: ServiceConfig,
        opener: Callable[[str], SheetBackend] = open_backend,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.outbox = Outbox(config.outbox_url)
        self.runs = RunLog(self.outbox.db)
        self.opener, self.clock = opener, clock
        self.worker = new_holder()
        self.outbox.release(abandoned)  # claims of a process killed on this machine
        self.memo = Memo()
        self._one_at_a_time = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._backend: SheetBackend | None = None
        self.sync_minutes = 15.0

    def _open(self) -> SheetBackend:
        """The sheet, opened once and kept: a Google backend remembers tab IDs and grids."""
        if self._backend is None:
            self._backend = self.opener(self.config.sheet)
        return self._backend

    # -- work ------------------------------------------------------------------------------

    def flush(self) -> FlushReport:
        started = time.perf_counter()
        with self._one_at_a_time, self.outbox.flush_turn() as mine:
            if not mine:
                return FlushReport()  # another process is flushing this outbox right now
            try:
                report = flush(
                    self.outbox,
                    self._open(),
                    self.clock,
                    self.worker,
                    self.config.batch,
                    self.memo,
                )
            except SheetCRMError as exc:  # opening the sheet failed: nothing was claimed
                report = FlushReport(error=str(exc))
            if report.error:
                self._backend = None  # open it afresh next time
        seconds = time.perf_counter() - started
        if report.claimed or report.error:
            self.runs.record("flush", time.time(), seconds, report.as_log(), report.error)
            level = logging.WARNING if report.error else logging.INFO
            logs.event("flush", level, kind="flush", seconds=round(seconds, 3), **report.as_log())
        return report

    def sync(self) -> dict[str, Any]:
        started = time.perf_counter()
        summary: dict[str, Any] = {}
        error = ""
        with self._one_at_a_time:
            try:
                now = self.clock()
                plan, applied = sync_once(self._open(), now, now, self.memo, self.worker)
                summary = {
                    **vars(plan.summary),
                    "cells_written": applied.cells,
                    "rows_appended": applied.appended,
                    "tabs_rewritten": applied.replaced,
                    "conflicts": applied.conflicts,
                    "moved": applied.moved,
                    "leftovers_removed": applied.leftovers,
                }
                self.sync_minutes = float(plan.settings["Sync every minutes"])
            except SheetCRMError as exc:
                error = str(exc)
                self._backend = None
        seconds = time.perf_counter() - started
        self.runs.record("sync", time.time(), seconds, summary, error)
        level = logging.WARNING if error else logging.INFO
        logs.event("sync", level, kind="sync", seconds=round(seconds, 3), error=error, **summary)
        return {"ok": not error, "seconds": round(seconds, 3), "summary": summary, "error": error}

    def status(self) -> dict[str, Any]:
        return {
            "outbox": self.outbox.stats(time.time()),
            **self.runs.latest(),
            "sync_every_minutes": self.sync_minutes,
            "background": self._thread is not None and self._thread.is_alive(),
        }

    # -- the background work ---------------------------------------------------------------

    def start(self) -> None:
        """Run the background work in a thread of this process (``sheetcrm serve``); under
        gunicorn it runs in a process of its own instead (:mod:`sheetcrm.service.background`)."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self.run, args=(self._stop,), name="sheetcrm-background", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.outbox.close()

    def run(self, stop: threading.Event) -> None:
        """Sync every "Sync every minutes", and flush whenever submissions are due, until
        ``stop`` is set. The outbox is asked every second (a cheap read), so that this works
        the same in a process that answers no webhooks itself."""
        next_sync = time.monotonic()
        next_flush = time.monotonic()
        while not stop.is_set():
            pause = POLL_SECONDS
            try:
                if time.monotonic() >= next_sync:
                    next_sync = time.monotonic() + 60  # should the sync raise: again in a minute
                    self.sync()
                    next_sync = time.monotonic() + self.sync_minutes * 60
                if time.monotonic() >= next_flush and self.outbox.has_due(time.time()):
                    started = time.monotonic()
                    next_flush = started + self.config.flush_every  # should the flush raise
                    self.flush()
                    # At least flush_every between flushes (each costs a few write requests
                    # of the sheet's quota), and three times as long as the last one took:
                    # a flush reads and plans the whole sheet, and under a burst of webhooks
                    # it must leave most of the CPU to answering them; the backlog waits
                    # safely in the outbox.
                    next_flush = started + max(
                        self.config.flush_every, 3 * (time.monotonic() - started)
                    )
            except Exception as exc:  # anything unforeseen: the background work must go on
                self._backend = None
                pause = self.config.flush_every  # and not fill the log every second
                logs.event(
                    "background work failed",
                    logging.ERROR,
                    kind="error",
                    error=type(exc).__name__,
                    # where, not what: an exception's message may quote a lead's data
                    where=[
                        f"{f.filename}:{f.lineno} {f.name}" for f in extract_tb(exc.__traceback__)
                    ],
                )
            stop.wait(pause)


def run_background(env: Mapping[str, str], exit_with: int | None = None) -> None:
    """Flush and sync until SIGTERM or SIGINT, or until process ``exit_with`` is gone (the
    gunicorn master that started this one: killed, it cannot stop us itself)."""
    logs.setup()
    service = Service(ServiceConfig.from_env(env))
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    worker = threading.Thread(target=service.run, args=(stop,), name="sheetcrm-background")
    worker.start()
    logs.event("background work started", kind="background", pid=os.getpid())
    try:
        while not stop.wait(1.0):
            if exit_with is not None and os.getppid() != exit_with:
                stop.set()
    finally:
        stop.set()
        worker.join()
        service.outbox.close()
        logs.event("background work stopped", kind="background", pid=os.getpid())
