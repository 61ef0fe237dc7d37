"""The reliability run: many web-form posts at once into a service under gunicorn that is
killed with SIGKILL and restarted, while the Sheets stand-in fails requests and answers
bursts of 429. Afterwards every submission must be in the sheet exactly once.

Used by tests/test_soak.py, and runnable alone for longer runs:
    .venv/bin/python tests/soak.py --submissions 20000 --kills 5
It prints one JSON object (the figures) on its last line.
"""

from __future__ import annotations

import argparse
import json
import os
import random
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
from sheetcrm.engine.schema import LEADS
from sheetcrm.files.templates import load_template
from sheets import Gunicorn

TOKEN = "soak-task-token-16"


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


def run(
    folder: Path,
    submissions: int = 2000,
    duplicates: float = 0.1,
    kills: int = 2,
    fault_rate: float = 0.3,
    seed: int = 7,
    timeout: float = 600,
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
            # loaded machine a run of ~40 Sheets requests could miss every window
            emulator.inject(429)
            stop_bursts.wait(rng.uniform(0.5, 2.0))
            emulator.limits.read_quota = emulator.limits.write_quota = None

    book = emulator.store.create("soak", sheets=("Sheet1",))
    url = f"https://docs.google.com/spreadsheets/d/{book.spreadsheet_id}/edit"
    setup = SheetsHTTP(AnonymousCredentials(), emulator_host=emulator.host, sleep=lambda _: None)
    emulator.limits.fault_rate = 0.0
    GoogleBackend(url, http=setup).provision(load_template("b2b-en"))
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
    }
    service = Gunicorn(env, folder / "service.log").start()
    port = service.port

    payloads = _payloads(submissions, rng)
    sends = payloads + rng.sample(payloads, int(len(payloads) * duplicates))
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
                answer = requests.post(
                    f"http://127.0.0.1:{port}/hooks/generic", json=body, timeout=10
                )
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
                    return
            time.sleep(0.2)

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
    service.stop()
    emulator.limits.fault_rate = 0.0
    emulator.limits.clear_injected()
    final = GoogleBackend(url, http=setup).read().table(LEADS.name)
    result.in_sheet = Counter(k for k in final.column("Submission ID") if k)
    result.expected = sorted({k for ks in keys.values() for k in ks})
    result.faults = {
        k: v for k, v in emulator.stats().items() if k in ("total", "byStatus", "writes")
    }
    result.faults["outbox"] = status.get("outbox", {})
    assert all(len(ks) == 1 for ks in keys.values()), "a payload got two different keys"
    result.seconds = time.monotonic() - started
    emulator.stop()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=2000)
    parser.add_argument("--duplicates", type=float, default=0.1)
    parser.add_argument("--kills", type=int, default=2)
    parser.add_argument("--fault-rate", type=float, default=0.3)
    parser.add_argument("--folder", type=Path, default=Path("bench/out/soak"))
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    for old in args.folder.glob("outbox.sqlite3*"):
        old.unlink()
    result = run(args.folder, args.submissions, args.duplicates, args.kills, args.fault_rate)
    print(json.dumps(result.figures()))


if __name__ == "__main__":
    main()
