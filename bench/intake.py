"""Issue 4's benchmark: the web-form intake under gunicorn, against the local Sheets stand-in.

1. Throughput and latency: gunicorn started as app.yaml starts it (gthread, --reuse-port,
   gunicorn.conf.py's background process flushing as in production), driven by wrk with a
   NEW submission per request (bench/intake.lua: its own event_id each) for a fixed time
   after a short warm-up; accepted/s counts 202s only. Then
   the outbox must hold exactly the accepted submissions.
2. Sheets write requests per 1,000 leads: the flusher drains the outbox into the stand-in's
   sheet; its write requests are counted, and every accepted submission must be in the Leads
   tab exactly once (its Submission ID).
3. The common way, side by side: one gspread ``worksheet.append_row(values, RAW)`` per
   webhook against the stand-in with Google's quota of 60 write requests a minute (in a
   window scaled down from a minute, so that the run is short; the rate is per minute).

    sudo apt-get install wrk        # Debian / Ubuntu; brew install wrk on macOS
    .venv/bin/python bench/intake.py --configs 2x8 3x8 4x4 --seconds 20

Without wrk (or with --loader python) a Python load generator is used instead: slower, so it
measures less than the service can do. wrk, gunicorn, the flusher and the stand-in all share
the machine's cores. The figures are printed as one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gspread
from google.auth.credentials import AnonymousCredentials
from gspread.http_client import HTTPClient

from sheetcrm.backends.apply import sync_once
from sheetcrm.backends.google import GoogleBackend
from sheetcrm.backends.sheets_http import GOOGLE, SheetsHTTP
from sheetcrm.emulator import Emulator
from sheetcrm.engine.schema import LEADS
from sheetcrm.files.templates import load_template

ROOT = Path(__file__).resolve().parents[1]
# gunicorn as app.yaml starts it, and as the soak test and test_deploy.py start it too
sys.path.append(str(ROOT / "tests"))
from peak import peak_mb  # noqa: E402
from sheets import Gunicorn, background, entrypoint  # noqa: E402

LUA = ROOT / "bench" / "intake.lua"
TOKEN = "bench-task-token-16"


def machine() -> dict[str, Any]:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "loadavg": Path("/proc/loadavg").read_text().split()[:3],
        "python": sys.version.split()[0],
    }


# -- the sheet and the service ------------------------------------------------------------


def new_sheet(emulator: Emulator, name: str, leads: int = 0) -> tuple[str, SheetsHTTP]:
    """The b2b-en template; or with ``leads`` > 0, that many real leads (bench/leads.py: the
    X Education export replicated) with their rule tabs, synced once, as a team's sheet that
    has been in use for a while would be."""
    book = emulator.store.create(name, sheets=("Sheet1",))
    url = f"https://docs.google.com/spreadsheets/d/{book.spreadsheet_id}/edit"
    http = SheetsHTTP(AnonymousCredentials(), emulator_host=emulator.host, sleep=lambda _: None)
    backend = GoogleBackend(url, http=http)
    if leads:
        from leads import NOW, snapshot  # bench/leads.py

        backend.provision(snapshot(leads).tabs)
        sync_once(backend, NOW, datetime.now(UTC))
    else:
        backend.provision(load_template("b2b-en"))
    return url, http


def app_yaml_config() -> str:
    """app.yaml's ``--workers W --threads T`` as ``WxT``."""
    words = shlex.split(entrypoint())
    return f"{words[words.index('--workers') + 1]}x{words[words.index('--threads') + 1]}"


# -- load -----------------------------------------------------------------------------------


def wrk(
    port: int, seconds: float, connections: int, threads: int, tag: str, keys: Path
) -> dict[str, Any]:
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds:g}s",
            "--timeout",
            "10s",
            "-s",
            str(LUA),
            f"http://127.0.0.1:{port}",
            "--",
            tag,
            str(keys),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRK-RESULT "))
    return dict(json.loads(line.removeprefix("WRK-RESULT ")))


