"""Issue 21, "Several instances": two service instances (two gunicorn masters, each with its
background process) on one PostgreSQL outbox and one sheet on the Sheets API stand-in. The
submissions are posted to both; one instance is killed with SIGKILL in the middle of a flush,
at the moment its append of new leads reaches the sheet, before it could mark them done. Every
submission must end up in Leads exactly once, and the lease must never have let two writers in.

How the interleaving is seen: the stand-in serves one request at a time, and a hook sees each
write before it is served, in that order (:class:`LeaseJournal`). Taking the lease is a write
of the holder's token into the lease tab, giving it back a write of blanks there; so the
journal knows who holds the sheet at each request. A take while another holds the lease is a
violation unless the one holding it is the instance killed, and a new lead appended while no
one holds it is one too.

CI runs the short form (1,000 submissions, under a minute); SHEETCRM_INSTANCES_SUBMISSIONS=5000
runs the issue's full size.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from google.auth.credentials import AnonymousCredentials

from sheetcrm.backends.google import GoogleBackend
from sheetcrm.backends.holders import machine
from sheetcrm.backends.sheets_http import SheetsHTTP
from sheetcrm.backends.sheets_lease import LEASE_RANGE
from sheetcrm.emulator import Emulator, RequestInfo
from sheetcrm.engine.schema import LEADS
from sheetcrm.intake.outbox import Outbox
from sheetcrm.intake.outbox_db import runs
from sheetcrm.intake.run_log import KEEP_RUNS
from sheets import Gunicorn, template
from soak import _payloads

SUBMISSIONS = int(os.environ.get("SHEETCRM_INSTANCES_SUBMISSIONS", "1000"))
TOKEN = "instances-task-token"
KILL_AFTER = 0.4  # the share of submissions acknowledged before the kill is armed
DRAIN_SECONDS = 180.0


class LeaseJournal:
    """The stand-in's ``when`` hook: every write, in the order served (it never runs a
    callback: it only watches). It kills the ``victim`` process group at the first append of
    leads sent while one of its processes holds the lease, once ``armed`` is set: an append
    that carries submissions (``submitted``: whether a cell is a submission's key), so that it
    is a flush's append, not some other write of rows to Leads."""

    def __init__(
        self, victim: int, holds: Callable[[str], bool], submitted: Callable[[str], bool]
    ) -> None:
        self.victim = victim  # its process group
        self.holds = holds  # whether a holder is one of the victim's processes
        self.submitted = submitted
        self.killed_with = 0  # the submissions the append the victim was killed at carried
        self.armed = threading.Event()
        self.holder = ""  # who holds the lease now, as the sheet says
        self.killed_holder = ""  # who held it when the victim was killed
        self.killed_at: float | None = None
        self.takes: Counter[str] = Counter()
        self.takeovers: list[tuple[str, float]] = []  # (from whom, seconds after the kill)
        self.violations: list[str] = []
        self.appends = 0

    def __call__(self, info: RequestInfo) -> bool:
        if info.kind != "write":
            return False
        for taker in _takes(info):
            self.takes[taker] += 1
            if self.holder not in ("", taker):
                if self.killed_at is not None and self.holder == self.killed_holder:
                    self.takeovers.append((self.holder, time.monotonic() - self.killed_at))
                else:
                    self.violations.append(f"{taker} took the lease {self.holder} held")
            self.holder = taker
        if info.endpoint == "values.append" and LEADS.name in info.range:
            self.appends += 1
            if not self.holder:
                self.violations.append("new leads appended while no one held the lease")
            elif self.killed_at is None and self.armed.is_set() and self.holds(self.holder):
                rows = (info.body or {}).get("values", [])
                carried = sum(self.submitted(c) for r in rows for c in r if isinstance(c, str))
                if carried:
                    # served all the same after this: the leads land, and their flusher is
                    # dead before it can mark them done
                    os.killpg(self.victim, signal.SIGKILL)
                    self.killed_at, self.killed_holder = time.monotonic(), self.holder
                    self.killed_with = carried
        if _releases(info):
            self.holder = ""
        return False


def _takes(info: RequestInfo) -> list[str]:
    """The holders a write puts into the lease tab: an updateCells of (holder, until, the
    lease tab's sheetId) at its A1 (backends/sheets_lease.py)."""
    if info.endpoint != "spreadsheets.batchUpdate":
        return []
    found = []
    for request in info.body.get("requests", []):
        cells = request.get("updateCells")
        if not cells or cells.get("start", {}).get("rowIndex") != 0:
            continue
        values = [
            v.get("userEnteredValue", {}).get("stringValue") for v in cells["rows"][0]["values"]
        ]
        if len(values) == 3 and values[2] == str(cells["start"].get("sheetId")) and values[0]:
            found.append(values[0])
    return found


def _releases(info: RequestInfo) -> bool:
    if info.endpoint == "values.update":
        return info.range == LEASE_RANGE
    if info.endpoint == "values.batchUpdate":
        return any(d.get("range") == LEASE_RANGE for d in info.body.get("data", []))
    return False


def _group(holder: str) -> int | None:
    """The process group of the holder's process (gunicorn's master's: an instance)."""
    try:
        return os.getpgid(int(holder.split(":")[1]))
    except (ProcessLookupError, IndexError, ValueError):
        return None


def _container() -> list[str]:
    """A command prefix that runs a process as in a container of its own on this host: a
    new PID namespace (and the user namespace that lets us make one), same host name, same
    network. Empty where the kernel refuses unprivileged namespaces (some CI runners)."""
    prefix = ["unshare", "--user", "--map-root-user", "--pid", "--fork", "--mount-proc"]
    try:
        done = subprocess.run([*prefix, "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return prefix if done.returncode == 0 else []


@pytest.mark.slow
def test_two_instances_one_killed_mid_flush_every_lead_once(
    tmp_path: Path, postgres_url: str
) -> None:
    emulator = Emulator(quota_per_minute=None).start()
    instances: list[Gunicorn] = []
    try:
        _run(tmp_path, postgres_url, emulator, instances)
    finally:
        for instance in instances:
            instance.stop()
        emulator.stop()


def _run(tmp_path: Path, outbox_url: str, emulator: Emulator, instances: list[Gunicorn]) -> None:
    book = emulator.store.create("crm", sheets=("Sheet1",))
    url = f"https://docs.google.com/spreadsheets/d/{book.spreadsheet_id}/edit"
    http = SheetsHTTP(AnonymousCredentials(), emulator_host=emulator.host, sleep=lambda _: None)
    GoogleBackend(url, http=http).provision(template())
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        "SHEETS_EMULATOR_HOST": emulator.host,
        "SHEETCRM_SHEET": url,
        "SHEETCRM_OUTBOX": outbox_url,
        "SHEETCRM_TASK_TOKEN": TOKEN,
        "SHEETCRM_FLUSH_SECONDS": "1",
        # several flushes, so that each instance flushes some and one is cut short
        "SHEETCRM_FLUSH_BATCH": str(max(100, SUBMISSIONS // 5)),
        # flushes while the posts still come in (no hold for a burst: service/pacing.py), so
        # that the victim is flushing when the kill comes, not only the survivor after them
        "SHEETCRM_BURST_RATE": "1000000",
        "SHEETCRM_BACKGROUND": "1",
    }
    # the victim in a "container" of its own where the kernel allows: then its holders name
    # another machine, and the survivor can tell that it died only through PostgreSQL
    container = _container()
    victim = Gunicorn(env, tmp_path / "victim.log", workers=1)
    victim.command = [*container, *victim.command]
    instances.append(victim.start())
    survivor = Gunicorn(env, tmp_path / "survivor.log", workers=1)
    instances.append(survivor.start())

    def holds(holder: str) -> bool:
        if container:
            return holder.split(":")[3] != machine()
        return _group(holder) == victim.pid

    keys: set[str] = set()
    lock = threading.Lock()
    journal = LeaseJournal(victim.pid, holds, keys.__contains__)
    emulator.app.before_request(lambda _store: None, when=journal, once=False)

    def post(item: tuple[int, tuple[str, dict[str, Any]]]) -> None:
        number, (_name, body) = item
        for attempt in range(200):
            # spread over both; the other one when the first fails, as a load balancer does
            port = (victim, survivor)[(number + attempt) % 2].port
            if journal.killed_at is not None:
                port = survivor.port
            try:
                answer = requests.post(
                    f"http://127.0.0.1:{port}/hooks/generic", json=body, timeout=30
                )
            except requests.RequestException:
                continue  # that instance is dead: a load balancer sends it to the other
            if answer.status_code in (200, 202):
                with lock:
                    keys.add(answer.json()["key"])
                    if len(keys) >= SUBMISSIONS * KILL_AFTER:
                        journal.armed.set()
                return
            time.sleep(0.1)  # 503: the outbox was busy; the vendor retries
        raise AssertionError(f"submission {number} was never accepted")

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(post, enumerate(_payloads(SUBMISSIONS, random.Random(21)))))
    deadline = time.monotonic() + 60
    while journal.killed_at is None and time.monotonic() < deadline:
        time.sleep(0.1)  # the victim's next flush
    assert journal.killed_at is not None, "the instance to kill never appended leads"
    assert victim.proc is not None
    victim.proc.wait()

    outbox = Outbox(outbox_url, create=False)
    try:
        deadline = time.monotonic() + DRAIN_SECONDS
        while time.monotonic() < deadline:
            # drained, and the flush that found the victim's leads in the sheet has recorded
            # its run: it marks them done before it records (a read between saw 0, once)
            stats = outbox.stats(time.time())
            with outbox.db.engine.connect() as conn:
                already = _already(conn)
            if not stats["pending"] and already:
                break
            time.sleep(0.5)
    finally:
        outbox.close()
    survivor.stop()

    leads = GoogleBackend(url, http=http).read().table(LEADS.name)
    in_sheet = Counter(k for k in leads.column("Submission ID") if k)
    assert stats["pending"] == 0 and stats["dead"] == 0, stats
    assert set(in_sheet) == keys and len(keys) == SUBMISSIONS
    assert [k for k, n in in_sheet.items() if n > 1] == []
    # what the lease journal saw: never two writers at once; the victim killed holding the
    # lease, mid-append; the survivor took the dead holder's lease over within seconds (the
    # holder's process is gone), not after its 5 minutes
    assert journal.violations == []
    assert journal.killed_holder and {h for h, _ in journal.takeovers} == {journal.killed_holder}
    if container:  # judged dead through PostgreSQL: the victim named another machine
        assert holds(journal.killed_holder) and journal.killed_holder.split(":")[4]
    assert journal.takeovers[0][1] < 60, journal.takeovers
    assert len(journal.takes) >= 2 and journal.appends >= 2
    # the leads the victim appended before dying were found in the sheet, not appended again,
    # once the survivor had freed the victim's claims (in seconds, not when they ran out)
    assert journal.killed_with > 0 and already > 0, (journal.killed_with, already)
    freed = [
        json.loads(line).get("freed", 0)
        for line in (tmp_path / "survivor.log").read_text().splitlines()
        if '"kind": "release"' in line
    ]
    assert sum(freed) > 0, "the survivor never freed the victim's claims"


def _already(conn: Any) -> int:
    """Submissions the flushes found in the sheet already (the runs table's last flushes)."""
    rows = conn.execute(runs.select().where(runs.c.kind == "flush")).all()
    assert len(rows) < KEEP_RUNS, "more flushes than the runs table keeps"
    return sum(json.loads(r.summary).get("already", 0) for r in rows)
