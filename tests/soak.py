"""The reliability run: many web-form posts at once into a service under gunicorn that is
killed with SIGKILL and restarted, while the Sheets stand-in fails requests and answers
bursts of 429. Afterwards every submission must be in the sheet exactly once.

Hostile posts go in among them, as an attacker would send them (issue 15): a value that
sends a backtracking regex engine into exponential time against a ``matches`` rule of the
Scoring tab, bodies over SHEETCRM_MAX_BODY_BYTES sent chunked (no Content-Length), and forms
that set Stage, Owner and service columns, with amounts like 1e308. /healthz is timed all
along, and a sync through /tasks/sync at the end.

Used by tests/test_soak.py, and runnable alone for longer runs:
    .venv/bin/python tests/soak.py --submissions 20000 --kills 5
It prints one JSON object (the figures) on its last line.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import sqlite3
import statistics
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests
from google.auth.credentials import AnonymousCredentials

from sheetcrm.backends.google import GoogleBackend
from sheetcrm.backends.sheets_http import SheetsHTTP
from sheetcrm.emulator import Emulator
from sheetcrm.engine.schema import LEADS, METRIC_TABS
from sheetcrm.files.templates import load_template
from sheets import Gunicorn

TOKEN = "soak-task-token-16"
MAX_BODY = 64 * 1024  # SHEETCRM_MAX_BODY_BYTES: small, so that oversized posts stay quick
# exponential for a backtracking engine: 74.7 s a sync on 'a' * 30 + '!' before RE2 (issue 15)
TRAP_RULE = ["Regex trap", "Notes", "matches", "(a+)+$", "5", ""]
TRAP_VALUES = ["a" * 30 + "!", "a" * 28 + "b", "a" * 20_000 + "!"]  # the last past the cap
FORGED = {"Stage": "Won", "Owner": "Mallory", "Lead ID": "L-EVIL", "Score": "100"}
AMOUNTS = ["1e308", "1.7e308", "1e999", "-5", "inf", "NaN", "+33 6 12 34 56 78"]
HOSTILE_KINDS = ("regex", "forged", "amount", "oversized")


@dataclass
class Result:
    submissions: int
    posts: int
    kills: int
    seconds: float
    statuses: Counter = field(default_factory=Counter)
    retried_posts: int = 0
    in_sheet: Counter = field(default_factory=Counter)
    faults: dict = field(default_factory=dict)
    hostile: Counter = field(default_factory=Counter)  # hostile posts stored, by kind
    oversized: Counter = field(default_factory=Counter)  # final answers to oversized posts
    oversized_stored: int = 0  # oversized bodies found in the outbox or the sheet
    forged: list[str] = field(default_factory=list)  # leads a form gave a Stage or Owner
    non_finite: list[str] = field(default_factory=list)  # metric cells saying inf or NaN
    healthz: list[float] = field(default_factory=list)  # seconds, each answered /healthz
    sync_seconds: float = 0.0  # the sync through /tasks/sync at the end
    sync_ok: bool = False

    @property
    def missing(self) -> list[str]:
        return [k for k in self.expected if self.in_sheet[k] == 0]

    @property
    def duplicated(self) -> list[str]:
        return [k for k, n in self.in_sheet.items() if n > 1]

    expected: list[str] = field(default_factory=list)

    def figures(self) -> dict:
        return {
            "submissions": self.submissions,
            "posts": self.posts,
            "kills": self.kills,
            "seconds": round(self.seconds, 1),
            "answers": dict(self.statuses),
            "posts_sent_again_after_a_failure": self.retried_posts,
            "in_sheet_once": sum(1 for k in self.expected if self.in_sheet[k] == 1),
            "missing": len(self.missing),
            "duplicated": len(self.duplicated),
            "sheets_api": self.faults,
            "hostile": {
                "stored": dict(self.hostile),
                "oversized_answers": dict(self.oversized),
                "oversized_stored": self.oversized_stored,
                "forged_stage_or_owner": len(self.forged),
                "metric_cells_not_finite": len(self.non_finite),
                "healthz_ms": _spread(self.healthz),
                "sync_seconds": round(self.sync_seconds, 2),
                "sync_ok": self.sync_ok,
            },
        }


def _spread(seconds: list[float]) -> dict:
    if not seconds:
        return {"count": 0}
    ordered = sorted(seconds)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {
        "count": len(ordered),
        "median": round(statistics.median(ordered) * 1000, 1),
        "p99": round(p99 * 1000, 1),
        "max": round(ordered[-1] * 1000, 1),
    }


def _payloads(count: int, rng: random.Random) -> list[tuple[str, dict]]:
    """Generic web-form posts: half carry an event id, half are recognised by their hash."""
    out = []
    for i in range(count):
        body = {
            "email": f"lead{i}@company{i % 97}.example",
            "first_name": f"Lead{i}",
            "company": f"Company {i % 97}",
            "industry": rng.choice(["SaaS", "Retail", "Finance", ""]),
            "message": f"soak message {i} — ünïcødé",
        }
        if i % 2 == 0:
            body["event_id"] = f"evt-{i}"
        out.append((f"{i}", body))
    return out


def _hostile(count: int) -> list[tuple[str, dict]]:
    """``count`` hostile posts, the kinds in turn; each is a lead in its own right but the
    oversized, which must be refused whole."""
    out = []
    for i in range(count):
        kind = HOSTILE_KINDS[i % len(HOSTILE_KINDS)]
        body = {"email": f"{kind}{i}@hostile.example", "event_id": f"{kind}-{i}"}
        if kind == "regex":
            body["message"] = TRAP_VALUES[i % len(TRAP_VALUES)]
        elif kind == "forged":
            body |= FORGED | {"Amount": "1e308"}
        elif kind == "amount":
            body |= {"Stage": "Won", "amount": AMOUNTS[i % len(AMOUNTS)]}
        else:
            body["message"] = "x" * (2 * MAX_BODY)
        out.append((f"{kind}:{i}", body))
    return out


def _send(port: int, name: str, body: dict) -> requests.Response:
    url = f"http://127.0.0.1:{port}/hooks/generic"
    if not name.startswith("oversized:"):
        return requests.post(url, json=body, timeout=10)
    # chunked, so no Content-Length tells the size: half JSON, half form-encoded
    if int(name.partition(":")[2]) % 8 < 4:
        raw, kind = json.dumps(body).encode(), "application/json"
    else:
        raw = "&".join(f"{k}={v}" for k, v in body.items()).encode()
        kind = "application/x-www-form-urlencoded"
    pieces = (raw[i : i + 8192] for i in range(0, len(raw), 8192))
    return requests.post(url, data=pieces, headers={"Content-Type": kind}, timeout=10)


def run(
    folder: Path,
    submissions: int = 2000,
    duplicates: float = 0.1,
    kills: int = 2,
    fault_rate: float = 0.3,
    seed: int = 7,
    timeout: float = 600,
    hostile: int = 60,
) -> Result:
    rng = random.Random(seed)
    started = time.monotonic()
    emulator = Emulator(quota_per_minute=None, fault_rate=fault_rate, seed=seed).start()
    stop_bursts = threading.Event()

    def bursts() -> None:
        """Every few seconds, a second or two in which every request is answered 429
        RESOURCE_EXHAUSTED, as when the per-minute quota runs out."""
        while not stop_bursts.wait(rng.uniform(1.5, 5.0)):
            emulator.limits.read_quota = emulator.limits.write_quota = 0
            # and the next request answers 429 even if none falls inside the window: on a
            # loaded machine a run of ~40 Sheets requests could miss every window. One at a
            # time: injected answers queue up, and bursts come faster than a flush backing
            # off sends requests, so a queue of them refused every request until the run
            # timed out
            emulator.limits.clear_injected()
            emulator.inject(429)
            stop_bursts.wait(rng.uniform(0.5, 2.0))
            emulator.limits.read_quota = emulator.limits.write_quota = None

    book = emulator.store.create("soak", sheets=("Sheet1",))
    url = f"https://docs.google.com/spreadsheets/d/{book.spreadsheet_id}/edit"
    setup = SheetsHTTP(AnonymousCredentials(), emulator_host=emulator.host, sleep=lambda _: None)
    emulator.limits.fault_rate = 0.0
    tabs = load_template("b2b-en")
    tabs["Scoring"].rows.append(list(TRAP_RULE))
    GoogleBackend(url, http=setup).provision(tabs)
    emulator.limits.fault_rate = fault_rate
    burster = threading.Thread(target=bursts, daemon=True)
    burster.start()

    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        "SHEETS_EMULATOR_HOST": emulator.host,
        "SHEETCRM_SHEET": url,
        "SHEETCRM_OUTBOX": f"sqlite:///{folder / 'outbox.sqlite3'}",
        "SHEETCRM_TASK_TOKEN": TOKEN,
        "SHEETCRM_FLUSH_SECONDS": "1",
        "SHEETCRM_BACKGROUND": "1",
        "SHEETCRM_MAX_BODY_BYTES": str(MAX_BODY),
    }
    service = Gunicorn(env, folder / "service.log").start()
    port = service.port

    payloads = _payloads(submissions, rng)
    sends = payloads + rng.sample(payloads, int(len(payloads) * duplicates)) + _hostile(hostile)
    rng.shuffle(sends)
    result = Result(submissions, len(sends), kills, 0.0)
    lock = threading.Lock()
    keys: dict[str, set[str]] = {}
    acknowledged = 0
    kill_at = [len(sends) * (k + 1) // (kills + 1) for k in range(kills)]

    def post(item: tuple[str, dict]) -> None:
        nonlocal acknowledged
        name, body = item
        tries = 0
        while True:
            tries += 1
            try:
                answer = _send(port, name, body)
                status = answer.status_code
            except requests.RequestException:
                status = 0  # the service is down: a vendor sends it again later
            with lock:
                result.statuses[status] += 1
                if tries == 2:
                    result.retried_posts += 1
                if status in (200, 202):
                    keys.setdefault(name, set()).add(answer.json()["key"])
                    acknowledged += 1
                    if ":" in name:
                        result.hostile[name.partition(":")[0]] += 1
                    return
                if status not in (0, 500, 502, 503) and name.startswith("oversized:"):
                    result.oversized[status] += 1
                    acknowledged += 1
                    return
            time.sleep(0.2)

    stop_probe = threading.Event()

    def probe_health() -> None:
        """/healthz, every 50 ms: the time of each answer (none while the service is down)."""
        while not stop_probe.wait(0.05):
            start = time.monotonic()
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=30).ok:
                    result.healthz.append(time.monotonic() - start)
            except requests.RequestException:
                pass

    prober = threading.Thread(target=probe_health, daemon=True)
    prober.start()

    def killer() -> None:
        for at in kill_at:
            while acknowledged < at:
                time.sleep(0.01)
            service.kill()
            time.sleep(0.3)
            service.start()

    chaos = threading.Thread(target=killer)
    chaos.start()
    with ThreadPoolExecutor(32) as pool:
        list(pool.map(post, sends))
    chaos.join()

    # every post is acknowledged: wait for the outbox to drain into the sheet
    deadline = time.monotonic() + timeout
    status = {}
    while time.monotonic() < deadline:
        try:
            status = requests.get(
                f"http://127.0.0.1:{port}/status",
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=10,
            ).json()
            if status["outbox"]["pending"] == 0:
                break
        except requests.RequestException:
            pass
        time.sleep(0.5)
    stop_bursts.set()
    burster.join()
    emulator.limits.fault_rate = 0.0
    emulator.limits.clear_injected()
    start = time.monotonic()  # a whole sync, in the service, /healthz still timed meanwhile
    try:
        result.sync_ok = requests.post(
            f"http://127.0.0.1:{port}/tasks/sync",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=timeout,
        ).ok
    except requests.RequestException:
        result.sync_ok = False  # it ran past the timeout
    result.sync_seconds = time.monotonic() - start
    stop_probe.set()
    prober.join()
    service.stop()
    emulator.limits.fault_rate = 0.0
    emulator.limits.clear_injected()
    snapshot = GoogleBackend(url, http=setup).read()
    final = snapshot.table(LEADS.name)
    result.in_sheet = Counter(k for k in final.column("Submission ID") if k)
    _check_hostile(result, snapshot, folder / "outbox.sqlite3")
    result.expected = sorted({k for ks in keys.values() for k in ks})
    result.faults = {
        k: v for k, v in emulator.stats().items() if k in ("total", "byStatus", "writes")
    }
    result.faults["outbox"] = status.get("outbox", {})
    assert all(len(ks) == 1 for ks in keys.values()), "a payload got two different keys"
    result.seconds = time.monotonic() - started
    emulator.stop()
    return result


def _check_hostile(result: Result, snapshot, outbox: Path) -> None:
    """What hostile posts must not have done: an oversized body stored (outbox or sheet), a
    form's Stage or Owner on a lead, a metric cell that says inf or NaN."""
    leads = snapshot.table(LEADS.name)
    for row in leads.rows:
        email, stage, owner = (row[leads.col(h)] for h in ("Email", "Stage", "Owner"))
        if email.startswith("oversized"):
            result.oversized_stored += 1
        if email.endswith("@hostile.example") and (
            stage == "Won" or owner == "Mallory" or row[leads.col("Lead ID")] == "L-EVIL"
        ):
            result.forged.append(f"{email}: Stage {stage!r}, Owner {owner!r}")
    with sqlite3.connect(outbox) as db:
        (stored,) = db.execute(
            "SELECT count(*) FROM submissions WHERE body LIKE '%oversized%'"
        ).fetchone()
    result.oversized_stored += stored
    for tab in (t.name for t in METRIC_TABS):
        table = snapshot.get(tab)
        rows = [table.header, *table.rows] if table is not None else []
        result.non_finite += [f"{tab}: {c!r}" for row in rows for c in row if _not_finite(c)]


NUMBER = re.compile(r"[-+]?[\d,]*\.?\d+(?:[eE][-+]?\d+)?")


def _not_finite(text: str) -> bool:
    """inf or NaN, spelt out or as digits past what a float holds."""
    cleaned = text.strip().replace("$", "").replace("€", "").replace("%", "")
    if cleaned.casefold() in ("inf", "-inf", "+inf", "infinity", "-infinity", "nan"):
        return True
    return bool(NUMBER.fullmatch(cleaned)) and not math.isfinite(float(cleaned.replace(",", "")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=2000)
    parser.add_argument("--duplicates", type=float, default=0.1)
    parser.add_argument("--kills", type=int, default=2)
    parser.add_argument("--fault-rate", type=float, default=0.3)
    parser.add_argument("--hostile", type=int, default=60, help="hostile posts among them")
    parser.add_argument("--folder", type=Path, default=Path("bench/out/soak"))
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    for old in args.folder.glob("outbox.sqlite3*"):
        old.unlink()
    result = run(
        args.folder,
        args.submissions,
        args.duplicates,
        args.kills,
        args.fault_rate,
        hostile=args.hostile,
    )
    print(json.dumps(result.figures()))


if __name__ == "__main__":
    main()
