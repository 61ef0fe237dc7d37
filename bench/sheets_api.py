"""Google Sheets benchmark, against the local stand-in with 100 ms of latency per request.

Syncs 1k, 10k and 100k leads and reports requests per sync, cells written and wall time, side by
side with the way common tools do the same job in the same run:
- gspread-dataframe: read the sheet, compute, rewrite the whole Leads tab (set_with_dataframe);
- a loop that updates cell by cell (worksheet.update_cell), one request per changed cell; it is
  timed on its first 50 cells and extrapolated (at 100 ms a request, the full loop takes hours).
Run: .venv/bin/pip install -e ".[bench]" && .venv/bin/python bench/sheets_api.py [--sizes 1000]
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime

import gspread
import pandas as pd
from google.auth.credentials import AnonymousCredentials
from gspread_dataframe import set_with_dataframe

from leads import NOW, machine, require_data, snapshot
from peak import peak_mb
from sheetcrm.backends.apply import sync_once
from sheetcrm.backends.google import GoogleBackend
from sheetcrm.backends.sheets_http import SheetsHTTP
from sheetcrm.emulator import Emulator
from sheetcrm.engine.plan import find_column
from sheetcrm.engine.schema import LEADS
from sheetcrm.engine.sync import plan_sync

LATENCY_MS = 100
SAMPLE = 50
HOST = ""


class BenchHTTP(SheetsHTTP):
    """What gspread.Client instantiates: our client, pointed at the stand-in."""

    def __init__(self, auth: object, session: object = None) -> None:
        super().__init__(AnonymousCredentials(), emulator_host=HOST, sleep=lambda _: None)


def _sheet(emu: Emulator, rows: int) -> GoogleBackend:
    book = emu.store.create("bench", sheets=("Sheet1",))
    http = BenchHTTP(None)
    backend = GoogleBackend(book.spreadsheet_id, http=http)
    emu.limits.latency_ms = 0  # setting up is not what is measured
    backend.provision(snapshot(rows).tabs)
    emu.limits.latency_ms = LATENCY_MS
    return GoogleBackend(book.spreadsheet_id, http=http)


def ours(emu: Emulator, rows: int) -> dict[str, float]:
    backend = _sheet(emu, rows)
    emu.reset_stats()
    start = time.perf_counter()
    _, report = sync_once(backend, NOW, datetime.now(UTC))
    first = time.perf_counter() - start
    requests = emu.stats()["total"]
    emu.reset_stats()
    start = time.perf_counter()
    sync_once(GoogleBackend(backend.id, http=backend.http), NOW, datetime.now(UTC))
    again = time.perf_counter() - start
    return {
        "requests": requests,
        "cells": report.cells,
        "seconds": round(first, 2),
        "resync_requests": emu.stats()["total"],
        "resync_seconds": round(again, 2),
    }


def whole_sheet(emu: Emulator, rows: int) -> dict[str, float]:
    """gspread-dataframe's way: the same computation, then the whole tab written back."""
    backend = _sheet(emu, rows)
    client = gspread.Client(auth=AnonymousCredentials(), http_client=BenchHTTP)
    emu.reset_stats()
    start = time.perf_counter()
    read = backend.read()
    plan = plan_sync(read, NOW)
    leads = read.table(LEADS.name).copy()
    for w in plan.writes:
        col = find_column(leads, w.column)
        for pos, new in zip(w.rows, w.new, strict=True):
            if col is not None:
                leads.rows[plan.keys[int(pos)].row][col] = new
    frame = pd.DataFrame(leads.rows, columns=leads.header)
    worksheet = client.open_by_key(backend.id).worksheet(LEADS.name)
    set_with_dataframe(worksheet, frame)
    worksheet.spreadsheet.values_append(
        "History!A1", {"valueInputOption": "RAW"}, {"values": [r for _, r, _ in plan.history]}
    )
    seconds = time.perf_counter() - start
    return {
        "requests": emu.stats()["total"],
        "cells": frame.size + len(frame.columns),
        "seconds": round(seconds, 2),
    }


def cell_by_cell(emu: Emulator, rows: int) -> dict[str, float]:
    """One update_cell per changed cell: timed on SAMPLE cells, extrapolated to all of them."""
    backend = _sheet(emu, rows)
    client = gspread.Client(auth=AnonymousCredentials(), http_client=BenchHTTP)
    read = backend.read()
    plan = plan_sync(read, NOW)
    leads = read.table(LEADS.name)
    cells = [
        (plan.keys[int(pos)].row + 2, find_column(leads, w.column), new)
        for w in plan.writes
        for pos, new in zip(w.rows, w.new, strict=True)
    ]
    worksheet = client.open_by_key(backend.id).worksheet(LEADS.name)
    start = time.perf_counter()
    for row, col, value in cells[:SAMPLE]:
        worksheet.update_cell(row, (col or 0) + 1, value)
    per_cell = (time.perf_counter() - start) / SAMPLE
    return {
        "requests": len(cells),
        "cells": len(cells),
        "seconds": round(per_cell * len(cells), 1),
        "extrapolated_from": SAMPLE,
    }


def main() -> None:
    global HOST
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    args = parser.parse_args()
    require_data()
    figures: dict[str, object] = {"bench": "google", "latency_ms": LATENCY_MS, "sizes": {}}
    with Emulator(latency_ms=LATENCY_MS, quota_per_minute=None) as emu:
        HOST = emu.host
        for rows in args.sizes:
            ours_ = ours(emu, rows)
            whole = whole_sheet(emu, rows)
            loop = cell_by_cell(emu, rows)
            figures["sizes"][str(rows)] = {  # type: ignore[index]
                "sheetcrm": ours_,
                "gspread_dataframe": whole,
                "cell_by_cell": loop,
                "ratio_time_vs_dataframe": round(whole["seconds"] / ours_["seconds"], 1),
                "ratio_time_vs_cell_loop": round(loop["seconds"] / ours_["seconds"], 1),
                "ratio_cells_vs_dataframe": round(whole["cells"] / max(ours_["cells"], 1), 1),
            }
            print(
                f"{rows:,} leads: sheetcrm {ours_['requests']} requests, {ours_['cells']:,} "
                f"cells, {ours_['seconds']} s (re-sync {ours_['resync_requests']} requests, "
                f"{ours_['resync_seconds']} s) | gspread-dataframe {whole['requests']} requests,"
                f" {whole['cells']:,} cells, {whole['seconds']} s | cell by cell "
                f"{loop['requests']:,} requests, ~{loop['seconds']:,} s (extrapolated)"
            )
            emu.store.spreadsheets.clear()
    figures["machine"] = machine()
    figures["memory"] = peak_mb()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
