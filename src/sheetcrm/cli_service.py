"""The commands that run or inspect the web service: serve, background, outbox list and retry.

Apart from cli.py so that the sheet commands (init, sync, import, demo) never load the service's
modules (Flask, SQLAlchemy): each import here is made inside the command that needs it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime

from sheetcrm.backends import open_backend
from sheetcrm.errors import SheetCRMError


def _outbox_url(args: argparse.Namespace) -> str:
    from sheetcrm.service import environment
    from sheetcrm.service.tasks import default_outbox  # the service's modules load only for it

    return (
        args.outbox
        or environment.value(os.environ, "SHEETCRM_OUTBOX")
        or default_outbox(args.sheet)
    )


def cmd_serve(args: argparse.Namespace) -> int:
    from sheetcrm.service import dev_server, logs
    from sheetcrm.service.web import create_app

    backend = open_backend(args.sheet)
    if not backend.exists():
        raise SheetCRMError(
            f"there is no sheet at {args.sheet}",
            f"create it first: sheetcrm init --sheet {args.sheet}",
        )
    env = {**os.environ, "SHEETCRM_SHEET": args.sheet, "SHEETCRM_OUTBOX": _outbox_url(args)}
    app = create_app(env)
    server = dev_server.make(args.host, args.port, app)
    logs.event(
        f"Serving {args.sheet} on http://{args.host}:{server.server_port}: "
        "web forms POST to /hooks/<source>; Ctrl-C stops.",
        kind="serve",
        port=server.server_port,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        app.extensions["sheetcrm"].stop()
    return 0


def cmd_background(args: argparse.Namespace) -> int:
    from sheetcrm.service.tasks import run_background

    env = dict(os.environ)
    if args.sheet:
        env["SHEETCRM_SHEET"] = args.sheet
    if args.outbox:
        env["SHEETCRM_OUTBOX"] = args.outbox
    return run_background(env, exit_with=args.exit_with)


def cmd_outbox_list(args: argparse.Namespace) -> int:
    from sheetcrm.intake.flusher import describe
    from sheetcrm.intake.outbox import Outbox

    outbox = Outbox(_outbox_url(args))
    state = None if args.state == "all" else args.state
    entries = outbox.entries(state, args.limit)
    for entry in entries:
        print(json.dumps(describe(entry), ensure_ascii=False))
    stats = outbox.stats(datetime.now(UTC).timestamp())
    print(
        f"{stats['pending']} pending, {stats['dead']} dead, {stats['done']} done "
        f"({len(entries)} listed)",
        file=sys.stderr,
    )
    outbox.close()
    return 0


def cmd_outbox_retry(args: argparse.Namespace) -> int:
    if not args.keys and not args.all:
        raise SheetCRMError("say which dead submissions to retry", "name their keys, or pass --all")
    from sheetcrm.intake.outbox import Outbox

    outbox = Outbox(_outbox_url(args))
    count = outbox.retry(None if args.all else args.keys, datetime.now(UTC).timestamp())
    outbox.close()
    print(f"{count} dead submissions are pending again; the next flush appends them.")
    return 0