def _py_client(args: tuple[int, float, int, str]) -> tuple[Counter[int], list[float], list[str]]:
    """One process of the Python load generator: ``conns`` keep-alive connections."""
    port, seconds, conns, tag = args
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    accepted: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def run(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        i = 0
        while time.monotonic() < stop_at:
            i += 1
            key = f"{tag}-{os.getpid()}-{n}-{i}"
            body = json.dumps(
                {
                    "event_id": key,
                    "email": f"lead-{key}@company{i % 97}.example",
                    "first_name": "Lead",
                    "last_name": key,
                    "company": f"Company {i % 97}",
                    "industry": "SaaS",
                    "country": "United States",
                    "phone": f"+1 415 555 {i % 10000:04d}",
                    "message": f"bench submission {key}",
                }
            )
            start = time.perf_counter()
            try:
                conn.request("POST", "/hooks/generic", body, {"Content-Type": "application/json"})
                answer = conn.getresponse()
                text = answer.read()
                status = answer.status
                if status == 202:
                    with lock:
                        accepted.append(json.loads(text)["key"])
            except OSError:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                status = 0
            with lock:
                latencies.append(time.perf_counter() - start)
                statuses[status] += 1

    workers = [threading.Thread(target=run, args=(n,)) for n in range(conns)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return statuses, latencies, accepted


def python_load(
    port: int, seconds: float, connections: int, tag: str, keys: Path
) -> dict[str, Any]:
    processes = max(1, min(4, (os.cpu_count() or 1)))
    per = max(1, connections // processes)
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    start = time.perf_counter()
    with ProcessPoolExecutor(processes) as pool:
        for n, (s, lat, acked) in enumerate(
            pool.map(_py_client, [(port, seconds, per, tag)] * processes)
        ):
            statuses.update(s)
            latencies += lat
            (keys / f"keys-{tag}-{n}").write_text("".join(k + "\n" for k in acked))
    elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000, 3)

    other = sum(n for s, n in statuses.items() if s not in (200, 202))
    return {
        "requests": len(latencies),
        "seconds": round(elapsed, 3),
        "accepted": statuses[202],
        "duplicate": statuses[200],
        "other": other,
        "errors": {"status": other},
        "p50_ms": pct(0.50),
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
        "max_ms": round(latencies[-1] * 1000, 3),
        "mean_ms": round(sum(latencies) / len(latencies) * 1000, 3),
    }


def load(
    port: int, seconds: float, args: argparse.Namespace, tag: str, keys: Path
) -> dict[str, Any]:
    if args.loader == "wrk":
        return wrk(port, seconds, args.connections, args.wrk_threads, tag, keys)
    return python_load(port, seconds, args.connections, tag, keys)


def acknowledged(keys: Path) -> set[str]:
    """The key of every submission the load generator was answered 202 for."""
    return {k for f in keys.glob("keys-*") for k in f.read_text().splitlines() if k}


# -- the outbox and the sheet -------------------------------------------------------------


def outbox_counts(path: Path) -> Counter[str]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as db:
        return Counter(dict(db.execute("SELECT state, count(*) FROM submissions GROUP BY state")))


def outbox_keys(path: Path) -> set[str]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as db:
        return {k for (k,) in db.execute("SELECT key FROM submissions")}


def drain(path: Path, timeout: float) -> tuple[Counter[str], float]:
    start = time.monotonic()
    while True:
        counts = outbox_counts(path)
        if counts["pending"] == 0 or time.monotonic() - start > timeout:
            return counts, time.monotonic() - start
        time.sleep(0.25)


def flush_log(log: Path, start: float, end: float) -> dict[str, Any]:
    """What the background process's flushes did during the burst (``start``-``end``, Unix
    time) and after it, from its log lines: each says when it ended and how long it took."""
    runs = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("kind") == "flush" and "seconds" in entry:
            ended = datetime.fromisoformat(entry["time"]).timestamp()
            runs.append((ended - entry["seconds"], ended, entry.get("claimed", 0)))
    during = [(max(a, start), min(b, end), n) for a, b, n in runs if a < end and b > start]
    return {
        "flushes_during_burst": len(during),
        "flush_seconds_during_burst": round(sum(b - a for a, b, _ in during), 1),
        "claimed_during_burst": sum(n for a, _, n in runs if a < end),
        # (start, seconds, claimed) of each flush, from the burst's start
        "flushes": [(round(a - start, 1), round(b - a, 1), n) for a, b, n in runs],
    }


def ours(
    emulator: Emulator, workers: int, threads: int, args: argparse.Namespace, threaded: bool
) -> dict:
    """Parts 1 and 2 for one gunicorn setting."""
    name = f"{workers}x{threads}" + ("-threaded" if threaded else "")
    url, http = new_sheet(emulator, f"intake-{name}", args.sheet_leads)
    folder = Path(tempfile.mkdtemp(prefix="sheetcrm-intake-"))
    outbox = folder / "outbox.sqlite3"
    env = {
        **os.environ,
        "SHEETS_EMULATOR_HOST": emulator.host,
        "SHEETCRM_SHEET": url,
        "SHEETCRM_OUTBOX": f"sqlite:///{outbox}",
        "SHEETCRM_TASK_TOKEN": TOKEN,
        "SHEETCRM_BACKGROUND": "1" if args.background else "0",  # 1 as app.yaml
        "SHEETCRM_FLUSH_SECONDS": "5",  # as app.yaml
    }
    emulator.reset_stats()
    with Gunicorn(env, folder / "gunicorn.log", workers, threads, conf=not threaded) as service:
        warm = load(service.port, args.warmup, args, f"{name}-warm", folder)
        load_before = Path("/proc/loadavg").read_text().split()[0]
        burst = (time.time(), 0.0)
        run = load(service.port, args.seconds, args, f"{name}-run", folder)
        burst = (burst[0], time.time())
        load_after = Path("/proc/loadavg").read_text().split()[0]
        try:
            background_processes = len(background(service.pid))
        except OSError:
            background_processes = -1  # not Linux, or it ended meanwhile
        time.sleep(2)  # requests wrk sent but stopped waiting for, still being answered
        acked = acknowledged(folder)
        stored = outbox_keys(outbox)
        counts, drain_s = drain(outbox, args.drain_timeout)
    stats = emulator.stats()
    leads = GoogleBackend(url, http=http).read().table(LEADS.name)
    in_sheet = Counter(k for k in leads.column("Submission ID") if k)
    flushes = flush_log(folder / "gunicorn.log", *burst)
    if args.keep_log:
        shutil.copy(folder / "gunicorn.log", args.keep_log / f"gunicorn-{name}-{os.getpid()}.log")
    shutil.rmtree(folder, ignore_errors=True)
    seconds = run["seconds"]
    return {
        "config": name,
        "app_yaml": name == app_yaml_config(),
        "background_processes": background_processes,
        "accepted_per_s": round(run["accepted"] / seconds, 1),
        "requests": run["requests"],
        "accepted": run["accepted"],
        "non_2xx": run["other"],
        "socket_errors": {k: v for k, v in run["errors"].items() if k != "status" and v},
        "p50_ms": run["p50_ms"],
        "p90_ms": run["p90_ms"],
        "p99_ms": run["p99_ms"],
        "max_ms": run["max_ms"],
        "seconds": seconds,
        "warmup_accepted": warm["accepted"],
        "loadavg_before_after": [load_before, load_after],
        "acknowledged_202": len(acked),
        "outbox_rows_after_load": len(stored),
        "acknowledged_all_in_outbox": acked <= stored,
        # answered after wrk stopped listening: stored, but never counted as accepted
        "stored_unacknowledged": len(stored - acked),
        "outbox_after_drain": dict(counts),
        "drain_seconds_after_load": round(drain_s, 1),
        "leads_in_sheet": sum(in_sheet.values()),
        "in_sheet_once": set(in_sheet) == stored and all(n == 1 for n in in_sheet.values()),
        "sheet_writes": stats["writes"],
        "sheet_reads": stats["reads"],
        "writes_per_1000_leads": round(stats["writes"] * 1000 / max(1, sum(in_sheet.values())), 2),
        "by_endpoint": stats["byEndpoint"],
        **flushes,
        "batch_update_requests": stats["batchUpdateRequests"],
    }


# -- the common way ---------------------------------------------------------------------------

EMULATOR_HOST = ""


class ToEmulator(HTTPClient):
    """gspread's plain HTTP client (no retry, as gspread 6 uses by default), sent to the
    stand-in instead of Google."""

    def request(self, method: str, endpoint: str, *args: Any, **kwargs: Any) -> Any:
        endpoint = endpoint.replace(GOOGLE, f"http://{EMULATOR_HOST}")
        return super().request(method, endpoint, *args, **kwargs)


def append_row_way(emulator: Emulator, window: float, windows: int, senders: int) -> dict:
    """One append_row per webhook, as fast as webhooks come, under 60 writes per window."""
    global EMULATOR_HOST
    EMULATOR_HOST = emulator.host
    book = emulator.store.create("append-row", sheets=("Leads",))
    client = gspread.Client(auth=AnonymousCredentials(), http_client=ToEmulator)
    sheet = client.open_by_key(book.spreadsheet_id).worksheet("Leads")
    sheet.append_row(["Submission ID", "Email", "First name", "Company"])
    emulator.limits.window = window
    emulator.limits.read_quota = emulator.limits.write_quota = 60
    emulator.limits.reset_quota()
    emulator.reset_stats()
    ok: Counter[str] = Counter()
    lock = threading.Lock()
    stop_at = time.monotonic() + window * windows
    counter = iter(range(10**9))

    def webhooks() -> None:
        while time.monotonic() < stop_at:
            with lock:
                i = next(counter)
            try:
                sheet.append_row(
                    [f"append-{i}", f"lead{i}@company.example", "Lead", "Company"],
                    value_input_option="RAW",
                )
                outcome = "appended"
            except gspread.exceptions.APIError as exc:
                outcome = str(exc.code)
            with lock:
                ok[outcome] += 1

    start = time.monotonic()
    pool = [threading.Thread(target=webhooks) for _ in range(senders)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.monotonic() - start
    stats = emulator.stats()
    emulator.limits.read_quota = emulator.limits.write_quota = None
    emulator.limits.window = 60.0
    rows = len(sheet.get_all_values()) - 1
    per_minute = ok["appended"] / (elapsed / window)  # per quota minute (= window seconds)
    return {
        "window_seconds": window,
        "windows": windows,
        "note": f"a minute of Google's quota scaled to {window:g} s; rates are per quota minute",
        "webhooks": sum(ok.values()),
        "appended": ok["appended"],
        "refused": {k: v for k, v in ok.items() if k != "appended"},
        "rows_in_sheet": rows,
        "leads_per_minute": round(per_minute, 1),
        "write_requests_sent": stats["writes"],  # those refused 429 included
        "writes_per_1000_leads": round(
            stats["byStatus"].get("200", 0) * 1000 / max(1, ok["appended"]), 1
        ),
    }


def stand_in(nice: int) -> Emulator:
    """The Sheets stand-in, its threads ``nice`` below this process's: a thread made by a
    thread inherits its niceness on Linux, so the server's thread is started from one."""
    emulator = Emulator(quota_per_minute=None)

    def start() -> None:
        if nice:
            os.setpriority(
                os.PRIO_PROCESS,
                threading.get_native_id(),
                os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) + nice,
            )
        emulator.start()

    starter = threading.Thread(target=start)
    starter.start()
    starter.join()
    return emulator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["2x8", "3x8", "4x4"])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--warmup", type=float, default=3)
    # 16: a p99 of 50 ms at 1,000/s allows ~50 requests in flight at the very most (Little's
    # law: in flight = rate x mean latency), and fewer once latency varies at all
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument(
        "--drain-timeout", type=float, default=None, help="600 s; 1 with --no-background"
    )
    parser.add_argument(
        "--no-background", dest="background", action="store_false", help="diagnosis only"
    )
    parser.add_argument("--loader", choices=["wrk", "python"], default=None)
    parser.add_argument(
        "--stand-in-nice",
        type=int,
        default=0,
        help="run the Sheets stand-in this much below the bench (Google's servers are not on "
        "the service's cores in production); 0, as the figures in docs/benchmarks.md, unless "
        "they say otherwise",
    )
    parser.add_argument(
        "--keep-log", type=Path, default=None, help="copy each run's gunicorn log to this folder"
    )
    parser.add_argument(
        "--sheet-leads",
        type=int,
        default=0,
        help="start from a sheet of this many real leads (../shared data) instead of the "
        "template's 50: every flush and sync then reads and plans them all",
    )
    parser.add_argument(
        "--threaded-too",
        action="store_true",
        help="run each setting again with the background work in a thread of each worker "
        "(no gunicorn.conf.py), as it was before it had a process of its own",
    )
    parser.add_argument("--window", type=float, default=6.0, help="the scaled quota minute")
    parser.add_argument("--windows", type=int, default=3)
    args = parser.parse_args()
    if args.drain_timeout is None:  # with no flusher, nothing drains: do not wait for it
        args.drain_timeout = 600.0 if args.background else 1.0
    if args.loader is None:
        args.loader = "wrk" if shutil.which("wrk") else "python"
        if args.loader == "python":
            print("wrk not found (apt-get install wrk): using the Python load generator")
    emulator = stand_in(args.stand_in_nice)
    results = []
    runs = [(c, False) for c in args.configs]
    if args.threaded_too:  # the background work in each worker's thread, right after each
        runs = [(c, t) for c in args.configs for t in (False, True)]
    for config, threaded in runs:
        workers, threads = (int(x) for x in config.split("x"))
        result = ours(emulator, workers, threads, args, threaded)
        results.append(result)
        print(
            f"{result['config']}: {result['accepted_per_s']:,} accepted/s, "
            f"p50 {result['p50_ms']} ms, "
            f"p99 {result['p99_ms']} ms, max {result['max_ms']} ms, non-2xx "
            f"{result['non_2xx']}; {result['leads_in_sheet']:,} leads in the sheet "
            f"(once each: {result['in_sheet_once']}), {result['sheet_writes']} writes = "
            f"{result['writes_per_1000_leads']} per 1,000 leads",
            flush=True,
        )
    common = append_row_way(emulator, args.window, args.windows, senders=8)
    emulator.stop()
    print(
        f"append_row per webhook: {common['leads_per_minute']} leads/min, "
        f"{common['writes_per_1000_leads']} writes per 1,000 leads",
        flush=True,
    )
    # the ratios are app.yaml's setting's (else the first run); what the quota allows the
    # outbox: 60 writes a minute at its writes per 1,000 leads
    ours_ = next((r for r in results if r["app_yaml"]), results[0])
    per_1000 = ours_["writes_per_1000_leads"]
    quota_leads = round(60 * 1000 / per_1000) if per_1000 else None
    twin = next((r for r in results if r["config"] == ours_["config"] + "-threaded"), None)
    ratios = {
        "config": ours_["config"],
        "accepted_per_s_vs_threaded": round(ours_["accepted_per_s"] / twin["accepted_per_s"], 2)
        if twin
        else None,
        "p99_threaded_vs_process": round(twin["p99_ms"] / ours_["p99_ms"], 1) if twin else None,
        "writes_per_1000_leads": round(common["writes_per_1000_leads"] / per_1000, 1)
        if per_1000
        else None,
        "outbox_leads_per_quota_minute": quota_leads,
        "leads_per_quota_minute": round(quota_leads / common["leads_per_minute"], 1)
        if quota_leads and common["leads_per_minute"]
        else None,
        "accepted_per_s_vs_append_row_per_s": round(
            ours_["accepted_per_s"] / (common["leads_per_minute"] / 60), 1
        )
        if common["leads_per_minute"]
        else None,
    }
    print(
        json.dumps(
            {
                "bench": "intake",
                "memory": peak_mb(),
                "loader": args.loader,
                "connections": args.connections,
                "sheet_leads_at_start": args.sheet_leads,
                "machine": machine(),
                "configs": results,
                "append_row": common,
                "ratios": ratios,
            }
        )
    )


if __name__ == "__main__":
    main()
