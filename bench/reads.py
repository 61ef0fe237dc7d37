"""Memory of a real read (issue 21): the workbook backend's read through python-calamine, and
the Google backend's values.batchGet against the Sheets API stand-in, each followed by a first
sync of what it read. Both make a new string per cell; bench/sync.py's memory backend does
not, so its figures alone do not show what a read holds. This tree against another revision
(``--rev``), alternately, each run in a fresh process; the stand-in runs in a process of its
own, so that its copy of the sheet is not counted.

Figures per backend and tree: the read's seconds and peak RSS, the RSS after it, and the first
sync's seconds and peak RSS (the process's, inputs included; the largest of the rounds).
With ``--resync``, the service's sequence on Google as well, each run on a sheet of its own:
read, first sync with the service's memo, its writes, read again, re-sync: the peak of the
first sync's write (with its read back) and the re-sync's. The stand-in refuses a request
over 10 MB as Google does: at 100,000 leads, ``--rev`` must write in parts (cfb879b on).
Run: PYTHONPATH=../src ../.venv/bin/python reads.py --rev main [--rows 30000 --rounds 2]
[--resync]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from against import MEMORY_PROBE, ROOT, alternately, export, probe
from leads import machine, require_data, snapshot
from sheetcrm.backends.workbook import WorkbookBackend

SHEET_ID = "1BenchReadsAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

PROBE = (
    """
import json, sys, time
from leads import NOW
from sheetcrm.engine.sync import plan_sync
from sheetcrm.engine.validation import Memo
"""
    + MEMORY_PROBE
    + """kind, where = sys.argv[1], sys.argv[2]
if kind == "workbook":
    from pathlib import Path
    from sheetcrm.backends.workbook import WorkbookBackend
    backend = WorkbookBackend(Path(where))
else:
    from google.auth.credentials import AnonymousCredentials
    from sheetcrm.backends.google import GoogleBackend
    from sheetcrm.backends.sheets_http import SheetsHTTP
    http = SheetsHTTP(AnonymousCredentials(), emulator_host=where, sleep=lambda _: None)
    backend = GoogleBackend(sys.argv[3], http=http)
reset()
start = time.perf_counter()
snap = backend.read()
read_s, read_peak, after = time.perf_counter() - start, mb("VmHWM"), mb("VmRSS")
reset()
start = time.perf_counter()
plan_sync(snap, NOW, Memo())
print(json.dumps({
    "read_s": read_s, "read_peak_mb": read_peak, "after_read_mb": after,
    "sync_s": time.perf_counter() - start, "sync_peak_mb": mb("VmHWM"),
}))
"""
)


def resyncs(
    rev: str, rounds: int, rows: int, host: str, sheets: list[str]
) -> dict[str, list[dict]]:
    """RESYNC_PROBE on this tree and ``rev``'s alternately, each on one of ``sheets``,
    provisioned in a process of its own just before."""
    results: dict[str, list[dict]] = {"this": [], rev: []}
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"this": ROOT, rev: export(rev, Path(tmp))}
        fresh = iter(sheets)
        for _ in range(rounds):
            for name, tree in trees.items():
                sheet = next(fresh)
                probe(ROOT, _PROVISION, host, sheet, rows)
                results[name].append(probe(tree, RESYNC_PROBE, host, sheet))
    return results


# The service's sequence on Google, in either tree: the figures of its re-sync.
RESYNC_PROBE = (
    """
import gc, json, sys, time
from google.auth.credentials import AnonymousCredentials
from leads import NOW
from sheetcrm.backends.apply import apply
from sheetcrm.backends.google import GoogleBackend
from sheetcrm.backends.sheets_http import SheetsHTTP
from sheetcrm.engine.sync import plan_sync
from sheetcrm.engine.validation import Memo
try:  # what the service does after each sync (service/tasks.py), in a tree that does it
    from sheetcrm.service.heap import release_freed
except ImportError:
    release_freed = lambda: None
"""
    + MEMORY_PROBE
    + """http = SheetsHTTP(AnonymousCredentials(), emulator_host=sys.argv[1], sleep=lambda _: None)
