"""``python -m sheetcrm.emulator --port 8085``: the Sheets API stand-in as a local server.

Point sheetcrm at it with SHEETS_EMULATOR_HOST=127.0.0.1:8085. Counts are at
GET /_emulator/stats (DELETE resets them); GET or PATCH /_emulator/limits reads or changes
the limits while it runs (e.g. ``{"latency_ms": 100}`` or ``{"inject": [503]}``).
"""

from __future__ import annotations

import argparse
import contextlib
import sys

from sheetcrm.emulator import Emulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sheetcrm.emulator", description=__doc__)
    parser.add_argument("--port", type=int, default=8085, help="port on 127.0.0.1 (0: any)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay added to each request")
    parser.add_argument(
        "--quota-per-minute",
        type=int,
        default=60,
        help="read and write requests allowed per minute, each (0: no limit)",
    )
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of 500/503 answers")
    parser.add_argument("--drop-rate", type=float, default=0.0, help="share of dropped connections")
    parser.add_argument("--seed", type=int, default=0, help="seed for faults and IDs")
    parser.add_argument(
        "--create",
        metavar="ID",
        action="append",
        default=[],
        help="create an empty spreadsheet with this ID at start (repeatable)",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    emulator = Emulator(
        args.port,
        latency_ms=args.latency_ms,
        quota_per_minute=args.quota_per_minute or None,
        fault_rate=args.fault_rate,
        drop_rate=args.drop_rate,
        seed=args.seed,
        log_requests=args.verbose,
    )
    for spreadsheet_id in args.create:
        emulator.store.create(spreadsheet_id=spreadsheet_id)
    emulator.start()
    print(f"Sheets API emulator on http://{emulator.host}", file=sys.stderr)
    print(f"export SHEETS_EMULATOR_HOST={emulator.host}", file=sys.stderr)
    for spreadsheet_id in args.create:
        print(f"spreadsheet {spreadsheet_id}", file=sys.stderr)
    with contextlib.suppress(KeyboardInterrupt):
        emulator.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
