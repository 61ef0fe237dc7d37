"""The running service: its settings, the outbox, and the flushes and syncs it runs.

Settings come from ``SHEETCRM_*`` environment variables (secrets included: they never live
in the sheet). The background work flushes the outbox within a second or so of submissions
arriving (during a burst of them, once it is over: :mod:`sheetcrm.service.pacing`) and
syncs the sheet every "Sync every minutes" (Settings): in a thread under ``sheetcrm serve``,
in a process of its own under gunicorn (:mod:`sheetcrm.service.background`).
``/tasks/flush`` and ``/tasks/sync`` do the same on demand, for cron. One flush or sync at
a time per process; across processes and instances, the sheet's lease and the outbox's
claims keep them apart.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from traceback import extract_tb
from typing import Any

from sheetcrm.backends import open_backend
from sheetcrm.backends.apply import sync_once
from sheetcrm.backends.base import LeaseHeldError, SheetBackend
from sheetcrm.backends.holders import abandoned, unwatch, watch
from sheetcrm.engine.bulk import gc_paused
from sheetcrm.engine.validation import Memo
from sheetcrm.errors import SheetCRMError
from sheetcrm.intake.flusher import FlushReport, flush
from sheetcrm.intake.liveness import Liveness
from sheetcrm.intake.outbox import Outbox
from sheetcrm.intake.retention import DAY, purge
from sheetcrm.intake.run_log import RunLog
from sheetcrm.intake.waiting import waiting
from sheetcrm.notify.outbox import NotificationOutbox
from sheetcrm.notify.sender import Sender, SendReport
from sheetcrm.service import background, logs
from sheetcrm.service.flush_variables import fitted_batch
from sheetcrm.service.heap import release_freed
from sheetcrm.service.pacing import QUIET_SECONDS, Pacing, until_due
from sheetcrm.service.service_config import ServiceConfig

POLL_SECONDS = 1.0  # how often the background work looks for due submissions
# How often it looks while a burst holds the flushes back: the backlog starts going out
# within this of the burst's end (two small reads a look, on the outbox's indexes).
HOLD_POLL_SECONDS = 0.5
# How often the retention is applied: erasing a day's answers an hour late changes nothing,
# and an hourly query on a partial index costs what it erases.
PURGE_SECONDS = 3600.0
# How often the background work frees the claims of holders found dead (another instance
# killed mid-flush): its submissions and notifications are due again within this, not when
# their claims run out (minutes).
RELEASE_SECONDS = 10.0


class Service:
    def __init__(
        self,
        config: ServiceConfig,
        opener: Callable[[str], SheetBackend] = open_backend,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.outbox = Outbox(config.outbox_url, timeouts=config.timeouts)
        self.runs = RunLog(self.outbox.db)
        self.opener, self.clock = opener, clock
        # who this process is in claims and the sheet's lease, and how another instance
        # tells that it died (backends/holders.py, intake/liveness.py)
        self.liveness = Liveness(self.outbox.db)
        self.worker = self.liveness.holder
        watch(self.liveness.verdict)
        # one clock for the whole service: a notification is due, and sent, on the clock the
        # sync planned it on (a nurture step's not_before is the sync's "now" plus spacing)
        self.notices = NotificationOutbox(self.outbox.db, clock=self._timestamp)
        self.sender = Sender(
            self.outbox.db,
            config.send,
            self.worker,
            self._row_link,
            clock=self._timestamp,
            nurture=config.nurture,
        )
        # a killed process's claims: due again now, not when they run out
        self._next_release = 0.0  # time.monotonic() of the next look for dead holders
        self.release_dead()
        self.memo = Memo()
        self._one_at_a_time = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._backend: SheetBackend | None = None
        self.sync_minutes = 15.0
        self._next_purge = 0.0  # time.monotonic() of the next retention
        self._sheet_failures = 0  # flushes in a row that the sheet failed (quota, 5xx...)
        self._sheet_rows = 0  # the Leads rows last read, by a sync or a flush
        # Whether this runs below the webhooks' priority (a process of its own, reniced:
        # background.lower_priority); else, in a thread beside them, it must pause between
        # flushes to leave them the CPU.
        self.below_webhooks = False
        self.holding = False  # whether a burst held back the last flush that was due

    def pacing(self) -> Pacing:
        """When the background work flushes (:mod:`sheetcrm.service.pacing`)."""
        config = self.config
        return Pacing(config.flush_every, config.flush_hold, config.burst_rate, self.below_webhooks)

    def _timestamp(self) -> float:
        return self.clock().timestamp()

    def _open(self) -> SheetBackend:
        """The sheet, opened once and kept: a Google backend remembers tab IDs and grids."""
        if self._backend is None:
            self._backend = self.opener(self.config.sheet)
        return self._backend

    # -- work ------------------------------------------------------------------------------

    def release_dead(self) -> int:
        """Free the claims of holders found dead (killed here, or on another instance as
        the PostgreSQL outbox witnesses): at most every RELEASE_SECONDS; how many."""
        if time.monotonic() < self._next_release:
            return 0
        self._next_release = time.monotonic() + RELEASE_SECONDS
        freed = self.outbox.release(abandoned) + self.sender.release(abandoned)
        if freed:
            logs.event("claims of a dead process freed", kind="release", freed=freed)
        return freed

    def _arrived(self, pacing: Pacing) -> int:
        """Submissions stored in the last QUIET_SECONDS (counted up to a burst's worth)."""
        return self.outbox.arrivals(self._timestamp() - QUIET_SECONDS, pacing.most())

    def flush_due(self, pacing: Pacing | None = None) -> bool:
        """Whether a flush would claim anything now, and is not held back by a burst."""
        pacing = pacing or self.pacing()
        waited = self.outbox.waited(self._timestamp())
        self.holding = waited is not None and pacing.holds(self._arrived(pacing), waited)
        return waited is not None and not self.holding

    def flush(self) -> FlushReport:
        started = time.perf_counter()
        self.liveness.keep()  # before our token claims anything: others can tell we live
        with self._one_at_a_time, self.outbox.flush_turn() as mine:
            if not mine:
                return FlushReport()  # another process is flushing this outbox right now
            try:
                # a flush makes millions of containers while it holds the whole sheet: full
                # collections were 1.4-1.9 s of a 3.6-4.7 s flush at 30,000 leads (issue 21);
                # its cycles are collected once, after it
                with gc_paused(collect=True):
                    report = flush(
                        self.outbox,
                        self._open(),
                        self.clock,
                        self.worker,
                        fitted_batch(self.config.batch, self._sheet_rows),
                        self.memo,
                        sheet_failures=self._sheet_failures,
                        notices=self.notices,
                    )
            except SheetCRMError as exc:  # opening the sheet failed: nothing was claimed
                report = FlushReport(error=str(exc))
            if report.error:
                self._backend = None  # open it afresh next time
            if report.rows:
                self._sheet_rows = report.rows + report.appended
            failed = bool(report.error) and not report.busy
            self._sheet_failures = self._sheet_failures + 1 if failed else 0
        seconds = time.perf_counter() - started
        if report.claimed or report.error:
            self.runs.record("flush", time.time(), seconds, report.as_log(), report.error)
            # the sheet busy with another instance's sync is how instances take turns
            level = logging.WARNING if report.error and not report.busy else logging.INFO
            logs.event("flush", level, kind="flush", seconds=round(seconds, 3), **report.as_log())
        release_freed()  # once the run is on record: nothing waits on this
        return report

    def keep_retention(self) -> int:
        """Erase the answers of submissions done more than the retention ago, at most once
        an hour per process (the background loop and /tasks/flush both ask); how many."""
        if time.monotonic() < self._next_purge:
            return 0
        self._next_purge = time.monotonic() + PURGE_SECONDS
        days = self.config.retention_days
        erased = purge(self.outbox, time.time() - days * DAY)
        if erased:
            logs.event("outbox retention", kind="retention", erased=erased, days=days)
        return erased

    def sync(self) -> dict[str, Any]:
        started = time.perf_counter()
        summary: dict[str, Any] = {}
        error, busy = "", False
        self.liveness.keep()
        with self._one_at_a_time:
            try:
                now = self.clock()
                plan, applied = sync_once(
                    self._open(),
                    now,
                    now,
                    self.memo,
                    self.worker,
                    self.notices,
                    waiting=waiting(self.outbox.db, now.timestamp()),
                )
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
                self._sheet_rows = plan.summary.rows
            except LeaseHeldError as exc:
                # Instances starting together all sync at once, and all but one find the
                # sheet taken: that is how they take turns, not a failure. The hint (run the
                # sync again) is for a person at the command line; here the next one is due.
                error, busy = exc.message, True
            except SheetCRMError as exc:
                error = str(exc)
                self._backend = None
            gc.collect()  # what the sync dropped, then its room given back: the next
            release_freed()  # sync (and the web workers beside it) start lower
        seconds = time.perf_counter() - started
        self.runs.record("sync", time.time(), seconds, summary, error)
        if error and busy:
            logs.event(
                "sync skipped: another instance is syncing this sheet",
                kind="sync",
                seconds=round(seconds, 3),
                busy=error,
            )
        else:
            level = logging.WARNING if error else logging.INFO
            logs.event(
                "sync", level, kind="sync", seconds=round(seconds, 3), error=error, **summary
            )
        return {"ok": not error, "seconds": round(seconds, 3), "summary": summary, "error": error}

    def notify(self) -> SendReport:
        """One round of sending the due notifications (sheetcrm.notify.sender)."""
        started = time.perf_counter()
        self.liveness.keep()
        report = self.sender.run_once()
        if report.claimed:
            level = logging.WARNING if report.dead else logging.INFO
            seconds = round(time.perf_counter() - started, 3)
            logs.event("notify", level, kind="notify", seconds=seconds, **report.as_log())
        return report

    def _row_link(self, row: int) -> str:
        try:
            return self._open().row_link(row)
        except SheetCRMError:  # the sheet cannot be opened now: the message names the row
            return ""

    def status(self) -> dict[str, Any]:
        now = time.time()
        return {
            "outbox": self.outbox.stats(now),
            "notifications": {**self.notices.stats(now), "channels": self.config.channels},
            **self.runs.latest(),
            "sync_every_minutes": self.sync_minutes,
            # here in a thread, or beside gunicorn's workers in a process of its own
            "background": (self._thread is not None and self._thread.is_alive())
            or background.running_beside(),
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
            logs.event("background work started", kind="background", pid=os.getpid())

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.close()

    def close(self) -> None:
        unwatch(self.liveness.verdict)
        self.liveness.close()
        self.outbox.close()

    def run(self, stop: threading.Event) -> None:
        """Sync every "Sync every minutes", flush whenever submissions are due, and send the
        notifications that are due, until ``stop`` is set. The outbox is asked every second
        (a cheap read), so that this works the same in a process that answers no webhooks."""
        next_sync = time.monotonic()
        next_flush = time.monotonic()
        started, took = next_flush, 0.0  # the last flush's start, and how long it took
        pacing = self.pacing()
        while not stop.is_set():
            pause = POLL_SECONDS
            try:
                self.keep_retention()
                self.release_dead()
                if time.monotonic() >= next_sync:
                    next_sync = time.monotonic() + 60  # should the sync raise: again in a minute
                    self.sync()
                    next_sync = time.monotonic() + self.sync_minutes * 60
                if time.monotonic() >= next_flush:
                    if self.flush_due(pacing):
                        started = time.monotonic()
                        next_flush = started + pacing.every  # should the flush raise
                        self.flush()
                        took = time.monotonic() - started
                        next_flush = pacing.after(started, took, self._arrived(pacing))
                    elif self.holding:  # look again soon: the backlog goes once the burst ends
                        pause = HOLD_POLL_SECONDS
                elif (
                    pacing.below
                    and next_flush > started + pacing.every
                    and not self._arrived(pacing)
                ):
                    # Waiting out the webhooks' share, and they stopped: so does the share (a
                    # flush slowed down by the burst kept the backlog waiting three times its
                    # length: 41 s after a 13.7 s flush, issue 21).
                    next_flush = pacing.after(started, took, 0)
                if self.sender.has_due(self._timestamp()):
                    self.notify()
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
            stop.wait(until_due(pause, next_flush - time.monotonic()))


def starting(env: Mapping[str, str], serves: bool) -> ServiceConfig:
    """The settings of a process that starts, and what it says as it starts. A setting that
    stops it is said as a JSON line too (gunicorn's own report of it is a traceback)."""
    logs.setup()
    try:
        config = ServiceConfig.from_env(env)
    except SheetCRMError as exc:
        logs.event(
            f"sheetcrm cannot start: {exc.message}", logging.CRITICAL, kind="config", hint=exc.hint
        )
        raise
    config.announce(serves)
    return config


def run_background(env: Mapping[str, str], exit_with: int | None = None) -> int:
    """Flush and sync until SIGTERM or SIGINT, or until process ``exit_with`` is gone (the
    gunicorn master that started this one: killed, it cannot stop us itself). 1 when the
    settings stop it (said in the log), else 0."""
    try:
        config = starting(env, serves=False)
    except SheetCRMError:
        return 1
    service = Service(config)
    service.below_webhooks = background.lower_priority()
    running = background.hold(exit_with) if exit_with is not None else None
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
        service.close()
        if running is not None:
            os.close(running)
        logs.event("background work stopped", kind="background", pid=os.getpid())
    return 0
