"""The commands that run or inspect the web service: serve, background, and the outbox's
(list, retry, purge, erase).

Apart from cli.py so that the sheet commands (init, sync, import, demo) never load the service's
modules (Flask, SQLAlchemy): each import here is made inside the command that needs it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sheetcrm.backends import open_backend
from sheetcrm.errors import SheetCRMError

if TYPE_CHECKING:
    from sheetcrm.engine.waiting import Waiting
    from sheetcrm.intake.outbox import Outbox
    from sheetcrm.notify.outbox import NotificationOutbox


def _outbox_url(args: argparse.Namespace) -> tuple[str, str]:
    """The outbox's URL, and how it was chosen (for a message when there is none there)."""
    from sheetcrm.backends.sheets_address import spreadsheet_id
    from sheetcrm.service import environment
    from sheetcrm.service.service_config import (
        default_outbox,  # the service's modules load only for it
    )

    if args.outbox:
        return args.outbox, "it was given with --outbox"
    if url := environment.value(os.environ, "SHEETCRM_OUTBOX"):
        return url, "it is SHEETCRM_OUTBOX"
    if spreadsheet_id(args.sheet):
        how = (
            "for a Google Sheet, without --outbox or SHEETCRM_OUTBOX, the outbox is "
            f"sheetcrm-outbox.sqlite3 in the folder the command runs in (here {os.getcwd()}), "
            "and the service's is in the folder it was started in"
        )
    else:
        how = (
            "without --outbox or SHEETCRM_OUTBOX, a workbook's outbox is the file beside it "
            "named after it: crm.xlsx -> crm.outbox.sqlite3"
        )
    return default_outbox(args.sheet), how


def _existing_outbox(args: argparse.Namespace) -> Outbox:
    """The outbox to read or work on, refused where there is none: opening it would create
    an empty one there and report "0 pending" while the service's holds the work."""
    from sheetcrm.intake.outbox import Outbox
    from sheetcrm.intake.outbox_db import NoOutboxError

    url, how = _outbox_url(args)
    try:
        return Outbox(url, create=False)
    except NoOutboxError as exc:
        raise NoOutboxError(
            f"{exc.message} ({how})",
            "run the command where the service runs, or point --outbox (or SHEETCRM_OUTBOX) "
            "at the URL the service uses; `sheetcrm serve` creates the outbox",
        ) from None


def sync_notices(args: argparse.Namespace) -> tuple[NotificationOutbox | None, str]:
    """Where a command-line sync stores the notifications it plans: the service's outbox
    (--outbox, SHEETCRM_OUTBOX, or the one beside the workbook) when there is one, so that the
    service's background work sends them; else None, and why (none is created: a new outbox
    nobody sends from would keep them forever)."""
    from sqlalchemy import make_url

    from sheetcrm.intake.outbox_db import NoOutboxError, OutboxDB
    from sheetcrm.notify.outbox import NotificationOutbox

    url, how = _outbox_url(args)
    try:
        shown = make_url(url).render_as_string(hide_password=True)  # never a password
        return NotificationOutbox(OutboxDB(url, create=False)), shown
    except NoOutboxError as exc:
        return None, f"{exc.message} ({how})"


def outbox_waiting(notices: NotificationOutbox | None) -> Waiting | None:
    """What the service's outbox (when a command-line sync found one) holds that the sheet
    refused: it stays on Problems after a sync from the command line too."""
    if notices is None:
        return None
    from sheetcrm.intake.waiting import waiting

    return waiting(notices.db, datetime.now(UTC).timestamp())


def cmd_serve(args: argparse.Namespace) -> int:
    from sheetcrm.service import dev_server, logs
    from sheetcrm.service.web import create_app

    backend = open_backend(args.sheet)
    if not backend.exists():
        raise SheetCRMError(
            f"there is no sheet at {args.sheet}",
            f"create it first: sheetcrm init --sheet {args.sheet}",
        )
    env = {**os.environ, "SHEETCRM_SHEET": args.sheet, "SHEETCRM_OUTBOX": _outbox_url(args)[0]}
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
    from sheetcrm.notify.outbox import NotificationOutbox
    from sheetcrm.notify.outbox import describe as describe_notification

    outbox = _existing_outbox(args)
    state = None if args.state == "all" else args.state
    now = datetime.now(UTC).timestamp()
    listed = 0
    if args.kind in ("submissions", "all"):
        entries = outbox.entries(state, args.limit)
        for entry in entries:
            print(json.dumps(describe(entry), ensure_ascii=False))
        listed += len(entries)
    notices = NotificationOutbox(outbox.db)
    if args.kind in ("notifications", "all"):
        # who, which lead, what event, how it went: never the text (it may quote a lead)
        for record in notices.entries(state, args.limit):
            print(json.dumps(describe_notification(record), ensure_ascii=False))
            listed += 1
    stats = outbox.stats(now)
    told = notices.stats(now)
    outbox.close()
    waiting = ""
    if stats["in_backoff"]:
        waiting = (
            f" ({stats['in_backoff']} waiting out a backoff, the next try at "
            f"{stats['next_try_at']}, in {stats['next_try_in_seconds']:.0f} s)"
        )
    erased = f", {stats['erased']} erased" if stats["erased"] else ""
    print(
        f"{stats['pending']} pending{waiting}, {stats['dead']} dead, {stats['done']} done"
        f"{erased} ({listed} listed)",
        file=sys.stderr,
    )
    if any(told[s] for s in ("held", "pending", "sent", "dead", "folded")):
        print(
            f"notifications: {told['pending']} pending ({told['waiting']} not due yet), "
            f"{told['sent']} sent, {told['folded']} told in a summary, {told['dead']} dead, "
            f"{told['held']} held (their sync's write not yet confirmed)",
            file=sys.stderr,
        )
    if stats["in_backoff"]:
        print("hint: sheetcrm outbox retry --now makes them due at once", file=sys.stderr)
    return 0