backend, memo = GoogleBackend(sys.argv[2], http=http), Memo()
reset()
first = backend.read()
plan = plan_sync(first, NOW, memo)
first_peak = mb("VmHWM")
reset()
write_start = time.perf_counter()
apply(plan, backend, first)
write_s, write_peak = time.perf_counter() - write_start, mb("VmHWM")
del plan, first
gc.collect()
release_freed()
# read as the service's sync reads (backends/apply.py sync_once), in a tree that does
reset()
again = backend.read(memo.texts()) if hasattr(memo, "texts") else backend.read()
resync_read_peak, resync_from = mb("VmHWM"), mb("VmRSS")
reset()
start = time.perf_counter()
plan_sync(again, NOW, memo)
print(json.dumps({
    "read_and_first_sync_peak_mb": first_peak, "first_write_peak_mb": write_peak,
    "first_write_s": write_s,
    "resync_read_peak_mb": resync_read_peak, "resync_from_mb": resync_from,
    "resync_s": time.perf_counter() - start, "resync_peak_mb": mb("VmHWM"),
}))
"""
)


def stand_in(*sheets: str) -> tuple[subprocess.Popen[str], str]:
    """The Sheets API stand-in in its own process, with empty spreadsheets: it and its host."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    args = ["--port", "0", "--quota-per-minute", "0"]
    args += [arg for sheet in sheets for arg in ("--create", sheet)]
    server = subprocess.Popen(
        [sys.executable, "-m", "sheetcrm.emulator", *args],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert server.stderr is not None
    for line in server.stderr:
        if line.startswith("export SHEETS_EMULATOR_HOST="):
            # whatever it says next is read and dropped: a full pipe would stop it
            threading.Thread(target=server.stderr.read, daemon=True).start()
            return server, line.strip().split("=", 1)[1]
    raise RuntimeError("the stand-in did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rev", required=True, help="the revision to compare against")
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--resync", action="store_true", help="and the service's re-sync")
    args = parser.parse_args()
    require_data()
    figures: dict[str, object] = {"bench": "reads", "rows": args.rows, "rounds": args.rounds}
    tabs = snapshot(args.rows).tabs
    with tempfile.TemporaryDirectory() as tmp:
        book = Path(tmp) / "bench.xlsx"
        WorkbookBackend(book).provision(tabs)
        sheets = [f"{SHEET_ID[:-4]}{n:04d}" for n in range(2 * args.rounds)] if args.resync else []
        server, host = stand_in(SHEET_ID, *sheets)
        try:
            probe(ROOT, _PROVISION, host, SHEET_ID, args.rows)
            runs = {
                "workbook": alternately(args.rev, args.rounds, PROBE, "workbook", book),
                "google": alternately(args.rev, args.rounds, PROBE, "google", host, SHEET_ID),
            }
            if args.resync:
                runs["google_resync"] = resyncs(args.rev, args.rounds, args.rows, host, sheets)
        finally:
            server.terminate()
            server.wait()
    for kind, results in runs.items():
        figures[kind] = {
            tree: {
                what: max(r[what] for r in rounds)
                if what.endswith("_mb")
                else round(min(r[what] for r in rounds), 2)
                for what in rounds[0]
            }
            for tree, rounds in results.items()
        }
        for tree, got in figures[kind].items():  # type: ignore[union-attr]
            print(f"{kind}, {tree}: " + ", ".join(f"{k} {v}" for k, v in got.items()))
    figures["machine"] = machine()
    print(json.dumps(figures))


_PROVISION = """
import sys
from google.auth.credentials import AnonymousCredentials
from leads import snapshot
from sheetcrm.backends.google import GoogleBackend
from sheetcrm.backends.sheets_http import SheetsHTTP
http = SheetsHTTP(AnonymousCredentials(), emulator_host=sys.argv[1], sleep=lambda _: None)
GoogleBackend(sys.argv[2], http=http).provision(snapshot(int(sys.argv[3])).tabs)
print("{}")
"""


if __name__ == "__main__":
    main()
