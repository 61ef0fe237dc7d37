"""Memory of a flush into a large sheet (issue 21): web-form leads from the outbox appended to a
sheet of ``--rows`` bench leads on the Sheets API stand-in, as the service's background
process runs it (service/tasks.py): its first sync with the service's memo, then, in a fresh
process, a sync with a memo of its own (warm for the flush) and one flush of ``--batch``
submissions (default: the batch the service fits to the sheet, ``fitted_batch``).

This tree against another revision (``--rev``), alternately, each in a fresh process on a
sheet of its own (provisioned, then synced and its outbox filled by that tree's code in a
process of its own, then the warm sync and the flush in another); the stand-in runs in a
process of its own, started afresh for each sheet, so that its copy is not counted. The
probes run with app.yaml's allocator setting (MALLOC_MMAP_THRESHOLD_=131072) unless one is
given. Figures per tree: the flush's seconds and peak RSS (the process's, the warm sync's
leftovers included, as in the service), its RSS before, and the warm sync's peak; the
fastest seconds and the largest peaks of the rounds, and this tree's over ``--rev``'s.
Run: cd bench && PYTHONPATH=../src ../.venv/bin/python flush.py [--rows 100000 --rounds 2]
[--rev ac6c45e] [--batch 9322]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from against import MEMORY_PROBE, ROOT, export, probe
from leads import machine, require_data
from peak import peak_mb
from reads import _PROVISION, stand_in
from sheetcrm.service.flush_variables import FLUSH_BATCH, fitted_batch

SHEET_ID = "1BenchFlushAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
ALLOCATOR = {"MALLOC_MMAP_THRESHOLD_": "131072"}  # app.yaml's

# What both probes share, in either tree: the sheet opened as the service opens it, its
# outbox and notification outbox, and the service's clock (fixed at the bench's time).
_OPEN = """
import gc, json, sys, time
from datetime import UTC, datetime
from google.auth.credentials import AnonymousCredentials
from leads import NOW
from sheetcrm.backends.apply import sync_once
from sheetcrm.backends.google import GoogleBackend
from sheetcrm.backends.sheets_http import SheetsHTTP
from sheetcrm.engine.validation import Memo
from sheetcrm.intake.outbox import Outbox
from sheetcrm.notify.outbox import NotificationOutbox
from sheetcrm.service.heap import release_freed
CLOCK = NOW.replace(tzinfo=UTC)
clock = lambda: CLOCK
http = SheetsHTTP(AnonymousCredentials(), emulator_host=sys.argv[1], sleep=lambda _: None)
backend = GoogleBackend(sys.argv[2], http=http)
outbox = Outbox("sqlite:///" + sys.argv[3])
notices = NotificationOutbox(outbox.db, clock=lambda: CLOCK.timestamp())
def sync(memo):  # Service.sync's
    plan, applied = sync_once(backend, CLOCK, CLOCK, memo, "bench", notices)
    gc.collect()
    release_freed()
    return plan
"""

# The service's first sync of the sheet, then ``batch`` submissions into its outbox, as the
# web workers store them (bench/intake.py's load: intake.lua's payload).
FIRST = (
    _OPEN
    + """from sheetcrm.intake.adapters import adapt
plan = sync(Memo())
for i in range(int(sys.argv[4])):
    key = f"bench-{i}"
    submission = adapt("generic", {
        "event_id": key, "email": f"lead-{key}@company{i % 97}.example",
        "first_name": "Lead", "last_name": key, "company": f"Company {i % 97}",
        "industry": "SaaS", "country": "United States",
        "phone": f"+1 415 555 {i % 10000:04d}", "message": f"bench submission {key}",
    })
    outbox.put(submission.key(), "generic", submission.to_json(), CLOCK.timestamp() - 600)
print(json.dumps({"leads": plan.summary.rows}))
"""
)

# The background process after a restart: a sync with its own memo, then one flush with that
# memo (Service.flush's: collections paused, the heap's freed room given back after it).
FLUSH = (
    _OPEN
    + MEMORY_PROBE
    + """from sheetcrm.engine.bulk import gc_paused
from sheetcrm.intake.flusher import flush
memo = Memo()
reset()
start = time.perf_counter()
sync(memo)
sync_s, sync_peak = time.perf_counter() - start, mb("VmHWM")
before = mb("VmRSS")
reset()
start = time.perf_counter()
with gc_paused(collect=True):
    report = flush(outbox, backend, clock, "bench", int(sys.argv[4]), memo, notices=notices)
flush_s, flush_peak = time.perf_counter() - start, mb("VmHWM")
release_freed()
assert not report.error, report.error
print(json.dumps({
    "flush_s": flush_s, "flush_peak_mb": flush_peak, "flush_from_mb": before,
    "warm_sync_s": sync_s, "warm_sync_peak_mb": sync_peak,
    "claimed": report.claimed, "appended": report.appended, "rows": report.rows,
}))
"""
)


def one(tree: Path, rows: int, batch: int, folder: Path) -> dict[str, float]:
    """A sheet of ``rows`` bench leads on a stand-in of its own, first synced, its outbox
    filled, then the warm sync and the flush, each in ``tree``'s code: the flush's figures."""
    server, host = stand_in(SHEET_ID)
    try:
        box = folder / "outbox.sqlite3"
        box.unlink(missing_ok=True)
        probe(ROOT, _PROVISION, host, SHEET_ID, rows)
        first = probe(tree, FIRST, host, SHEET_ID, box, batch)
        got = probe(tree, FLUSH, host, SHEET_ID, box, batch)
        return {**got, "leads_after_first_sync": first["leads"]}
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rev", default="ac6c45e", help="the revision to compare against")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch", type=int, help="submissions (default: the fitted batch)")
    args = parser.parse_args()
    require_data()
    for name, value in ALLOCATOR.items():  # reaches the probes (against.probe)
        os.environ.setdefault(name, value)
    batch = args.batch or fitted_batch(FLUSH_BATCH, args.rows)
    results: dict[str, list[dict]] = {"this": [], args.rev: []}
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"this": ROOT, args.rev: export(args.rev, Path(tmp))}
        for n in range(args.rounds):
            for name, tree in trees.items():
                got = one(tree, args.rows, batch, Path(tmp))
                results[name].append(got)
                print(f"round {n + 1}, {name}: " + ", ".join(f"{k} {v}" for k, v in got.items()))
    figures: dict[str, object] = {
        "bench": "flush",
        "rows": args.rows,
        "batch": batch,
        "rounds": args.rounds,
        "rev": args.rev,
        "allocator": {k: os.environ[k] for k in ALLOCATOR},
        "runs": results,
    }
    for tree, rounds in results.items():
        figures[tree] = {
            what: max(r[what] for r in rounds)
            if what.endswith("_mb")
            else round(min(r[what] for r in rounds), 2)
            for what in ("flush_s", "flush_peak_mb", "flush_from_mb", "warm_sync_peak_mb")
        }
        print(f"{tree}: " + ", ".join(f"{k} {v}" for k, v in figures[tree].items()))  # type: ignore[union-attr]
    this, rev = figures["this"], figures[args.rev]
    figures["ratios"] = {k: round(this[k] / rev[k], 3) for k in this}  # type: ignore[index]
    print("ratios (this / rev): " + ", ".join(f"{k} {v}" for k, v in figures["ratios"].items()))
    figures["memory"] = peak_mb()
    figures["machine"] = machine()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