def cmd_outbox_retry(args: argparse.Namespace) -> int:
    if not args.keys and not args.all and not args.now:
        raise SheetCRMError(
            "say which submissions to retry",
            "name their keys, or pass --all (every dead one) or --now (every pending one "
            "waiting out a backoff)",
        )
    from sheetcrm.notify.outbox import NotificationOutbox

    outbox = _existing_outbox(args)
    now = datetime.now(UTC).timestamp()
    keys = args.keys or None
    dead = outbox.retry(keys, now) if (args.keys or args.all) else 0
    told = NotificationOutbox(outbox.db).retry(keys, now) if (args.keys or args.all) else 0
    hurried = outbox.retry_now(keys, now) if args.now else 0
    outbox.close()
    said = []
    if args.keys or args.all:
        said.append(f"{dead} dead submissions are pending again")
    if told:
        said.append(f"{told} dead notifications are pending again (the sender tries them now)")
    if args.now:
        said.append(f"{hurried} pending ones waiting out a backoff are due now")
    print(f"{'; '.join(said)}; the next flush appends them.")
    return 0


def cmd_outbox_purge(args: argparse.Namespace) -> int:
    from sheetcrm.intake.retention import DAY, purge
    from sheetcrm.service import environment

    days = args.days or environment.value(os.environ, "SHEETCRM_OUTBOX_RETENTION_DAYS")
    outbox = _existing_outbox(args)
    count = purge(outbox, datetime.now(UTC).timestamp() - days * DAY, args.dry_run)
    outbox.close()
    what = f"submissions done more than {days} days ago"
    if args.dry_run:
        print(f"Dry run: {count} {what} would have their answers erased; nothing erased.")
    else:
        print(f"Erased the answers of {count} {what}; their keys and outcomes stay.")
    return 0


def cmd_outbox_erase(args: argparse.Namespace) -> int:
    from sheetcrm.intake.retention import erase

    outbox = _existing_outbox(args)
    erasure = erase(outbox, args.email, args.dry_run)
    outbox.close()
    count = len(erasure.keys)
    if args.dry_run:
        print(f"Dry run: {count} submissions hold {args.email}; nothing erased.")
    else:
        print(f"Erased {count} submissions holding {args.email}; their keys stay.")
    if erasure.never_appended:
        print(f"  {erasure.never_appended} of them were not in the sheet yet and never will be.")
    if erasure.lead_ids:
        print(
            f"  The sheet is yours to edit: delete the Leads rows {', '.join(erasure.lead_ids)} "
            "(and any other row holding that address: sheetcrm never deletes a row)."
        )
    else:
        print("  Look for that address in the sheet too: its rows are yours to delete.")
    return 0


def add_outbox_commands(
    sub: argparse._SubParsersAction,
    sheet_arg: Callable[[argparse.ArgumentParser], None],
    outbox_arg: Callable[[argparse.ArgumentParser], None],
) -> None:
    p = sub.add_parser("outbox", help="web-form submissions and notifications: waiting, done, dead")
    box = p.add_subparsers(dest="action", metavar="ACTION")
    p.set_defaults(run=None, parser=p)  # `sheetcrm outbox` alone prints this help

    def command(name: str, run: Callable[[argparse.Namespace], int], **kw: str) -> Any:
        q = box.add_parser(name, **kw)
        sheet_arg(q)
        outbox_arg(q)
        q.set_defaults(run=run)
        return q

    q = command(
        "list",
        cmd_outbox_list,
        help="list submissions and notifications (no answers or texts, only keys and states)",
    )
    q.add_argument(
        "--state",
        choices=["pending", "dead", "done", "erased", "held", "sent", "folded", "all"],
        default="all",
        help="only the entries in this state (all)",
    )
    q.add_argument(
        "--kind", choices=["submissions", "notifications", "all"], default="all", help="(all)"
    )
    q.add_argument("--limit", type=int, default=100, help="most entries listed (100)")
    q = command("retry", cmd_outbox_retry, help="dead submissions pending again; pending ones due")
    q.add_argument("keys", nargs="*", help="the keys to retry, as outbox list shows them")
    q.add_argument("--all", action="store_true", help="every dead submission and notification")
    q.add_argument(
        "--now",
        action="store_true",
        help="pending submissions waiting out a backoff are tried at the next flush "
        "(all of them, or the keys named)",
    )
    q = command(
        "purge",
        cmd_outbox_purge,
        help="erase the answers of submissions done longer ago than the retention",
    )
    q.add_argument(
        "--days",
        type=int,
        help="the retention in days (SHEETCRM_OUTBOX_RETENTION_DAYS; default 30)",
    )
    q.add_argument("--dry-run", action="store_true", help="say how many, erase nothing")
    q = command(
        "erase",
        cmd_outbox_erase,
        help="erase every submission holding one person's e-mail address (an erasure request)",
    )
    q.add_argument("--email", required=True, help="the person's e-mail address")
    q.add_argument("--dry-run", action="store_true", help="say how many, erase nothing")
